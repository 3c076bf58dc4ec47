# The BPF class follows BCC 0.26's bcc/__init__.py (Apache-2.0): same names, arguments,
# defaults and bookkeeping, backed by bcc_core's loader, links and readers instead of
# libbcc/LLVM.
"""``BPF``: BCC's Python front end on compiled BPF CO-RE objects.

``BPF(src_file="tool.bpf.o")`` loads the object (maps, globals, CO-RE relocations,
programs) and attaches what can be attached automatically:

* programs whose SEC() name carries a target, as libbpf's auto-attach does
  (``SEC("tracepoint/syscalls/sys_enter_openat")``, ``SEC("raw_tp/sched_switch")``,
  ``SEC("tp_btf/...")``, ``SEC("kprobe/func")``, ``SEC("uprobe/path:func")``...);
* programs named the BCC way, for sections without a target: ``kprobe__X``,
  ``kretprobe__X``, ``tracepoint__cat__event``, ``raw_tracepoint__X``, ``kfunc__X``,
  ``kretfunc__X``, ``lsm__X``.

What the running kernel lacks (kprobes, BPF trampolines) raises
:class:`bcc_core.errors.NotSupportedError` saying so and suggesting a tracepoint or raw
tracepoint.  Pass ``autoattach=False`` (not in BCC) to load without attaching anything;
programs the kernel cannot load are then deferred and the error is raised when they are
attached.

``event(data)`` on perf/ring buffer tables decodes records as a C struct of the object's
BTF.  BCC learns that struct from the C source; a compiled object only has it in BTF when
something references it, e.g. ``struct event *unused_event __attribute__((unused));``.
The struct is found by name: explicit ``event_types={"events": "event"}`` (or
``table.set_event_type(...)``), else the first unique match among struct names derived
from the map name (``events`` -> ``event``, ``events_t``...), then ``event``, ``event_t``,
``data_t``, ``data``, then ``*_event``, ``*_event_t``, ``*_data_t``, then the struct a
global ``unused*`` pointer points to.
"""
from __future__ import print_function

import atexit
import ctypes as ct
import errno
import fcntl
import os
import platform
import re
import select
import sys

from . import features as _features
from . import link as _link
from . import map as _map
from . import probe as _probe
from .errors import AttachError, BccCoreError, NotSupportedError
from .table import PerfEventArray, Table
from .utils import ArgString, _assert_is_bytes, _str, get_online_cpus, kernel_symbols

try:
    basestring
except NameError:  # Python 3
    basestring = str

_default_probe_limit = 1000
_num_open_probes = 0


# for tests
def _get_num_open_probes():
    global _num_open_probes
    return _num_open_probes


DEBUGFS = "/sys/kernel/debug"
TRACEFS = os.path.join(DEBUGFS, "tracing")
if not os.path.exists(TRACEFS):
    TRACEFS = "/sys/kernel/tracing"

# Debug flags (accepted, mostly without effect: there is no compiler at run time)
DEBUG_LLVM_IR = 0x1
DEBUG_BPF = 0x2
DEBUG_PREPROCESSOR = 0x4
DEBUG_SOURCE = 0x8
DEBUG_BPF_REGISTER_STATE = 0x10
DEBUG_BTF = 0x20


class PerfType:
    # From perf_type_id in uapi/linux/perf_event.h
    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class PerfHWConfig:
    # From perf_hw_id in uapi/linux/perf_event.h
    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class PerfSWConfig:
    # From perf_sw_id in uapi/linux/perf_event.h
    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10


class PerfEventSampleFormat:
    # from perf_event_sample_format in uapi/linux/bpf.h
    IP = (1 << 0)
    TID = (1 << 1)
    TIME = (1 << 2)
    ADDR = (1 << 3)
    READ = (1 << 4)
    CALLCHAIN = (1 << 5)
    ID = (1 << 6)
    CPU = (1 << 7)
    PERIOD = (1 << 8)
    STREAM_ID = (1 << 9)
    RAW = (1 << 10)
    BRANCH_STACK = (1 << 11)
    REGS_USER = (1 << 12)
    STACK_USER = (1 << 13)
    WEIGHT = (1 << 14)
    DATA_SRC = (1 << 15)
    IDENTIFIER = (1 << 16)
    TRANSACTION = (1 << 17)
    REGS_INTR = (1 << 18)
    PHYS_ADDR = (1 << 19)
    AUX = (1 << 20)
    CGROUP = (1 << 21)
    DATA_PAGE_SIZE = (1 << 22)
    CODE_PAGE_SIZE = (1 << 23)
    WEIGHT_STRUCT = (1 << 24)


class BPFProgType:
    # From bpf_prog_type in uapi/linux/bpf.h
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    CGROUP_SOCKOPT = 25
    TRACING = 26
    LSM = 29


class BPFAttachType:
    # from bpf_attach_type uapi/linux/bpf.h
    CGROUP_INET_INGRESS = 0
    CGROUP_INET_EGRESS = 1
    CGROUP_INET_SOCK_CREATE = 2
    CGROUP_SOCK_OPS = 3
    SK_SKB_STREAM_PARSER = 4
    SK_SKB_STREAM_VERDICT = 5
    CGROUP_DEVICE = 6
    SK_MSG_VERDICT = 7
    CGROUP_INET4_BIND = 8
    CGROUP_INET6_BIND = 9
    CGROUP_INET4_CONNECT = 10
    CGROUP_INET6_CONNECT = 11
    CGROUP_INET4_POST_BIND = 12
    CGROUP_INET6_POST_BIND = 13
    CGROUP_UDP4_SENDMSG = 14
    CGROUP_UDP6_SENDMSG = 15
    LIRC_MODE2 = 16
    FLOW_DISSECTOR = 17
    CGROUP_SYSCTL = 18
    CGROUP_UDP4_RECVMSG = 19
    CGROUP_UDP6_RECVMSG = 20
    CGROUP_GETSOCKOPT = 21
    CGROUP_SETSOCKOPT = 22
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    MODIFY_RETURN = 26
    LSM_MAC = 27
    TRACE_ITER = 28
    CGROUP_INET4_GETPEERNAME = 29
    CGROUP_INET6_GETPEERNAME = 30
    CGROUP_INET4_GETSOCKNAME = 31
    CGROUP_INET6_GETSOCKNAME = 32
    XDP_DEVMAP = 33
    CGROUP_INET_SOCK_RELEASE = 34
    XDP_CPUMAP = 35
    SK_LOOKUP = 36
    XDP = 37
    SK_SKB_VERDICT = 38


class XDPAction:
    # from xdp_action uapi/linux/bpf.h
    XDP_ABORTED = 0
    XDP_DROP = 1
    XDP_PASS = 2
    XDP_TX = 3
    XDP_REDIRECT = 4


class XDPFlags:
    # from xdp_flags uapi/linux/if_link.h
    UPDATE_IF_NOEXIST = (1 << 0)
    SKB_MODE = (1 << 1)
    DRV_MODE = (1 << 2)
    HW_MODE = (1 << 3)
    REPLACE = (1 << 4)


class USDTException(Exception):
    pass


class USDT(object):
    """BCC's USDT class.  USDT probes need BCC's C rewriter and argument code generation,
    which bcc-core does not have yet: creating one raises NotSupportedError."""

    def __init__(self, pid=None, path=None):
        raise NotSupportedError(
            "USDT probes are not supported by bcc-core yet (USDT(pid=%r, path=%r)); "
            "use SEC(\"usdt/...\") programs in a compiled object or a uprobe on the "
            "probe's function instead" % (pid, path))


class SymbolCache(object):
    """BCC's SymbolCache: resolve(addr, demangle) -> (name, offset, module);
    resolve_name(module, name) -> address or -1.  pid -1: the kernel."""

    def __init__(self, pid):
        self.pid = pid
        if pid == -1:
            self._impl = kernel_symbols()
        else:
            from .utils import ProcessSymbols
            self._impl = ProcessSymbols(pid)

    def resolve(self, addr, demangle):
        return self._impl.resolve(addr)

    def resolve_name(self, module, name):
        name = _assert_is_bytes(name)
        if self.pid == -1:
            return self._impl.address(name)
        from .utils import elf_symbols, resolve_module
        path = resolve_module(module, self.pid)
        if path is None:
            return -1
        s = elf_symbols(path).syms.get(name)
        return s[0] if s else -1


