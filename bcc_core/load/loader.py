"""Load a BPF object: create maps, fill global data, resolve externs, apply CO-RE and
instruction relocations, link subprograms and load programs.  The result, an
:class:`Object`, owns every fd it created and releases them on close()."""
import errno
import os
import struct

from .. import btf as _btf
from .. import _sys
from ..errors import (BccCoreError, BTFError, ConfigError, ELFError, ExternError, LoadError,
                      NotSupportedError, RelocationError, syscall_error)
from ..obj import cache as _cache
from ..obj import record as _record
from ..obj import spec as _spec
from ..obj.sec import ATTACH_BTF, TRACING, LSM, EXT, A as _A
from . import map as _map
from . import prog as _prog

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


def load_btf(blob, what):
    """BPF_BTF_LOAD; returns the fd.  Raises BTFError with the kernel's log on rejection."""
    from .._sys import ffi
    buf = ffi.from_buffer(blob)
    a = _sys.new_attr()
    b = a.btf_load
    b.btf = _sys.ptr(buf)
    b.btf_size = len(blob)
    fd, err = _sys.bpf_errno(_sys.BPF_BTF_LOAD, a)
    if fd >= 0:
        return fd
    log = ffi.new("char[]", 1 << 20)
    b.btf_log_buf = _sys.ptr(log)
    b.btf_log_size = 1 << 20
    b.btf_log_level = 1
    fd, err2 = _sys.bpf_errno(_sys.BPF_BTF_LOAD, a)
    if fd >= 0:
        return fd
    if err2 in (errno.EPERM, errno.EACCES):     # not the BTF's fault: privileges
        raise syscall_error(err2, "BPF_BTF_LOAD", "the BTF of %s" % what)
    text = ffi.string(log).decode("utf-8", "replace").strip().splitlines()[-5:]
    raise BTFError("kernel rejected the object's BTF (%s): %s"
                   % (os.strerror(err), " | ".join(text)), what)


class GlobalData:
    """Named access to the variables of a global-data map (.bss, .data, .rodata...)."""

    def __init__(self, obj, m, spec):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_map", m)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_vars", obj._datasec_vars(spec))

    def names(self):
        return list(self._vars)

    def _raw(self):
        if self._map is None:
            return self._spec.data
        return self._map.lookup(0)

    def __getitem__(self, name):
        if name not in self._vars:
            raise KeyError("no variable '%s' in %s (has: %s)"
                           % (name, self._spec.name, ", ".join(self._vars) or "none"))
        off, size, tid = self._vars[name]
        return self._obj._decode_var(self._raw()[off:off + size], tid)

    def __setitem__(self, name, value):
        if name not in self._vars:
            raise KeyError("no variable '%s' in %s" % (name, self._spec.name))
        off, size, tid = self._vars[name]
        raw = bytearray(self._raw())
        raw[off:off + size] = self._obj._encode_var(name, value, size, tid)
        self._map.update(0, bytes(raw))

    __getattr__ = __getitem__

    def __setattr__(self, name, value):
        self[name] = value

    def raw(self, name):
        off, size, _ = self._vars[name]
        return self._raw()[off:off + size]

    def as_dict(self):
        return {n: self[n] for n in self._vars}


