"""Instruction relocation and linking of a loaded object: CO-RE decisions (cached on disk),
map/data/extern relocations, ksym and kfunc resolution, subprogram linking, func and line
info (the :class:`~.loader.Object` methods, mixed into Object)."""
import os
import struct

from .. import btf as _btf
from ..errors import ExternError, RelocationError
from ..obj import record as _record

BPF_LD_IMM64 = 0x18
BPF_CALL = 0x85
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_BTF_ID, PSEUDO_FUNC = 1, 2, 3, 4
PSEUDO_CALL, PSEUDO_KFUNC_CALL = 1, 2

_insn = struct.Struct("<BBhi")


def _get(insns, i):
    return _insn.unpack_from(insns, i * 8)


def _set_imm(insns, i, imm):
    struct.pack_into("<i", insns, i * 8 + 4, imm)


def _set_src(insns, i, src):
    insns[i * 8 + 1] = (insns[i * 8 + 1] & 0x0F) | (src << 4)


def _calls_and_loads(insns, start, cnt):
    """Indexes (from ``start``) of the call and 64-bit load instructions among ``cnt``
    instructions: found in the opcode bytes alone (the second half of a 64-bit load has
    opcode 0), without decoding every instruction in Python."""
    ops = bytes(insns[start * 8:(start + cnt) * 8:8])
    found = []
    for op in (b"\x85", b"\x18"):
        i = ops.find(op)
        while i >= 0:
            found.append(i)
            i = ops.find(op, i + 1)
    found.sort()
    return found