_PREFIXES = (("kprobe__", "kprobe"), ("kretprobe__", "kretprobe"),
             ("tracepoint__", "tracepoint"), ("raw_tracepoint__", "raw_tracepoint"),
             ("kfunc__", "kfunc"), ("kretfunc__", "kretfunc"), ("lsm__", "lsm"))

_KERNEL_STRUCT_PREFIXES = ("trace_event_raw_", "trace_entry", "bpf_", "perf_", "pt_regs",
                           "task_struct", "sk_buff")


def _is_elf(data):
    return isinstance(data, (bytes, bytearray)) and bytes(data[:4]) == b"\x7fELF"


def _not_bcc_c(what):
    return NotSupportedError(
        "%s is BCC C source: bcc-core loads compiled BPF CO-RE objects, it has no C "
        "compiler at run time.  Compile it first with `bcc-core build` (or clang -target "
        "bpf) and pass the object: BPF(src_file=\"tool.bpf.o\")" % what)


class BPF(object):
    # Here for backwards compatibility only, add new enum members and types
    # the appropriate wrapper class elsewhere in this file to avoid namespace
    # collision issues
    SOCKET_FILTER = BPFProgType.SOCKET_FILTER
    KPROBE = BPFProgType.KPROBE
    SCHED_CLS = BPFProgType.SCHED_CLS
    SCHED_ACT = BPFProgType.SCHED_ACT
    TRACEPOINT = BPFProgType.TRACEPOINT
    XDP = BPFProgType.XDP
    PERF_EVENT = BPFProgType.PERF_EVENT
    CGROUP_SKB = BPFProgType.CGROUP_SKB
    CGROUP_SOCK = BPFProgType.CGROUP_SOCK
    LWT_IN = BPFProgType.LWT_IN
    LWT_OUT = BPFProgType.LWT_OUT
    LWT_XMIT = BPFProgType.LWT_XMIT
    SOCK_OPS = BPFProgType.SOCK_OPS
    SK_SKB = BPFProgType.SK_SKB
    CGROUP_DEVICE = BPFProgType.CGROUP_DEVICE
    SK_MSG = BPFProgType.SK_MSG
    RAW_TRACEPOINT = BPFProgType.RAW_TRACEPOINT
    CGROUP_SOCK_ADDR = BPFProgType.CGROUP_SOCK_ADDR
    TRACING = BPFProgType.TRACING
    LSM = BPFProgType.LSM

    XDP_ABORTED = XDPAction.XDP_ABORTED
    XDP_DROP = XDPAction.XDP_DROP
    XDP_PASS = XDPAction.XDP_PASS
    XDP_TX = XDPAction.XDP_TX
    XDP_REDIRECT = XDPAction.XDP_REDIRECT

    XDP_FLAGS_UPDATE_IF_NOEXIST = XDPFlags.UPDATE_IF_NOEXIST
    XDP_FLAGS_SKB_MODE = XDPFlags.SKB_MODE
    XDP_FLAGS_DRV_MODE = XDPFlags.DRV_MODE
    XDP_FLAGS_HW_MODE = XDPFlags.HW_MODE
    XDP_FLAGS_REPLACE = XDPFlags.REPLACE
    # END enum backwards compat

    _probe_repl = re.compile(b"[^a-zA-Z0-9_]")
    _sym_caches = {}

    _auto_includes = {
        "linux/time.h": ["time"],
        "linux/fs.h": ["fs", "file"],
        "linux/blkdev.h": ["bio", "request"],
        "linux/slab.h": ["alloc"],
        "linux/netdevice.h": ["sk_buff", "net_device"]
    }

    _syscall_prefixes = [
        b"sys_",
        b"__x64_sys_",
        b"__x32_compat_sys_",
        b"__ia32_compat_sys_",
        b"__arm64_sys_",
        b"__s390x_sys_",
        b"__s390_sys_",
    ]

    CLOCK_MONOTONIC = 1         # see <linux/time.h>

    class timespec(ct.Structure):
        _fields_ = [('tv_sec', ct.c_long), ('tv_nsec', ct.c_long)]

    @classmethod
    def monotonic_time(cls):
        """monotonic_time()
        Returns the system monotonic time from clock_gettime, using the
        CLOCK_MONOTONIC constant. The time returned is in nanoseconds.
        """
        import time
        return float(time.clock_gettime_ns(time.CLOCK_MONOTONIC))

    @classmethod
    def generate_auto_includes(cls, program_words):
        headers = ""
        for header, keywords in cls._auto_includes.items():
            for keyword in keywords:
                for word in program_words:
                    if keyword in word and header not in headers:
                        headers += "#include <%s>\n" % header
        return headers

    # defined for compatibility reasons, to be removed
    Table = Table

    class Function(object):
        def __init__(self, bpf, name, fd):
            self.bpf = bpf
            self.name = name
            self.fd = fd

    @staticmethod
    def _find_file(filename):
        """ If filename is invalid, search in ./ of argv[0] """
        if filename:
            if not os.path.isfile(filename):
                argv0 = ArgString(sys.argv[0])
                t = b"/".join([os.path.abspath(os.path.dirname(argv0.__bytes__())), filename])
                if os.path.isfile(t):
                    filename = t
                else:
                    raise Exception("Could not find file %s" % filename)
        return filename

    @staticmethod
    def find_exe(bin_path):
        """Traverses the PATH environment variable, looking for the first directory that
        contains an executable file named bin_path (as BCC)."""
        def is_exe(fpath):
            return os.path.isfile(fpath) and \
                os.access(fpath, os.X_OK)

        fpath, fname = os.path.split(bin_path)
        if fpath:
            if is_exe(bin_path):
                return bin_path
        else:
            for path in os.environ["PATH"].split(os.pathsep):
                path = path.strip('"')
                exe_file = os.path.join(path.encode() if isinstance(bin_path, bytes)
                                        else path, bin_path)
                if is_exe(exe_file):
                    return exe_file
        return None

    def __init__(self, src_file=b"", hdr_file=b"", text=None, debug=0,
                 cflags=[], usdt_contexts=[], allow_rlimit=True, device=None,
                 attach_usdt_ignore_pid=False, obj=None, rodata=None, config=None,
                 btf=None, kconfig=None, autoattach=True, event_types=None,
                 autoload=None, reuse_maps=None):
        """Load a compiled BPF object and auto-attach its programs.

        Args (BCC's, plus bcc-core's):
            src_file: path of the ``.bpf.o`` (BCC C sources are refused with a hint)
            text: the object's bytes (an ELF image); BCC C text is refused
            obj: the object's bytes (alias of an ELF ``text``)
            rodata / config: ``{"const_volatile_global": value}`` set before load
            btf: relocate CO-RE against this BTF file instead of the running kernel's
            kconfig: ``{"CONFIG_X": value}`` overrides for ``__kconfig`` externs
            autoattach: attach programs automatically (True, as BCC)
            event_types: ``{"map name": "struct name" or ctypes type}`` for event()
            autoload: ``{"prog": bool}`` which programs to load (default: SEC() says)
            reuse_maps: ``{"map": fd or pinned path}`` use existing maps (e.g. BCC's
                pinned --cgroupmap/--mntnsmap filter maps)
            hdr_file, debug, cflags, allow_rlimit, device: accepted and ignored
        """
        self.kprobe_fds = {}
        self.uprobe_fds = {}
        self.tracepoint_fds = {}
        self.raw_tracepoint_fds = {}
        self.kfunc_entry_fds = {}
        self.kfunc_exit_fds = {}
        self.lsm_fds = {}
        self.perf_buffers = {}
        self.open_perf_events = {}
        self._auto_links = []
        self._ringbuf_manager = None
        self._perf_epoll = None
        self.tracefile = None
        self.debug = debug
        self.funcs = {}
        self.tables = {}
        self.module = None
        self._obj = None
        self._deferred = {}
        self._event_types = dict(event_types or {})
        self._cleaned = False
        atexit.register(self.cleanup)

        if usdt_contexts:
            raise NotSupportedError("USDT contexts are not supported by bcc-core yet")
        data = obj
        if text is not None and data is None:
            if _is_elf(text):
                data = bytes(text)
            elif text:
                raise _not_bcc_c("BPF(text=...)")
        src_file = _assert_is_bytes(src_file)
        path = None
        if src_file:
            src_file = BPF._find_file(src_file)
            path = _str(src_file)
            with open(path, "rb") as f:
                head = f.read(4)
            if head != b"\x7fELF":
                raise _not_bcc_c("'%s'" % path)
        if data is None and path is None:
            raise Exception("BPF() needs src_file= (a compiled .bpf.o) or obj=bytes")
        self._load(path, data, rodata if rodata is not None else config, btf, kconfig,
                   autoload, reuse_maps)
        self.module = self._obj
        for name, prog in self._obj.programs.items():
            if prog.fd >= 0:
                self.funcs[name.encode()] = BPF.Function(self, name.encode(), prog.fd)
        if autoattach:
            try:
                self._trace_autoload()
            except BaseException:
                self.cleanup()
                raise

    # -- loading -----------------------------------------------------------------------
    def _load(self, path, data, rodata, btf, kconfig, autoload=None, reuse_maps=None):
        from .loader import Object
        from .sec import EXT, LSM, TRACING
        kw = dict(path=path, data=data, rodata=rodata, btf=btf, kconfig=kconfig,
                  reuse_maps=reuse_maps)
        try:
            self._obj = Object(autoload=autoload, **kw)
            return
        except NotSupportedError as e:
            first = e
        # the kernel cannot load some programs (no trampolines...): load the rest and
        # raise the reason when those programs are attached
        from .elf import load_spec
        spec = load_spec(path, data)
        skip = {p.name: False for p in spec.programs
                if p.sec_def is not None and p.sec_def.prog_type in (TRACING, LSM, EXT)}
        if not skip:
            raise first
        self._obj = Object(autoload=dict(autoload or {}, **skip), spec=spec, **kw)
        for name in skip:
            self._deferred[name] = first

    @staticmethod
    def _fn_str(fn_name):
        return _str(fn_name)

    def _prog(self, fn_name):
        name = _str(fn_name)
        prog = self._obj.programs.get(name) if self._obj else None
        if prog is None:
            raise Exception("Unknown program %s" % name)
        if prog.fd < 0:
            err = self._deferred.get(name)
            if err is not None:
                raise NotSupportedError(str(err)) from err
            raise Exception("Program %s is not loaded" % name)
        return prog

    def load_funcs(self, prog_type=KPROBE):
        """Return the handles of all (loaded) programs of the object."""
        return [self.load_func(n, prog_type) for n in self._obj.programs
                if self._obj.programs[n].fd >= 0]

    def load_func(self, func_name, prog_type=None, device=None, attach_type=-1):
        """The already-loaded program ``func_name`` as a BPF.Function (.fd, .name).  The
        program type comes from its SEC() name; ``prog_type`` is not used to reload."""
        func_name = _assert_is_bytes(func_name)
        if func_name in self.funcs:
            return self.funcs[func_name]
        prog = self._prog(func_name)
        fn = BPF.Function(self, func_name, prog.fd)
        self.funcs[func_name] = fn
        return fn

    def dump_func(self, func_name):
        """Return the eBPF bytecodes for the specified function as a string"""
        prog = self._obj.programs.get(_str(func_name))
        if prog is None:
            raise Exception("Unknown program %s" % _str(func_name))
        return bytes(prog.insns or b"")

    def disassemble_func(self, func_name):
        try:
            from bcc.disassembler import disassemble_prog
        except ImportError:
            raise NotSupportedError("disassemble_func needs BCC's disassembler module")
        return disassemble_prog(func_name, self.dump_func(func_name))

    def decode_table(self, table_name, sizeinfo=False):
        raise NotSupportedError("decode_table is not supported by bcc-core")

    str2ctype = {
        u"_Bool": ct.c_bool,
        u"char": ct.c_char,
        u"wchar_t": ct.c_wchar,
        u"unsigned char": ct.c_ubyte,
        u"short": ct.c_short,
        u"unsigned short": ct.c_ushort,
        u"int": ct.c_int,
        u"unsigned int": ct.c_uint,
        u"long": ct.c_long,
        u"unsigned long": ct.c_ulong,
        u"long long": ct.c_longlong,
        u"unsigned long long": ct.c_ulonglong,
        u"float": ct.c_float,
        u"double": ct.c_double,
        u"long double": ct.c_longdouble,
        u"__int128": ct.c_int64 * 2,
        u"unsigned __int128": ct.c_uint64 * 2,
    }

    # -- tables ------------------------------------------------------------------------
    def _btf_ctype(self, m, tid, size):
        from .ctypes_btf import ctype_for, sized_int
        b = self._obj.btf
        if tid and b is not None:
            try:
                c = ctype_for(b, tid)
                if ct.sizeof(c) == size:
                    return c
            except (TypeError, BccCoreError):
                pass
        return sized_int(size)

    def _default_types(self, m):
        t = m.type
        if t in (_map.PERF_EVENT_ARRAY, _map.RINGBUF, _map.CGROUP_ARRAY, _map.PROG_ARRAY,
                 _map.ARRAY_OF_MAPS, _map.HASH_OF_MAPS):
            return ct.c_int, ct.c_int
        if t == _map.STACK_TRACE:
            key = ct.c_int
            if m.map_flags & (1 << 5):     # BPF_F_STACK_BUILD_ID
                class bpf_stack_build_id(ct.Structure):
                    _fields_ = [("status", ct.c_int32), ("build_id", ct.c_ubyte * 20),
                                ("offset", ct.c_uint64)]
                n = max(m.value_size // ct.sizeof(bpf_stack_build_id), 1)
                leaf = type("stack_trace", (ct.Structure,),
                            {"_fields_": [("trace", bpf_stack_build_id * n)]})
            else:
                leaf = type("stack_trace", (ct.Structure,),
                            {"_fields_": [("ip", ct.c_ulonglong * (m.value_size // 8))]})
            return key, leaf
        if t in (_map.QUEUE, _map.STACK):
            return None, self._btf_ctype(m, m.value_type_id, m.value_size)
        leaf_size = m.value_size
        return (self._btf_ctype(m, m.key_type_id, m.key_size),
                self._btf_ctype(m, m.value_type_id, leaf_size))

    def get_table(self, name, keytype=None, leaftype=None, reducer=None):
        name = _str(name)
        m = self._obj.maps.get(name) if self._obj else None
        if m is None:
            raise KeyError(name)
        dk, dl = self._default_types(m)
        return Table(self, m, keytype or dk, leaftype or dl, name, reducer=reducer)

    def __getitem__(self, key):
        if key not in self.tables:
            self.tables[key] = self.get_table(key)
        return self.tables[key]

    def __setitem__(self, key, leaf):
        self.tables[key] = leaf

    def __len__(self):
        return len(self.tables)

    def __delitem__(self, key):
        t = self.tables.pop(key)
        if isinstance(t, PerfEventArray):
            t.close()

    def __iter__(self):
        return self.tables.__iter__()

    def __contains__(self, key):
        if key in self.tables:
            return True
        return self._obj is not None and _str(key) in self._obj.maps

    def _event_class_for(self, table, name=None):
        """The ctypes type of the records of a perf/ring buffer table (see module doc)."""
        from . import btf as _btf
        from .ctypes_btf import ctype_for
        mname = table._name
        want = name if name is not None else self._event_types.get(mname)
        if want is not None and not isinstance(want, (str, bytes)):
            return want
        b = self._obj.btf
        if b is None:
            raise Exception("cannot decode events of '%s': the object has no BTF; pass a "
                            "ctypes type with table.set_event_type(cls)" % mname)
        structs = {}
        ptr_targets = []
        for t in b.types():
            if t.kind in (_btf.KIND_STRUCT, _btf.KIND_UNION) and t.name:
                structs.setdefault(t.name, t.id)
            elif t.kind == _btf.KIND_TYPEDEF and t.name and \
                    b.kind_of(b.skip_mods(t.type)) == _btf.KIND_STRUCT:
                structs.setdefault(t.name, t.id)
            elif t.kind == _btf.KIND_VAR and t.name.startswith("unused"):
                pt = b.type(b.skip_mods(t.type))
                if pt.kind == _btf.KIND_PTR:
                    tgt = b.skip_mods(pt.type)
                    if b.kind_of(tgt) == _btf.KIND_STRUCT:
                        ptr_targets.append(tgt)
        if want is not None:
            want = _str(want)
            for n in (want, want.replace("struct ", "")):
                if n in structs:
                    return ctype_for(b, structs[n])
            raise Exception("no struct '%s' in the BTF of the object (it has: %s)"
                            % (want, ", ".join(sorted(structs)) or "none"))
        sing = mname[:-1] if mname.endswith("s") else mname
        tiers = [[mname, sing, mname + "_t", sing + "_t"],
                 ["event", "event_t", "data_t", "data"]]
        for tier in tiers:
            found = [n for n in dict.fromkeys(tier) if n in structs]
            if found:
                return ctype_for(b, structs[found[0]])
        own = [n for n in structs if not n.startswith(_KERNEL_STRUCT_PREFIXES)]
        found = [n for n in own if n.endswith(("_event", "_event_t", "_data_t"))]
        if len(found) == 1:
            return ctype_for(b, structs[found[0]])
        if len(set(ptr_targets)) == 1:
            return ctype_for(b, ptr_targets[0])
        raise Exception(
            "cannot tell which struct the records of '%s' are%s: declare one in the "
            "BPF C so that it is in BTF (e.g. `struct event *unused_event "
            "__attribute__((unused));`), or name it: BPF(..., event_types={'%s': "
            "'struct_name'}) or b['%s'].set_event_type(ctypes_type)"
            % (mname, " (candidates: %s)" % ", ".join(found) if found else "",
               mname, mname))

    # -- attach helpers ----------------------------------------------------------------
    @staticmethod
    def attach_func(fn, attachable_fd, attach_type, flags=0):
        if not isinstance(fn, BPF.Function):
            raise Exception("arg 1 must be of type BPF.Function")
        from . import _sys
        a = _sys.new_attr()
        raw = _sys.ffi.cast("uint32_t *", a)
        raw[0], raw[1], raw[2], raw[3] = attachable_fd, fn.fd, attach_type, flags
        ret, err = _sys.bpf_errno(_sys.BPF_PROG_ATTACH, a)
        if ret < 0:
            raise Exception("Failed to attach BPF function with attach_type "
                            "{0}: {1}".format(attach_type, os.strerror(err)))

    @staticmethod
    def detach_func(fn, attachable_fd, attach_type):
        if not isinstance(fn, BPF.Function):
            raise Exception("arg 1 must be of type BPF.Function")
        from . import _sys
        a = _sys.new_attr()
        raw = _sys.ffi.cast("uint32_t *", a)
        raw[0], raw[1], raw[2] = attachable_fd, fn.fd, attach_type
        ret, err = _sys.bpf_errno(_sys.BPF_PROG_DETACH, a)
        if ret < 0:
            raise Exception("Failed to detach BPF function with attach_type "
                            "{0}: {1}".format(attach_type, os.strerror(err)))

    @staticmethod
    def attach_raw_socket(fn, dev):
        import socket
        dev = _str(dev)
        if not isinstance(fn, BPF.Function):
            raise Exception("arg 1 must be of type BPF.Function")
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                                 | socket.SOCK_CLOEXEC, socket.htons(3))   # ETH_P_ALL
            sock.bind((dev, 0))
        except OSError as e:
            raise Exception("Failed to open raw device %s: %s" % (dev, e.strerror))
        try:
            sock.setsockopt(socket.SOL_SOCKET, 50, fn.fd)   # SO_ATTACH_BPF
        except OSError as e:
            sock.close()
            raise Exception("Failed to attach BPF to device %s: %s" % (dev, e.strerror))
        fn.sock = sock.detach()

    @staticmethod
    def attach_xdp(dev, fn, flags=0):
        raise NotSupportedError("attach_xdp is not supported by bcc-core yet")

    @staticmethod
    def remove_xdp(dev, flags=0):
        raise NotSupportedError("remove_xdp is not supported by bcc-core yet")

    @staticmethod
    def get_kprobe_functions(event_re):
        blacklist_file = "%s/kprobes/blacklist" % DEBUGFS
        try:
            with open(blacklist_file, "rb") as blacklist_f:
                blacklist = set([line.rstrip().split()[1] for line in blacklist_f])
        except IOError as e:
            if e.errno not in (errno.EPERM, errno.ENOENT):
                raise e
            blacklist = set([])
        event_re = _assert_is_bytes(event_re)
        fns = []

        in_init_section = 0
        in_irq_section = 0
        with open("/proc/kallsyms", "rb") as avail_file:
            for line in avail_file:
                (t, fn) = line.rstrip().split()[1:3]
                if in_init_section == 0:
                    if fn == b'__init_begin':
                        in_init_section = 1
                        continue
                elif in_init_section == 1:
                    if fn == b'__init_end':
                        in_init_section = 2
                    continue
                if in_irq_section == 0:
                    if fn == b'__irqentry_text_start':
                        in_irq_section = 1
                        continue
                    elif fn == b'__irqentry_text_end':
                        in_irq_section = 2
                        continue
                elif in_irq_section == 1:
                    if fn == b'__irqentry_text_end':
                        in_irq_section = 2
                    continue
                if fn.startswith(b'_kbl_addr_'):
                    continue
                elif fn.startswith(b'__perf') or fn.startswith(b'perf_'):
                    continue
                elif fn.startswith(b'__SCT__'):
                    continue
                elif re.match(rb'^.*\.cold(\.\d+)?$', fn):
                    continue
                if (t.lower() in [b't', b'w']) and re.match(event_re, fn) \
                        and fn not in blacklist:
                    fns.append(fn)
        return set(fns)     # Some functions may appear more than once

    def _check_probe_quota(self, num_new_probes):
        global _num_open_probes
        if _num_open_probes + num_new_probes > BPF.get_probe_limit():
            raise Exception("Number of open probes would exceed global quota")

    @staticmethod
    def get_probe_limit():
        env_probe_limit = os.environ.get('BCC_PROBE_LIMIT')
        if env_probe_limit and env_probe_limit.isdigit():
            return int(env_probe_limit)
        else:
            return _default_probe_limit

    def _add_kprobe_fd(self, ev_name, fn_name, fd):
        global _num_open_probes
        if ev_name not in self.kprobe_fds:
            self.kprobe_fds[ev_name] = {}
        self.kprobe_fds[ev_name][fn_name] = fd
        _num_open_probes += 1

    def _del_kprobe_fd(self, ev_name, fn_name):
        global _num_open_probes
        del self.kprobe_fds[ev_name][fn_name]
        _num_open_probes -= 1

    def _add_uprobe_fd(self, name, fd):
        global _num_open_probes
        self.uprobe_fds[name] = fd
        _num_open_probes += 1

    def _del_uprobe_fd(self, name):
        global _num_open_probes
        del self.uprobe_fds[name]
        _num_open_probes -= 1

    # Find current system's syscall prefix by testing on the BPF syscall.
    def get_syscall_prefix(self=None):
        for prefix in BPF._syscall_prefixes:
            if BPF.ksymname(b"%sbpf" % prefix) != -1:
                return prefix
        return BPF._syscall_prefixes[0]

    def get_syscall_fnname(self, name):
        name = _assert_is_bytes(name)
        return BPF.get_syscall_prefix() + name

    def fix_syscall_fnname(self, name):
        name = _assert_is_bytes(name)
        for prefix in self._syscall_prefixes:
            if name.startswith(prefix):
                return self.get_syscall_fnname(name[len(prefix):])
        return name

    @staticmethod
    def _no_kprobes(kind, fn_name, event):
        ok, why = _features.kprobes()
        if ok:
            return None
        return NotSupportedError(
            "cannot attach %s to %s '%s': %s; use a tracepoint (attach_tracepoint, e.g. "
            "syscalls:sys_enter_* for system calls) or a raw tracepoint instead"
            % (_str(fn_name), kind, _str(event), why))

    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""):
        event = _assert_is_bytes(event)
        fn_name = _assert_is_bytes(fn_name)
        event_re = _assert_is_bytes(event_re)
        prog = self._prog(fn_name)
        err = self._no_kprobes("kprobe", fn_name, event or event_re)
        if err:
            raise err

        # allow the caller to glob multiple functions together
        if event_re:
            matches = BPF.get_kprobe_functions(event_re)
            self._check_probe_quota(len(matches))
            failed = 0
            probes = []
            for line in matches:
                try:
                    self.attach_kprobe(event=line, fn_name=fn_name)
                except Exception:
                    failed += 1
                    probes.append(line)
            if failed == len(matches):
                raise Exception("Failed to attach BPF program %s to kprobe %s"
                                ", it's not traceable (either non-existing, inlined, or "
                                "marked as \"notrace\")" % (fn_name, b'/'.join(probes)))
            return

        self._check_probe_quota(1)
        fn = self.load_func(fn_name, BPF.KPROBE)
        ev_name = b"p_" + event.replace(b"+", b"_").replace(b".", b"_")
        try:
            lk = _probe.attach_kprobe(prog, _str(event), event_off, retprobe=False)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF program %s to kprobe %s"
                            ", it's not traceable (either non-existing, inlined, or marked "
                            "as \"notrace\"): %s" % (fn_name, event, e)) from e
        self._add_kprobe_fd(ev_name, fn.name, lk)
        return self

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0):
        event = _assert_is_bytes(event)
        fn_name = _assert_is_bytes(fn_name)
        event_re = _assert_is_bytes(event_re)
        prog = self._prog(fn_name)
        err = self._no_kprobes("kretprobe", fn_name, event or event_re)
        if err:
            raise err

        if event_re:
            matches = BPF.get_kprobe_functions(event_re)
            failed = 0
            probes = []
            for line in matches:
                try:
                    self.attach_kretprobe(event=line, fn_name=fn_name,
                                          maxactive=maxactive)
                except Exception:
                    failed += 1
                    probes.append(line)
            if failed == len(matches):
                raise Exception("Failed to attach BPF program %s to kretprobe %s"
                                ", it's not traceable (either non-existing, inlined, or "
                                "marked as \"notrace\")" % (fn_name, b'/'.join(probes)))
            return

        self._check_probe_quota(1)
        fn = self.load_func(fn_name, BPF.KPROBE)
        ev_name = b"r_" + event.replace(b"+", b"_").replace(b".", b"_")
        try:
            lk = _probe.attach_kprobe(prog, _str(event), 0, retprobe=True)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF program %s to kretprobe %s"
                            ", it's not traceable (either non-existing, inlined, or marked "
                            "as \"notrace\"): %s" % (fn_name, event, e)) from e
        self._add_kprobe_fd(ev_name, fn.name, lk)
        return self

    def detach_kprobe_event(self, ev_name):
        ev_name = _assert_is_bytes(ev_name)
        fn_names = list(self.kprobe_fds[ev_name].keys())
        for fn_name in fn_names:
            self.detach_kprobe_event_by_fn(ev_name, fn_name)

    def detach_kprobe_event_by_fn(self, ev_name, fn_name):
        ev_name = _assert_is_bytes(ev_name)
        fn_name = _assert_is_bytes(fn_name)
        if ev_name not in self.kprobe_fds:
            raise Exception("Kprobe %s is not attached" % ev_name)
        self.kprobe_fds[ev_name][fn_name].close()
        self._del_kprobe_fd(ev_name, fn_name)
        if len(self.kprobe_fds[ev_name]) == 0:
            del self.kprobe_fds[ev_name]

    def detach_kprobe(self, event, fn_name=None):
        event = _assert_is_bytes(event)
        ev_name = b"p_" + event.replace(b"+", b"_").replace(b".", b"_")
        if fn_name:
            fn_name = _assert_is_bytes(fn_name)
            self.detach_kprobe_event_by_fn(ev_name, fn_name)
        else:
            self.detach_kprobe_event(ev_name)

    def detach_kretprobe(self, event, fn_name=None):
        event = _assert_is_bytes(event)
        ev_name = b"r_" + event.replace(b"+", b"_").replace(b".", b"_")
        if fn_name:
            fn_name = _assert_is_bytes(fn_name)
            self.detach_kprobe_event_by_fn(ev_name, fn_name)
        else:
            self.detach_kprobe_event(ev_name)

    @classmethod
    def _check_path_symbol(cls, module, symname, addr, pid, sym_off=0):
        from .utils import resolve_symbol
        path, off = resolve_symbol(module, symname, addr, pid, sym_off)
        return path.encode(), off

    @staticmethod
    def find_library(libname):
        from .utils import find_library
        return find_library(libname)

    @staticmethod
    def get_tracepoints(tp_re):
        results = []
        tf = _features.tracefs(mount=True) or TRACEFS
        events_dir = os.path.join(tf, "events")
        tp_re = _str(tp_re)
        for category in os.listdir(events_dir):
            cat_dir = os.path.join(events_dir, category)
            if not os.path.isdir(cat_dir):
                continue
            for event in os.listdir(cat_dir):
                evt_dir = os.path.join(cat_dir, event)
                if os.path.isdir(evt_dir):
                    tp = ("%s:%s" % (category, event))
                    if re.match(tp_re, tp):
                        results.append(tp)
        return results

    @staticmethod
    def tracepoint_exists(category, event):
        return _link.tracepoint_exists(_str(category), _str(event))

    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        """attach_tracepoint(tp="", tp_re="", fn_name="")

        Run the bpf function denoted by fn_name every time the kernel tracepoint
        specified by 'tp' ("category:name") is hit; or every tracepoint matching tp_re.
        """
        tp = _assert_is_bytes(tp)
        tp_re = _assert_is_bytes(tp_re)
        fn_name = _assert_is_bytes(fn_name)
        if tp_re:
            for tp in BPF.get_tracepoints(tp_re):
                self.attach_tracepoint(tp=tp, fn_name=fn_name)
            return

        prog = self._prog(fn_name)
        (tp_category, tp_name) = tp.split(b':')
        lk = _link.attach_tracepoint(prog, _str(tp_category), _str(tp_name))
        self.load_func(fn_name)
        self.tracepoint_fds[tp] = lk
        return self

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        """attach_raw_tracepoint(self, tp=b"", fn_name=b"")

        Run the bpf function denoted by fn_name every time the kernel tracepoint
        specified by 'tp' (e.g. sched_switch) is hit.
        """
        tp = _assert_is_bytes(tp)
        if tp in self.raw_tracepoint_fds:
            raise Exception("Raw tracepoint %s has been attached" % tp)
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name)
        lk = _link.attach_raw_tracepoint(prog, _str(tp))
        self.load_func(fn_name)
        self.raw_tracepoint_fds[tp] = lk
        return self

    def detach_raw_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        if tp not in self.raw_tracepoint_fds:
            raise Exception("Raw tracepoint %s is not attached" % tp)
        self.raw_tracepoint_fds.pop(tp).close()

    @staticmethod
    def add_prefix(prefix, name):
        if not name.startswith(prefix):
            name = prefix + name
        return name

    @staticmethod
    def support_kfunc():
        if platform.machine() != 'x86_64':
            return False
        return bool(_features.trampolines()[0])

    @staticmethod
    def support_lsm():
        if BPF.ksymname(b"bpf_lsm_bpf") == -1:
            return False
        return bool(_features.trampolines()[0])

    def _attach_btf_prog(self, prefix, fn_name, table, kind):
        fn_name = _assert_is_bytes(fn_name)
        fn_name = BPF.add_prefix(prefix, fn_name)
        if fn_name in table:
            raise Exception("%s %s has been attached" % (kind, fn_name))
        prog = self._obj.programs.get(_str(fn_name))
        if prog is None:
            raise Exception("Unknown program %s" % _str(fn_name))
        ok, why = _features.trampolines()
        if not ok or prog.fd < 0:
            if prog.fd < 0 and _str(fn_name) in self._deferred:
                why = str(self._deferred[_str(fn_name)])
            hint = "" if "instead" in why else (
                "; use a tracepoint (attach_tracepoint) or raw tracepoint "
                "(attach_raw_tracepoint) instead")
            raise NotSupportedError("cannot attach %s (%s): %s%s"
                                    % (_str(fn_name), kind, why, hint))
        lk = _link.attach_trace(prog)
        self.load_func(fn_name)
        table[fn_name] = lk
        return self

    def detach_kfunc(self, fn_name=b""):
        fn_name = BPF.add_prefix(b"kfunc__", _assert_is_bytes(fn_name))
        if fn_name not in self.kfunc_entry_fds:
            raise Exception("Kernel entry func %s is not attached" % fn_name)
        self.kfunc_entry_fds.pop(fn_name).close()

    def detach_kretfunc(self, fn_name=b""):
        fn_name = BPF.add_prefix(b"kretfunc__", _assert_is_bytes(fn_name))
        if fn_name not in self.kfunc_exit_fds:
            raise Exception("Kernel exit func %s is not attached" % fn_name)
        self.kfunc_exit_fds.pop(fn_name).close()

    def attach_kfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kfunc__", fn_name, self.kfunc_entry_fds,
                                     "kernel entry func")

    def attach_kretfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kretfunc__", fn_name, self.kfunc_exit_fds,
                                     "kernel exit func")

    def detach_lsm(self, fn_name=b""):
        fn_name = BPF.add_prefix(b"lsm__", _assert_is_bytes(fn_name))
        if fn_name not in self.lsm_fds:
            raise Exception("LSM %s is not attached" % fn_name)
        self.lsm_fds.pop(fn_name).close()

    def attach_lsm(self, fn_name=b""):
        return self._attach_btf_prog(b"lsm__", fn_name, self.lsm_fds, "LSM")

    @staticmethod
    def support_raw_tracepoint():
        # kernel symbol "bpf_find_raw_tracepoint" indicates raw_tracepoint support
        if BPF.ksymname("bpf_find_raw_tracepoint") != -1 or \
                BPF.ksymname("bpf_get_raw_tracepoint") != -1:
            return True
        return False

    @staticmethod
    def support_raw_tracepoint_in_module():
        # kernel symbol "bpf_trace_modules" indicates raw tp support in modules
        return BPF.ksymname(b"bpf_trace_modules") != -1

    @staticmethod
    def kernel_struct_has_field(struct_name, field_name):
        from . import btf as _btf
        try:
            kb = _btf.kernel_btf()
        except Exception:
            return -1
        sname, fname = _str(struct_name), _str(field_name)
        for tid in kb.find(sname, _btf.KIND_STRUCT) or []:
            def has(tid, depth=0):
                for m in kb.type(tid).members:
                    if m.name == fname:
                        return True
                    if not m.name and depth < 8:
                        u = kb.skip_mods(m.type)
                        if kb.kind_of(u) in (_btf.KIND_STRUCT, _btf.KIND_UNION) and \
                                has(u, depth + 1):
                            return True
                return False
            return 1 if has(tid) else 0
        return -1

    def detach_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        if tp not in self.tracepoint_fds:
            raise Exception("Tracepoint %s is not attached" % tp)
        self.tracepoint_fds.pop(tp).close()

    def _attach_perf_event(self, prog, ev_type, ev_config, sample_period, sample_freq,
                           pid, cpu, group_fd):
        from . import _sys
        from .link import PERF_FLAG_FD_CLOEXEC
        a = _sys.new_perf_attr()
        a.type = ev_type
        a.config = ev_config
        if sample_freq:
            a.sample_period = sample_freq
            a.flags |= 1 << 10          # freq
        else:
            a.sample_period = sample_period
        try:
            pfd = _sys.perf_event_open(a, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC,
                                       what="perf event type %d config %d cpu %d"
                                       % (ev_type, ev_config, cpu))
            return _link.attach_perf_event_fd(prog, pfd, "perf_event",
                                              "%d/%d cpu %d" % (ev_type, ev_config, cpu))
        except (OSError, AttachError) as e:
            raise Exception("Failed to attach BPF to perf event: %s" % e) from e

    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"",
                          sample_period=0, sample_freq=0, pid=-1, cpu=-1, group_fd=-1):
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name)
        self.load_func(fn_name, BPF.PERF_EVENT)
        res = {}
        try:
            if cpu >= 0:
                res[cpu] = self._attach_perf_event(prog, ev_type, ev_config,
                                                   sample_period, sample_freq, pid, cpu,
                                                   group_fd)
            else:
                for i in get_online_cpus():
                    res[i] = self._attach_perf_event(prog, ev_type, ev_config,
                                                     sample_period, sample_freq, pid, i,
                                                     group_fd)
        except BaseException:
            for lk in res.values():
                lk.close()
            raise
        self.open_perf_events[(ev_type, ev_config)] = res

    def attach_perf_event_raw(self, attr=-1, fn_name=b"", pid=-1, cpu=-1, group_fd=-1):
        from . import _sys
        from .link import PERF_FLAG_FD_CLOEXEC
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name)
        self.load_func(fn_name, BPF.PERF_EVENT)
        raw = ct.string_at(ct.addressof(attr), ct.sizeof(attr))
        res = {}

        def one(c):
            a = _sys.new_perf_attr()
            n = min(len(raw), _sys.ffi.sizeof("struct perf_event_attr"))
            _sys.ffi.memmove(a, raw[:n], n)
            a.size = n
            try:
                pfd = _sys.perf_event_open(a, pid, c, group_fd, PERF_FLAG_FD_CLOEXEC)
                return _link.attach_perf_event_fd(prog, pfd, "perf_event", "raw cpu %d" % c)
            except (OSError, AttachError) as e:
                raise Exception("Failed to attach BPF to perf raw event: %s" % e) from e
        try:
            for c in ([cpu] if cpu >= 0 else get_online_cpus()):
                res[c] = one(c)
        except BaseException:
            for lk in res.values():
                lk.close()
            raise
        self.open_perf_events[(attr.type, attr.config)] = res

    def detach_perf_event(self, ev_type=-1, ev_config=-1):
        try:
            fds = self.open_perf_events[(ev_type, ev_config)]
        except KeyError:
            raise Exception("Perf event type {} config {} not attached".format(
                ev_type, ev_config))
        for lk in fds.values():
            lk.close()
        del self.open_perf_events[(ev_type, ev_config)]

    @staticmethod
    def get_user_functions(name, sym_re):
        return set([name for (name, _) in
                    BPF.get_user_functions_and_addresses(name, sym_re)])

    @staticmethod
    def get_user_addresses(name, sym_re):
        return set([address for (_, address) in
                    BPF.get_user_functions_and_addresses(name, sym_re)])

    @staticmethod
    def get_user_functions_and_addresses(name, sym_re):
        from .utils import elf_symbols, resolve_module
        sym_re = _assert_is_bytes(sym_re)
        path = resolve_module(name)
        if path is None:
            raise Exception("Error %d enumerating symbols in %s" % (-1, _str(name)))
        addresses = []
        for addr, size, sname in elf_symbols(path).sorted:
            if re.match(sym_re, sname):
                addresses.append((sname, addr))
        return addresses

    def _get_uprobe_evname(self, prefix, path, addr, pid):
        if pid == -1:
            return b"%s_%s_0x%x" % (prefix, self._probe_repl.sub(b"_", path), addr)
        else:
            # if pid is valid, put pid in the name, so different pid
            # can have different event names
            return b"%s_%s_0x%x_%d" % (prefix, self._probe_repl.sub(b"_", path), addr, pid)

    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                      fn_name=b"", pid=-1, sym_off=0):
        """attach_uprobe(name="", sym="", sym_re="", addr=None, fn_name=""
                         pid=-1, sym_off=0)

        Run the bpf function denoted by fn_name every time the symbol sym in
        the library or binary 'name' is encountered ("c" or "/usr/lib/.../libc.so.6",
        a binary by path).  addr: a virtual address instead of sym; sym_re: all symbols
        matching the regular expression; pid: only in that process.
        """
        assert sym_off >= 0
        if addr is not None:
            assert sym_off == 0, "offset with addr is not supported"

        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        sym_re = _assert_is_bytes(sym_re)
        fn_name = _assert_is_bytes(fn_name)

        if sym_re:
            addresses = BPF.get_user_addresses(name, sym_re)
            self._check_probe_quota(len(addresses))
            for sym_addr in addresses:
                self.attach_uprobe(name=name, addr=sym_addr,
                                   fn_name=fn_name, pid=pid)
            return

        (path, addr) = BPF._check_path_symbol(name, sym, addr, pid, sym_off)

        self._check_probe_quota(1)
        prog = self._prog(fn_name)
        self.load_func(fn_name, BPF.KPROBE)
        ev_name = self._get_uprobe_evname(b"p", path, addr, pid)
        try:
            lk = _probe.attach_uprobe(prog, _str(path), addr, retprobe=False, pid=pid)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF to uprobe: %s" % e) from e
        self._add_uprobe_fd(ev_name, lk)
        return self

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                         fn_name=b"", pid=-1):
        """attach_uretprobe(name="", sym="", sym_re="", addr=None, fn_name=""
                            pid=-1)

        Run the bpf function denoted by fn_name every time the symbol sym in
        the library or binary 'name' finishes execution. See attach_uprobe for
        meaning of additional parameters.
        """
        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        sym_re = _assert_is_bytes(sym_re)
        fn_name = _assert_is_bytes(fn_name)

        if sym_re:
            for sym_addr in BPF.get_user_addresses(name, sym_re):
                self.attach_uretprobe(name=name, addr=sym_addr,
                                      fn_name=fn_name, pid=pid)
            return

        (path, addr) = BPF._check_path_symbol(name, sym, addr, pid)

        self._check_probe_quota(1)
        prog = self._prog(fn_name)
        self.load_func(fn_name, BPF.KPROBE)
        ev_name = self._get_uprobe_evname(b"r", path, addr, pid)
        try:
            lk = _probe.attach_uprobe(prog, _str(path), addr, retprobe=True, pid=pid)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF to uretprobe: %s" % e) from e
        self._add_uprobe_fd(ev_name, lk)
        return self

    def detach_uprobe_event(self, ev_name):
        if ev_name not in self.uprobe_fds:
            raise Exception("Uprobe %s is not attached" % ev_name)
        self.uprobe_fds[ev_name].close()
        self._del_uprobe_fd(ev_name)

    def detach_uprobe(self, name=b"", sym=b"", addr=None, pid=-1, sym_off=0):
        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        (path, addr) = BPF._check_path_symbol(name, sym, addr, pid, sym_off)
        ev_name = self._get_uprobe_evname(b"p", path, addr, pid)
        self.detach_uprobe_event(ev_name)

    def detach_uretprobe(self, name=b"", sym=b"", addr=None, pid=-1):
        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        (path, addr) = BPF._check_path_symbol(name, sym, addr, pid)
        ev_name = self._get_uprobe_evname(b"r", path, addr, pid)
        self.detach_uprobe_event(ev_name)

    # -- auto-attach -------------------------------------------------------------------
    def _trace_autoload(self):
        for name, prog in self._obj.programs.items():
            if prog.fd < 0 and name not in self._deferred:
                continue        # not loaded on purpose (autoload off, SEC("?..."))
            sd = prog.spec.sec_def
            kind = sd.attach_kind if sd is not None else None
            tgt = prog.spec.attach_target
            if kind and tgt and self._autoattach_sec(name, prog, kind, tgt):
                continue
            bname = name.encode()
            if name.startswith("kprobe__"):
                self.attach_kprobe(event=self.fix_syscall_fnname(bname[8:]), fn_name=bname)
            elif name.startswith("kretprobe__"):
                self.attach_kretprobe(event=self.fix_syscall_fnname(bname[11:]),
                                      fn_name=bname)
            elif name.startswith("tracepoint__"):
                tp = bname[len(b"tracepoint__"):].replace(b"__", b":")
                self.attach_tracepoint(tp=tp, fn_name=bname)
            elif name.startswith("raw_tracepoint__"):
                tp = bname[len(b"raw_tracepoint__"):]
                self.attach_raw_tracepoint(tp=tp, fn_name=bname)
            elif name.startswith("kfunc__"):
                self.attach_kfunc(fn_name=bname)
            elif name.startswith("kretfunc__"):
                self.attach_kretfunc(fn_name=bname)
            elif name.startswith("lsm__"):
                self.attach_lsm(fn_name=bname)

    def _autoattach_sec(self, name, prog, kind, tgt):
        """Attach a program whose SEC() names its target.  True if handled."""
        bname = name.encode()
        if kind == "tracepoint":
            if "/" not in tgt:
                return False
            self.attach_tracepoint(tp=tgt.replace("/", ":", 1).encode(), fn_name=bname)
            return True
        if kind == "raw_tp":
            self.attach_raw_tracepoint(tp=tgt.encode(), fn_name=bname)
            return True
        if kind in ("kprobe", "kretprobe", "ksyscall", "kretsyscall"):
            ev = tgt.encode()
            off = 0
            m = re.match(rb"^(.+)\+(0x[0-9a-fA-F]+|\d+)$", ev)
            if m:
                ev, off = m.group(1), int(m.group(2), 0)
            if kind in ("ksyscall", "kretsyscall"):
                ev = self.get_syscall_fnname(ev)
            if kind in ("kprobe", "ksyscall"):
                self.attach_kprobe(event=ev, event_off=off, fn_name=bname)
            else:
                self.attach_kretprobe(event=ev, fn_name=bname)
            return True
        if kind in ("trace", "lsm"):
            sec = prog.spec.sec_name
            if sec.startswith(("fexit", "fmod_ret")):
                table, what = self.kfunc_exit_fds, "kernel exit func"
            elif sec.startswith("fentry"):
                table, what = self.kfunc_entry_fds, "kernel entry func"
            elif kind == "lsm":
                table, what = self.lsm_fds, "LSM"
            else:                           # tp_btf, iter...
                p = self._prog(bname)
                if prog.spec.sec_name.startswith("iter"):
                    return True
                self._auto_links.append(_link.attach_trace(p))
                return True
            if prog.fd < 0 or not _features.trampolines()[0]:
                why = str(self._deferred.get(name) or _features.trampolines()[1])
                hint = "" if "instead" in why else \
                    "; use a tracepoint or raw tracepoint instead"
                raise NotSupportedError("cannot attach %s (%s, SEC(\"%s\")): %s%s"
                                        % (name, what, sec, why, hint))
            table[bname] = _link.attach_trace(prog)
            self.load_func(bname)
            return True
        if kind in ("uprobe", "uretprobe"):
            # SEC("uprobe/PATH:FUNC[+OFF]") as libbpf
            m = re.match(r"^([^:]+):([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$", tgt)
            if not m:
                return False
            path, func, off = m.group(1), m.group(2), int(m.group(3) or "0", 0)
            if kind == "uprobe":
                self.attach_uprobe(name=path.encode(), sym=func.encode(), fn_name=bname,
                                   sym_off=off)
            else:
                self.attach_uretprobe(name=path.encode(), sym=func.encode(), fn_name=bname)
            return True
        return False

    # -- trace_pipe --------------------------------------------------------------------
    def trace_open(self, nonblocking=False):
        """Open the trace_pipe if not already open"""
        if not self.tracefile:
            tf = _features.tracefs(mount=True) or TRACEFS
            self.tracefile = open("%s/trace_pipe" % tf, "rb")
            if nonblocking:
                fd = self.tracefile.fileno()
                fl = fcntl.fcntl(fd, fcntl.F_GETFL)
                fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        return self.tracefile

    def trace_fields(self, nonblocking=False):
        """Read from the kernel debug trace pipe and return a tuple of the
        fields (task, pid, cpu, flags, timestamp, msg) or None if no
        line was read (nonblocking=True)
        """
        while True:
            line = self.trace_readline(nonblocking)
            if not line and nonblocking: return (None,) * 6
            # don't print messages related to lost events
            if line.startswith(b"CPU:"): continue
            task = line[:16].lstrip()
            line = line[17:]
            ts_end = line.find(b":")
            try:
                pid, cpu, flags, ts = line[:ts_end].split()
            except Exception:
                continue
            cpu = cpu[1:-1]
            line = line[ts_end + 1:]
            sym_end = line.find(b":")
            msg = line[sym_end + 2:]
            try:
                return (task, int(pid), int(cpu), flags, float(ts), msg)
            except Exception:
                return ("Unknown", 0, 0, "Unknown", 0.0, "Unknown")

    def trace_readline(self, nonblocking=False):
        """Read from the kernel debug trace pipe and return one line"""
        trace = self.trace_open(nonblocking)
        line = None
        try:
            line = trace.readline(1024).rstrip()
        except IOError:
            pass
        return line

    def trace_print(self, fmt=None):
        """Read from the kernel debug trace pipe and print on stdout."""
        while True:
            if fmt:
                fields = self.trace_fields(nonblocking=False)
                if not fields: continue
                line = fmt.format(*fields)
            else:
                line = self.trace_readline(nonblocking=False)
            print(line)
            sys.stdout.flush()

    # -- symbols -----------------------------------------------------------------------
    @staticmethod
    def _sym_cache(pid):
        if pid < 0 and pid != -1:
            pid = -1
        if pid not in BPF._sym_caches:
            BPF._sym_caches[pid] = SymbolCache(pid)
        return BPF._sym_caches[pid]

    @staticmethod
    def sym(addr, pid, show_module=False, show_offset=False, demangle=True):
        """sym(addr, pid, show_module=False, show_offset=False)

        Translate a memory address into a function name for a pid (< 0: the kernel).
        Example output when both show_module and show_offset are True:
            "start_thread+0x202 [libpthread-2.24.so]"
        """
        name, offset, module = BPF._sym_cache(pid).resolve(addr, demangle)
        offset = b"+0x%x" % offset if show_offset and name is not None else b""
        name = name or b"[unknown]"
        name = name + offset
        module = b" [%s]" % os.path.basename(module) \
            if show_module and module is not None else b""
        return name + module

    @staticmethod
    def ksym(addr, show_module=False, show_offset=False):
        """Translate a kernel memory address into a kernel function name."""
        return BPF.sym(addr, -1, show_module, show_offset, False)

    @staticmethod
    def ksymname(name):
        """Translate a kernel name into an address; -1 when the name is unknown."""
        return BPF._sym_cache(-1).resolve_name(None, name)

    def num_open_kprobes(self):
        return len(self.kprobe_fds)

    def num_open_uprobes(self):
        return len(self.uprobe_fds)

    def num_open_tracepoints(self):
        return len(self.tracepoint_fds)

    # -- perf / ring buffers -----------------------------------------------------------
    def _add_perf_reader(self, reader):
        self.perf_buffers[id(reader)] = reader
        if self._perf_epoll is not None:
            self._perf_epoll.register(reader.fileno(), select.EPOLLIN)

    def _remove_perf_reader(self, reader):
        self.perf_buffers.pop(id(reader), None)
        if self._perf_epoll is not None:
            try:
                self._perf_epoll.unregister(reader.fileno())
            except (OSError, ValueError):
                pass

    def perf_buffer_poll(self, timeout=-1):
        """Poll from all open perf ring buffers, calling the callback that was
        provided when calling open_perf_buffer for each entry."""
        readers = list(self.perf_buffers.values())
        if not readers:
            return
        if len(readers) == 1:
            readers[0].poll(timeout)
            return
        if self._perf_epoll is None:
            self._perf_epoll = select.epoll()
            for r in readers:
                self._perf_epoll.register(r.fileno(), select.EPOLLIN)
        try:
            ready = self._perf_epoll.poll(timeout / 1000.0 if timeout >= 0 else -1)
        except InterruptedError:
            return
        fds = {fd for fd, _ in ready}
        for r in readers:
            if r.fileno() in fds:
                r.poll(0)

    def perf_buffer_consume(self):
        """Consume all open perf buffers, regardless of whether or not
        they currently contain events data."""
        for r in list(self.perf_buffers.values()):
            r.consume()

    def kprobe_poll(self, timeout=-1):
        """Deprecated. Use perf_buffer_poll instead."""
        self.perf_buffer_poll(timeout)

    def _open_ring_buffer(self, map, fn, ctx=None):
        from .ringbuf import RingBuffer
        if not self._ringbuf_manager:
            self._ringbuf_manager = RingBuffer()
        try:
            self._ringbuf_manager.add(map, fn)
        except OSError as e:
            raise Exception("Could not open ring buffer: %s" % e) from e

    def ring_buffer_poll(self, timeout=-1):
        """Poll from all open ringbuf buffers, calling the callback that was
        provided when calling open_ring_buffer for each entry."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        self._ringbuf_manager.poll(timeout)

    def ring_buffer_consume(self):
        """Consume all open ringbuf buffers, regardless of whether or not
        they currently contain events data."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        self._ringbuf_manager.consume()

    def free_bcc_memory(self):
        return 0

    @staticmethod
    def add_module(modname):
        """Add a library or exe to buildsym cache (no-op: no build-id cache here)."""

    def donothing(self):
        """the do nothing exit handler"""

    # -- teardown ----------------------------------------------------------------------
    def close(self):
        """Closes all associated files descriptors. Attached BPF programs are not
        detached."""
        self.funcs.clear()
        if self._obj is not None:
            self._obj.close()
        self.module = None

    def cleanup(self):
        """Detach everything, free perf/ring buffers and close the object (idempotent;
        also run at exit, like BCC)."""
        errors = []

        def attempt(fn, *a):
            try:
                fn(*a)
            except Exception as e:       # keep going: release everything we can
                errors.append(e)
        for k, v in list(self.kprobe_fds.items()):
            attempt(self.detach_kprobe_event, k)
        for k, v in list(self.uprobe_fds.items()):
            attempt(self.detach_uprobe_event, k)
        for k, v in list(self.tracepoint_fds.items()):
            attempt(self.detach_tracepoint, k)
        for k, v in list(self.raw_tracepoint_fds.items()):
            attempt(self.detach_raw_tracepoint, k)
        for k, v in list(self.kfunc_entry_fds.items()):
            attempt(self.detach_kfunc, k)
        for k, v in list(self.kfunc_exit_fds.items()):
            attempt(self.detach_kretfunc, k)
        for k, v in list(self.lsm_fds.items()):
            attempt(self.detach_lsm, k)
        while self._auto_links:
            attempt(self._auto_links.pop().close)

        # Clean up opened perf ring buffer and perf events
        table_keys = list(self.tables.keys())
        for key in table_keys:
            if isinstance(self.tables[key], PerfEventArray):
                attempt(self.tables.pop(key).close)
        for r in list(self.perf_buffers.values()):
            self._remove_perf_reader(r)
            attempt(r.close)
        if self._perf_epoll is not None:
            attempt(self._perf_epoll.close)
            self._perf_epoll = None
        for (ev_type, ev_config) in list(self.open_perf_events.keys()):
            attempt(self.detach_perf_event, ev_type, ev_config)
        if self.tracefile:
            attempt(self.tracefile.close)
            self.tracefile = None

        # Clean up ringbuf
        if self._ringbuf_manager:
            attempt(self._ringbuf_manager.close)
            self._ringbuf_manager = None

        self.close()
        self._cleaned = True
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.cleanup()