class Object:
    """A BPF object loaded into the kernel.

    ``Object(path)`` or ``Object(data=bytes)``; ``rodata={"var": value}`` sets read-only
    globals before load; ``btf=PATH`` relocates CO-RE against another BTF file than the
    running kernel's; ``kconfig={"CONFIG_X": "y"}`` overrides kconfig values;
    ``autoload={"prog": False}`` skips programs; ``reuse_maps={"map": fd_or_pinned_path}``
    uses an existing map instead of creating one (libbpf's bpf_map__reuse_fd), e.g. BCC's
    pinned --cgroupmap filter maps.  Load happens in the constructor unless ``load=False``
    (then call :meth:`load`).
    """

    def __init__(self, path=None, data=None, rodata=None, btf=None, kconfig=None,
                 autoload=None, load=True, spec=None, reuse_maps=None):
        self.spec = spec or _cache.load_spec(path, data)
        self.path = path or self.spec.path
        self.name = self.spec.name
        self.rodata_config = dict(rodata or {})
        self.target_btf_path = btf
        self.kconfig_overrides = kconfig
        self.reuse_maps = dict(reuse_maps or {})
        self.maps = {}
        self.programs = {}
        self.btf_fd = -1
        self._local_btf = None
        self.core_decisions = []     # relo.Decision for every CO-RE relocation applied
        self._poison = {}            # (section, insn_idx) -> reason
        self._relocs_by_insn = None  # section -> {insn index: Reloc}, for linking
        self._closed = False
        for p in self.spec.programs:
            prog = _prog.Program(p, self)
            if autoload and p.name in autoload:
                prog.autoload = bool(autoload[p.name])
            self.programs[p.name] = prog
        self._data_specs = {m.name: m for m in self.spec.maps if m.kind != "map"}
        for name in self.reuse_maps:
            if not any(m.name == name and m.kind == "map" for m in self.spec.maps):
                raise KeyError("reuse_maps: no map '%s' in %s" % (name, self.path))
        self._validate_rodata()
        if load:
            try:
                self.load()
            except BaseException:
                self.close()
                raise

    # -- context / cleanup -----------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._closed:
            return
        self._closed = True
        for p in self.programs.values():
            p.close()
        for m in self.maps.values():
            m.close()
        _sys.close(self.btf_fd)
        self.btf_fd = -1

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- BTF -------------------------------------------------------------------------------
    @property
    def btf(self):
        if self._local_btf is None and self.spec.btf is not None:
            index = getattr(self.spec, "btf_index", None)
            self._local_btf = _btf.BTF(self.spec.btf, where=self.path + ":.BTF",
                                       index=index and _btf.index_view(index))
        return self._local_btf

    def _datasec_vars(self, mspec):
        b = self.btf
        out = {}
        if b is None or not mspec.sec_var_type:
            return out
        for vtid, off, size in b.type(mspec.sec_var_type).secinfo:
            v = b.type(vtid)
            if v.kind != _btf.KIND_VAR:
                continue
            off = self.spec.sym_offsets.get((mspec.name, v.name), off)
            if mspec.kind == "kconfig":
                e = next((e for e in self.spec.externs if e.name == v.name), None)
                off = e.data_off if e else off
            out[v.name] = (off, size or b.resolve_size(v.type), v.type)
        return out

    def _decode_var(self, raw, tid):
        b = self.btf
        t = b.type(b.skip_mods(tid))
        if t.kind in (_btf.KIND_INT, _btf.KIND_ENUM, _btf.KIND_ENUM64) and \
                len(raw) in (1, 2, 4, 8):
            signed = (t.kind == _btf.KIND_INT and bool(t.encoding & _btf.INT_SIGNED)) or \
                (t.kind != _btf.KIND_INT and t.signed)
            if t.kind == _btf.KIND_INT and t.encoding & _btf.INT_BOOL:
                return bool(raw[0])
            return int.from_bytes(raw, "little", signed=signed)
        if t.kind == _btf.KIND_PTR:
            return int.from_bytes(raw, "little")
        return bytes(raw)

    def _encode_var(self, name, value, size, tid):
        b = self.btf
        t = b.type(b.skip_mods(tid))
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            signed = t.kind == _btf.KIND_INT and bool(t.encoding & _btf.INT_SIGNED) or \
                (t.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and t.signed) or value < 0
            try:
                return value.to_bytes(size, "little", signed=signed)
            except OverflowError:
                raise ConfigError("global '%s': %d does not fit in %d bytes"
                                  % (name, value, size)) from None
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
            if len(value) > size:
                raise ConfigError("global '%s': %d bytes given, the variable has %d"
                                  % (name, len(value), size))
            if len(value) < size:
                if t.kind != _btf.KIND_ARRAY:
                    raise ConfigError("global '%s': %d bytes given, the variable has %d"
                                      % (name, len(value), size))
                value += bytes(size - len(value))
            return value
        if hasattr(value, "_fields_"):   # ctypes structure
            import ctypes
            raw = ctypes.string_at(ctypes.addressof(value), ctypes.sizeof(value))
            return self._encode_var(name, raw, size, tid)
        raise ConfigError("global '%s': cannot store a %s" % (name, type(value).__name__))

    def _validate_rodata(self):
        if not self.rodata_config:
            return
        known = {}
        for m in self._data_specs.values():
            if m.kind == "rodata":
                for n, v in self._datasec_vars(m).items():
                    known[n] = (m, v)
        for name, value in self.rodata_config.items():
            if name not in known:
                raise ConfigError("read-only config: no 'const volatile' global named '%s' in "
                                  "%s (has: %s)" % (name, self.path,
                                                    ", ".join(sorted(known)) or "none"))
            m, (off, size, tid) = known[name]
            self._encode_var(name, value, size, tid)

    def _initial_data(self, mspec):
        data = bytearray(mspec.data)
        if mspec.kind == "rodata" and self.rodata_config:
            vars_ = self._datasec_vars(mspec)
            for name, value in self.rodata_config.items():
                if name in vars_:
                    off, size, tid = vars_[name]
                    data[off:off + size] = self._encode_var(name, value, size, tid)
        if mspec.kind == "kconfig":
            data[:] = self._kconfig_data
        return bytes(data)

    # -- load ------------------------------------------------------------------------------
    def load(self):
        self._new_pins = []
        try:
            return self._load()
        except BaseException:
            for path in self._new_pins:   # like libbpf: undo the pins this load made
                try:
                    os.unlink(path)
                except OSError:
                    pass
            raise

    def _load(self):
        spec = self.spec
        # resolve kconfig externs first: a missing one fails before anything is created
        self._kconfig_data = None
        kc = self._data_specs.get(".kconfig")
        if kc is not None:
            from . import kconfig as _kconfig     # only objects with __kconfig externs
            self._kconfig_data = _kconfig.fill(self.spec, self.btf, self.kconfig_overrides)
        if self.btf is not None:
            try:
                # fixed up for the kernel when parsed (elf.btf_for_kernel), cached with the spec
                self.btf_fd = load_btf(self.spec.kernel_btf, self.path)
            except BTFError:
                if any(p.sec_def.flags & ATTACH_BTF for p in spec.programs):
                    raise
                self.btf_fd = -1   # like libbpf: BTF is optional for most programs
        self._create_maps()
        sections = self._relocate_sections()
        for prog in self.programs.values():
            if not prog.autoload:
                continue
            self._link(prog, sections)
            self._resolve_attach_btf(prog)
            li = self._line_info_bytes(prog)
            _prog.load(prog, spec.license, spec.kern_version,
                       btf_fd=self.btf_fd if self.btf_fd >= 0 else 0,
                       func_info=prog._func_info, line_info=li,
                       func_info_rec=8, line_info_rec=16)
        return self

    def reload_program(self, name, prog_type):
        """Load program ``name`` again as another program type -- the same linked and
        relocated instructions -- and close the old fd.  BCC loads a function with
        the type its attach call implies; a program whose section names no target
        (SEC("kprobe")) may be attached as a tracepoint, raw tracepoint, perf event
        or socket filter that way.  Returns the program."""
        from ..obj.sec import sec_def_for_type
        prog = self.program(name)
        if prog.prog_type == prog_type:
            return prog
        sd = sec_def_for_type(prog_type)
        if sd is None or prog.insns is None:
            raise NotSupportedError("cannot load program '%s' as program type %d"
                                    % (name, prog_type))
        old = prog.fd
        prog.fd = -1
        try:
            _prog.load(prog, self.spec.license, self.spec.kern_version,
                       btf_fd=self.btf_fd if self.btf_fd >= 0 else 0,
                       func_info=prog._func_info, line_info=self._line_info_bytes(prog),
                       func_info_rec=8, line_info_rec=16, sec_def=sd)
        except BaseException:
            prog.fd = old
            raise
        if old >= 0:
            os.close(old)
        prog.prog_type = prog_type
        return prog

    def _create_maps(self):
        spec = self.spec
        btf_fd = self.btf_fd if self.btf_fd >= 0 else 0
        b = self.btf
        for ms in spec.maps:
            if ms.kind != "map":
                kname = self._internal_name(ms.name)
            else:
                kname = ms.name
            ms_eff = ms
            if ms.kind != "map":
                ms_eff = _spec.MapSpec(ms.name, ms.type, ms.key_size, ms.value_size,
                                      ms.max_entries, ms.map_flags,
                                      btf_value_type_id=ms.sec_var_type if ms.kind != "kconfig"
                                      else 0)
                if ms.kind in ("data", "bss"):
                    ms_eff.map_flags |= _map.F_MMAPABLE
            elif ms.type == _map.PERF_EVENT_ARRAY and not ms.max_entries:
                ms_eff = _clone(ms, max_entries=_map.nr_possible_cpus(), key_size=4,
                                value_size=4)
            elif ms.type == _map.RINGBUF:
                pg = os.sysconf("SC_PAGE_SIZE")
                size = max(ms.max_entries, pg)
                size = 1 << (size - 1).bit_length()
                ms_eff = _clone(ms, max_entries=size, key_size=0, value_size=0)
            inner_fd = None
            if ms.inner is not None:
                inner_fd = _map.create(ms.inner, btf_fd, kernel_name=ms.name[:10] + ".inner")
            try:
                pinned = self._reused_fd(ms)
                if pinned is None:
                    pinned = self._pinned_fd(ms)
                fd = pinned if pinned is not None else _map.create(ms_eff, btf_fd,
                                                                   inner_fd or 0, kname)
            finally:
                _sys.close(inner_fd)
            m = _map.Map(ms.name, fd, ms_eff.type, ms_eff.key_size, ms_eff.value_size,
                         ms_eff.max_entries, ms_eff.map_flags, b, ms.btf_key_type_id,
                         ms.btf_value_type_id)
            m.spec = ms
            self.maps[ms.name] = m
            if ms.kind != "map":
                m.update(0, self._initial_data(ms))
                if ms.kind in ("rodata", "kconfig"):
                    m.freeze()
            elif ms.pinning == 1 and pinned is None:
                path = self._pin_path(ms)
                if path:
                    m.pin(path)
                    self._new_pins.append(path)
        # map-in-map and prog-array initial slots (maps only; programs after load)
        for ms in spec.maps:
            for slot, target in ms.init_slots.items():
                if target in self.maps:
                    self.maps[ms.name].update(slot, self.maps[target].fd.to_bytes(4, "little"))

    def _pin_path(self, ms):
        from . import features
        d = features.bpffs(mount=True)
        return os.path.join(d, ms.name) if d else None

    def _reused_fd(self, ms):
        src = self.reuse_maps.get(ms.name) if ms.kind == "map" else None
        if src is None:
            return None
        if isinstance(src, str):
            return _map.obj_get(src)
        return os.dup(src)

    def _pinned_fd(self, ms):
        if ms.kind != "map" or ms.pinning != 1:
            return None
        path = self._pin_path(ms)
        if path and os.path.exists(path):
            return _map.obj_get(path)
        return None

    def _internal_name(self, sec):
        sfx_len = min(max(7, len(sec)), 15)
        # libbpf's rule: custom .data.*/.rodata.* keep their own name; others get as much
        # of the object name as fits in front
        pfx = 0 if "." in sec[1:] else min(16 - sfx_len - 1, len(self.name))
        return (self.name[:pfx] + sec)[:15]

    # -- relocation ------------------------------------------------------------------------
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

    def _resolve_attach_btf(self, prog):
        sd = prog.spec.sec_def
        if not sd.flags & ATTACH_BTF:
            return
        target = prog.spec.attach_target
        if not target:
            raise LoadError("program '%s': SEC(\"%s\") needs a target (e.g. %s/vfs_read)"
                            % (prog.name, prog.spec.section, sd.prefix))
        if sd.prog_type == LSM:
            name, kind = "bpf_lsm_" + target, _btf.KIND_FUNC
        elif sd.attach_type == _A["TRACE_RAW_TP"]:
            name, kind = "btf_trace_" + target, _btf.KIND_TYPEDEF
        elif sd.attach_type == _A["TRACE_ITER"]:
            name, kind = "bpf_iter_" + target, _btf.KIND_FUNC
        else:
            name, kind = target, _btf.KIND_FUNC
        tid = self._kernel_find(name, kind)
        if tid is None:
            raise LoadError("program '%s': attach target '%s' (%s) not found in kernel BTF"
                            % (prog.name, target, name))
        prog.attach_btf_id = tid

    # -- access ----------------------------------------------------------------------------
    def data_section(self, name):
        ms = self._data_specs.get(name)
        if ms is None:
            raise KeyError("no data section '%s' (has: %s)"
                           % (name, ", ".join(self._data_specs) or "none"))
        return GlobalData(self, self.maps.get(name), ms)

    @property
    def bss(self):
        return self.data_section(".bss")

    @property
    def data(self):
        return self.data_section(".data")

    @property
    def rodata(self):
        return self.data_section(".rodata")

    def global_var(self, name):
        for sec in self._data_specs:
            gd = self.data_section(sec)
            if name in gd._vars:
                return gd[name]
        raise KeyError("no global variable '%s'" % name)

    def map(self, name):
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError("no map '%s' in %s (has: %s)"
                           % (name, self.path, ", ".join(self.maps))) from None

    def program(self, name):
        try:
            return self.programs[name]
        except KeyError:
            raise KeyError("no program '%s' in %s (has: %s)"
                           % (name, self.path, ", ".join(self.programs))) from None


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
