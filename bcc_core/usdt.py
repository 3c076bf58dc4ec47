"""USDT probes as BCC offers them: ``USDT(pid=... | path=...)``, ``enable_probe()``, and
``BPF(text=..., usdt_contexts=[u])``.

A USDT probe is a ``.note.stapsdt`` ELF note: the probe's address, the address of its
semaphore (a counter the program tests before preparing the probe's arguments; 0 for
none) and an argument spec per argument, as the assembler saw them (``-4@%edi``,
``8@-16(%rbp)``, ``4@$5``).  As BCC does, the C that reads argument N of the probe a
function is attached to is generated from those specs (``_bpf_readarg_FN_N()``) and
put before the program's text, where the translator turns ``bpf_usdt_readarg(N, ctx,
&x)`` into a call of it.  Each location is a uprobe at its file offset; semaphores are
counted by the kernel (the uprobe's ``ref_ctr_offset``).

x86-64 argument specs only (registers, memory at base + index * scale + offset,
constants; not %rip-relative globals); a probe whose locations read an argument differently is read
as its first location does (BCC tells them apart by address).
"""
import os
import re
import struct

from .errors import BccCoreError, NotSupportedError


class USDTException(BccCoreError):
    pass


# assembler register names -> struct pt_regs members (x86-64)
_REGS = {}
for _m, _names in (("ax", "rax eax ax al"), ("bx", "rbx ebx bx bl"), ("cx", "rcx ecx cx cl"),
                   ("dx", "rdx edx dx dl"), ("si", "rsi esi si sil"), ("di", "rdi edi di dil"),
                   ("bp", "rbp ebp bp bpl"), ("sp", "rsp esp sp spl"), ("ip", "rip eip ip")):
    for _n in _names.split():
        _REGS[_n] = _m
for _i in range(8, 16):
    for _suf in ("", "d", "w", "b"):
        _REGS["r%d%s" % (_i, _suf)] = "r%d" % _i
_ARG = re.compile(r"^(-?\d+)@(.+)$")
# off(%base) and the scaled-index forms off(%base,%index,scale), off(,%index,scale)
_MEM = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\((?:%(\w+))?(?:,%(\w+)(?:,([1248]))?)?\)$")


class Argument:
    """One argument spec: ``size`` bytes (signed if the spec's size is negative), read
    from a register, memory at register + offset, or a constant."""
    __slots__ = ("size", "signed", "kind", "reg", "index", "scale", "offset", "value",
                 "spec")

    def __init__(self, spec):
        self.spec = spec
        m = _ARG.match(spec)
        if m:
            n, op = int(m.group(1)), m.group(2)
        else:
            n, op = 8, spec
        self.size, self.signed = abs(n) or 8, n < 0
        self.reg = self.index = self.offset = self.value = None
        self.scale = 1
        if op.startswith("$"):
            self.kind, self.value = "const", int(op[1:], 0)
        elif op.startswith("%"):
            self.kind, self.reg = "reg", _REGS.get(op[1:])
        else:
            mm = _MEM.match(op)
            if mm is None or not (mm.group(2) or mm.group(3)):
                self.kind = "unsupported"
            else:
                self.kind = "mem"
                self.reg = _REGS.get(mm.group(2)) if mm.group(2) else ""
                if mm.group(3):
                    self.index = _REGS.get(mm.group(3))
                    self.scale = int(mm.group(4) or "1")
                    if self.index in (None, "ip"):
                        self.kind = "unsupported"
                self.offset = int(mm.group(1) or "0", 0)
        if self.kind in ("reg", "mem") and (self.reg is None or self.reg == "ip"):
            self.kind = "unsupported"

    @property
    def ctype(self):
        return "%sint%d_t" % ("" if self.signed else "u", self.size * 8)

    def c_value(self):
        """A C expression of type s64/u64 for the value (ctx is struct pt_regs *)."""
        t = ("s%d" if self.signed else "u%d") % (self.size * 8)
        if self.kind == "const":
            return "(%s)%d" % (t, self.value)
        if self.kind == "reg":
            return "(%s)ctx->%s" % (t, self.reg)
        if self.kind == "mem":
            addr = ["(s64)ctx->%s" % self.reg] if self.reg else []
            if self.index:
                addr.append("(s64)ctx->%s * %d" % (self.index, self.scale))
            addr.append("(%d)" % self.offset)
            return ("({ %s __bcc_v = 0; bpf_probe_read_user(&__bcc_v, sizeof(__bcc_v), "
                    "(void *)(%s)); __bcc_v; })" % (t, " + ".join(addr)))
        raise NotSupportedError("USDT argument spec '%s' is not supported" % self.spec)


class Location:
    __slots__ = ("address", "file_offset", "semaphore", "semaphore_offset", "arguments")

    def __init__(self, address, file_offset, semaphore, semaphore_offset, arguments):
        self.address, self.file_offset = address, file_offset
        self.semaphore, self.semaphore_offset = semaphore, semaphore_offset
        self.arguments = arguments


class Probe:
    """A USDT probe (BCC's USDTProbe: name, provider, bin_path as bytes)."""

    def __init__(self, provider, name, bin_path):
        self.provider, self.name, self.bin_path = provider, name, bin_path
        self.locations = []

    @property
    def num_locations(self):
        return len(self.locations)

    @property
    def num_arguments(self):
        return len(self.locations[0].arguments) if self.locations else 0

    @property
    def semaphore(self):
        return self.locations[0].semaphore if self.locations else 0

    def short_name(self):
        return self.name

    def __str__(self):
        return "%s %s:%s [sema 0x%x]" % (self.bin_path.decode(), self.provider.decode(),
                                          self.name.decode(), self.semaphore)


