"""USDT probes as the ELF file describes them (no kernel): the ``.note.stapsdt`` notes
of a binary or library, each with its probe address, semaphore address and argument
specs as the assembler saw them (``-4@%edi``, ``8@-16(%rbp)``, ``8@0(%r13,%rax,8)``,
``4@$5``).  The BCC facade (:mod:`bcc_core.usdt`) turns the specs into C; the loader's
USDT attach (:mod:`bcc_core.attach.usdt`) into libbpf's ``struct __bpf_usdt_spec``.

x86-64 argument specs: registers, memory at base + index * scale + offset,
constants; not %rip-relative globals.
"""
import re
import struct

from ..errors import NotSupportedError


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

    @property
    def registers(self):
        """The struct pt_regs members the value is read from."""
        return [r for r in (self.reg, self.index) if r and self.kind in ("reg", "mem")]

    def c_value(self, reg="ctx->%s"):
        """A C expression of type s64/u64 for the value; ``reg`` % member is how a
        register is read (ctx is struct pt_regs *)."""
        t = ("s%d" if self.signed else "u%d") % (self.size * 8)
        if self.kind == "const":
            return "(%s)%d" % (t, self.value)
        if self.kind == "reg":
            return "(%s)%s" % (t, reg % self.reg)
        if self.kind == "mem":
            addr = ["(s64)" + reg % self.reg] if self.reg else []
            if self.index:
                addr.append("(s64)%s * %d" % (reg % self.index, self.scale))
            addr.append("(%d)" % self.offset)
            return ("({ %s __bcc_v = 0; bpf_probe_read_user(&__bcc_v, sizeof(__bcc_v), "
                    "(void *)(%s)); __bcc_v; })" % (t, " + ".join(addr)))
        raise NotSupportedError("USDT argument spec '%s' is not supported" % self.spec)


class Location:
    """One site of a probe: its address and file offset in ``bin_path`` (bytes), its
    semaphore's (0 for none), and how each argument is read there."""
    __slots__ = ("address", "file_offset", "semaphore", "semaphore_offset", "arguments",
                 "bin_path")

    def __init__(self, address, file_offset, semaphore, semaphore_offset, arguments,
                 bin_path=b""):
        self.address, self.file_offset = address, file_offset
        self.semaphore, self.semaphore_offset = semaphore, semaphore_offset
        self.arguments = arguments
        self.bin_path = bin_path

    @property
    def num_arguments(self):
        return len(self.arguments)

    def get_argument(self, index):
        """Argument index (0-based), as BCC's USDTProbeLocation.get_argument()."""
        return self.arguments[index]

    @property
    def arg_specs(self):
        """The argument specs as a tuple: two sites read alike iff these are equal."""
        return tuple(a.spec for a in self.arguments)


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

    def get_location(self, index):
        """Site index (BCC's USDTProbe.get_location()): address, bin_path, arguments."""
        if not 0 <= index < len(self.locations):
            raise IndexError("USDT probe %s has %d locations, no location %d"
                             % (self.short_name(), len(self.locations), index))
        return self.locations[index]

    def short_name(self):
        """``provider:name`` (str), as BCC's USDTProbe.short_name()."""
        return "%s:%s" % (self.provider.decode(), self.name.decode())

    def __str__(self):
        return "%s %s:%s [sema 0x%x]" % (self.bin_path.decode(), self.provider.decode(),
                                          self.name.decode(), self.semaphore)


def read_probes(path):
    """The USDT probes in the ELF file at path ([] if it has none)."""
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
            loads = [(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"])
                     for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    except (OSError, ELFError):
        return []

    def file_offset(vaddr):
        for va, off, filesz, memsz in loads:
            if va <= vaddr < va + max(filesz, memsz):
                return vaddr - va + off
        return vaddr
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
        p.locations.append(Location(pc, file_offset(pc), sema,
                                    file_offset(sema) if sema else 0, arguments, bpath))
    return list(probes.values())
