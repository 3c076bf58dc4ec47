"""Load a BPF object: create maps, fill global data, resolve externs, apply CO-RE and
instruction relocations, link subprograms and load programs.  The result, an
:class:`Object`, owns every fd it created and releases them on close()."""
import errno
import os
import struct  # noqa: F401

from .. import btf as _btf
from .. import _sys
# (the names below that only the mixins use stay importable from here, as before)
from ..errors import (BccCoreError, BTFError, ConfigError, ELFError, ExternError,  # noqa: F401
                      LoadError, NotSupportedError, RelocationError, syscall_error)
from ..obj import cache as _cache
from ..obj import record as _record  # noqa: F401
from ..obj import spec as _spec
from ..obj.sec import ATTACH_BTF, TRACING, LSM, EXT, A as _A  # noqa: F401
from . import map as _map
from . import prog as _prog
from .globaldata import GlobalData, GlobalVars  # noqa: F401 -- GlobalData re-exported
from .relocate import (BPF_CALL, BPF_LD_IMM64, PSEUDO_BTF_ID, PSEUDO_CALL,  # noqa: F401
                       PSEUDO_FUNC, PSEUDO_KFUNC_CALL, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE,
                       Relocator, _calls_and_loads, _clone, _copy, _get, _insn, _ksym_addr,
                       _kfind_cache, _RELO_SOURCES, _set_imm, _set_src, _write_cache)

# ``autoload={"prog": LINK_ONLY}``: link and relocate the program, load it only when
# reload_program() asks for it with a program type (BCC loads a function when an attach
# call or load_func() gives its type)
LINK_ONLY = "link"


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

class Object(GlobalVars, Relocator):
    """A BPF object loaded into the kernel.

    (Its global data lives in :mod:`.globaldata`, its relocation and linking in
    :mod:`.relocate`: mixins.)

    ``Object(path)`` or ``Object(data=bytes)``; ``rodata={"var": value}`` sets read-only
    globals before load; ``btf=PATH`` relocates CO-RE against another BTF file than the
    running kernel's; ``kconfig={"CONFIG_X": "y"}`` overrides kconfig values;
    ``autoload={"prog": False}`` skips programs; ``reuse_maps={"map": fd_or_pinned_path}``
    uses an existing map instead of creating one (libbpf's bpf_map__reuse_fd), e.g. BCC's
    pinned --cgroupmap filter maps; ``pin_maps={"map": path}`` pins a map at that bpffs
    path, or uses the map pinned there (BCC's BPF_TABLE_PINNED).  Load happens in the
    constructor unless ``load=False`` (then call :meth:`load`).
    """

    def __init__(self, path=None, data=None, rodata=None, btf=None, kconfig=None,
                 autoload=None, load=True, spec=None, reuse_maps=None, pin_maps=None):
        self.spec = spec or _cache.load_spec(path, data)
        self.path = path or self.spec.path
        self.name = self.spec.name
        self.rodata_config = dict(rodata or {})
        self.target_btf_path = btf
        self.kconfig_overrides = kconfig
        self.reuse_maps = dict(reuse_maps or {})
        self.pin_maps = dict(pin_maps or {})
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
                want = autoload[p.name]
                prog.autoload = want if want == LINK_ONLY else bool(want)
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
            if prog.autoload == LINK_ONLY:      # loaded later by reload_program()
                continue
            self._resolve_attach_btf(prog)
            li = self._line_info_bytes(prog)
            _prog.load(prog, spec.license, spec.kern_version,
                       btf_fd=self.btf_fd if self.btf_fd >= 0 else 0,
                       func_info=prog._func_info, line_info=li,
                       func_info_rec=8, line_info_rec=16)
        return self

    def reload_program(self, name, prog_type, attach_type=None):
        """Load program ``name`` again as another program type -- the same linked and
        relocated instructions -- and close the old fd.  BCC loads a function with
        the type its attach call implies; a program whose section names no target
        (SEC("kprobe")) may be attached as a tracepoint, raw tracepoint, perf event
        or socket filter that way.  A program linked but not loaded (``autoload=
        {name: LINK_ONLY}``) is loaded here for the first time.  ``attach_type``: the
        expected attach type to load with (else the program type's plain one).
        Returns the program."""
        from ..obj.sec import sec_def_for_type
        prog = self.program(name)
        if prog.prog_type == prog_type and prog.fd >= 0 and (
                attach_type is None or attach_type < 0 or
                prog.expected_attach_type == attach_type):
            return prog
        sd = sec_def_for_type(prog_type, attach_type)
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
        prog.expected_attach_type = sd.attach_type
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
            fd, ms_eff, pinned = self._map_fd(ms, ms_eff, btf_fd, kname)
            m = _map.Map(ms.name, fd, ms_eff.type, ms_eff.key_size, ms_eff.value_size,
                         ms_eff.max_entries, ms_eff.map_flags, b, ms.btf_key_type_id,
                         ms.btf_value_type_id)
            m.spec = ms
            self.maps[ms.name] = m
            if ms.kind != "map":
                m.update(0, self._initial_data(ms))
                if ms.kind in ("rodata", "kconfig"):
                    m.freeze()
            elif (ms.pinning == 1 or ms.name in self.pin_maps) and pinned is None:
                path = self._pin_path(ms)
                if path:
                    m.pin(path)
                    self._new_pins.append(path)
        # map-in-map and prog-array initial slots (maps only; programs after load)
        for ms in spec.maps:
            for slot, target in ms.init_slots.items():
                if target in self.maps:
                    self.maps[ms.name].update(slot, self.maps[target].fd.to_bytes(4, "little"))

    def _map_fd(self, ms, ms_eff, btf_fd, kname):
        """(fd, effective MapSpec, reused fd or None) of one map: an existing map's
        (reuse_maps, a pin) described as the kernel has it, else a new one."""
        pinned = self._reused_fd(ms)
        if pinned is None:
            pinned = self._pinned_fd(ms)
        if pinned is not None:
            info = _map.MapInfo(pinned)
            return pinned, _clone(ms_eff, type=info.type, key_size=info.key_size,
                                  value_size=info.value_size, max_entries=info.max_entries,
                                  map_flags=info.map_flags), pinned
        inner_fd = None
        if ms.inner is not None:
            inner_fd = _map.create(ms.inner, btf_fd, kernel_name=ms.name[:10] + ".inner")
        try:
            return _map.create(ms_eff, btf_fd, inner_fd or 0, kname), ms_eff, None
        finally:
            _sys.close(inner_fd)

    def _pin_path(self, ms):
        if ms.name in self.pin_maps:
            return self.pin_maps[ms.name]
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
        if ms.kind != "map" or (ms.pinning != 1 and ms.name not in self.pin_maps):
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
