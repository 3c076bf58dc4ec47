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


# The module paths from before the layers became sub-packages (bcc_core.loader,
# bcc_core.elf...) are small modules in _old_paths/, found through this second entry of
# the package's path: each makes its old name the module at the new path (or, where an old
# module was split, gathers its names).  Ordinary imports are found in the first entry
# and never look there.
__path__.append(__path__[0] + "/_old_paths")


def _source_checkout_path():
    """In a source checkout (a git worktree run with PYTHONPATH=checkout), bcc_core.compat
    and bcc_core.tools are the checkout's compat/ and tools/ (pyproject.toml maps them
    there): the checkout's directory joins the package path, so that an editable install
    of another checkout does not provide them instead."""
    import os
    root = os.path.dirname(__path__[0])
    if os.path.isfile(os.path.join(root, "pyproject.toml")) and \
            os.path.isfile(os.path.join(root, "compat", "prelude.py")):
        __path__.append(root)


_source_checkout_path()
