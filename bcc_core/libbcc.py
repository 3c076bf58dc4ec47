"""BCC's ``bcc.libbcc``: ``lib``, the C library scripts call into directly.

bcc-core has no libbcc.so.  ``lib`` answers the calls that mean something over
bcc-core's objects and the bpf() system call, with BCC's return conventions:

* ``bpf_module_rw_engine_enabled()`` is False (0): there is no LLVM rewriter engine
  (BCC's tests skip what needs it);
* ``bpf_has_kernel_btf()``, ``kernel_struct_has_field(struct, field)`` (1, 0, or -1
  when there is no kernel BTF or no such struct) read /sys/kernel/btf/vmlinux;
* over a module (BCC's ``b.module``, here the loaded Object; a BPF object is taken
  too): ``bpf_module_license``, ``bpf_module_kern_version``, ``bpf_num_functions``,
  ``bpf_function_name``, ``bpf_function_start``, ``bpf_function_size`` (a loaded
  program's instructions), ``bpf_table_id``, ``bpf_table_fd``, ``bpf_table_type_id``,
  ``bpf_table_max_entries_id``, ``bpf_table_flags_id``;
* on a map fd with ctypes pointers (``ct.byref(key)``, a ``c_void_p``, an address):
  ``bpf_lookup_elem``, ``bpf_update_elem``, ``bpf_delete_elem``, ``bpf_get_next_key``,
  ``bpf_get_first_key``: 0, or -errno with ``ctypes.get_errno()`` set (libbpf 1.x's
  convention, which BCC 0.26 passes on);
* ``bpf_close_perf_event_fd(fd)``; ``bcc_free_memory()`` (see BPF.free_bcc_memory).

Any other name of BCC's libbcc raises :class:`bcc_core.errors.NotSupportedError`
naming the function and what to use in bcc-core instead.  Importing this module loads
no library (ctypes and the syscall layer are imported at the first call that needs them).
"""
import os

from .errors import NotSupportedError

_ULL = (1 << 64) - 1        # BCC's (size_t)-1 / ~0ULL answers

# prefix or name of BCC's libbcc functions -> what to use in bcc-core instead
_REPLACEMENTS = (
    ("bpf_module_create", "BPF(text=...) or BPF(src_file=...) (objects are compiled "
                          "with clang through bcc_core.compat.build)"),
    ("bpf_module_destroy", "BPF.cleanup() / BPF.close()"),
    ("bcc_func_load", "BPF.load_func() (programs are loaded with the object)"),
    ("bpf_table_key_desc", "BPF.decode_table() or b[name].Key (a ctypes type from BTF)"),
    ("bpf_table_leaf_desc", "BPF.decode_table() or b[name].Leaf (a ctypes type from BTF)"),
    ("bpf_table_key_s", "b[name].key_sprintf() / key_scanf()"),
    ("bpf_table_leaf_s", "b[name].leaf_sprintf() / leaf_scanf()"),
    ("bpf_lookup_batch", "b[name].items_lookup_batch()"),
    ("bpf_lookup_and_delete_batch", "b[name].items_lookup_and_delete_batch()"),
    ("bpf_delete_batch", "b[name].items_delete_batch()"),
    ("bpf_update_batch", "b[name].items_update_batch()"),
    ("bpf_attach_", "the BPF.attach_* method of the same name"),
    ("bpf_detach_", "the BPF.detach_* method of the same name"),
    ("bpf_prog_attach", "BPF.attach_func()"),
    ("bpf_prog_detach", "BPF.detach_func()"),
    ("bpf_open_raw_sock", "BPF.attach_raw_socket(fn, dev)"),
    ("bpf_open_perf_buffer", "b[name].open_perf_buffer(callback)"),
    ("bpf_open_perf_event", "b[name].open_perf_event(type, config)"),
    ("perf_reader_", "BPF.perf_buffer_poll() / perf_buffer_consume()"),
    ("bpf_new_ringbuf", "b[name].open_ring_buffer(callback)"),
    ("bpf_add_ringbuf", "b[name].open_ring_buffer(callback)"),
    ("bpf_free_ringbuf", "BPF.cleanup()"),
    ("bpf_poll_ringbuf", "BPF.ring_buffer_poll()"),
    ("bpf_consume_ringbuf", "BPF.ring_buffer_consume()"),
    ("bpf_perf_event_field", "BPF.get_tracepoints() / the tracepoint's format file"),
    ("bcc_usdt_", "bcc_core.usdt.USDT (enable_probe, enumerate_probes, get_text...)"),
    ("bcc_symcache_", "BPF.sym() / BPF.ksym() / BPF.ksymname() or bcc_core.SymbolCache"),
    ("bcc_free_symcache", "bcc_core.SymbolCache (freed with the object)"),
    ("bcc_buildsymcache_", "BPF.sym() (build-id lookups are not supported)"),
    ("bcc_free_buildsymcache", "BPF.sym() (build-id lookups are not supported)"),
    ("bcc_resolve_symname", "BPF.find_library() / bcc_core.symbols"),
    ("bcc_foreach_function_symbol", "BPF.get_user_functions_and_addresses()"),
    ("bcc_procutils_", "BPF.find_library() / BPF.find_exe()"),
    ("bcc_symbol_free_demangle_name", "BPF.sym(..., demangle=True)"),
)


