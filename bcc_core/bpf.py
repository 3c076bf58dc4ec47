# The BPF class offers the Python API of BCC 0.26's BPF class (names, arguments, defaults,
# messages tools rely on), implemented on bcc_core's loader, links and readers instead of
# libbcc/LLVM.
"""``BPF``: BCC's Python front end on compiled BPF CO-RE objects.

``BPF(src_file="tool.bpf.o")`` loads the object (maps, globals, CO-RE relocations,
programs) and attaches what can be attached automatically.  ``BPF(text=bcc_c)`` and
``BPF(src_file="tool.c")`` take BCC C: it is translated to CO-RE C and compiled with
clang once (:func:`bcc_core.compat.build.object_for_text`), the object is cached, and
later starts load the cached object without clang or the translator; machines without
clang use objects recorded by ``bcc-core bundle`` (``$BCC_CORE_OBJECTS``).  What is
attached automatically:

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
BTF, into a record whose fields read as BCC's ctypes fields do (see
:mod:`bcc_core.events.struct_view`; a ctypes type given to ``event_types`` or
``set_event_type`` is used as it is).  BCC learns that struct from the C source; a
compiled object only has it in BTF when
something references it, e.g. ``struct event *unused_event __attribute__((unused));``.
The struct is found by name: explicit ``event_types={"events": "event"}`` (or
``table.set_event_type(...)``), else the first unique match among struct names derived
from the map name (``events`` -> ``event``, ``events_t``...), then ``event``, ``event_t``,
``data_t``, ``data``, then ``*_event``, ``*_event_t``, ``*_data_t``, then the struct a
global ``unused*`` pointer points to.
"""
import atexit
import weakref
import errno
import fcntl
import os
import select
import sys

from .attach import link as _link
from .load import features as _features
from .load import map as _map
from .errors import AttachError, BccCoreError, NotSupportedError, SourceFileError
from .table import PerfEventArray, RingBuf, Table, ct     # ct: ctypes, imported when first used
from .utils import ArgString, _assert_is_bytes, _str, get_online_cpus

_default_probe_limit = 1000
_num_open_probes = 0        # kprobes + uprobes attached by all BPF objects


def _get_num_open_probes():
    """How many kprobes/uprobes are attached now (used by tests)."""
    return _num_open_probes


DEBUGFS = "/sys/kernel/debug"
# tracefs under debugfs where that is mounted, else its own mount point
TRACEFS = next((d for d in (DEBUGFS + "/tracing",) if os.path.exists(d)),
               "/sys/kernel/tracing")

# BCC's debug flags; accepted for compatibility, there is no compiler to debug here
DEBUG_LLVM_IR, DEBUG_BPF, DEBUG_PREPROCESSOR, DEBUG_SOURCE = 0x1, 0x2, 0x4, 0x8
DEBUG_BPF_REGISTER_STATE, DEBUG_BTF = 0x10, 0x20


# -- kernel UAPI constants, grouped in classes as BCC's Python API has them ----------
def _numbered(names, first=0):
    """{name: first, next name: first + 1, ...} for a space-separated list."""
    return {n: v for v, n in enumerate(names.split(), first)}


def _bit_flags(names):
    """{name: 1 << 0, next name: 1 << 1, ...} for a space-separated list."""
    return {n: 1 << b for b, n in enumerate(names.split())}


def _constants(name, origin, values):
    return type(name, (object,), dict(values, __doc__="Values of %s." % origin))


PerfType = _constants("PerfType", "enum perf_type_id, linux/perf_event.h", _numbered(
    "HARDWARE SOFTWARE TRACEPOINT HW_CACHE RAW BREAKPOINT"))

PerfHWConfig = _constants("PerfHWConfig", "enum perf_hw_id, linux/perf_event.h", _numbered(
    "CPU_CYCLES INSTRUCTIONS CACHE_REFERENCES CACHE_MISSES BRANCH_INSTRUCTIONS "
    "BRANCH_MISSES BUS_CYCLES STALLED_CYCLES_FRONTEND STALLED_CYCLES_BACKEND "
    "REF_CPU_CYCLES"))

PerfSWConfig = _constants("PerfSWConfig", "enum perf_sw_ids, linux/perf_event.h", _numbered(
    "CPU_CLOCK TASK_CLOCK PAGE_FAULTS CONTEXT_SWITCHES CPU_MIGRATIONS PAGE_FAULTS_MIN "
    "PAGE_FAULTS_MAJ ALIGNMENT_FAULTS EMULATION_FAULTS DUMMY BPF_OUTPUT"))

PerfEventSampleFormat = _constants(
    "PerfEventSampleFormat", "enum perf_event_sample_format, linux/perf_event.h",
    _bit_flags("IP TID TIME ADDR READ CALLCHAIN ID CPU PERIOD STREAM_ID RAW BRANCH_STACK "
               "REGS_USER STACK_USER WEIGHT DATA_SRC IDENTIFIER TRANSACTION REGS_INTR "
               "PHYS_ADDR AUX CGROUP DATA_PAGE_SIZE CODE_PAGE_SIZE WEIGHT_STRUCT"))

BPFProgType = _constants("BPFProgType", "enum bpf_prog_type, linux/bpf.h", dict(
    _numbered("SOCKET_FILTER KPROBE SCHED_CLS SCHED_ACT TRACEPOINT XDP PERF_EVENT "
              "CGROUP_SKB CGROUP_SOCK LWT_IN LWT_OUT LWT_XMIT SOCK_OPS SK_SKB "
              "CGROUP_DEVICE SK_MSG RAW_TRACEPOINT CGROUP_SOCK_ADDR", 1),
    CGROUP_SOCKOPT=25, TRACING=26, LSM=29))

BPFAttachType = _constants("BPFAttachType", "enum bpf_attach_type, linux/bpf.h", _numbered(
    "CGROUP_INET_INGRESS CGROUP_INET_EGRESS CGROUP_INET_SOCK_CREATE CGROUP_SOCK_OPS "
    "SK_SKB_STREAM_PARSER SK_SKB_STREAM_VERDICT CGROUP_DEVICE SK_MSG_VERDICT "
    "CGROUP_INET4_BIND CGROUP_INET6_BIND CGROUP_INET4_CONNECT CGROUP_INET6_CONNECT "
    "CGROUP_INET4_POST_BIND CGROUP_INET6_POST_BIND CGROUP_UDP4_SENDMSG CGROUP_UDP6_SENDMSG "
    "LIRC_MODE2 FLOW_DISSECTOR CGROUP_SYSCTL CGROUP_UDP4_RECVMSG CGROUP_UDP6_RECVMSG "
    "CGROUP_GETSOCKOPT CGROUP_SETSOCKOPT TRACE_RAW_TP TRACE_FENTRY TRACE_FEXIT "
    "MODIFY_RETURN LSM_MAC TRACE_ITER CGROUP_INET4_GETPEERNAME CGROUP_INET6_GETPEERNAME "
    "CGROUP_INET4_GETSOCKNAME CGROUP_INET6_GETSOCKNAME XDP_DEVMAP CGROUP_INET_SOCK_RELEASE "
    "XDP_CPUMAP SK_LOOKUP XDP SK_SKB_VERDICT"))

XDPAction = _constants("XDPAction", "enum xdp_action, linux/bpf.h", _numbered(
    "XDP_ABORTED XDP_DROP XDP_PASS XDP_TX XDP_REDIRECT"))

XDPFlags = _constants("XDPFlags", "the XDP_FLAGS_* of linux/if_link.h", _bit_flags(
    "UPDATE_IF_NOEXIST SKB_MODE DRV_MODE HW_MODE REPLACE"))


