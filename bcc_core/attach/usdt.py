"""libbpf-style USDT programs: ``SEC("usdt/PATH:PROVIDER:NAME")`` and ``BPF_USDT()``
from ``<bpf/usdt.bpf.h>``.

Such a program finds its arguments at run time: ``bpf_usdt_arg(ctx, n, &v)`` looks up
the *spec* of the probe location that fired -- where each argument lives (a constant,
a register, memory at a register + offset) and how to widen it -- in the object's
``__bpf_usdt_specs`` array, by the spec id the loader gave the location as its BPF
cookie.  Here, as in libbpf's usdt.c: read the probe's notes (:mod:`bcc_core.obj.usdt`),
encode one ``struct __bpf_usdt_spec`` per distinct argument layout -- the layout and the
enum values read from the object's own BTF, so the header version the program was built
with decides -- store it, and attach a uprobe at each location with the spec id as
cookie and the probe's semaphore counted by the kernel (``ref_ctr_offset``).
"""
import struct

from ..btf import KIND_ENUM, KIND_STRUCT, kernel_btf
from ..errors import AttachError, NotSupportedError
from ..obj.usdt import read_probes
from . import probe as _probe

SPECS_MAP, IP_MAP = "__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id"
# x86-64 struct pt_regs, when the kernel BTF does not say
_PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48,
            "r10": 56, "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104,
            "di": 112, "orig_ax": 120, "ip": 128, "cs": 136, "flags": 144, "sp": 152,
            "ss": 160}