def _replacement(name):
    for prefix, use in _REPLACEMENTS:
        if name.startswith(prefix):
            return use
    return None


def _str(s):
    return s.decode() if isinstance(s, (bytes, bytearray)) else str(s)


def _object(module):
    """The loaded Object behind BCC's module handle (b.module, or the BPF itself)."""
    obj = getattr(module, "_obj", module)
    if obj is None or not hasattr(obj, "programs") or not hasattr(obj, "maps"):
        raise TypeError("libbcc: expected a BPF object's module (b.module), not %r"
                        % (module,))
    return obj


def _address(p):
    """The address a ctypes argument (byref(x), a pointer, c_void_p, an int) stands for."""
    if p is None:
        return 0
    if isinstance(p, int):
        return p
    import ctypes as ct
    return ct.cast(p, ct.c_void_p).value or 0


def _elem(cmd_name, fd, key, value, flags=0):
    """One BPF_MAP_*_ELEM/GET_NEXT_KEY command: 0, or -errno (ctypes errno set)."""
    from . import _sys
    attr = _sys.new_attr()
    attr.elem.map_fd = fd
    attr.elem.key = _address(key)
    attr.elem.value = _address(value)
    attr.elem.flags = flags
    ret, err = _sys.bpf_errno(getattr(_sys, cmd_name), attr)
    if ret >= 0:
        return 0
    import ctypes as ct
    ct.set_errno(err)
    return -err