def __getattr__(name):
    # USDT and USDTException live in bcc_core.usdt (imported when a script asks)
    if name in ("USDT", "USDTException"):
        from . import usdt
        return getattr(usdt, name)
    raise AttributeError(name)


class SymbolCache(object):
    """BCC's SymbolCache: resolve(addr, demangle) -> (name, offset, module);
    resolve_name(module, name) -> address or -1.  pid -1: the kernel."""

    def __init__(self, pid):
        self.pid = pid
        if pid == -1:
            from .symbols import kernel_symbols
            self._impl = kernel_symbols()
        else:
            from .symbols import ProcessSymbols
            self._impl = ProcessSymbols(pid)

    def resolve(self, addr, demangle):
        return self._impl.resolve(addr)

    def resolve_name(self, module, name):
        name = _assert_is_bytes(name)
        if self.pid == -1:
            return self._impl.address(name)
        from .symbols import elf_symbols, resolve_module
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


class _class_attr_once(object):
    """A class attribute computed on first use (ctypes types: ctypes is imported only
    by what needs it), then stored on the class in place of this descriptor."""

    def __init__(self, make):
        self.make = make

    def __get__(self, obj, cls):
        value = self.make()
        setattr(cls, self.make.__name__, value)
        return value


def _is_elf(data):
    return isinstance(data, (bytes, bytearray)) and bytes(data[:4]) == b"\x7fELF"


def _looks_like_c(path, head):
    """Whether BPF(src_file=path) is C text (BCC's meaning) rather than an object: not
    an ELF file, not named like an object (.o), and text (no NUL byte).  An empty .c
    file is C (no programs, as BCC); an empty or corrupt .o goes to the ELF parser,
    which says what is wrong with it."""
    if head[:4] == b"\x7fELF" or path.endswith(".o") or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 4       # a character cut at the 4096th byte
    return True


def _text_object(text, filename, src_dir, cflags, btf):
    """The .bpf.o for BCC C text (BPF(text=...), BPF(src_file="x.c")): bundled, cached or
    compiled by bcc_core.compat.build.object_for_text.  Under `bcc-core bundle`
    ($BCC_CORE_BUNDLE) the object is also recorded in the bundle, and unless --run
    ($BCC_CORE_BUNDLE_RUN) the script ends there: nothing is loaded."""
    from .compat import build as _build
    try:
        path, key = _build.object_for_text(text, cflags, filename, src_dir, btf)
    except BccCoreError as e:
        # one exception whose message starts with the user's file:line, raised from here:
        # the translator's and clang's internals are not the user's business
        raise e.with_traceback(None) from None
    bundle = os.environ.get(_build.BUNDLE_ENV)
    if bundle:
        dest = _build.record_bundle(bundle, path, key, text, cflags, filename)
        if not os.environ.get(_build.BUNDLE_RUN_ENV):
            sys.stdout.flush()
            sys.stderr.write("bcc-core bundle: recorded %s for %s (%d bytes of C); the "
                             "script stops here (bcc-core bundle --run lets it go on)\n"
                             % (dest, filename, len(text)))
            sys.stderr.flush()
            os._exit(0)
    return path


