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
    "DEBUG_BPF_REGISTER_STATE", "DEBUG_BTF", "TRACEFS", "DEBUGFS", "_get_num_open_probes",
    "_default_probe_limit", "_num_open_probes",
)
_FROM_TABLE = ("Table", "PerfEventArray", "RingBuf", "BPF_MAP_TYPE_QUEUE",
               "BPF_MAP_TYPE_STACK")
_FROM_UTILS = ("get_online_cpus", "printb", "ArgString", "StrcmpRewrite", "_assert_is_bytes")
# BCC's __init__ imports these too (scripts use lib.bpf_table_fd, disassemble_prog...)
_FROM_LIBBCC = ("lib", "bcc_symbol", "bcc_symbol_option", "bcc_stacktrace_build_id",
                "_SYM_CB_TYPE")
_FROM_DISASSEMBLER = ("disassemble_prog", "decode_map")
_FROM_PERF = ("Perf",)
_SUBMODULES = ("table", "utils", "syscall", "containers", "perf", "bpf", "usdt", "tcp",
               "disassembler", "libbcc")

__version__ = "0.26.0"      # the BCC Python API version the facade follows

__all__ = [n for n in _FROM_BPF + _FROM_TABLE + _FROM_UTILS + _FROM_PERF + _FROM_LIBBCC +
           _FROM_DISASSEMBLER if not n.startswith("_")]


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
    elif name in _FROM_LIBBCC:
        mod = _submodule("libbcc")
    elif name in _FROM_DISASSEMBLER:
        mod = _submodule("disassembler")
    elif name in _SUBMODULES:
        return _submodule(name)
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    value = getattr(mod, name)
    if name == "_num_open_probes":      # a live count, never a snapshot
        return value
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