def read_probes(path):
    """The USDT probes in the ELF file at path ([] if it has none)."""
    from .symbols import elf_symbols
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            notes = elf.get_section_by_name(".note.stapsdt")
            if notes is None:
                return []
            base_sec = elf.get_section_by_name(".stapsdt.base")
            actual_base = base_sec["sh_addr"] if base_sec is not None else None
            data = notes.data()
    except (OSError, ELFError):
        return []
    syms = elf_symbols(path)
    probes = {}
    bpath = path.encode()
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        name = data[off + 12:off + 12 + namesz].rstrip(b"\0")
        doff = off + 12 + ((namesz + 3) & ~3)
        desc = data[doff:doff + descsz]
        off = doff + ((descsz + 3) & ~3)
        if name != b"stapsdt" or ntype != 3 or len(desc) < 24:
            continue
        pc, base, sema = struct.unpack_from("<QQQ", desc)
        provider, pname, args = (desc[24:].split(b"\0") + [b"", b"", b""])[:3]
        if actual_base is not None and base:
            pc += actual_base - base
            if sema:
                sema += actual_base - base
        arguments = [Argument(a) for a in args.decode().split()] if args else []
        key = (provider, pname)
        p = probes.get(key)
        if p is None:
            p = probes[key] = Probe(provider, pname, bpath)
        p.locations.append(Location(pc, syms.file_offset(pc), sema,
                                    syms.file_offset(sema) if sema else 0, arguments))
    return list(probes.values())


def _process_binaries(pid):
    """The executable and the mapped files of process pid."""
    out = []
    try:
        out.append(os.readlink("/proc/%d/exe" % pid))
    except OSError as e:
        raise USDTException("cannot read the executable of process %d: %s"
                            % (pid, e.strerror)) from None
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("/") and "x" in parts[1]:
                    if parts[5] not in out:
                        out.append(parts[5])
    except OSError:
        pass
    root = "/proc/%d/root" % pid
    return [root + p if os.path.exists(root + p) else p for p in out]


class USDT(object):
    """BCC's USDT context: the probes of a binary (``path``) or of a process (``pid``:
    its executable and the libraries it maps), and the probes enabled on functions."""

    def __init__(self, pid=None, path=None):
        if pid is None and path is None:
            raise USDTException("USDT() needs pid= or path=")
        self.pid = pid
        self.path = path
        if path is not None:
            from .symbols import resolve_module
            p = resolve_module(path, pid or -1) or path
            binaries = [p]
        else:
            binaries = _process_binaries(pid)
        self.probes = []
        for b in binaries:
            self.probes.extend(read_probes(b))
        self.enabled = []       # (probe, fn_name)

    def _find(self, probe):
        want = probe.encode() if isinstance(probe, str) else bytes(probe)
        prov, _, name = want.rpartition(b":")
        for p in self.probes:
            if p.name == name and (not prov or p.provider == prov):
                return p
        return None

    def enable_probe(self, probe, fn_name):
        p = self._find(probe)
        if p is None:
            raise USDTException("Failed to enable USDT probe %s: no such probe in %s"
                                % (probe if isinstance(probe, str) else probe.decode(),
                                   "process %d" % self.pid if self.pid else self.path))
        fn = fn_name.decode() if isinstance(fn_name, bytes) else fn_name
        self.enabled.append((p, fn))

    def enable_probe_or_bail(self, probe, fn_name):
        try:
            self.enable_probe(probe, fn_name)
        except USDTException as e:
            import sys
            print(e)
            sys.exit(1)

    def enable_probe_or_bail_opt(self, probe, fn_name):
        return self.enable_probe_or_bail(probe, fn_name)

    def get_context(self):
        return self

    def get_probe_arg_ctype(self, probe_name, arg_index):
        p = self._find(probe_name)
        if p is None or not p.locations or arg_index >= len(p.locations[0].arguments):
            raise USDTException("no argument %d of USDT probe %s" % (arg_index, probe_name))
        return p.locations[0].arguments[arg_index].ctype

    def enumerate_probes(self):
        return list(self.probes)

    def enumerate_active_probes(self):
        """[(bin_path, fn_name, file offset, pid)] of the enabled probes' locations."""
        return [(p.bin_path, fn.encode(), loc.file_offset, self.pid or -1)
                for p, fn in self.enabled for loc in p.locations]

    def get_text(self):
        """The C functions reading each enabled probe's arguments (BCC's
        ``_bpf_readarg_FN_N(ctx, dest, len)``, 1-based N), put before the program."""
        out = []
        for p, fn in self.enabled:
            if not p.locations:
                continue
            args = p.locations[0].arguments
            for i, a in enumerate(args, 1):
                out.append(
                    "static __always_inline int _bpf_readarg_%s_%d(struct pt_regs *ctx, "
                    "void *dest, unsigned long len) {\n"
                    "    s64 __bcc_a = (s64)%s;\n"
                    "    if (len == 8) *(u64 *)dest = __bcc_a;\n"
                    "    else if (len == 4) *(u32 *)dest = __bcc_a;\n"
                    "    else if (len == 2) *(u16 *)dest = __bcc_a;\n"
                    "    else if (len == 1) *(u8 *)dest = __bcc_a;\n"
                    "    else return -1;\n"
                    "    return 0;\n}\n" % (fn, i, a.c_value()))
        return "".join(out)

    def attach_uprobes(self, bpf, attach_usdt_ignore_pid=False):
        pid = -1 if attach_usdt_ignore_pid or not self.pid else self.pid
        for p, fn in self.enabled:
            for loc in p.locations:
                bpf._attach_usdt(p.bin_path, loc.file_offset, loc.semaphore_offset, fn, pid)
