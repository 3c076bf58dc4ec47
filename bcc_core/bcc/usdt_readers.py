"""The C functions that read USDT probe arguments: ``_bpf_readarg_FN_N(ctx, dest, len)``,
the reader of argument N (1-based) for BPF function FN, which the translator calls for
``bpf_usdt_readarg(N, ctx, &x)`` in FN.

A function is attached to every site (location) of every probe enabled on it, in every
USDT context given to ``BPF()``.  Sites read their arguments in different ways (another
register, another stack slot, a constant at one site and memory at the next), so the
sites are grouped by how they read them -- their argument specs -- and each group is a
*variant*: a function whose sites all read alike has one variant and a reader without
a choice; else every site's uprobe carries its variant's number as its BPF cookie and
the reader switches on ``bpf_get_attach_cookie(ctx)``.  (BCC switches on the probed
instruction's address instead, which needs the address each library is loaded at in
each process; the cookie is the same in every process.)

The plan of one ``BPF()`` is a :class:`ReaderPlan`: the C text, and the cookie of each
(function, binary, file offset) for the attach.
"""

from ..errors import NotSupportedError

_STORE = ("    if (len == 8) *(u64 *)dest = __bcc_a;\n"
          "    else if (len == 4) *(u32 *)dest = __bcc_a;\n"
          "    else if (len == 2) *(u16 *)dest = __bcc_a;\n"
          "    else if (len == 1) *(u8 *)dest = __bcc_a;\n"
          "    else return -1;\n"
          "    return 0;\n}\n")


def _value(arg, fn, n, probe, reg="ctx->%s"):
    try:
        return arg.c_value(reg)
    except NotSupportedError as e:
        raise NotSupportedError("USDT probe %s, argument %d (for %s): %s"
                                % (probe, n, fn, e)) from None


def _register_copies(args):
    """Each register the variants read, copied out of ctx up front: a load from ctx at
    a constant offset (clang would merge the cases' loads into one at a computed
    offset, which the verifier refuses); the empty asm keeps each load where it is."""
    regs = []
    for a in args:
        regs.extend(r for r in a.registers if r not in regs)
    return "".join("    u64 __bcc_r_%s = ctx->%s;\n    asm volatile(\"\" : \"+r\"(__bcc_r_%s));\n"
                   % (r, r, r) for r in regs)


def _reader(fn, n, variants):
    """The C of _bpf_readarg_FN_N over variants [(probe name, [Argument])]; a variant
    without argument n makes the reader return -1 at its sites."""
    head = ("static __always_inline int _bpf_readarg_%s_%d(struct pt_regs *ctx, "
            "void *dest, unsigned long len) {\n    s64 __bcc_a;\n" % (fn, n))
    if len(variants) == 1:
        probe, args = variants[0]
        return head + "    __bcc_a = (s64)%s;\n" % _value(args[n - 1], fn, n, probe) + _STORE
    used = [(c, p, args[n - 1]) for c, (p, args) in enumerate(variants) if n <= len(args)]
    cases = "".join("    case %d: __bcc_a = (s64)%s; break;\n"
                    % (c, _value(a, fn, n, p, "__bcc_r_%s")) for c, p, a in used)
    return (head + _register_copies(a for _, _, a in used) +
            "    switch (bpf_get_attach_cookie(ctx)) {\n" + cases +
            "    default: return -1;\n    }\n" + _STORE)


class ReaderPlan:
    """The argument readers of the probes enabled in some USDT contexts."""

    def __init__(self, contexts):
        # fn -> [(arg specs, probe name, [Argument])], in the order first seen
        self.variants = {}
        self.cookies = {}       # (fn, bin_path, file offset) -> variant number
        for u in contexts:
            for probe, fn in u.enabled:
                self._add(fn, probe)

    def _add(self, fn, probe):
        vs = self.variants.setdefault(fn, [])
        for loc in probe.locations:
            specs = loc.arg_specs
            for i, (s, _, _) in enumerate(vs):
                if s == specs:
                    break
            else:
                i = len(vs)
                vs.append((specs, probe.short_name(), loc.arguments))
            self.cookies[(fn, loc.bin_path, loc.file_offset)] = i

    def text(self):
        out = []
        for fn, vs in self.variants.items():
            nargs = max(len(args) for _, _, args in vs)
            for n in range(1, nargs + 1):
                out.append(_reader(fn, n, [(p, args) for _, p, args in vs]))
        return "".join(out)

    def cookie(self, fn, location):
        return self.cookies.get((fn, location.bin_path, location.file_offset), 0)