class Relocator:
    """Object's relocation half: patched instructions per section and linked programs
    (a mixin of :class:`~.loader.Object`)."""

    def _target_btf(self):
        return _btf.kernel_btf(self.target_btf_path)

    def _relocate_sections(self):
        """Patched instruction bytes per section: CO-RE first, then map/data/extern."""
        spec = self.spec
        out = {name: bytearray(ps.insns) for name, ps in spec.sections.items()}
        ext = spec.btf_ext
        if ext is not None and any(ext.core_relos.values()):
            decisions = self._core_decisions(out)
            from ..core.relo_insn import patch
            for d in decisions:
                buf = out[d.section]
                cls = buf[8 * d.insn_idx] & 7 if 8 * d.insn_idx < len(buf) else None
                patch(buf, d, where="%s: %s" % (self.path, d.section))
                # LDX/ST/STX whose field size changed badly are poisoned by patch() too
                if d.poisoned or (d.fail_memsz_adjust and cls in (1, 2, 3)):
                    self._poison[(d.section, d.insn_idx)] = d
            self.core_decisions = decisions
        for name, ps in spec.sections.items():
            insns = out[name]
            for r in ps.relocs:
                self._apply_reloc(name, insns, r)
        return out

    def _kernel_key(self):
        return _btf.file_key(self.target_btf_path or _btf.VMLINUX)

    def _core_decisions(self, sections):
        """CO-RE decisions for this object against the target BTF.  They depend only on
        the object and the target BTF, so they are cached on disk under both hashes: a
        warm start neither parses the kernel's BTF nor runs the engine."""
        cpath = None
        if self.spec.key:
            # an edited engine invalidates its decisions
            cpath = os.path.join(_btf.cache_dir(), "core-%x-%s-%s.%s" % (
                _record.stamp(*_RELO_SOURCES), self.spec.key, self._kernel_key(),
                _record.FORMAT))
            try:
                with open(cpath, "rb") as f:
                    return _record.loads(f.read())
            except Exception:
                pass
        from ..core import relo as _relo
        ext = self.spec.btf_ext
        recs = [(sec, r) for sec, rs in ext.core_relos.items() if sec in sections for r in rs]
        decisions = _relo.compute(self.btf, recs, self._target_btf())
        if cpath:
            slim = []
            for d in decisions:
                c = _copy(d)
                c.target_btf = None
                slim.append(c)
            _write_cache(cpath, _record.dumps(slim))
        return decisions

    def _kernel_find(self, name, kind):
        """kernel_btf().find_one(name, kind), cached on disk per kernel BTF."""
        key = self._kernel_key()
        cache = _kfind_cache.get(key)
        cpath = os.path.join(_btf.cache_dir(), "kfind-%s.%s" % (key, _record.FORMAT))
        if cache is None:
            try:
                with open(cpath, "rb") as f:
                    cache = _record.loads(f.read())
            except Exception:
                cache = {}
            _kfind_cache[key] = cache
        if (name, kind) not in cache:
            cache[(name, kind)] = self._target_btf().find_one(name, kind)
            _write_cache(cpath, _record.dumps(cache))
        return cache[(name, kind)]

    def poison_reason(self, prog, idx):
        """For a verifier failure at a poisoned instruction: which CO-RE relocation."""
        for (sec, i), d in self._poison.items():
            pieces = getattr(prog, "_pieces", [])
            for start, psec, poff, cnt in pieces:
                if psec == sec and start <= idx < start + cnt and poff + (idx - start) == i:
                    why = d.reason or ("field size changes from %d to %d bytes and is not "
                                       "a pointer or unsigned integer" % (d.orig_sz, d.new_sz))
                    return ("instruction %d was poisoned by a failed CO-RE relocation: %s "
                            "of %s (%s)" % (idx, d.kind_name, d.spec, why))
        return None

    def _apply_reloc(self, sec, insns, r):
        i = r.insn_idx
        code, regs, off, imm = _get(insns, i)
        src = regs >> 4
        where = "%s: section %s insn %d (symbol '%s')" % (self.path, sec, i, r.sym_name)
        if code == BPF_CALL:
            if src == PSEUDO_CALL:
                return   # subprogram call: resolved when linking
            if r.sym_shndx == 0:
                self._reloc_kfunc(insns, i, r, where)
                return
            raise RelocationError("%s: call relocation against a non-function" % where)
        if code != BPF_LD_IMM64:
            raise RelocationError("%s: relocation on an instruction (opcode 0x%02x) that is "
                                  "not a 64-bit load or call" % (where, code))
        if (i + 1) * 8 >= len(insns):
            raise RelocationError("%s: truncated ld_imm64" % where)
        if r.sym_sec == ".maps":
            m = self.maps.get(r.sym_name)
            if m is None:
                raise RelocationError("%s: unknown map '%s'" % (where, r.sym_name))
            _set_src(insns, i, PSEUDO_MAP_FD)
            _set_imm(insns, i, m.fd)
            return
        if r.sym_sec in self._data_specs:
            m = self.maps.get(r.sym_sec)
            if m is None:
                raise RelocationError("%s: no map for section %s" % (where, r.sym_sec))
            _set_src(insns, i, PSEUDO_MAP_VALUE)
            _set_imm(insns, i + 1, imm + r.sym_value)
            _set_imm(insns, i, m.fd)
            return
        if r.sym_shndx == 0:
            e = next((e for e in self.spec.externs if e.name == r.sym_name), None)
            if e is None:
                raise RelocationError("%s: undefined symbol" % where)
            if e.kind == "kcfg":
                _set_src(insns, i, PSEUDO_MAP_VALUE)
                _set_imm(insns, i, self.maps[".kconfig"].fd)
                _set_imm(insns, i + 1, e.data_off)
                return
            self._reloc_ksym(insns, i, e, where)
            return
        if r.sym_sec in self.spec.sections:
            return   # subprogram address (PSEUDO_FUNC): resolved when linking
        raise RelocationError("%s: relocation against section '%s' that holds no map, data "
                              "or code" % (where, r.sym_sec))

    def _reloc_ksym(self, insns, i, e, where):
        kb = self._target_btf()
        b = self.btf
        v = b.type(e.btf_id)
        if v.kind == _btf.KIND_VAR and b.skip_mods(v.type) != 0 and \
                b.kind_of(b.skip_mods(v.type)) != _btf.KIND_UNKN:
            kid = kb.find_one(e.name, _btf.KIND_VAR)
            if kid is None:
                if e.weak:
                    _set_imm(insns, i, 0)
                    _set_imm(insns, i + 1, 0)
                    return
                raise ExternError("%s: __ksym '%s' not found in kernel BTF" % (where, e.name))
            _set_src(insns, i, PSEUDO_BTF_ID)
            _set_imm(insns, i, kid)
            _set_imm(insns, i + 1, 0)
            return
        addr = _ksym_addr(e.name)
        if addr is None and not e.weak:
            raise ExternError("%s: __ksym '%s' not in /proc/kallsyms" % (where, e.name))
        addr = addr or 0
        _set_src(insns, i, 0)
        struct.pack_into("<I", insns, i * 8 + 4, addr & 0xFFFFFFFF)
        struct.pack_into("<I", insns, i * 8 + 12, addr >> 32)

    def _reloc_kfunc(self, insns, i, r, where):
        e = next((e for e in self.spec.externs if e.name == r.sym_name), None)
        kb = self._target_btf()
        kid = kb.find_one(r.sym_name, _btf.KIND_FUNC)
        if kid is None:
            if e is not None and e.weak:
                _set_imm(insns, i, 0)   # verifier rejects only if reached
                return
            raise ExternError("%s: kfunc '%s' not found in kernel BTF" % (where, r.sym_name))
        _set_src(insns, i, PSEUDO_KFUNC_CALL)
        _set_imm(insns, i, kid)

    # -- linking ---------------------------------------------------------------------------
    def _find_func(self, sec, idx):
        for p in self.spec.subprogs + self.spec.programs:
            if p.section == sec and p.insn_off == idx:
                return p
        return None

    def _link(self, prog, sections):
        """Append every subprogram reachable from prog and fix call offsets; build
        func_info/line_info in final instruction numbering."""
        spec = self.spec
        main = prog.spec
        out = bytearray(sections[main.section][main.insn_off * 8:
                                               (main.insn_off + main.insn_cnt) * 8])
        pieces = [(0, main.section, main.insn_off, main.insn_cnt)]
        placed = {(main.section, main.insn_off): 0}
        relocs = self._relocs_by_insn
        if relocs is None:
            relocs = self._relocs_by_insn = {
                name: {r.insn_idx: r for r in ps.relocs} for name, ps in spec.sections.items()}
        k = 0
        while k < len(pieces):
            start, sec, poff, cnt = pieces[k]
            k += 1
            rmap = relocs[sec]
            for j in _calls_and_loads(out, start, cnt):
                pos = start + j
                code, regs, off, imm = _get(out, pos)
                src = regs >> 4
                is_call = code == BPF_CALL and src == PSEUDO_CALL
                is_faddr = code == BPF_LD_IMM64 and src == PSEUDO_FUNC
                sec_idx = poff + j
                r = rmap.get(sec_idx)
                if code == BPF_LD_IMM64 and r is not None and r.sym_sec in spec.sections \
                        and not is_faddr:
                    is_faddr = True
                if not (is_call or is_faddr):
                    continue
                if r is not None:
                    tsec = r.sym_sec
                    if tsec not in spec.sections:
                        raise RelocationError("%s: call in %s insn %d targets section %s"
                                              % (self.path, sec, sec_idx, tsec))
                    if is_call:
                        tidx = r.sym_value // 8 + imm + 1
                    else:
                        tidx = (r.sym_value + imm) // 8
                else:
                    tsec, tidx = sec, sec_idx + imm + 1
                target = self._find_func(tsec, tidx)
                if target is None:
                    raise RelocationError("%s: call in %s insn %d to %s+%d: no function "
                                          "starts there" % (self.path, sec, sec_idx, tsec,
                                                            tidx))
                key = (tsec, target.insn_off)
                if key not in placed:
                    placed[key] = len(out) // 8
                    pieces.append((len(out) // 8, tsec, target.insn_off, target.insn_cnt))
                    out += sections[tsec][target.insn_off * 8:
                                          (target.insn_off + target.insn_cnt) * 8]
                if is_faddr:
                    _set_src(out, pos, PSEUDO_FUNC)
                # calls and PSEUDO_FUNC loads are both relative to the next instruction
                _set_imm(out, pos, placed[key] + (tidx - target.insn_off) - (pos + 1))
        prog.insns = bytes(out)
        prog._pieces = pieces
        # BTF.ext info in final numbering
        fi, li = [], []
        ext = spec.btf_ext
        b = self.btf
        if ext is not None:
            for start, sec, poff, cnt in pieces:
                for off, tid in ext.func_info.get(sec, ()):
                    i = off // 8
                    if poff <= i < poff + cnt:
                        fi.append((start + i - poff, tid))
                for off, fname, line, col in ext.line_info.get(sec, ()):
                    i = off // 8
                    if poff <= i < poff + cnt:
                        li.append((start + i - poff, fname, line, col))
            fi.sort()
            li.sort()
        prog._func_info = b"".join(struct.pack("<II", i, t) for i, t in fi)
        prog._line_info = li
        prog._line_btf = b

    def _line_info_bytes(self, prog):
        return b"".join(struct.pack("<IIII", *r) for r in prog._line_info)


_kfind_cache = {}
# the CO-RE engine's sources shape the cached decisions (named, not imported: a warm start
# does not load them)
_CORE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "core")
_RELO_SOURCES = tuple(os.path.join(_CORE_DIR, f) for f in (
    "relo.py", "relo_spec.py", "relo_match.py", "relo_insn.py"))


def _write_cache(path, blob):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".%d" % os.getpid()
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:
        pass


def _copy(obj):
    """A shallow copy (copy.copy without importing copy at start-up)."""
    if hasattr(obj, "__dict__"):
        c = object.__new__(type(obj))
        c.__dict__.update(obj.__dict__)
        return c
    import copy
    return copy.copy(obj)


def _clone(ms, **kw):
    c = _copy(ms)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


_kallsyms = None


def _ksym_addr(name):
    global _kallsyms
    if _kallsyms is None:
        _kallsyms = {}
        try:
            with open("/proc/kallsyms") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        _kallsyms.setdefault(parts[2], int(parts[0], 16))
        except OSError:
            pass
    return _kallsyms.get(name)