def pt_regs_offsets(kbtf=None):
    """Member name -> byte offset of the kernel's struct pt_regs."""
    try:
        kbtf = kbtf or kernel_btf()
        tid = kbtf.find_one("pt_regs", KIND_STRUCT)
    except Exception:           # no kernel BTF: x86-64's layout
        return dict(_PT_REGS)
    if tid is None:
        return dict(_PT_REGS)
    return {m.name: m.bit_offset // 8 for m in kbtf.type(tid).members}


class SpecLayout:
    """``struct __bpf_usdt_spec`` as the object's BTF declares it."""

    def __init__(self, btf, where="object"):
        tid = btf.find_one("__bpf_usdt_spec", KIND_STRUCT) if btf is not None else None
        if tid is None:
            raise AttachError("%s: no struct __bpf_usdt_spec in its BTF (a USDT program "
                              "needs <bpf/usdt.bpf.h> and -g)" % where)
        t = btf.type(tid)
        self.size = t.size
        m = {x.name: x for x in t.members}
        args = btf.type(btf.skip_mods(m["args"].type))
        self.args_off, self.max_args = m["args"].bit_offset // 8, args.nelems
        self.arg_size = btf.resolve_size(args.elem_type)
        at = btf.type(btf.skip_mods(args.elem_type))
        self.arg = {x.name: (x.bit_offset // 8, btf.resolve_size(x.type)) for x in at.members}
        self.cookie_off = m["usdt_cookie"].bit_offset // 8
        self.cnt_off = m["arg_cnt"].bit_offset // 8
        eid = btf.find_one("__bpf_usdt_arg_type", KIND_ENUM)
        self.kinds = dict(btf.type(eid).values) if eid is not None else {
            "BPF_USDT_ARG_CONST": 0, "BPF_USDT_ARG_REG": 1, "BPF_USDT_ARG_REG_DEREF": 2}

    def encode(self, arguments, cookie, regs, where):
        if len(arguments) > self.max_args:
            raise NotSupportedError("%s: %d arguments, usdt.bpf.h takes %d"
                                    % (where, len(arguments), self.max_args))
        buf = bytearray(self.size)
        for i, a in enumerate(arguments):
            base = self.args_off + i * self.arg_size
            fields = {"arg_signed": int(a.signed), "arg_bitshift": 64 - a.size * 8}
            if a.kind == "const":
                kind, fields["val_off"] = "BPF_USDT_ARG_CONST", a.value
            elif a.kind == "reg":
                kind, fields["reg_off"], fields["val_off"] = "BPF_USDT_ARG_REG", regs[a.reg], 0
            elif a.kind == "mem" and not a.index and a.reg:
                kind, fields["reg_off"] = "BPF_USDT_ARG_REG_DEREF", regs[a.reg]
                fields["val_off"] = a.offset
            elif a.kind == "mem" and "BPF_USDT_ARG_SIB" in self.kinds and a.reg and \
                    "idx_reg_off" in self.arg:
                kind, fields["reg_off"] = "BPF_USDT_ARG_SIB", regs[a.reg]
                fields["idx_reg_off"] = regs[a.index]
                fields["scale_bitshift"] = a.scale.bit_length() - 1
                fields["val_off"] = a.offset
            else:
                raise NotSupportedError(
                    "%s: argument %d (%s) cannot be read by this usdt.bpf.h (%s)"
                    % (where, i + 1, a.spec, "a scaled index needs libbpf >= 1.5's "
                       "BPF_USDT_ARG_SIB" if a.kind == "mem" else "unsupported operand"))
            fields["arg_type"] = self.kinds[kind]
            for name, value in fields.items():
                if name not in self.arg:
                    continue
                off, size = self.arg[name]
                buf[base + off:base + off + size] = (value & ((1 << size * 8) - 1)).to_bytes(
                    size, "little")
        struct.pack_into("<Q", buf, self.cookie_off, cookie & (1 << 64) - 1)
        struct.pack_into("<h", buf, self.cnt_off, len(arguments))
        return bytes(buf)


class USDTLink:
    """The uprobes of one USDT attach (one per probe location); close() releases all."""

    def __init__(self, prog, target, links):
        self.kind, self.target, self.prog, self.links = "usdt", target, prog, links

    def close(self):
        while self.links:
            self.links.pop().close()

    detach = close

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __repr__(self):
        return "<USDTLink %s, %d locations>" % (self.target, len(self.links))


def _spec_ids(obj):
    ids = obj.__dict__.get("_usdt_spec_ids")
    if ids is None:
        ids = obj.__dict__["_usdt_spec_ids"] = {}
    return ids


def attach_usdt(prog, path, provider, name, pid=-1, cookie=0):
    """Attach ``prog`` (a loaded SEC("usdt") program of an Object) to every location of
    USDT probe ``provider:name`` in the binary or library at ``path``; ``pid`` -1 for
    every process.  ``cookie`` is what the program's ``bpf_usdt_cookie(ctx)`` returns.
    Returns a :class:`USDTLink`."""
    obj = prog.obj
    target = "%s:%s:%s" % (path, provider, name)
    where = "USDT program '%s' on %s" % (prog.name, target)
    if obj is None or SPECS_MAP not in obj.maps:
        raise AttachError("%s: the object has no %s map (include <bpf/usdt.bpf.h> and use "
                          "BPF_USDT/bpf_usdt_arg)" % (where, SPECS_MAP))
    prov, pname = provider.encode(), name.encode()
    probes = [p for p in read_probes(path) if p.provider == prov and p.name == pname]
    if not probes:
        raise AttachError("%s: no such USDT probe in %s" % (where, path))
    layout = SpecLayout(obj.btf, obj.path)
    regs = pt_regs_offsets()
    ids = _spec_ids(obj)
    specs = obj.maps[SPECS_MAP]
    max_specs = specs.max_entries
    links = []
    try:
        for loc in probes[0].locations:
            blob = layout.encode(loc.arguments, cookie, regs, where)
            sid = ids.get(blob)
            if sid is None:
                if len(ids) >= max_specs:
                    raise AttachError("%s: more than %d distinct USDT specs in one object"
                                      % (where, max_specs))
                sid = ids[blob] = len(ids)
                specs.update(sid, blob)
            links.append(_probe.attach_uprobe(prog, path, loc.file_offset, pid=pid,
                                              ref_ctr_off=loc.semaphore_offset, cookie=sid))
    except BaseException:
        for lk in links:
            lk.close()
        raise
    return USDTLink(prog, target, links)