class BPF(object):
    # BCC also has the prog type, XDP action and XDP flag constants as BPF.<NAME>;
    # they are copied in from BPFProgType, XDPAction and XDPFlags after the class.

    _sym_caches = {}

    # headers BCC adds to a C program that mentions one of these words
    _auto_includes = dict((
        ("linux/time.h", ["time"]),
        ("linux/fs.h", ["fs", "file"]),
        ("linux/blkdev.h", ["bio", "request"]),
        ("linux/slab.h", ["alloc"]),
        ("linux/netdevice.h", ["sk_buff", "net_device"]),
    ))

    CLOCK_MONOTONIC = 1         # clockid of linux/time.h

    # the prefixes of syscall functions across kernels and architectures, as BCC lists
    _syscall_prefixes = [b"sys_", b"__x64_sys_", b"__x32_compat_sys_",
                         b"__ia32_compat_sys_", b"__arm64_sys_", b"__s390x_sys_",
                         b"__s390_sys_", b"__riscv_sys_"]

    @_class_attr_once
    def timespec():
        return type("timespec", (ct.Structure,),
                    {"_fields_": [('tv_sec', ct.c_long), ('tv_nsec', ct.c_long)]})

    @classmethod
    def monotonic_time(cls):
        """monotonic_time()

        Nanoseconds of CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns), as a float.
        """
        import time
        return float(time.clock_gettime_ns(time.CLOCK_MONOTONIC))

    @classmethod
    def generate_auto_includes(cls, program_words):
        """The #include lines for the headers whose keywords occur in program_words."""
        wanted = [hdr for hdr, words in cls._auto_includes.items()
                  if any(w in word for w in words for word in program_words)]
        return "".join("#include <%s>\n" % hdr for hdr in wanted)

    Table = Table       # BCC still exposes it as BPF.Table

    class Function(object):
        """A loaded program: ``name`` (bytes) and its file descriptor ``fd``."""

        def __init__(self, bpf, name, fd):
            self.bpf, self.name, self.fd = bpf, name, fd

    @staticmethod
    def _find_file(filename):
        """``filename`` if it exists, else the same name next to the running script
        (the directory of sys.argv[0]); raises when neither exists."""
        if not filename or os.path.isfile(filename):
            return filename
        script_dir = os.path.abspath(os.path.dirname(bytes(ArgString(sys.argv[0]))))
        beside = b"/".join([script_dir, filename])
        if os.path.isfile(beside):
            return beside
        name = _str(filename)
        if os.path.isdir(filename):
            raise SourceFileError(errno.EISDIR, "BPF(src_file=%r): a directory, not a "
                                  "BPF object or a C file" % name, name)
        also = "" if os.path.isabs(name) else " (nor %r beside the script)" % _str(beside)
        raise SourceFileError(errno.ENOENT, "BPF(src_file=%r): no such file%s"
                              % (name, also), name)

    @staticmethod
    def find_exe(bin_path):
        """The path of the executable ``bin_path``: itself if it contains a directory
        part (and is executable), else the first match on $PATH; None if not found."""
        def runnable(p):
            return os.path.isfile(p) and os.access(p, os.X_OK)

        if os.path.dirname(bin_path):
            return bin_path if runnable(bin_path) else None
        as_bytes = isinstance(bin_path, bytes)
        for d in os.environ["PATH"].split(os.pathsep):
            d = d.strip('"')
            candidate = os.path.join(d.encode() if as_bytes else d, bin_path)
            if runnable(candidate):
                return candidate
        return None

    def __init__(self, src_file=b"", hdr_file=b"", text=None, debug=0,
                 cflags=[], usdt_contexts=[], allow_rlimit=True, device=None,
                 attach_usdt_ignore_pid=False, obj=None, rodata=None, config=None,
                 btf=None, kconfig=None, autoattach=True, event_types=None,
                 autoload=None, reuse_maps=None):
        """Load a BPF object (compiled, or BCC C compiled here once) and auto-attach
        its programs.

        Args (BCC's, plus bcc-core's):
            src_file: path of a compiled ``.bpf.o``, or of BCC C (any other file),
                handled as ``text`` (its directory is searched for ``#include "..."``)
            text: BCC C (str or bytes), translated to CO-RE C and compiled with clang
                against the running kernel's BTF once, then cached; found without
                clang in ``$BCC_CORE_OBJECTS`` (see ``bcc-core bundle``); or the
                bytes of an object (an ELF image)
            cflags: clang flags for ``text`` / C ``src_file`` (``-DX=1``, ``-I``...)
            obj: the object's bytes (alias of an ELF ``text``)
            rodata / config: ``{"const_volatile_global": value}`` set before load
            btf: relocate CO-RE against this BTF file instead of the running kernel's
            kconfig: ``{"CONFIG_X": value}`` overrides for ``__kconfig`` externs
            autoattach: attach programs automatically (True, as BCC)
            event_types: ``{"map name": "struct name" or ctypes type}`` for event()
            autoload: ``{"prog": bool}`` which programs to load (default: SEC() says)
            reuse_maps: ``{"map": fd or pinned path}`` use existing maps (e.g. BCC's
                pinned --cgroupmap/--mntnsmap filter maps)
            hdr_file, debug, allow_rlimit, device: accepted and ignored
        """
        self.debug = debug
        self.module = None
        self.funcs = {}             # name (bytes) -> BPF.Function
        self.tables = {}            # what b["name"] returned, cached
        # attachments, by what BCC keys them with
        self.kprobe_fds = {}        # event name -> {program name -> link}
        self.uprobe_fds = {}
        self.tracepoint_fds = {}
        self.raw_tracepoint_fds = {}
        self.kfunc_entry_fds = {}
        self.kfunc_exit_fds = {}
        self.lsm_fds = {}
        self.fmod_ret_fds = {}
        self.open_perf_events = {}  # (type, config) -> {cpu -> link}
        self._auto_links = []
        self.perf_buffers = {}
        self._perf_epoll = None
        self._ringbuf_manager = None
        self.tracefile = None
        self._obj = None
        self._deferred = {}
        self._event_types = dict(event_types or {})
        self._cleaned = False
        _at_exit(self)

        data = obj
        source = None               # BCC C: (text, file name for messages, its dir)
        if text is not None and data is None:
            if _is_elf(text):
                data = bytes(text)
            else:       # BCC's BPF(text='') (scripts use it for ksymname...): no programs
                if not isinstance(text, (str, bytes, bytearray)):
                    raise TypeError("BPF(text=...) takes str or bytes, not %s"
                                    % type(text).__name__)
                source = (text, "<text>", None)
        if usdt_contexts:
            if source is None:
                raise NotSupportedError("usdt_contexts= needs BCC C (text= or a .c "
                                        "src_file=): the argument readers are C")
            # as BCC: the functions reading the enabled probes' arguments come first
            usdt_text = "".join(u.get_text() for u in usdt_contexts)
            t = source[0]
            source = ((usdt_text.encode() if isinstance(t, (bytes, bytearray)) else
                       usdt_text) + t,) + source[1:]
        src_file = _assert_is_bytes(src_file)
        path = None
        if src_file and source is None:
            src_file = BPF._find_file(src_file)
            path = _str(src_file)
            try:
                with open(path, "rb") as f:
                    head = f.read(4096)
            except OSError as e:
                raise SourceFileError(e.errno, "BPF(src_file=%r): %s"
                                      % (path, e.strerror), path) from None
            # else an object, or a file that is not one (empty, truncated, another
            # format): the ELF parser says what is wrong with it
            if _looks_like_c(path, head):
                with open(path, "rb") as f:
                    source = (f.read(), path, os.path.dirname(os.path.abspath(path)))
                path = None
        if src_file and source is None and usdt_contexts:
            raise NotSupportedError("usdt_contexts= needs BCC C (text= or a .c src_file=)")
        if source is not None:
            path = _text_object(*source, cflags=cflags, btf=btf)
        if data is None and path is None:
            raise Exception("BPF() needs text= (BCC C), src_file= (a .c file or a "
                            "compiled .bpf.o) or obj=bytes")
        self._load(path, data, rodata if rodata is not None else config, btf, kconfig,
                   autoload, reuse_maps)
        self.module = self._obj
        for name, prog in self._obj.programs.items():
            if prog.fd >= 0:
                self.funcs[name.encode()] = BPF.Function(self, name.encode(), prog.fd)
        if autoattach or usdt_contexts:
            try:
                if autoattach:
                    self._trace_autoload()
                for u in usdt_contexts or ():
                    u.attach_uprobes(self, attach_usdt_ignore_pid)
            except BaseException:
                self.cleanup()
                raise

    # -- loading -----------------------------------------------------------------------
    def _load(self, path, data, rodata, btf, kconfig, autoload=None, reuse_maps=None):
        from .load.loader import Object
        from .obj.sec import EXT, LSM, TRACING
        kw = dict(path=path, data=data, rodata=rodata, btf=btf, kconfig=kconfig,
                  reuse_maps=reuse_maps)
        try:
            self._obj = Object(autoload=autoload, **kw)
            return
        except NotSupportedError as e:
            first = e
        # the kernel cannot load some programs (no trampolines...): load the rest and
        # raise the reason when those programs are attached
        from .obj.cache import load_spec
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

    def _prog(self, fn_name, prog_type=None):
        """The loaded program fn_name.  With prog_type (what an attach call implies):
        a program whose section names no target (BCC C's plain functions are
        SEC("kprobe")) is loaded again as that type if it is another, as BCC loads a
        function with the type of the attach that asks for it."""
        name = _str(fn_name)
        prog = self._obj.programs.get(name) if self._obj else None
        if prog is None:
            raise Exception("Unknown program %s" % name)
        if prog.fd < 0:
            err = self._deferred.get(name)
            if err is not None:
                raise NotSupportedError(str(err)) from err
            raise Exception("Program %s is not loaded" % name)
        if prog_type is not None and prog.prog_type != prog_type and \
                prog.spec.sec_def is not None and prog.section == prog.spec.sec_def.prefix:
            self._obj.reload_program(name, prog_type)
            fn = self.funcs.get(name.encode())
            if fn is not None:
                fn.fd = prog.fd
        return prog

    def load_funcs(self, prog_type=BPFProgType.KPROBE):
        """Return the handles of all (loaded) programs of the object."""
        return [self.load_func(n, prog_type) for n in self._obj.programs
                if self._obj.programs[n].fd >= 0]

    def load_func(self, func_name, prog_type=None, device=None, attach_type=-1):
        """The loaded program ``func_name`` as a BPF.Function (.fd, .name).  The program
        type comes from its SEC() name; a program whose section names no target is
        loaded again as ``prog_type`` when that differs (see _prog)."""
        func_name = _assert_is_bytes(func_name)
        fn = self.funcs.get(func_name)
        if fn is not None and prog_type is not None:
            self._prog(func_name, prog_type)      # loaded again if of another type
        if fn is None:
            fn = BPF.Function(self, func_name, self._prog(func_name, prog_type).fd)
            self.funcs[func_name] = fn
        return fn

    def dump_func(self, func_name):
        """The instructions of program ``func_name`` as raw bytes."""
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

    # C type names as BCC's table type descriptions spell them -> ctypes types
    @_class_attr_once
    def str2ctype():
        pairs = ((u"char", (ct.c_byte, ct.c_ubyte)), (u"short", (ct.c_short, ct.c_ushort)),
                 (u"int", (ct.c_int, ct.c_uint)), (u"long", (ct.c_long, ct.c_ulong)),
                 (u"long long", (ct.c_longlong, ct.c_ulonglong)),
                 (u"__int128", (ct.c_int64 * 2, ct.c_uint64 * 2)))
        return dict(
            [(u"_Bool", ct.c_bool), (u"char", ct.c_char), (u"wchar_t", ct.c_wchar)]
            + [(u"unsigned " * unsigned + name, typ) for name, pair in pairs
               for unsigned, typ in enumerate(pair) if (name, unsigned) != (u"char", 0)]
            + [(u"float", ct.c_float), (u"double", ct.c_double),
               (u"long double", ct.c_longdouble)])

    # -- tables ------------------------------------------------------------------------
    def _btf_ctype(self, m, tid, size):
        from .btf.ctypes_btf import ctype_for, sized_int
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
            return "c_int", "c_int"         # resolved by the table when first used
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

    # b["name"]: the table objects, created on first use and then cached
    def __getitem__(self, key):
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = self.get_table(key)
        return table

    def __setitem__(self, key, leaf):
        self.tables[key] = leaf

    def __len__(self):
        return len(self.tables)

    def __delitem__(self, key):
        t = self.tables.pop(key)
        if isinstance(t, PerfEventArray):
            t.close()

    def __iter__(self):
        return iter(self.tables)

    def __contains__(self, key):
        return key in self.tables or (self._obj is not None and
                                      _str(key) in self._obj.maps)

    def _event_class_for(self, table, name=None):
        """The record class of a perf/ring buffer table's records (see module doc)."""
        from . import btf as _btf
        from .events.struct_view import record_for
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
                    return record_for(b, structs[n])
            raise Exception("no struct '%s' in the BTF of the object (it has: %s)"
                            % (want, ", ".join(sorted(structs)) or "none"))
        hint = b.find("__bcc_event__" + mname, _btf.KIND_FUNC)
        if hint:        # bcc_core.compat names the type perf_submit() gave this map
            proto = b.type(b.type(hint[0]).type)
            if proto.params:
                pt = b.type(b.skip_mods(proto.params[0][1]))
                if pt.kind == _btf.KIND_PTR:
                    return record_for(b, b.skip_mods(pt.type))
        sing = mname[:-1] if mname.endswith("s") else mname
        tiers = [[mname, sing, mname + "_t", sing + "_t"],
                 ["event", "event_t", "data_t", "data"]]
        for tier in tiers:
            found = [n for n in dict.fromkeys(tier) if n in structs]
            if found:
                return record_for(b, structs[found[0]])
        own = [n for n in structs if not n.startswith(_KERNEL_STRUCT_PREFIXES)]
        found = [n for n in own if n.endswith(("_event", "_event_t", "_data_t"))]
        if len(found) == 1:
            return record_for(b, structs[found[0]])
        if len(set(ptr_targets)) == 1:
            return record_for(b, ptr_targets[0])
        raise Exception(
            "cannot tell which struct the records of '%s' are%s: declare one in the "
            "BPF C so that it is in BTF (e.g. `struct event *unused_event "
            "__attribute__((unused));`), or name it: BPF(..., event_types={'%s': "
            "'struct_name'}) or b['%s'].set_event_type(ctypes_type)"
            % (mname, " (candidates: %s)" % ", ".join(found) if found else "",
               mname, mname))

    # -- attach helpers ----------------------------------------------------------------
    @staticmethod
    def _need_function(fn):
        if not isinstance(fn, BPF.Function):
            raise Exception("arg 1 must be of type BPF.Function")

    @staticmethod
    def _prog_attach_cmd(cmd, fields, verb, attach_type):
        """BPF_PROG_ATTACH/DETACH with attr = (target fd, prog fd, type[, flags])."""
        from . import _sys
        a = _sys.new_attr()
        words = _sys.ffi.cast("uint32_t *", a)
        for i, v in enumerate(fields):
            words[i] = v
        ret, err = _sys.bpf_errno(cmd, a)
        if ret < 0:
            raise Exception("Failed to %s BPF function with attach_type %s: %s"
                            % (verb, attach_type, os.strerror(err)))

    @staticmethod
    def attach_func(fn, attachable_fd, attach_type, flags=0):
        """Attach program ``fn`` to ``attachable_fd`` (a cgroup, sockmap...) with
        BPF_PROG_ATTACH."""
        from . import _sys
        BPF._need_function(fn)
        BPF._prog_attach_cmd(_sys.BPF_PROG_ATTACH,
                             (attachable_fd, fn.fd, attach_type, flags), "attach",
                             attach_type)

    @staticmethod
    def detach_func(fn, attachable_fd, attach_type):
        """Undo attach_func (BPF_PROG_DETACH)."""
        from . import _sys
        BPF._need_function(fn)
        BPF._prog_attach_cmd(_sys.BPF_PROG_DETACH, (attachable_fd, fn.fd, attach_type),
                             "detach", attach_type)

    @staticmethod
    def attach_raw_socket(fn, dev):
        """Open a raw packet socket on interface ``dev`` with socket filter ``fn``
        attached; its fd is left in ``fn.sock``."""
        import socket
        BPF._need_function(fn)
        dev = _str(dev)
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
        """Attach ``fn`` (``b.load_func(name, BPF.XDP)``) to network device ``dev``
        (name or index) with XDP_FLAGS_* ``flags`` (BPF.XDP_FLAGS_SKB_MODE...).  A BPF
        link where the kernel has XDP links: it stays until remove_xdp() or the
        process's exit; netlink otherwise (stays until remove_xdp())."""
        from .attach import xdp
        if not isinstance(fn, BPF.Function):
            raise TypeError("attach_xdp(dev, fn): fn is b.load_func(name, BPF.XDP)")
        xdp.attach(_str(dev) if isinstance(dev, bytes) else dev, fn.fd, flags,
                   _str(fn.name))

    @staticmethod
    def remove_xdp(dev, flags=0):
        """Remove the XDP program from ``dev`` (BCC's remove_xdp)."""
        from .attach import xdp
        xdp.detach(_str(dev) if isinstance(dev, bytes) else dev, flags)

    @staticmethod
    def get_kprobe_functions(event_re):
        """The kernel functions (a set of bytes) matching the regular expression
        ``event_re`` that a kprobe may go on: text symbols of /proc/kallsyms outside the
        init and irq-entry sections, minus the kprobe blacklist and symbol kinds that
        cannot be probed (perf internals, syscall trampolines, .cold parts...).  Empty
        on a kernel without kprobes: no function can be probed there (so tools that
        fall back to a tracepoint when a function is not found, as tcpdrop does, do)."""
        from .load import features
        if not features.kprobes()[0]:
            return set()
        try:
            with open("%s/kprobes/blacklist" % DEBUGFS, "rb") as f:
                banned = {ln.split()[1] for ln in f if ln.strip()}
        except IOError as e:
            if e.errno not in (errno.EPERM, errno.ENOENT):
                raise
            banned = set()
        import re
        wanted = re.compile(_assert_is_bytes(event_re))
        section_end = {b"__init_begin": b"__init_end",
                       b"__irqentry_text_start": b"__irqentry_text_end"}
        markers = set(section_end) | set(section_end.values())
        unprobeable = (b"_kbl_addr_", b"__perf", b"perf_", b"__SCT__")
        cold = re.compile(rb"\.cold(\.\d+)?$")
        found, skip_to, seen = set(), None, set()
        with open("/proc/kallsyms", "rb") as f:
            for line in f:
                kind, sym = line.split()[1:3]
                if skip_to is not None:             # inside a skipped section
                    if sym == skip_to:
                        skip_to = None
                    continue
                if sym in markers:
                    if sym in section_end and sym not in seen:
                        seen.add(sym)
                        skip_to = section_end[sym]
                    continue
                if kind.lower() not in (b"t", b"w") or sym.startswith(unprobeable) \
                        or cold.search(sym) or sym in banned:
                    continue
                if wanted.match(sym):
                    found.add(sym)
        return found

    def _check_probe_quota(self, num_new_probes):
        if _num_open_probes + num_new_probes > BPF.get_probe_limit():
            raise Exception("Number of open probes would exceed global quota")

    @staticmethod
    def get_probe_limit():
        """How many kprobes + uprobes may be open at once: $BCC_PROBE_LIMIT, else 1000."""
        limit = os.environ.get("BCC_PROBE_LIMIT", "")
        return int(limit) if limit.isdigit() else _default_probe_limit

    @staticmethod
    def _count_probes(delta):
        global _num_open_probes
        _num_open_probes += delta

    def _add_kprobe_fd(self, ev_name, fn_name, fd):
        self.kprobe_fds.setdefault(ev_name, {})[fn_name] = fd
        self._count_probes(1)

    def _del_kprobe_fd(self, ev_name, fn_name):
        self.kprobe_fds[ev_name].pop(fn_name)
        self._count_probes(-1)

    def _add_uprobe_fd(self, name, fd):
        self.uprobe_fds[name] = fd
        self._count_probes(1)

    def _del_uprobe_fd(self, name):
        self.uprobe_fds.pop(name)
        self._count_probes(-1)

    def get_syscall_prefix(self=None):
        """The prefix of this kernel's syscall functions (b"__x64_sys_"...): the first of
        syscall_names.PREFIXES under which kallsyms has the bpf syscall, else b"sys_"."""
        from .attach.syscall_names import syscall_prefix
        return syscall_prefix().encode()

    def get_syscall_fnname(self, name):
        """The kernel function of syscall ``name`` (b"clone" -> b"__x64_sys_clone")."""
        return BPF.get_syscall_prefix() + _assert_is_bytes(name)

    def fix_syscall_fnname(self, name):
        """Give a syscall function name written with any known prefix this kernel's."""
        name = _assert_is_bytes(name)
        from .attach.syscall_names import PREFIXES
        old = next((p.encode() for p in PREFIXES if name.startswith(p.encode())), None)
        return name if old is None else self.get_syscall_fnname(name[len(old):])

    @staticmethod
    def _no_kprobes(kind, fn_name, event):
        ok, why = _features.kprobes()
        if ok:
            return None
        return NotSupportedError(
            "cannot attach %s to %s '%s': %s; use a tracepoint (attach_tracepoint, e.g. "
            "syscalls:sys_enter_* for system calls) or a raw tracepoint instead"
            % (_str(fn_name), kind, _str(event), why))

    @staticmethod
    def _kprobe_event_name(kind, event):
        """BCC's key for a kprobe (kind b"p") or kretprobe (b"r") on ``event``."""
        import re
        return kind + b"_" + re.sub(rb"[+.]", b"_", event)

    @staticmethod
    def _not_traceable(kind, fn_name, what, cause=None):
        text = ("Failed to attach BPF program %s to %s %s, it's not traceable (either "
                "non-existing, inlined, or marked as \"notrace\")" % (fn_name, kind, what))
        if cause is not None:
            text += ": %s" % cause
        return Exception(text)

    def _attach_kprobe_kind(self, retprobe, event, event_off, fn_name, event_re,
                            maxactive):
        kind = "kretprobe" if retprobe else "kprobe"
        event = _assert_is_bytes(event)
        fn_name = _assert_is_bytes(fn_name)
        event_re = _assert_is_bytes(event_re)
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        err = self._no_kprobes(kind, fn_name, event or event_re)
        if err:
            raise err
        if event_re:
            # one probe on every matching kernel function; fail only if none attached
            funcs = BPF.get_kprobe_functions(event_re)
            if not retprobe:
                self._check_probe_quota(len(funcs))
            failed = []
            for func in funcs:
                try:
                    if retprobe:
                        self.attach_kretprobe(event=func, fn_name=fn_name,
                                              maxactive=maxactive)
                    else:
                        self.attach_kprobe(event=func, fn_name=fn_name)
                except Exception:
                    failed.append(func)
            if len(failed) == len(funcs):
                raise self._not_traceable(kind, fn_name, b"/".join(failed))
            return None
        ev_name = self._kprobe_event_name(b"r" if retprobe else b"p", event)
        if fn_name in self.kprobe_fds.get(ev_name, ()):
            return self         # already attached there: once is what the user meant
        self._check_probe_quota(1)
        fn = self.load_func(fn_name, BPF.KPROBE)
        try:
            from .attach import probe as _probe
            lk = _probe.attach_kprobe(prog, _str(event), event_off, retprobe=retprobe)
        except (AttachError, OSError) as e:
            raise self._not_traceable(kind, fn_name, event, e) from e
        self._add_kprobe_fd(ev_name, fn.name, lk)
        return self

    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""):
        """Run program ``fn_name`` when kernel function ``event`` (at ``event_off``) is
        entered, or every function matching the regular expression ``event_re``."""
        return self._attach_kprobe_kind(False, event, event_off, fn_name, event_re, 0)

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0):
        """Run program ``fn_name`` when kernel function ``event`` (or any function
        matching ``event_re``) returns."""
        return self._attach_kprobe_kind(True, event, 0, fn_name, event_re, maxactive)

    def detach_kprobe_event(self, ev_name):
        ev_name = _assert_is_bytes(ev_name)
        for fn_name in list(self.kprobe_fds[ev_name]):
            self.detach_kprobe_event_by_fn(ev_name, fn_name)

    def detach_kprobe_event_by_fn(self, ev_name, fn_name):
        ev_name = _assert_is_bytes(ev_name)
        fn_name = _assert_is_bytes(fn_name)
        by_prog = self.kprobe_fds.get(ev_name)
        if by_prog is None:
            raise Exception("Kprobe %s is not attached" % ev_name)
        by_prog[fn_name].close()
        self._del_kprobe_fd(ev_name, fn_name)
        if not by_prog:
            del self.kprobe_fds[ev_name]

    def _detach_kprobe_kind(self, kind, event, fn_name):
        ev_name = self._kprobe_event_name(kind, _assert_is_bytes(event))
        if fn_name:
            self.detach_kprobe_event_by_fn(ev_name, _assert_is_bytes(fn_name))
        else:
            self.detach_kprobe_event(ev_name)

    def detach_kprobe(self, event, fn_name=None):
        self._detach_kprobe_kind(b"p", event, fn_name)

    def detach_kretprobe(self, event, fn_name=None):
        self._detach_kprobe_kind(b"r", event, fn_name)

    @classmethod
    def _check_path_symbol(cls, module, symname, addr, pid, sym_off=0):
        from .symbols import resolve_symbol
        path, off = resolve_symbol(module, symname, addr, pid, sym_off)
        return path.encode(), off

    @staticmethod
    def find_library(libname):
        from .symbols import find_library
        return find_library(libname)

    @staticmethod
    def get_tracepoints(tp_re):
        """All "category:event" tracepoint names matching the regular expression."""
        events = os.path.join(_features.tracefs(mount=True) or TRACEFS, "events")
        import re
        pattern = re.compile(_str(tp_re))
        names = []
        for category in os.listdir(events):
            cdir = os.path.join(events, category)
            if os.path.isdir(cdir):
                names += ["%s:%s" % (category, ev) for ev in os.listdir(cdir)
                          if os.path.isdir(os.path.join(cdir, ev))]
        return [n for n in names if pattern.match(n)]

    @staticmethod
    def tracepoint_exists(category, event):
        return _link.tracepoint_exists(_str(category), _str(event))

    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        """attach_tracepoint(tp="", tp_re="", fn_name="")

        Attach program ``fn_name`` to the tracepoint ``tp`` ("category:event", e.g.
        "sched:sched_switch"), or to each tracepoint whose name matches ``tp_re``.
        """
        tp = _assert_is_bytes(tp)
        tp_re = _assert_is_bytes(tp_re)
        fn_name = _assert_is_bytes(fn_name)
        if tp_re:
            for name in BPF.get_tracepoints(tp_re):
                self.attach_tracepoint(tp=name, fn_name=fn_name)
            return None
        prog = self._prog(fn_name, BPFProgType.TRACEPOINT)
        category, _, event = tp.partition(b":")
        lk = _link.attach_tracepoint(prog, _str(category), _str(event))
        self.load_func(fn_name)
        self.tracepoint_fds[tp] = lk
        return self

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        """attach_raw_tracepoint(tp="", fn_name="")

        Attach program ``fn_name`` to raw tracepoint ``tp`` (an event name without its
        category, e.g. "sched_switch"); a tracepoint takes one raw program at most.
        """
        tp = _assert_is_bytes(tp)
        fn_name = _assert_is_bytes(fn_name)
        if tp in self.raw_tracepoint_fds:
            raise Exception("Raw tracepoint %s has been attached" % tp)
        lk = _link.attach_raw_tracepoint(self._prog(fn_name, BPFProgType.RAW_TRACEPOINT), _str(tp))
        self.load_func(fn_name)
        self.raw_tracepoint_fds[tp] = lk
        return self

    def detach_raw_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        lk = self.raw_tracepoint_fds.pop(tp, None)
        if lk is None:
            raise Exception("Raw tracepoint %s is not attached" % tp)
        lk.close()

    @staticmethod
    def add_prefix(prefix, name):
        if not name.startswith(prefix):
            name = prefix + name
        return name

    @staticmethod
    def support_kfunc():
        if os.uname().machine != 'x86_64':
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

    @staticmethod
    def _detach_btf_prog(prefix, fn_name, links, label):
        fn_name = BPF.add_prefix(prefix, _assert_is_bytes(fn_name))
        lk = links.pop(fn_name, None)
        if lk is None:
            raise Exception("%s %s is not attached" % (label, fn_name))
        lk.close()

    def detach_kfunc(self, fn_name=b""):
        self._detach_btf_prog(b"kfunc__", fn_name, self.kfunc_entry_fds, "Kernel entry func")

    def detach_kretfunc(self, fn_name=b""):
        self._detach_btf_prog(b"kretfunc__", fn_name, self.kfunc_exit_fds, "Kernel exit func")

    def attach_kfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kfunc__", fn_name, self.kfunc_entry_fds,
                                     "kernel entry func")

    def attach_kretfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kretfunc__", fn_name, self.kfunc_exit_fds,
                                     "kernel exit func")

    @staticmethod
    def support_fmod_ret():
        """True if the kernel has fmod_ret programs (BPF_MODIFY_RETURN) and can attach
        them (BPF trampolines)."""
        return BPF.kernel_enum_has_val("bpf_attach_type", "BPF_MODIFY_RETURN") == 1 \
            and bool(_features.trampolines()[0])

    def attach_fmod_ret(self, fn_name=b""):
        return self._attach_btf_prog(b"kmod_ret__", fn_name, self.fmod_ret_fds,
                                     "fmod_ret func")

    def detach_fmod_ret(self, fn_name=b""):
        self._detach_btf_prog(b"kmod_ret__", fn_name, self.fmod_ret_fds, "Fmod_ret func")

    def detach_lsm(self, fn_name=b""):
        self._detach_btf_prog(b"lsm__", fn_name, self.lsm_fds, "LSM")

    def attach_lsm(self, fn_name=b""):
        return self._attach_btf_prog(b"lsm__", fn_name, self.lsm_fds, "LSM")

    @staticmethod
    def support_raw_tracepoint():
        """True if the kernel has raw tracepoints (checked through a kallsyms symbol of
        their implementation, whose name changed over time)."""
        return any(BPF.ksymname(sym) != -1
                   for sym in ("bpf_find_raw_tracepoint", "bpf_get_raw_tracepoint"))

    @staticmethod
    def support_raw_tracepoint_in_module():
        # the kernel tracks module tracepoints for BPF since bpf_trace_modules exists
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

    @staticmethod
    def kernel_enum_has_val(enum_name, value_name):
        """1 if the kernel's enum ``enum_name`` (BTF) has the value ``value_name``, 0 if
        not, -1 if the kernel has no such enum (or no BTF)."""
        from . import btf as _btf
        try:
            kb = _btf.kernel_btf()
        except Exception:
            return -1
        ename, vname = _str(enum_name), _str(value_name)
        tids = [t for kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64)
                for t in (kb.find(ename, kind) or [])]
        if not tids:
            return -1
        return 1 if any(name == vname for t in tids
                        for name, _ in (kb.type(t).values or ())) else 0

    def detach_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        lk = self.tracepoint_fds.pop(tp, None)
        if lk is None:
            raise Exception("Tracepoint %s is not attached" % tp)
        lk.close()

    def _attach_perf_event(self, prog, ev_type, ev_config, sample_period, sample_freq,
                           pid, cpu, group_fd):
        from . import _sys
        from ._sys import PERF_FLAG_FD_CLOEXEC
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
        prog = self._prog(fn_name, BPFProgType.PERF_EVENT)
        self.load_func(fn_name, BPF.PERF_EVENT)
        links = {}
        try:
            for c in ([cpu] if cpu >= 0 else get_online_cpus()):
                links[c] = self._attach_perf_event(prog, ev_type, ev_config, sample_period,
                                                   sample_freq, pid, c, group_fd)
        except BaseException:
            for lk in links.values():     # all CPUs or none
                lk.close()
            raise
        self.open_perf_events[(ev_type, ev_config)] = links

    def attach_perf_event_raw(self, attr=-1, fn_name=b"", pid=-1, cpu=-1, group_fd=-1):
        from . import _sys
        from ._sys import PERF_FLAG_FD_CLOEXEC
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name, BPFProgType.PERF_EVENT)
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
        links = self.open_perf_events.pop((ev_type, ev_config), None)
        if links is None:
            raise Exception("Perf event type {} config {} not attached".format(
                ev_type, ev_config))
        for lk in links.values():
            lk.close()

    @staticmethod
    def get_user_functions(name, sym_re):
        """Names of the functions of binary/library ``name`` matching ``sym_re``."""
        return {f for f, _ in BPF.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_addresses(name, sym_re):
        """Addresses of the functions of ``name`` matching ``sym_re``."""
        return {a for _, a in BPF.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_functions_and_addresses(name, sym_re):
        """[(function name, address)] for the symbols of ``name`` matching ``sym_re``."""
        from .symbols import elf_symbols, resolve_module
        import re
        pattern = re.compile(_assert_is_bytes(sym_re))
        path = resolve_module(name)
        if path is None:
            raise Exception("Error %d enumerating symbols in %s" % (-1, _str(name)))
        return [(sym, addr) for addr, _size, sym in elf_symbols(path).sorted
                if pattern.match(sym)]

    def _get_uprobe_evname(self, prefix, path, addr, pid):
        # BCC's key of a uprobe; per-process probes get the pid too, so probes of the
        # same address in different processes are told apart
        import re
        parts = [prefix, re.sub(b"[^a-zA-Z0-9_]", b"_", path), b"0x%x" % addr]
        if pid != -1:
            parts.append(b"%d" % pid)
        return b"_".join(parts)

    def _attach_uprobe_kind(self, retprobe, name, sym, sym_re, addr, fn_name, pid,
                            sym_off):
        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        sym_re = _assert_is_bytes(sym_re)
        fn_name = _assert_is_bytes(fn_name)
        if sym_re:
            addrs = BPF.get_user_addresses(name, sym_re)
            if not retprobe:
                self._check_probe_quota(len(addrs))
            for a in addrs:
                if retprobe:
                    self.attach_uretprobe(name=name, addr=a, fn_name=fn_name, pid=pid)
                else:
                    self.attach_uprobe(name=name, addr=a, fn_name=fn_name, pid=pid)
            return None
        path, addr = BPF._check_path_symbol(name, sym, addr, pid, sym_off)
        self._check_probe_quota(1)
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        self.load_func(fn_name, BPF.KPROBE)
        key = self._get_uprobe_evname(b"r" if retprobe else b"p", path, addr, pid)
        try:
            from .attach import probe as _probe
            lk = _probe.attach_uprobe(prog, _str(path), addr, retprobe=retprobe, pid=pid)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF to %s: %s"
                            % ("uretprobe" if retprobe else "uprobe", e)) from e
        self._add_uprobe_fd(key, lk)
        return self

    def _attach_usdt(self, path, offset, ref_ctr_offset, fn_name, pid):
        """A USDT probe location: a uprobe at the file offset, its semaphore counted by
        the kernel (ref_ctr_offset)."""
        from .attach import probe as _probe
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        key = self._get_uprobe_evname(b"p", path, offset, pid)
        if key in self.uprobe_fds:
            return
        lk = _probe.attach_uprobe(prog, _str(path), offset, pid=pid,
                                  ref_ctr_off=ref_ctr_offset)
        self._add_uprobe_fd(key, lk)

    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                      fn_name=b"", pid=-1, sym_off=0):
        """attach_uprobe(name="", sym="", sym_re="", addr=None, fn_name="", pid=-1,
        sym_off=0)

        Attach program ``fn_name`` to the entry of function ``sym`` (plus ``sym_off``
        bytes) of ``name``: a binary or library given by path, or a library by short
        name ("c", "pthread").  Instead of ``sym``: ``addr``, a virtual address in
        ``name``, or ``sym_re``, a regular expression for several functions.  With
        ``pid`` other than -1 only that process is traced.
        """
        assert sym_off >= 0
        if addr is not None:
            assert sym_off == 0, "offset with addr is not supported"
        return self._attach_uprobe_kind(False, name, sym, sym_re, addr, fn_name, pid,
                                        sym_off)

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                         fn_name=b"", pid=-1):
        """attach_uretprobe(name="", sym="", sym_re="", addr=None, fn_name="", pid=-1)

        Like attach_uprobe, but ``fn_name`` runs when the function returns.
        """
        return self._attach_uprobe_kind(True, name, sym, sym_re, addr, fn_name, pid, 0)

    def detach_uprobe_event(self, ev_name):
        lk = self.uprobe_fds.get(ev_name)
        if lk is None:
            raise Exception("Uprobe %s is not attached" % ev_name)
        lk.close()
        self._del_uprobe_fd(ev_name)

    def _detach_uprobe_kind(self, kind, name, sym, addr, pid, sym_off):
        path, addr = BPF._check_path_symbol(_assert_is_bytes(name), _assert_is_bytes(sym),
                                            addr, pid, sym_off)
        self.detach_uprobe_event(self._get_uprobe_evname(kind, path, addr, pid))

    def detach_uprobe(self, name=b"", sym=b"", addr=None, pid=-1, sym_off=0):
        self._detach_uprobe_kind(b"p", name, sym, addr, pid, sym_off)

    def detach_uretprobe(self, name=b"", sym=b"", addr=None, pid=-1):
        self._detach_uprobe_kind(b"r", name, sym, addr, pid, 0)

    # -- auto-attach -------------------------------------------------------------------
    def _trace_autoload(self):
        for name, prog in self._obj.programs.items():
            if prog.fd < 0 and name not in self._deferred:
                continue        # not loaded on purpose (autoload off, SEC("?..."))
            if name.startswith("syscall__"):
                continue        # BCC's scripts attach these themselves (execsnoop...)
            sd = prog.spec.sec_def
            kind = sd.attach_kind if sd is not None else None
            tgt = prog.spec.attach_target
            if kind and tgt and self._autoattach_sec(name, prog, kind, tgt):
                continue
            self._attach_by_name(name.encode())

    def _attach_by_name(self, bname):
        """Attach a program by BCC's naming convention (kprobe__vfs_read,
        tracepoint__sched__sched_switch...); other names are left alone."""
        prefix, _, target = bname.partition(b"__")
        if prefix == b"kprobe":
            self.attach_kprobe(event=self.fix_syscall_fnname(target), fn_name=bname)
        elif prefix == b"kretprobe":
            self.attach_kretprobe(event=self.fix_syscall_fnname(target), fn_name=bname)
        elif prefix == b"tracepoint":
            # category__event -> "category:event"
            self.attach_tracepoint(tp=target.replace(b"__", b":"), fn_name=bname)
        elif prefix == b"raw_tracepoint":
            self.attach_raw_tracepoint(tp=target, fn_name=bname)
        elif prefix in (b"kfunc", b"kretfunc", b"lsm"):
            attach = {b"kfunc": self.attach_kfunc, b"kretfunc": self.attach_kretfunc,
                      b"lsm": self.attach_lsm}[prefix]
            attach(fn_name=bname)

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
            import re
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
        if kind == "usdt":      # SEC("usdt/PATH:PROVIDER:NAME") as libbpf
            from .attach.auto import attach_usdt_target
            self._auto_links.append(attach_usdt_target(self._prog(bname), tgt))
            return True
        if kind in ("kprobe.multi", "uprobe.multi"):
            from .attach.auto import refuse_multi
            refuse_multi(prog)
        if kind in ("uprobe", "uretprobe"):
            # SEC("uprobe/PATH:FUNC[+OFF]") as libbpf
            import re
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
        """The trace_pipe file (opened on first use, non-blocking if asked then)."""
        if self.tracefile:
            return self.tracefile
        tf = _features.tracefs(mount=True) or TRACEFS
        self.tracefile = open(os.path.join(tf, "trace_pipe"), "rb")
        if nonblocking:
            fd = self.tracefile.fileno()
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        return self.tracefile

    def trace_fields(self, nonblocking=False):
        """One bpf_trace_printk() line from trace_pipe as (task, pid, cpu, flags,
        timestamp, message); (None,) * 6 when nonblocking and nothing is there."""
        while True:
            line = self.trace_readline(nonblocking)
            if not line and nonblocking:
                return (None,) * 6
            if line.startswith(b"CPU:"):
                continue        # "CPU:N [LOST x EVENTS]" notes are not records
            # "<task, 16 wide>-<pid> [<cpu>] <flags> <time>: <function>: <message>"
            task, rest = line[:16].lstrip(), line[17:]
            head, _, tail = rest.partition(b":")
            fields = head.split()
            if len(fields) != 4:
                continue
            pid, cpu, flags, ts = fields
            # after the timestamp comes "<function>: " and then the message
            msg = tail[tail.find(b":") + 2:]
            try:
                return (task, int(pid), int(cpu[1:-1]), flags, float(ts), msg)
            except ValueError:
                return ("Unknown", 0, 0, "Unknown", 0.0, "Unknown")

    def trace_readline(self, nonblocking=False):
        """One line (bytes, without the line end) from trace_pipe; None on a read
        error (nothing there yet in non-blocking mode)."""
        pipe = self.trace_open(nonblocking)
        try:
            return pipe.readline(1024).rstrip()
        except IOError:
            return None

    def trace_print(self, fmt=None):
        """Copy trace_pipe to stdout forever; with ``fmt``, each line is printed as
        fmt.format(task, pid, cpu, flags, timestamp, message)."""
        while True:
            if not fmt:
                out = self.trace_readline(nonblocking=False)
            else:
                fields = self.trace_fields(nonblocking=False)
                if not fields:
                    continue
                out = fmt.format(*fields)
            print(out)
            sys.stdout.flush()

    # -- symbols -----------------------------------------------------------------------
    @staticmethod
    def _sym_cache(pid):
        key = -1 if pid < 0 else pid        # every negative pid means the kernel
        cache = BPF._sym_caches.get(key)
        if cache is None:
            cache = BPF._sym_caches[key] = SymbolCache(key)
        return cache

    @staticmethod
    def sym(addr, pid, show_module=False, show_offset=False, demangle=True):
        """sym(addr, pid, show_module=False, show_offset=False)

        The function containing ``addr`` in process ``pid`` (a negative pid: the
        kernel) as bytes, b"[unknown]" if none; optionally followed by "+0x<offset>"
        and " [<module file name>]", e.g. b"start_thread+0x202 [libpthread-2.24.so]".
        """
        name, offset, module = BPF._sym_cache(pid).resolve(addr, demangle)
        text = name or b"[unknown]"
        if show_offset and name is not None:
            text += b"+0x%x" % offset
        if show_module and module is not None:
            text += b" [%s]" % os.path.basename(module)
        return text

    @staticmethod
    def ksym(addr, show_module=False, show_offset=False):
        """sym() for a kernel address."""
        return BPF.sym(addr, -1, show_module, show_offset, False)

    @staticmethod
    def ksymname(name):
        """The address of kernel symbol ``name``, or -1 if kallsyms does not have it."""
        return BPF._sym_cache(-1).resolve_name(None, name)

    def num_open_kprobes(self):
        return len(self.kprobe_fds)

    def num_open_uprobes(self):
        return len(self.uprobe_fds)

    def num_open_tracepoints(self):
        return len(self.tracepoint_fds)

    # -- perf / ring buffers -----------------------------------------------------------
    def _add_perf_reader(self, reader):
        self.perf_buffers[id(reader)] = reader      # perf_buffer_poll rebuilds its epoll

    def _remove_perf_reader(self, reader):
        self.perf_buffers.pop(id(reader), None)

    def perf_buffer_poll(self, timeout=-1):
        """Wait up to ``timeout`` ms (-1: no limit) for records in the perf buffers
        opened with open_perf_buffer and hand each one to its table's callback.
        A callback failing with EPIPE (output piped to ``head``...) ends the program
        quietly, as in BCC."""
        try:
            self._perf_buffer_poll(timeout)
        except BrokenPipeError:
            raise SystemExit()

    def _perf_buffer_poll(self, timeout):
        readers = list(self.perf_buffers.values())
        if not readers:
            return
        if len(readers) == 1:
            readers[0].poll(timeout)
            return
        # one epoll over every CPU ring of every reader (nested epolls do not report
        # readiness reliably); rebuilt when buffers are opened or closed
        key = tuple(id(r) for r in readers)
        if self._perf_epoll is None or self._perf_epoll[0] != key:
            if self._perf_epoll is not None:
                self._perf_epoll[1].close()
            ep = select.epoll()
            owner = {}
            for r in readers:
                for fd in r.rings:
                    ep.register(fd, select.EPOLLIN)
                    owner[fd] = r
            self._perf_epoll = (key, ep, owner)
        _, ep, owner = self._perf_epoll
        try:
            ready = ep.poll(timeout / 1000.0 if timeout >= 0 else -1)
        except InterruptedError:
            return
        for fd, _ in ready:
            r = owner[fd]
            r._drain(r.rings[fd])

    def perf_buffer_consume(self):
        """Hand every record waiting in the perf buffers to the callbacks, without
        waiting for more."""
        try:
            for r in list(self.perf_buffers.values()):
                r.consume()
        except BrokenPipeError:
            raise SystemExit()

    def kprobe_poll(self, timeout=-1):
        """Old name of perf_buffer_poll, kept for old tools."""
        self.perf_buffer_poll(timeout)

    def _open_ring_buffer(self, map, fn, ctx=None):
        from .events.ringbuf import RingBuffer
        if not self._ringbuf_manager:
            self._ringbuf_manager = RingBuffer(addresses=True)
        try:
            self._ringbuf_manager.add(map, fn)
        except OSError as e:
            raise Exception("Could not open ring buffer: %s" % e) from e

    def ring_buffer_poll(self, timeout=-1):
        """Wait up to ``timeout`` ms (-1: no limit) for records in the ring buffers
        opened with open_ring_buffer and hand each one to its table's callback."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        try:
            self._ringbuf_manager.poll(timeout)
        except BrokenPipeError:
            raise SystemExit()

    def ring_buffer_consume(self):
        """Hand every record waiting in the ring buffers to the callbacks, without
        waiting for more."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        try:
            self._ringbuf_manager.consume()
        except BrokenPipeError:
            raise SystemExit()

    def free_bcc_memory(self):
        return 0

    @staticmethod
    def add_module(modname):
        """Add a library or exe to buildsym cache (no-op: no build-id cache here)."""

    def donothing(self):
        """An exit handler that does nothing (BCC tools pass it to atexit)."""

    # -- teardown ----------------------------------------------------------------------
    def close(self):
        """Close the object's programs and maps (what is attached stays attached while
        its links are open)."""
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
        detach = ((self.kprobe_fds, self.detach_kprobe_event),
                  (self.uprobe_fds, self.detach_uprobe_event),
                  (self.tracepoint_fds, self.detach_tracepoint),
                  (self.raw_tracepoint_fds, self.detach_raw_tracepoint),
                  (self.kfunc_entry_fds, self.detach_kfunc),
                  (self.kfunc_exit_fds, self.detach_kretfunc),
                  (self.lsm_fds, self.detach_lsm),
                  (self.fmod_ret_fds, self.detach_fmod_ret))
        for attached, undo in detach:
            for key in list(attached):
                attempt(undo, key)
        while self._auto_links:
            attempt(self._auto_links.pop().close)

        # perf buffers and perf counters opened through tables, then the readers
        for key in [k for k, t in self.tables.items()
                    if isinstance(t, (PerfEventArray, RingBuf))]:
            attempt(self.tables.pop(key).close)
        for r in list(self.perf_buffers.values()):
            self._remove_perf_reader(r)
            attempt(r.close)
        if self._perf_epoll is not None:
            attempt(self._perf_epoll[1].close)
            self._perf_epoll = None
        for type_config in list(self.open_perf_events):
            attempt(self.detach_perf_event, *type_config)
        if self.tracefile:
            attempt(self.tracefile.close)
            self.tracefile = None
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

    def __del__(self):
        # dropped without cleanup() (an exception between BPF() and the script's
        # cleanup, a script that never calls it): release everything now, not at exit
        try:
            if not getattr(self, "_cleaned", True):
                self.cleanup()
        except Exception:
            pass


_LIVE = weakref.WeakSet()       # BPF objects not cleaned up yet, for the exit handler


def _at_exit(b):
    """BCC cleans every BPF object up at exit (atexit.register(self.cleanup), which
    also keeps each one alive until then).  Here one handler cleans up the ones still
    alive, and a dropped object is released when it is collected."""
    if not _LIVE and not _at_exit.registered:
        atexit.register(_cleanup_live)
        _at_exit.registered = True
    _LIVE.add(b)


_at_exit.registered = False


def _cleanup_live():
    for b in list(_LIVE):
        try:
            b.cleanup()
        except Exception:
            pass


# BCC's BPF class also carries these constants as BPF.<NAME> (BPF.KPROBE, BPF.XDP_PASS,
# BPF.XDP_FLAGS_SKB_MODE...)
for _group, _prefix in ((BPFProgType, ""), (XDPAction, ""), (XDPFlags, "XDP_FLAGS_")):
    for _name, _value in list(vars(_group).items()):
        if _name.isupper():
            setattr(BPF, _prefix + _name, _value)
del _group, _prefix, _name, _value
