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
# The class is BCC's god-class surface, made of one mixin per concept (bcc_core/bcc/):
# loading (the object and its programs), maps (b["name"]), symbols, kprobes (kprobes
# and uprobes), probes (tracepoints, trampolines, perf events, XDP...), autoattach, trace
# (trace_pipe), polling (perf/ring buffers); the links are in an Attachments registry.
import atexit
import errno  # noqa: F401  (bcc_core.bpf had these names; scripts may use them)
import fcntl  # noqa: F401
import os
import select  # noqa: F401
import sys
import weakref

from .attach import link as _link  # noqa: F401
from .load import features as _features  # noqa: F401
from .load import map as _map  # noqa: F401
from .errors import (  # noqa: F401
    AttachError, BccCoreError, NotSupportedError, SourceFileError)
from .table import PerfEventArray, Table
from .utils import ArgString, _assert_is_bytes, _str, get_online_cpus  # noqa: F401
from .bcc.attachments import Attachments, LinkTables, _default_probe_limit  # noqa: F401
from .bcc.attachments import num_open_probes as _get_num_open_probes  # noqa: F401
from .bcc.autoattach import AutoAttach
from .bcc.constants import (  # noqa: F401
    BPFAttachType, BPFProgType, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE, DEBUG_BTF,
    DEBUG_LLVM_IR, DEBUG_PREPROCESSOR, DEBUG_SOURCE, DEBUGFS, PerfEventSampleFormat,
    PerfHWConfig, PerfSWConfig, PerfType, TRACEFS, XDPAction, XDPFlags, _bit_flags,
    _constants, _numbered)
from .bcc.kprobes import Kprobes
from .bcc.lazy_ctypes import _class_attr_once, ct
from .bcc.loading import (  # noqa: F401
    Loading, _is_elf, _looks_like_c, _object_source, _text_object)
from .bcc.maps import _KERNEL_STRUCT_PREFIXES, Tables  # noqa: F401
from .bcc.polling import Polling
from .bcc.probes import Attach
from .bcc.symbols import SymbolCache, Symbols  # noqa: F401
from .bcc.trace import TracePipe


def __getattr__(name):
    # USDT and USDTException live in bcc_core.usdt (imported when a script asks)
    if name in ("USDT", "USDTException"):
        from . import usdt
        return getattr(usdt, name)
    if name == "_num_open_probes":
        return _get_num_open_probes()
    raise AttributeError(name)


_PREFIXES = (("kprobe__", "kprobe"), ("kretprobe__", "kretprobe"),
             ("tracepoint__", "tracepoint"), ("raw_tracepoint__", "raw_tracepoint"),
             ("kfunc__", "kfunc"), ("kretfunc__", "kretfunc"), ("lsm__", "lsm"))


class BPF(LinkTables, Loading, Tables, Symbols, Kprobes, Attach, AutoAttach, TracePipe,
          Polling):
    # BCC also has the prog type, XDP action and XDP flag constants as BPF.<NAME>;
    # they are copied in from BPFProgType, XDPAction and XDPFlags after the class.

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
        self.clear()                # the tables b["name"] returned (see Tables)
        self.attachments = Attachments()    # b.kprobe_fds... are its dicts
        self.perf_buffers = {}
        self._perf_epoll = None
        self._ringbuf_manager = None
        self.tracefile = None
        self._obj = None
        self._deferred = {}
        self._event_types = dict(event_types or {})
        self._cleaned = False
        _at_exit(self)
        path, data, bcc_c = _object_source(text, obj, src_file, usdt_contexts, cflags, btf)
        self._load(path, data, rodata if rodata is not None else config, btf, kconfig,
                   autoload, reuse_maps, bcc_c)
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

    def free_bcc_memory(self):
        """Release what only compiling needed; returns 0 (as BCC).

        BCC frees LLVM's memory here (its RssFile drops: libbcc's LLVM pages).
        bcc-core holds no LLVM and maps no file of its own (clang runs as a separate
        process; objects are read, not mapped), so RssFile cannot drop truthfully.
        What it does hold after a compile is anonymous memory: the running kernel's
        BTF parsed by the translator (some 8 MB on a 6.x kernel) and the translator's
        type model and ctypes types over it.  Those process-wide caches are dropped;
        they are rebuilt if a later BPF() compiles again.  The object's own spec
        stays: reloading a program with another type needs it."""
        from . import btf as _btf
        from .btf import ctypes_btf as _ctypes_btf
        kernel = _btf.release_kernel_btf()
        _ctypes_btf.release(kernel)
        typemodel = sys.modules.get("bcc_core.compat.typemodel")
        if typemodel is not None:       # only when this process translated something
            typemodel.release_caches()
        return 0

    @staticmethod
    def add_module(modname):
        """Add a library or executable to the build-id symbol cache, which sym()
        resolves BPF_STACK_TRACE_BUILDID frames with (bcc/buildsyms.py)."""
        from .bcc import buildsyms
        try:
            buildsyms.add_module(_str(modname))
        except Exception as e:          # as BCC: a message, not an exception
            print("Error adding module to build sym cache" + str(e))

    def donothing(self):
        """An exit handler that does nothing (BCC tools pass it to atexit)."""

    # -- teardown ----------------------------------------------------------------------
    def close(self):
        """Close the object's programs and maps (what is attached stays attached while
        its links are open)."""
        self.funcs.clear()
        if self._obj is not None:
            from .bcc.shared import withdraw
            withdraw(self)          # its public tables (bcc/shared.py)
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
        self.attachments.release_links(attempt)
        self._release_perf_buffers(attempt)
        self.attachments.release_perf_events(attempt)
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
