"""bcc-core: a pure-Python BPF CO-RE loader with a BCC-compatible facade.

``from bcc_core import BPF`` gives BCC's ``BPF`` class (and the other names BCC's tools
import from ``bcc``) on compiled ``.bpf.o`` objects.  The facade is imported lazily: plain
``import bcc_core`` / ``import bcc_core.load.loader`` stay cheap (no ctypes, no tables).

The layers are sub-packages, each importing only those below it (tests/test_layers.py):
``_sys`` (syscalls) < ``btf`` < ``obj`` (ELF -> ObjectSpec) < ``core`` (CO-RE) < ``load``
(maps, programs, Object) < ``attach`` / ``events`` < the BCC facade here at the top
(``bpf``, ``table``, ``utils``... under BCC's module names).
"""

_FROM_BPF = (
    "BPF", "PerfType", "PerfHWConfig", "PerfSWConfig", "PerfEventSampleFormat",
    "BPFProgType", "BPFAttachType", "XDPAction", "XDPFlags", "USDT", "USDTException",
    "SymbolCache", "DEBUG_LLVM_IR", "DEBUG_BPF", "DEBUG_PREPROCESSOR", "DEBUG_SOURCE",
    "DEBUG_BPF_REGISTER_STATE", "DEBUG_BTF", "TRACEFS", "DEBUGFS",
)
_FROM_TABLE = ("Table", "PerfEventArray", "RingBuf", "BPF_MAP_TYPE_QUEUE",
               "BPF_MAP_TYPE_STACK")
_FROM_UTILS = ("get_online_cpus", "printb", "ArgString", "StrcmpRewrite")
_FROM_PERF = ("Perf",)
_SUBMODULES = ("table", "utils", "syscall", "containers", "perf", "bpf", "ctypes_btf", "usdt",
               "tcp")

__version__ = "0.26.0"      # the BCC Python API version the facade follows

__all__ = list(_FROM_BPF + _FROM_TABLE + _FROM_UTILS + _FROM_PERF)


def _submodule(name):
    # __import__ rather than importlib.import_module: importlib is one more module to
    # load at every tool's start
    __import__(__name__ + "." + name)
    return globals()[name]


def __getattr__(name):
    if name in _FROM_BPF:
        mod = _submodule("bpf")
    elif name in _FROM_TABLE:
        mod = _submodule("table")
    elif name in _FROM_UTILS:
        mod = _submodule("utils")
    elif name in _FROM_PERF:
        mod = _submodule("perf")
    elif name in _SUBMODULES:
        return _submodule(name)
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    value = getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))


# Module paths from before the layers became sub-packages keep importing: each old name is
# the module now at the new path (the same object), or, where an old module's contents
# were split, a module holding the old names ("module.name" entries add one name each).
_MOVED = {
    "ctypes_btf": ("btf.ctypes_btf",),
    "elf": ("obj.elf", "obj.cache.load_spec", "btf.read_section"),
    "spec": ("obj.spec", "obj.cache.load_spec", "obj.cache.SPEC_VERSION"),
    "sec": ("obj.sec",),
    "record": ("obj.record",),
    "relo": ("core.relo",),
    "relo_insn": ("core.relo_insn",),
    "check": ("core.check",),
    "loader": ("load.loader",),
    "map": ("load.map",),
    "prog": ("load.prog",),
    "features": ("load.features",),
    "kconfig": ("load.kconfig",),
    "link": ("attach.link", "attach.auto.attach_auto"),
    "probe": ("attach.probe",),
    "syscall_names": ("attach.syscall_names",),
    "perf_buffer": ("events.perf_buffer",),
    "ringbuf": ("events.ringbuf",),
    "struct_view": ("events.struct_view",),
    "_reader": ("events._reader",),
}
_moved_specs = {}


class _OldPaths:
    """The import finder and loader of the old module paths in _MOVED.  It goes first on
    sys.meta_path, so that nothing else (a stale file, another installation's finder)
    answers for an old path; for any other name it costs a string comparison."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        pkg, _, old = name.rpartition(".")
        if pkg != __name__ or old not in _MOVED:
            return None
        # ModuleSpec is the class of this package's own __spec__ (importlib.machinery's
        # import would add modules to the start of a script that uses an old path)
        return type(__spec__)(name, _OldPaths)

    @staticmethod
    def create_module(spec):
        import sys
        new = _MOVED[spec.name.rpartition(".")[2]]
        target = __name__ + "." + new[0]
        __import__(target)
        mod = sys.modules[target]
        if len(new) == 1:
            _moved_specs[spec.name] = mod.__spec__    # the import system resets it
            return mod
        m = type(sys)(spec.name, "Old path of %s, with %s." % (target, ", ".join(new[1:])))
        m.__dict__.update((k, v) for k, v in vars(mod).items() if not k.startswith("__"))
        for extra in new[1:]:
            where, _, attr = extra.rpartition(".")
            __import__(__name__ + "." + where)
            setattr(m, attr, getattr(sys.modules[__name__ + "." + where], attr))
        return m

    @staticmethod
    def exec_module(module):
        real = _moved_specs.pop(module.__spec__.name, None)
        if real is not None:
            module.__spec__ = real


def _install_old_paths():
    import sys      # not a global here: the name would shadow the sub-package bcc_core._sys
    if _OldPaths not in sys.meta_path:
        sys.meta_path.insert(0, _OldPaths)


_install_old_paths()