class _Lib(object):
    """BCC's ``lib`` (see the module's docstring for what it answers)."""

    # -- the process and the kernel ----------------------------------------------------
    @staticmethod
    def bpf_module_rw_engine_enabled():
        return False            # no LLVM rewriter engine here

    @staticmethod
    def bpf_has_kernel_btf():
        return os.path.exists("/sys/kernel/btf/vmlinux")

    @staticmethod
    def kernel_struct_has_field(struct_name, field_name):
        from . import btf as _btf
        try:
            kbtf = _btf.kernel_btf()
        except (NotSupportedError, OSError):
            return -1
        tid = kbtf.find_one(_str(struct_name), _btf.KIND_STRUCT)
        if tid is None:
            return -1
        field = _str(field_name)
        return int(any(m.name == field for m in kbtf.type(tid).members))

    @staticmethod
    def bcc_free_memory():
        return 0                # nothing of LLVM to free: see BPF.free_bcc_memory

    @staticmethod
    def bpf_close_perf_event_fd(fd):
        try:
            os.close(fd)
        except OSError as e:
            return -e.errno
        return 0

    # -- a module: the loaded object ---------------------------------------------------
    @staticmethod
    def bpf_module_license(module):
        lic = _object(module).spec.license
        return lic.encode() if isinstance(lic, str) else lic

    @staticmethod
    def bpf_module_kern_version(module):
        return _object(module).spec.kern_version or 0

    @staticmethod
    def bpf_num_functions(module):
        return len(_object(module).programs)

    @staticmethod
    def bpf_function_name(module, i):
        names = list(_object(module).programs)
        return names[i].encode() if 0 <= i < len(names) else None

    @staticmethod
    def _insns(module, name):
        prog = _object(module).programs.get(_str(name))
        return None if prog is None or not prog.insns else bytes(prog.insns)

    @classmethod
    def bpf_function_start(cls, module, name):
        """The address of a copy of the program's instructions (kept with the object),
        as BCC's pointer into its module; None for an unknown program."""
        insns = cls._insns(module, name)
        if insns is None:
            return None
        import ctypes as ct
        obj = _object(module)
        kept = obj.__dict__.setdefault("_libbcc_insns", {})
        buf = kept.get(_str(name))
        if buf is None or buf.raw != insns:
            buf = kept[_str(name)] = ct.create_string_buffer(insns, len(insns))
        return ct.addressof(buf)

    @classmethod
    def bpf_function_size(cls, module, name):
        insns = cls._insns(module, name)
        return 0 if insns is None else len(insns)

    @staticmethod
    def bpf_table_id(module, name):
        for i, n in enumerate(_object(module).maps):
            if n == _str(name):
                return i
        return _ULL

    @staticmethod
    def bpf_table_fd(module, name):
        m = _object(module).maps.get(_str(name))
        return -1 if m is None else m.fd

    def _table_attr(attr, missing):
        """bpf_table_<x>_id(module, table_id): the map's attribute, ``missing`` for an
        id that names no map (BCC's answers)."""
        def get(module, table_id):
            maps = list(_object(module).maps.values())
            return getattr(maps[table_id], attr) if 0 <= table_id < len(maps) else missing
        return staticmethod(get)

    bpf_table_type_id = _table_attr("type", -1)
    bpf_table_max_entries_id = _table_attr("max_entries", 0)
    bpf_table_flags_id = _table_attr("map_flags", -1)
    del _table_attr

    # -- map elements by fd --------------------------------------------------------------
    @staticmethod
    def bpf_lookup_elem(fd, key, value):
        return _elem("BPF_MAP_LOOKUP_ELEM", fd, key, value)

    @staticmethod
    def bpf_update_elem(fd, key, value, flags=0):
        return _elem("BPF_MAP_UPDATE_ELEM", fd, key, value, flags)

    @staticmethod
    def bpf_delete_elem(fd, key):
        return _elem("BPF_MAP_DELETE_ELEM", fd, key, None)

    @staticmethod
    def bpf_get_next_key(fd, key, next_key):
        return _elem("BPF_MAP_GET_NEXT_KEY", fd, key, next_key)

    @staticmethod
    def bpf_get_first_key(fd, key, key_size=0):
        """The map's first key into ``key`` (GET_NEXT_KEY with no key)."""
        return _elem("BPF_MAP_GET_NEXT_KEY", fd, None, key)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        use = _replacement(name)
        if use is None:
            raise NotSupportedError("libbcc's %s: bcc-core has no libbcc.so and does not "
                                    "provide this function" % name)
        raise NotSupportedError("libbcc's %s is not provided by bcc-core (no libbcc.so); "
                                "use %s" % (name, use))

    def __repr__(self):
        return "<bcc-core's stand-in for libbcc.so>"


lib = _Lib()


def _ctypes_types():
    """BCC's ctypes declarations of libbcc's symbol structures (the same layouts), for
    scripts that build them: made at the first use (importing this module stays free
    of ctypes)."""
    import ctypes as ct

    class bcc_symbol(ct.Structure):
        _fields_ = [("name", ct.c_char_p), ("demangle_name", ct.c_char_p),
                    ("module", ct.POINTER(ct.c_char)), ("offset", ct.c_ulonglong)]

    class bcc_ip_offset_union(ct.Union):
        _fields_ = [("offset", ct.c_uint64), ("ip", ct.c_uint64)]

    class bcc_stacktrace_build_id(ct.Structure):
        _fields_ = [("status", ct.c_uint32), ("build_id", ct.c_ubyte * 20),
                    ("u", bcc_ip_offset_union)]

    class bcc_symbol_option(ct.Structure):
        _fields_ = [("use_debug_file", ct.c_int), ("check_debug_file_crc", ct.c_int),
                    ("lazy_symbolize", ct.c_int), ("use_symbol_type", ct.c_uint)]

    return {"bcc_symbol": bcc_symbol, "bcc_ip_offset_union": bcc_ip_offset_union,
            "bcc_stacktrace_build_id": bcc_stacktrace_build_id,
            "bcc_symbol_option": bcc_symbol_option,
            "_SYM_CB_TYPE": ct.CFUNCTYPE(ct.c_int, ct.c_char_p, ct.c_ulonglong)}


_CTYPES_NAMES = ("bcc_symbol", "bcc_ip_offset_union", "bcc_stacktrace_build_id",
                 "bcc_symbol_option", "_SYM_CB_TYPE")


def __getattr__(name):
    if name in _CTYPES_NAMES:
        globals().update(_ctypes_types())
        return globals()[name]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
