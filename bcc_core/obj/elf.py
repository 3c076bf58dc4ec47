"""Read a BPF ELF object (``.bpf.o``) into an :class:`~bcc_core.obj.spec.ObjectSpec`.

Nothing here touches the kernel.  Callers go through :func:`bcc_core.obj.cache.load_spec`,
which caches the result by the file's content hash: a warm start imports neither this
module nor pyelftools.
"""
import struct

from .. import btf as _btf
from ..errors import BTFError, ELFError, MapDefinitionError
from .sec import find_sec_def

EM_BPF = 247
INSN_SZ = 8
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32 = 1, 2, 3, 4, 10

MAP_DEF_UINT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "key_size",
                       "value_size", "pinning", "map_extra")

# the data model, re-exported for the parser's callers
from .spec import (DATA_KINDS, BTFExt, CoreRelo, ExternSpec, MapSpec, ObjectSpec,  # noqa
                   ProgramSpec, ProgSection, Reloc, object_name)


# -- .BTF.ext ---------------------------------------------------------------------------
def parse_btf_ext(data, btf, where):
    ext = BTFExt()
    if len(data) < 24:
        raise BTFError(".BTF.ext too short", where)
    magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != _btf.MAGIC:
        raise BTFError(".BTF.ext has bad magic 0x%04x" % magic, where)
    if version != 1:
        raise BTFError(".BTF.ext version %d unsupported" % version, where)
    if hdr_len < 24 or hdr_len > len(data):
        raise BTFError(".BTF.ext bad header length %d" % hdr_len, where)
    fi_off, fi_len, li_off, li_len = struct.unpack_from("<IIII", data, 8)
    cr_off = cr_len = 0
    if hdr_len >= 32:
        cr_off, cr_len = struct.unpack_from("<II", data, 24)

    def sub(off, length, minrec, what, conv):
        out = {}
        if not length:
            return out, minrec
        start = hdr_len + off
        end = start + length
        if end > len(data) or length < 4:
            raise BTFError(".BTF.ext %s section out of range" % what, where)
        rec = struct.unpack_from("<I", data, start)[0]
        if rec < minrec or rec % 4:
            raise BTFError(".BTF.ext %s record size %d invalid" % (what, rec), where)
        p = start + 4
        while p < end:
            if p + 8 > end:
                raise BTFError(".BTF.ext %s truncated" % what, where)
            sec_off, n = struct.unpack_from("<II", data, p)
            p += 8
            if n == 0 or p + n * rec > end:
                raise BTFError(".BTF.ext %s bad record count" % what, where)
            sec = btf.string(sec_off)
            out.setdefault(sec, []).extend(conv(data, p + i * rec) for i in range(n))
            p += n * rec
        return out, rec

    ext.func_info, ext.func_info_rec_size = sub(
        fi_off, fi_len, 8, "func_info", lambda d, p: struct.unpack_from("<II", d, p))
    ext.line_info, ext.line_info_rec_size = sub(
        li_off, li_len, 16, "line_info", lambda d, p: struct.unpack_from("<IIII", d, p))

    def core(d, p):
        insn_off, tid, acc, kind = struct.unpack_from("<IIII", d, p)
        return CoreRelo(insn_off, tid, btf.string(acc), kind)
    ext.core_relos, _ = sub(cr_off, cr_len, 16, "core_relo", core)
    return ext


# -- ELF --------------------------------------------------------------------------------
def parse(data, path="<memory>"):
    """Parse ELF bytes into an ObjectSpec; every malformation raises ELFError/BTFError."""
    try:
        return _Parser(data, path).run()
    except (ELFError, BTFError, MapDefinitionError):
        raise
    except (struct.error, ValueError, KeyError, IndexError, TypeError, AttributeError,
            UnicodeDecodeError, AssertionError, RecursionError, OverflowError,
            ZeroDivisionError, MemoryError) as e:
        raise ELFError("malformed object (%s: %s)" % (type(e).__name__, e), path) from None
    except Exception as e:
        if type(e).__module__.startswith("elftools"):
            raise ELFError("malformed ELF (%s)" % e, path) from None
        raise


class _Parser:
    def __init__(self, data, path):
        self.data = bytes(data)
        self.path = path

    def err(self, msg):
        return ELFError(msg, self.path)

    def run(self):
        import io
        if self.data[:4] != b"\x7fELF":
            raise self.err("not an ELF file")
        if len(self.data) < 64:
            raise self.err("truncated ELF header")
        if self.data[4] != 2 or self.data[5] != 1:
            raise self.err("not a 64-bit little-endian ELF (BPF objects are ELF64 LE)")
        e_type, e_machine = struct.unpack_from("<HH", self.data, 16)
        if e_machine != EM_BPF:
            raise self.err("not a BPF object (e_machine %d, expected EM_BPF=247)" % e_machine)
        if e_type != 1:
            raise self.err("not a relocatable object (e_type %d)" % e_type)
        from elftools.elf.elffile import ELFFile
        self.elf = ELFFile(io.BytesIO(self.data))
        spec = self.spec = ObjectSpec(self.path, object_name(self.path))
        self.secs = list(self.elf.iter_sections())
        self.symtab = None
        for s in self.secs:
            if s["sh_type"] == "SHT_SYMTAB":
                self.symtab = s
        if self.symtab is None:
            raise self.err("no symbol table")
        self.syms = list(self.symtab.iter_symbols())
        by_name = {s.name: s for s in self.secs}
        if ".BTF" in by_name:
            spec.btf = by_name[".BTF"].data()
            self.btf = _btf.BTF(spec.btf, where=self.path + ":.BTF")
            spec.btf_index = self.btf.index_bytes()
        else:
            self.btf = None
        if ".BTF.ext" in by_name and self.btf is not None:
            spec.btf_ext = parse_btf_ext(by_name[".BTF.ext"].data(), self.btf,
                                         self.path + ":.BTF.ext")
        lic = by_name.get("license")
        if lic is None:
            raise self.err("missing 'license' section (declare "
                           "char LICENSE[] SEC(\"license\") = \"GPL\";)")
        spec.license = lic.data().split(b"\0", 1)[0].decode("ascii", "replace")
        ver = by_name.get("version")
        if ver is not None and ver["sh_size"] == 4:
            spec.kern_version = struct.unpack("<I", ver.data())[0]
        self.collect_programs()
        self.collect_maps(by_name.get(".maps"))
        self.collect_data()
        self.collect_externs()
        self.collect_relocs()
        if self.btf is not None:
            # global functions of hidden visibility (__hidden, e.g. usdt.bpf.h's
            # bpf_usdt_arg) are verified as static ones, as libbpf does: with their
            # caller's context, not as separately validated global functions
            hidden = {s.name for s in self.syms if s["st_info"]["type"] == "STT_FUNC" and
                      s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and
                      s["st_other"]["visibility"] in ("STV_HIDDEN", "STV_INTERNAL")}
            spec.kernel_btf = btf_for_kernel(spec, self.btf, hidden)
        return spec

    # programs --------------------------------------------------------------------------
    def collect_programs(self):
        spec = self.spec
        for idx, s in enumerate(self.secs):
            if s["sh_type"] != "SHT_PROGBITS" or not (s["sh_flags"] & 0x4):  # SHF_EXECINSTR
                continue
            if s["sh_size"] % INSN_SZ:
                raise self.err("section %s size %d is not a multiple of 8"
                               % (s.name, s["sh_size"]))
            if s["sh_size"] == 0:
                continue
            spec.sections[s.name] = ProgSection(s.name, idx, s.data(), [])
            sec_name = s.name.lstrip("?")
            sec_def = None
            if s.name != ".text":
                sec_def = find_sec_def(sec_name)
                if sec_def is None:
                    raise self.err("unknown program section '%s' (not a libbpf SEC() name)"
                                   % s.name)
            funcs = sorted((sym["st_value"], sym) for sym in self.syms
                           if sym["st_shndx"] == idx and sym["st_info"]["type"] == "STT_FUNC")
            if not funcs:
                raise self.err("section %s has code but no function symbol" % s.name)
            size = s["sh_size"]
            for value, sym in funcs:
                if value % INSN_SZ or sym["st_size"] % INSN_SZ or \
                        value + sym["st_size"] > size:
                    raise self.err("function %s has a bad offset/size in %s"
                                   % (sym.name, s.name))
                p = ProgramSpec(sym.name, s.name, value // INSN_SZ, sym["st_size"] // INSN_SZ,
                                sec_def, sym["st_info"]["bind"] != "STB_LOCAL")
                (spec.subprogs if sec_def is None else spec.programs).append(p)

    # maps ------------------------------------------------------------------------------
    def collect_maps(self, sec):
        if sec is None:
            return
        if self.btf is None:
            raise MapDefinitionError("'.maps' section needs BTF (compile with -g)", self.path)
        b = self.btf
        ds = b.find_one(".maps", _btf.KIND_DATASEC)
        if ds is None:
            raise MapDefinitionError("no DATASEC for '.maps' in BTF", self.path)
        # map-in-map initial values: relocations in .maps
        slot_relocs = {}
        for rs in self.secs:
            if rs["sh_type"] == "SHT_REL" and self.secs[rs["sh_info"]] is sec:
                for r in rs.iter_relocations():
                    sym = self.syms[r["r_info_sym"]]
                    slot_relocs[r["r_offset"]] = sym.name
        symoff = {sym.name: sym["st_value"] for sym in self.syms
                  if sym["st_shndx"] == self.secs.index(sec)}
        for vtid, off, size in b.type(ds).secinfo:
            var = b.type(vtid)
            if var.kind != _btf.KIND_VAR:
                raise MapDefinitionError("'.maps' entry %d is not a variable" % vtid,
                                         self.path)
            off = symoff.get(var.name, off)
            m = self.parse_map_def(var.name, var.type, self.path)
            m.section = ".maps"
            # map-in-map / prog-array 'values' initialisers
            if m.init_slots_base is not None:
                base = off + m.init_slots_base
                for roff, target in slot_relocs.items():
                    if base <= roff < off + size:
                        m.init_slots[(roff - base) // 8] = target
            del m.init_slots_base
            self.spec.maps.append(m)

    def parse_map_def(self, name, tid, where, inner=False):
        b = self.btf
        t = b.type(b.skip_mods(tid))
        if t.kind != _btf.KIND_STRUCT:
            raise MapDefinitionError("map '%s' definition is not a struct" % name, where)
        m = MapSpec(name)
        m.init_slots_base = None
        seen = set()
        for mem in t.members:
            f = mem.name
            mt = b.type(b.skip_mods(mem.type))
            if f in MAP_DEF_UINT_FIELDS:
                if mt.kind != _btf.KIND_PTR:
                    raise MapDefinitionError("map '%s': field '%s' is not __uint()" % (name, f),
                                             where)
                at = b.type(b.skip_mods(mt.type))
                if at.kind != _btf.KIND_ARRAY:
                    raise MapDefinitionError("map '%s': field '%s' is not __uint()" % (name, f),
                                             where)
                setattr(m, "type" if f == "type" else f, at.nelems)
            elif f in ("key", "value"):
                if mt.kind != _btf.KIND_PTR:
                    raise MapDefinitionError("map '%s': field '%s' is not __type()" % (name, f),
                                             where)
                sz = b.resolve_size(mt.type)
                if f == "key":
                    if m.key_size and m.key_size != sz:
                        raise MapDefinitionError("map '%s': key_size %d conflicts with key "
                                                 "type size %d" % (name, m.key_size, sz), where)
                    m.key_size, m.btf_key_type_id = sz, mt.type
                else:
                    if m.value_size and m.value_size != sz:
                        raise MapDefinitionError("map '%s': value_size %d conflicts with "
                                                 "value type size %d" % (name, m.value_size, sz),
                                                 where)
                    m.value_size, m.btf_value_type_id = sz, mt.type
            elif f == "values":
                if mt.kind != _btf.KIND_ARRAY:
                    raise MapDefinitionError("map '%s': 'values' must be an array" % name, where)
                et = b.type(b.skip_mods(mt.elem_type))
                if et.kind != _btf.KIND_PTR:
                    raise MapDefinitionError("map '%s': 'values' must hold pointers" % name,
                                             where)
                target = b.type(b.skip_mods(et.type))
                if target.kind == _btf.KIND_STRUCT:
                    if inner:
                        raise MapDefinitionError("map '%s': nested map-in-map" % name, where)
                    m.inner = self.parse_map_def(name + ".inner", et.type, where, inner=True)
                    del m.inner.init_slots_base
                    m.value_size = 4
                elif target.kind != _btf.KIND_FUNC_PROTO:
                    raise MapDefinitionError("map '%s': 'values' must point to a map or a "
                                             "program" % name, where)
                m.init_slots_base = mem.bit_offset // 8
            else:
                raise MapDefinitionError("map '%s': unknown field '%s'" % (name, f), where)
            seen.add(f)
        if "type" not in seen:
            raise MapDefinitionError("map '%s': missing map type" % name, where)
        return m

    # global data -----------------------------------------------------------------------
    def collect_data(self):
        spec = self.spec
        by_idx = {}
        for sym in self.syms:
            if sym["st_info"]["type"] == "STT_OBJECT" and isinstance(sym["st_shndx"], int):
                by_idx.setdefault(sym["st_shndx"], []).append(sym)
        for idx, s in enumerate(self.secs):
            if s["sh_flags"] & 0x2 and not s["sh_flags"] & 0x4:   # SHF_ALLOC, not code
                spec.sec_sizes[s.name] = s["sh_size"]
                for sym in by_idx.get(idx, ()):
                    spec.sym_offsets[(s.name, sym.name)] = sym["st_value"]
        for idx, s in enumerate(self.secs):
            n = s.name
            if n in (".data", ".rodata", ".bss") or n.startswith((".data.", ".rodata.",
                                                                   ".bss.")):
                if s["sh_flags"] & 0x4:
                    continue
                size = s["sh_size"]
                if size == 0:
                    continue
                kind = n[1:].split(".", 1)[0]
                data = bytes(size) if s["sh_type"] == "SHT_NOBITS" else s.data()
                ds = self.btf.find_one(n, _btf.KIND_DATASEC) if self.btf else None
                m = MapSpec(n, type=2, key_size=4, value_size=size, max_entries=1,
                            section=n, data=data, kind=kind, sec_var_type=ds or 0)
                m.map_flags = 0x80 if kind == "rodata" else 0   # BPF_F_RDONLY_PROG
                spec.maps.append(m)

    # externs ---------------------------------------------------------------------------
    def collect_externs(self):
        spec = self.spec
        externs = [s for s in self.syms
                   if s["st_shndx"] == "SHN_UNDEF" and s.name and
                   s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")]
        if not externs:
            return
        if self.btf is None:
            raise ELFError("extern symbols need BTF (compile with -g)", self.path)
        b = self.btf
        # which DATASEC holds each extern's VAR/FUNC
        where = {}
        for sec_name in (".kconfig", ".ksyms"):
            ds = b.find_one(sec_name, _btf.KIND_DATASEC)
            if ds is None:
                continue
            for vtid, _, _ in b.type(ds).secinfo:
                where[b.type(vtid).name] = (sec_name, vtid)
        for s in externs:
            weak = s["st_info"]["bind"] == "STB_WEAK"
            if s.name not in where:
                # extern functions called as kfuncs are FUNCs with extern linkage
                fids = [i for i in b.find(s.name, _btf.KIND_FUNC)
                        if b.type(i).linkage == _btf.FUNC_EXTERN]
                if fids:
                    spec.externs.append(ExternSpec(s.name, "ksym", fids[0], weak, ".ksyms",
                                                   True))
                    continue
                raise ELFError("extern '%s' is neither __kconfig nor __ksym" % s.name,
                               self.path)
            sec_name, vtid = where[s.name]
            t = b.type(vtid)
            e = ExternSpec(s.name, "kcfg" if sec_name == ".kconfig" else "ksym", vtid,
                           weak, sec_name, t.kind == _btf.KIND_FUNC)
            if e.kind == "kcfg":
                e.size = b.resolve_size(t.type)
                e.align = b.alignment(t.type)
            spec.externs.append(e)
        kc = [e for e in spec.externs if e.kind == "kcfg"]
        if kc:
            # libbpf's layout: sorted by (alignment desc, size, name), each aligned
            kc.sort(key=lambda e: (-e.align, e.size, e.name))
            off = 0
            for e in kc:
                off = (off + e.align - 1) // e.align * e.align
                e.data_off = off
                off += e.size
            ds = b.find_one(".kconfig", _btf.KIND_DATASEC)
            spec.maps.append(MapSpec(".kconfig", type=2, key_size=4, value_size=max(off, 1),
                                     max_entries=1, map_flags=0x80, section=".kconfig",
                                     data=bytes(max(off, 1)), kind="kconfig",
                                     sec_var_type=ds or 0))

    # relocations -----------------------------------------------------------------------
    def collect_relocs(self):
        spec = self.spec
        for rs in self.secs:
            if rs["sh_type"] != "SHT_REL":
                continue
            target = self.secs[rs["sh_info"]]
            ps = spec.sections.get(target.name)
            if ps is None:
                continue
            for r in rs.iter_relocations():
                off = r["r_offset"]
                if off % INSN_SZ or off >= len(ps.insns):
                    raise self.err("relocation offset %d out of section %s"
                                   % (off, target.name))
                symi = r["r_info_sym"]
                if symi >= len(self.syms):
                    raise self.err("relocation symbol %d out of range" % symi)
                sym = self.syms[symi]
                shndx = sym["st_shndx"]
                if isinstance(shndx, str):
                    sec_name = None
                    shndx = {"SHN_UNDEF": 0, "SHN_ABS": SHN_ABS,
                             "SHN_COMMON": SHN_COMMON}.get(shndx, 0)
                else:
                    if shndx >= len(self.secs):
                        raise self.err("symbol %s in section %d out of range"
                                       % (sym.name, shndx))
                    sec_name = self.secs[shndx].name
                st = {"STT_NOTYPE": 0, "STT_OBJECT": 1, "STT_FUNC": 2,
                      "STT_SECTION": 3}.get(sym["st_info"]["type"], 0)
                sb = {"STB_LOCAL": 0, "STB_GLOBAL": 1, "STB_WEAK": 2}.get(
                    sym["st_info"]["bind"], 0)
                ps.relocs.append(Reloc(off // INSN_SZ, r["r_info_type"], sym.name, sec_name,
                                       sym["st_value"], st, sb, shndx))


# -- BTF for the kernel ------------------------------------------------------------------
def btf_for_kernel(spec, b, hidden=()):
    """The object's BTF fixed up for the kernel as libbpf does when it opens an object:
    DATASEC sizes and VAR offsets from the ELF, extern VARs made allocated, .ksyms turned
    into a struct, extern FUNCs made global, global FUNCs in ``hidden`` (names of
    hidden-visibility ELF symbols) made static.  ``b`` is the object's parsed BTF."""
    blob = bytearray(b.data)
    int_id = None
    head = struct.Struct("<II").unpack_from     # info, size/type of a type record
    raw, type_offs, start = b.data, b._offs, b.start_id
    for tid in range(1, b.nr_types):
        pos = type_offs[tid - start]
        info, size = head(raw, pos + 4)
        kind = (info >> 24) & 0x1f      # only DATASECs need decoding
        if kind == _btf.KIND_INT and size == 4 and int_id is None:
            int_id = tid
        if kind == _btf.KIND_FUNC and info & 0xffff == _btf.FUNC_EXTERN:
            # kernels reject extern linkage in program BTF; libbpf makes it global
            info = (_btf.KIND_FUNC << 24) | _btf.FUNC_GLOBAL
            struct.pack_into("<I", blob, pos + 4, info)
        elif kind == _btf.KIND_FUNC and info & 0xffff == _btf.FUNC_GLOBAL and hidden and \
                b.string(struct.unpack_from("<I", raw, pos)[0]) in hidden:
            struct.pack_into("<I", blob, pos + 4, (_btf.KIND_FUNC << 24) | _btf.FUNC_STATIC)
        if kind != _btf.KIND_DATASEC:
            continue
        t = b.type(tid)
        if t.name == ".ksyms":
            info = (_btf.KIND_STRUCT << 24) | t.vlen
            struct.pack_into("<III", blob, pos, 0, info, 4 * t.vlen)
            for i, (vtid, off, size) in enumerate(t.secinfo):
                v = b.type(vtid)
                struct.pack_into("<III", blob, pos + 12 + 12 * i, v.name_off,
                                 int_id or 0, 32 * i)
            continue
        if t.name == ".kconfig":
            m = next((m for m in spec.maps if m.name == ".kconfig"), None)
            size = m.value_size if m else 0
            offs = {e.name: e.data_off for e in spec.externs if e.kind == "kcfg"}
        else:
            size = spec.sec_sizes.get(t.name, t.size)
            offs = {n: o for (s, n), o in spec.sym_offsets.items() if s == t.name}
        struct.pack_into("<I", blob, pos + 8, size)
        infos = []
        for vtid, off, vsize in t.secinfo:
            v = b.type(vtid)
            if v.kind == _btf.KIND_VAR:
                if v.linkage == _btf.VAR_GLOBAL_EXTERN:
                    struct.pack_into("<I", blob, b._offs[vtid - b.start_id] + 12,
                                     _btf.VAR_GLOBAL_ALLOCATED)
                off = offs.get(v.name, off)
            infos.append((off, vtid, vsize))
        infos.sort()   # the kernel wants VARs in offset order
        for i, (off, vtid, vsize) in enumerate(infos):
            struct.pack_into("<III", blob, pos + 12 + 12 * i, vtid, off, vsize)
    return bytes(blob)
