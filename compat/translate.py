"""Translate BCC-dialect BPF C into libbpf CO-RE C, on pycparser's AST.

Pipeline:

1. ``clang -E`` the source with a *parse prelude* (force-included) that turns BCC's
   macros into plain C that pycparser can parse and that still carries their meaning:
   ``BPF_HASH(start, u32, u64)`` becomes a declaration of ``struct __bcc_map__start
   { u32 *key; u64 *value; } start = {"hash", 10240, 0}``; ``TRACEPOINT_PROBE(cat, ev)``
   a function ``__bcc_tracepoint__cat__ev(struct __bcc_tp_args__cat__ev *args)``, and so
   on.  ``#include <...>`` of kernel headers is dropped (types come from BTF).
2. GNU attributes are cut out of the preprocessed text (struct attributes such as
   ``packed`` are remembered and put back on output); typedef names the program uses
   that exist in the kernel's BTF are declared as stubs so the text parses.
3. pycparser parses it; a type checker walks every function with the real types (kernel
   types from BTF, the program's own from its AST) and rewrites: reads through kernel
   pointers become ``BPF_CORE_READ()`` (``__bcc_read()`` for the rare forms it cannot
   express, ``BPF_CORE_READ_BITFIELD_PROBED()`` for bit-fields), explicit
   ``bpf_probe_read*()`` of kernel fields become ``bpf_core_read*()`` /
   ``BPF_CORE_READ_INTO()`` / ``BPF_CORE_READ_STR_INTO()``, map methods become helper
   calls, probe functions get ``SEC()`` and ``BPF_KPROBE``/``BPF_PROG`` wrappers.
4. The AST is printed back (pycparser's generator) with ``#line`` markers, so clang's
   diagnostics on the output point into the user's file.

Anything that cannot be translated raises :class:`TranslateError` with the user's
file:line.
"""
import bisect
import os
import re
import shutil
import subprocess

from pycparser import c_ast, c_generator, c_parser

from bcc_core import btf as _btf
from bcc_core.errors import BccCoreError

from .mask import MaskError, Masker
from .splice import Emitter, Source, apply_edits

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT_HEADER = os.path.join(HERE, "bcc_compat.h")


class TranslateError(BccCoreError):
    """BCC-dialect C that cannot be translated; ``file`` and ``line`` locate it in the
    user's source."""

    def __init__(self, msg, file=None, line=None, construct=None):
        self.msg, self.file, self.line, self.construct = msg, file, line, construct
        where = "%s:%s: " % (file, line) if file and line else ("%s: " % file if file else "")
        super().__init__("%serror: %s" % (where, msg))


class ToolMissingError(BccCoreError):
    pass


def find_clang():
    for name in ("clang-19", "clang"):
        p = shutil.which(name)
        if p:
            return p
    raise ToolMissingError("clang is required to build BCC-dialect programs (install "
                           "clang-19, e.g. apt-get install clang-19)")


# ----------------------------------------------------------------------------------------
# Parse prelude: BCC's macros as pycparser-friendly C
# ----------------------------------------------------------------------------------------
_MAP_MACROS = [
    # macro, (kind, defaults) -- args after name in BCC's order
    ("BPF_HASH", "hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_LRU_HASH", "lru_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_PERCPU_HASH", "percpu_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_LRU_PERCPU_HASH", "lru_percpu_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_ARRAY", "array", ["n", "v=u64", "s=10240"]),
    ("BPF_PERCPU_ARRAY", "percpu_array", ["n", "v=u64", "s=10240"]),
    ("BPF_HISTOGRAM", "histogram", ["n", "k=int", "s=64"]),
]

PRELUDE = r"""
#define __BCC_COMPAT__ 1
#define __BCC_NARG(...) __BCC_NARG_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __BCC_NARG_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define __BCC_CAT(a, b) __BCC_CAT_(a, b)
#define __BCC_CAT_(a, b) a##b
#define __BCC_MAP(kind, name, k, v, size, flags) \
    struct __bcc_map__##name { k *key; v *value; } name = { kind, size, flags }
#define BPF_F_TABLE(kind, k, v, name, size, flags) __BCC_MAP(kind, name, k, v, size, flags)
#define BPF_TABLE(kind, k, v, name, size) __BCC_MAP(kind, name, k, v, size, 0)
#define BPF_STACK_TRACE(name, size) __BCC_MAP("stacktrace", name, int, int, size, 0)
#define BPF_PERF_OUTPUT(name) __BCC_MAP("perf_output", name, int, int, 0, 0)
#define BPF_PERF_ARRAY(name, size) __BCC_MAP("perf_array", name, int, int, size, 0)
#define BPF_RINGBUF_OUTPUT(name, pages) __BCC_MAP("ringbuf", name, int, int, pages, 0)
#define BPF_PROG_ARRAY(name, size) __BCC_MAP("prog", name, int, int, size, 0)
#define BPF_CGROUP_ARRAY(name, size) __BCC_MAP("cgroup_array", name, int, int, size, 0)
#define BPF_QUEUE(name, v, size) __BCC_MAP("queue", name, int, v, size, 0)
#define BPF_STACK(name, v, size) __BCC_MAP("stack", name, int, v, size, 0)
#define __BCC_UNSUPPORTED(what) int __bcc_unsupported__##what
#define BPF_TABLE_PINNED(...) __BCC_UNSUPPORTED(BPF_TABLE_PINNED)
#define BPF_TABLE_PUBLIC(...) __BCC_UNSUPPORTED(BPF_TABLE_PUBLIC)
#define BPF_TABLE_SHARED(...) __BCC_UNSUPPORTED(BPF_TABLE_SHARED)
#define BPF_HASH_OF_MAPS(...) __BCC_UNSUPPORTED(BPF_HASH_OF_MAPS)
#define BPF_ARRAY_OF_MAPS(...) __BCC_UNSUPPORTED(BPF_ARRAY_OF_MAPS)
#define BPF_SK_STORAGE(...) __BCC_UNSUPPORTED(BPF_SK_STORAGE)
#define BPF_DEVMAP(...) __BCC_UNSUPPORTED(BPF_DEVMAP)
#define BPF_CPUMAP(...) __BCC_UNSUPPORTED(BPF_CPUMAP)
#define BPF_XSKMAP(...) __BCC_UNSUPPORTED(BPF_XSKMAP)
#define BPF_SOCKMAP(...) __BCC_UNSUPPORTED(BPF_SOCKMAP)
#define BPF_SOCKHASH(...) __BCC_UNSUPPORTED(BPF_SOCKHASH)
#define BPF_CGROUP_STORAGE(...) __BCC_UNSUPPORTED(BPF_CGROUP_STORAGE)
#define BPF_INODE_STORAGE(...) __BCC_UNSUPPORTED(BPF_INODE_STORAGE)
#define BPF_TASK_STORAGE(...) __BCC_UNSUPPORTED(BPF_TASK_STORAGE)
#define USDT_PROBE(...) __BCC_UNSUPPORTED(USDT)

#define TRACEPOINT_PROBE(cat, ev) \
    int __bcc_tracepoint__##cat##__##ev(struct __bcc_tp_args__##cat##__##ev *args)
#define RAW_TRACEPOINT_PROBE(ev) \
    int __bcc_raw_tracepoint__##ev(struct bpf_raw_tracepoint_args *ctx)
#define KFUNC_PROBE(ev, ...) int __bcc_kfunc__##ev(__VA_ARGS__)
#define KRETFUNC_PROBE(ev, ...) int __bcc_kretfunc__##ev(__VA_ARGS__)
#define KMOD_RET_PROBE(ev, ...) int __bcc_kmod_ret__##ev(__VA_ARGS__)
#define LSM_PROBE(ev, ...) int __bcc_lsm__##ev(__VA_ARGS__)

#define __user
#define __kernel
#define __rcu
#define __force
#define __iomem
#define __percpu
#define __bitwise
#define __must_check
#define __always_inline inline __attribute__((always_inline))
#define __inline inline
#define __inline__ inline
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __maybe_unused __attribute__((unused))
#define noinline __attribute__((noinline))
#define likely(x) (x)
#define unlikely(x) (x)
#define READ_ONCE(x) (x)
#define NULL ((void *)0)
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#define __builtin_offsetof(t, m) offsetof(t, m)
#define ntohs(x) bpf_ntohs(x)
#define htons(x) bpf_htons(x)
#define ntohl(x) bpf_ntohl(x)
#define htonl(x) bpf_htonl(x)
#define be16_to_cpu(x) bpf_ntohs(x)
#define be32_to_cpu(x) bpf_ntohl(x)

#define TASK_COMM_LEN 16
#define DNAME_INLINE_LEN 32
#define NAME_MAX 255
#define PATH_MAX 4096
#define PERF_MAX_STACK_DEPTH 127
#define PF_KTHREAD 0x00200000
#define TASK_RUNNING 0x0000
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define __TASK_STOPPED 0x0004
#define __TASK_TRACED 0x0008
#define TASK_DEAD 0x0080
#define EXIT_DEAD 0x0010
#define EXIT_ZOMBIE 0x0020
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int) ((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int) ((dev) & MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define DISK_NAME_LEN 32
#define IFNAMSIZ 16
#define BDEVNAME_SIZE 32
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m) (((m) & S_IFMT) == 0020000)
#define S_ISBLK(m) (((m) & S_IFMT) == 0060000)
#define S_ISFIFO(m) (((m) & S_IFMT) == 0010000)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#define min(x, y) ({ typeof(x) __bcc_x = (x); typeof(y) __bcc_y = (y); \
                     __bcc_x < __bcc_y ? __bcc_x : __bcc_y; })
#define max(x, y) ({ typeof(x) __bcc_x = (x); typeof(y) __bcc_y = (y); \
                     __bcc_x > __bcc_y ? __bcc_x : __bcc_y; })
#define min_t(t, x, y) min((t)(x), (t)(y))
#define max_t(t, x, y) max((t)(x), (t)(y))
#define tcp_sk(sk) ((struct tcp_sock *)(sk))
#define inet_sk(sk) ((struct inet_sock *)(sk))
#define inet_csk(sk) ((struct inet_connection_sock *)(sk))
#define udp_sk(sk) ((struct udp_sock *)(sk))
#define sg_is_last(sg) ((sg)->page_link & 0x02)
#define sg_is_chain(sg) ((sg)->page_link & 0x01)
#define sg_chain_ptr(sg) ((struct scatterlist *)((sg)->page_link & ~0x03UL))
#define skb_rx_queue_recorded(skb) ((skb)->queue_mapping != 0)
#define skb_get_rx_queue(skb) ((skb)->queue_mapping - 1)
#define sk_node __sk_common.skc_node
#define sk_refcnt __sk_common.skc_refcnt
#define sk_hash __sk_common.skc_hash
#define sk_portpair __sk_common.skc_portpair
#define sk_num __sk_common.skc_num
#define sk_dport __sk_common.skc_dport
#define sk_addrpair __sk_common.skc_addrpair
#define sk_daddr __sk_common.skc_daddr
#define sk_rcv_saddr __sk_common.skc_rcv_saddr
#define sk_family __sk_common.skc_family
#define sk_state __sk_common.skc_state
#define sk_reuse __sk_common.skc_reuse
#define sk_reuseport __sk_common.skc_reuseport
#define sk_ipv6only __sk_common.skc_ipv6only
#define sk_bound_dev_if __sk_common.skc_bound_dev_if
#define sk_prot __sk_common.skc_prot
#define sk_net __sk_common.skc_net
#define sk_v6_daddr __sk_common.skc_v6_daddr
#define sk_v6_rcv_saddr __sk_common.skc_v6_rcv_saddr
#define sk_cookie __sk_common.skc_cookie
#define sk_flags __sk_common.skc_flags
#define inet_daddr sk.__sk_common.skc_daddr
#define inet_rcv_saddr sk.__sk_common.skc_rcv_saddr
#define inet_dport sk.__sk_common.skc_dport
#define inet_num sk.__sk_common.skc_num
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
"""

# macros with defaults, generated
_lines = []
for _m, _kind, _params in _MAP_MACROS:
    _names = [p.split("=")[0] for p in _params]
    _lines.append("#define %s(...) __BCC_CAT(__BCC_%s_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)"
                  % (_m, _m))
    for i in range(1, len(_params) + 1):
        given = _names[:i]
        vals = {}
        for p in _params:
            nm, _, d = p.partition("=")
            vals[nm] = nm if nm in given else d
        k = vals.get("k", "int")
        v = vals.get("v", "u64")
        _lines.append("#define __BCC_%s_%d(%s) __BCC_MAP(\"%s\", %s, %s, %s, %s, 0)"
                      % (_m, i, ", ".join(given), _kind, vals["n"], k, v, vals["s"]))
PRELUDE += "\n".join(_lines) + "\n"
del _lines

_C_WORDS = frozenset("auto break case char const continue default do double else enum "
                     "extern float for goto if inline int long register restrict return "
                     "short signed sizeof static struct switch typedef union unsigned void "
                     "volatile while _Bool".split())
_BASE_STUBS = ("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16",
               "__u32", "__u64", "__s8", "__s16", "__s32", "__s64", "size_t", "bool")

# ----------------------------------------------------------------------------------------
# Type model
# ----------------------------------------------------------------------------------------


class Ty:
    kind = "?"

    def __repr__(self):
        return "<%s %s>" % (self.kind, self.spell())

    def spell(self):
        return self.kind


class Void(Ty):
    kind = "void"


class Prim(Ty):
    kind = "prim"

    def __init__(self, name, size=None):
        self.name, self.size = name, size

    def spell(self):
        return self.name


class Ptr(Ty):
    kind = "ptr"

    def __init__(self, to):
        self.to = to

    def spell(self):
        return self.to.spell() + " *"


class Arr(Ty):
    kind = "array"

    def __init__(self, of, n):
        self.of, self.n = of, n

    def spell(self):
        return "%s[%s]" % (self.of.spell(), "" if self.n is None else self.n)


class Fn(Ty):
    kind = "func"

    def __init__(self, ret, params=None):
        self.ret, self.params = ret, params

    def spell(self):
        return "function"


class MapTy(Ty):
    kind = "map"

    def __init__(self, m):
        self.m = m

    def spell(self):
        return "BCC table '%s'" % self.m.name


class Rec(Ty):
    """struct/union: from BTF (``btf_id``, kernel memory) or the program (``fields``)."""
    kind = "record"

    def __init__(self, su, name, btf=None, btf_id=None, fields=None):
        self.su, self.name, self.btf, self.btf_id, self.fields = su, name, btf, btf_id, fields

    @property
    def kernel(self):
        return self.btf_id is not None

    @property
    def complete(self):
        return self.btf_id is not None or self.fields is not None

    def spell(self):
        return "%s %s" % (self.su, self.name or "(anonymous)")


_INT_SIZES = {"char": 1, "short": 2, "int": 4, "long": 8, "_Bool": 1, "float": 4,
              "double": 8}


def prim_from_words(words):
    w = [x for x in words if x not in ("signed", "unsigned", "const", "volatile")]
    if not w:
        return Prim(" ".join(words), 4)
    if w.count("long") >= 1:
        size = 8
    else:
        size = _INT_SIZES.get(w[-1])
    return Prim(" ".join(words), size)


def is_ptrish(t):
    return isinstance(t, (Ptr, Arr))


def pointee(t):
    if isinstance(t, Ptr):
        return t.to
    if isinstance(t, Arr):
        return t.of
    return None


class _BTFTypes:
    """Lazy conversion of BTF types to the model, and name indexes."""

    def __init__(self, btf):
        self.btf = btf
        self.memo = {}
        self._typedefs = None
        self._enumerators = None

    def typedef_names(self):
        if self._typedefs is None:
            b = self.btf
            names = {}
            for tid in range(b.start_id, b.nr_types):
                if b.kind_of(tid) == _btf.KIND_TYPEDEF:
                    n = b.type(tid).name
                    names.setdefault(n, tid)
            self._typedefs = names
        return self._typedefs

    def enumerators(self):
        if self._enumerators is None:
            b = self.btf
            vals = {}
            for tid in range(b.start_id, b.nr_types):
                if b.kind_of(tid) in (_btf.KIND_ENUM, _btf.KIND_ENUM64):
                    for n, v in b.type(tid).values:
                        vals.setdefault(n, v)
            self._enumerators = vals
        return self._enumerators

    def record(self, su, name):
        kind = _btf.KIND_STRUCT if su == "struct" else _btf.KIND_UNION
        ids = self.btf.find(name, kind)
        for tid in ids:
            return self.conv(tid)
        return None

    def conv(self, tid):
        t = self.memo.get(tid)
        if t is not None:
            return t
        b = self.btf
        bt = b.type(tid)
        k = bt.kind
        if k == _btf.KIND_UNKN:
            t = Void()
        elif k in (_btf.KIND_INT, _btf.KIND_FLOAT):
            t = Prim(bt.name, bt.size)
        elif k in (_btf.KIND_ENUM, _btf.KIND_ENUM64):
            t = Prim("enum " + (bt.name or "(anonymous)"), bt.size)
        elif k == _btf.KIND_PTR:
            t = Ptr(None)
            self.memo[tid] = t
            t.to = self.conv(bt.type)
            return t
        elif k == _btf.KIND_ARRAY:
            t = Arr(self.conv(bt.elem_type), bt.nelems)
        elif k in (_btf.KIND_STRUCT, _btf.KIND_UNION):
            t = Rec("struct" if k == _btf.KIND_STRUCT else "union", bt.name, b, tid)
        elif k == _btf.KIND_FWD:
            su = "union" if bt.kflag else "struct"
            full = self.record(su, bt.name)
            t = full if full is not None else Rec(su, bt.name)
        elif k == _btf.KIND_FUNC_PROTO:
            t = Fn(self.conv(bt.type), [self.conv(p) for _, p in bt.params if p])
        else:   # typedef, cv, type tag
            t = self.conv(bt.type)
        self.memo[tid] = t
        return t

    def member(self, rec, name):
        """(type, bitfield_size) of member ``name`` of a BTF record, searching anonymous
        members; None if absent."""
        b = self.btf
        bt = b.type(rec.btf_id)
        for m in bt.members:
            if m.name == name:
                return self.conv(m.type), m.bitfield_size
        for m in bt.members:
            if not m.name:
                sub = b.skip_mods(m.type)
                if b.kind_of(sub) in (_btf.KIND_STRUCT, _btf.KIND_UNION):
                    r = self.member(self.conv(sub), name)
                    if r is not None:
                        return r
        return None


_btf_types = {}


def btf_types(btf):
    key = id(btf)
    t = _btf_types.get(key)
    if t is None or t.btf is not btf:
        t = _btf_types[key] = _BTFTypes(btf)
    return t


# ----------------------------------------------------------------------------------------
# Helpers' return types (from libbpf's bpf_helper_defs.h)
# ----------------------------------------------------------------------------------------
_HELPER_DEFS = ["/usr/include/bpf/bpf_helper_defs.h"]
_helpers = None


def helper_returns():
    global _helpers
    if _helpers is None:
        _helpers = {}
        for p in _HELPER_DEFS:
            try:
                with open(p) as f:
                    text = f.read()
            except OSError:
                continue
            for m in re.finditer(r"^static (.*?)\(\s*\*\s*(?:const\s+)?(\w+)\)\(", text, re.M):
                _helpers[m.group(2)] = m.group(1).strip()
        for name, ret in (("bpf_get_current_pid_tgid", "__u64"),
                          ("bpf_get_current_uid_gid", "__u64"),
                          ("bpf_ktime_get_ns", "__u64"),
                          ("bpf_get_current_task", "__u64"),
                          ("bpf_get_current_task_btf", "struct task_struct *"),
                          ("bpf_map_lookup_elem", "void *"),
                          ("bpf_ringbuf_reserve", "void *"),
                          ("bpf_get_current_comm", "long"),
                          ("bpf_probe_read", "long"), ("bpf_probe_read_str", "long"),
                          ("bpf_probe_read_kernel", "long"),
                          ("bpf_probe_read_kernel_str", "long"),
                          ("bpf_probe_read_user", "long"),
                          ("bpf_probe_read_user_str", "long"),
                          ("bpf_get_smp_processor_id", "__u32"),
                          ("bpf_get_prandom_u32", "__u32"),
                          ("bpf_perf_event_output", "long"),
                          ("bpf_send_signal", "long"),
                          ("bpf_get_stackid", "long")):
            _helpers.setdefault(name, ret)
    return _helpers


# functions the translated code may call besides the kernel's helpers, with return types
_EXTRA_FUNCS = {
    "PT_REGS_PARM1": "u64", "PT_REGS_PARM2": "u64", "PT_REGS_PARM3": "u64",
    "PT_REGS_PARM4": "u64", "PT_REGS_PARM5": "u64", "PT_REGS_PARM6": "u64",
    "PT_REGS_RC": "u64", "PT_REGS_SP": "u64", "PT_REGS_FP": "u64", "PT_REGS_IP": "u64",
    "PT_REGS_RET": "u64",
    "bpf_log2": "unsigned int", "bpf_log2l": "unsigned int", "lock_xadd": "void",
    "bpf_ntohs": "u16", "bpf_htons": "u16", "bpf_ntohl": "u32", "bpf_htonl": "u32",
    "bpf_printk": "long", "memset": "void *", "memcpy": "void *",
    "bpf_core_field_exists": "int", "bpf_core_type_exists": "int",
    "bpf_core_enum_value_exists": "int", "bpf_core_field_size": "u32",
    "bpf_core_field_offset": "u32", "bpf_core_type_size": "u32",
    "bpf_core_enum_value": "u64", "bpf_ksym_exists": "int",
}

_UNSUPPORTED_CALLS = {
    "bpf_usdt_readarg": "USDT arguments (bpf_usdt_readarg) are not supported",
    "bpf_usdt_readarg_p": "USDT arguments (bpf_usdt_readarg_p) are not supported",
    "bpf_lookup_or_init": None,
}

_PROBE_READ = {
    # name: (is_str, kernel replacement)
    "bpf_probe_read": (False, "bpf_probe_read_kernel"),
    "bpf_probe_read_kernel": (False, "bpf_probe_read_kernel"),
    "bpf_probe_read_str": (True, "bpf_probe_read_kernel_str"),
    "bpf_probe_read_kernel_str": (True, "bpf_probe_read_kernel_str"),
}

_STATEMENTS = (c_ast.Decl, c_ast.DeclList, c_ast.Typedef, c_ast.If, c_ast.For, c_ast.While,
               c_ast.DoWhile, c_ast.Switch, c_ast.Case, c_ast.Default, c_ast.Label,
               c_ast.Return, c_ast.Break, c_ast.Continue, c_ast.Goto, c_ast.Compound,
               c_ast.EmptyStatement, c_ast.Pragma)

_MAP_TYPES = {
    "hash": "BPF_MAP_TYPE_HASH", "array": "BPF_MAP_TYPE_ARRAY",
    "percpu_hash": "BPF_MAP_TYPE_PERCPU_HASH", "percpu_array": "BPF_MAP_TYPE_PERCPU_ARRAY",
    "lru_hash": "BPF_MAP_TYPE_LRU_HASH", "lru_percpu_hash": "BPF_MAP_TYPE_LRU_PERCPU_HASH",
    "stacktrace": "BPF_MAP_TYPE_STACK_TRACE", "perf_output": "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
    "perf_array": "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "ringbuf": "BPF_MAP_TYPE_RINGBUF",
    "prog": "BPF_MAP_TYPE_PROG_ARRAY", "cgroup_array": "BPF_MAP_TYPE_CGROUP_ARRAY",
    "queue": "BPF_MAP_TYPE_QUEUE", "stack": "BPF_MAP_TYPE_STACK",
    "lpm_trie": "BPF_MAP_TYPE_LPM_TRIE", "histogram": None,
}
_SIZED_ONLY = ("stacktrace", "perf_output", "perf_array", "prog", "cgroup_array")


class MapDecl:
    def __init__(self, name, kind, key_node, value_node, key, value, size, flags, coord):
        self.name, self.kind = name, kind
        self.key_node, self.value_node = key_node, value_node
        self.key, self.value = key, value
        self.size, self.flags, self.coord = size, flags, coord

    @property
    def percpu(self):
        return "percpu" in self.kind


# ----------------------------------------------------------------------------------------
# Source preparation
# ----------------------------------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_]\w*")
_LINEMARK = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"')


def _strip_system_includes(text):
    """Kernel headers are not available (types come from BTF): drop #include <...>."""
    out = []
    dropped = []
    for i, line in enumerate(text.split("\n")):
        s = line.lstrip()
        if s.startswith("#") and re.match(r"#\s*include\s*<", s):
            dropped.append((i + 1, s.strip()))
            out.append("")
        else:
            out.append(line)
    return "\n".join(out), dropped


_PARSE_LINE_OFFSET = 1      # the typedef stubs' line above the parsed text


def _blank_line_markers(text):
    """Preprocessor lines blanked (pycparser would renumber lines at line markers);
    offsets unchanged."""
    return re.sub(r"(?m)^[ \t]*#[^\n]*", lambda m: " " * len(m.group(0)), text)


def _linux_version_code():
    """LINUX_VERSION_CODE of the running kernel, for #if in programs (BCC takes it from
    the kernel's headers)."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", os.uname().release)
    if not m:
        return 0
    a, b, c = (int(x or 0) for x in m.groups())
    return (a << 16) + (b << 8) + min(c, 255)


def _is_user_file(f, filename):
    """Whether a line marker's file is the user's (the program's file, named by the
    caller -- "<text>" too -- or a header it includes) rather than clang's <built-in>,
    <command line>, <stdin> or the parse prelude."""
    if not f:
        return False
    if f == filename:
        return True
    return not f.startswith("<") and not f.endswith("bcc_parse_prelude.h")


def _drop_preamble(text, filename):
    """The preprocessed text from the first line marker of a user's file on (before
    it: markers of <built-in>, <command line> and the parse prelude, and blank lines)."""
    for m in re.finditer(r'(?m)^# \d+ "((?:[^"\\]|\\.)*)"', text):
        if _is_user_file(m.group(1).replace('\\"', '"').replace("\\\\", "\\"),
                         filename):
            return text[m.start():]
    return text


def _line_map(text):
    cur_file, cur_line = None, 1
    out = []
    for line in text.split("\n"):
        m = _LINEMARK.match(line)
        if m:
            out.append((cur_file, cur_line))
            cur_file, cur_line = m.group(2), int(m.group(1))
            continue
        out.append((cur_file, cur_line))
        cur_line += 1
    return out


# ----------------------------------------------------------------------------------------
# Expression results
# ----------------------------------------------------------------------------------------
class R:
    __slots__ = ("node", "type", "prov", "core", "addr_of")

    def __init__(self, node, type, prov=None, core=None, addr_of=None):
        self.node, self.type, self.prov, self.core = node, type, prov, core
        self.addr_of = addr_of      # for &X not through CO-RE: the node of X


class Core:
    """A pending CO-RE access: ``base->segs[0]->...->seg`` (seg None: ``*base``)."""

    def __init__(self, base, seg=None):
        self.base, self.segs, self.seg = base, [], seg
        self.bitfield = 0


class Sym:
    __slots__ = ("type", "prov", "kind")

    def __init__(self, type, prov=None, kind="var"):
        self.type, self.prov, self.kind = type, prov, kind


class Hoist(c_ast.Node):
    """``({ typeof(base) tmp = (base); expr; })``: expr uses tmp for base."""
    __slots__ = ("base", "tmp", "expr", "coord", "__weakref__")
    attr_names = ()

    def __init__(self, base, tmp, expr, coord=None):
        self.base, self.tmp, self.expr, self.coord = base, tmp, expr, coord

    def children(self):
        return (("base", self.base), ("expr", self.expr))


def _id(name, coord=None):
    return c_ast.ID(name, coord)


def _call(name, args, coord=None):
    return c_ast.FuncCall(_id(name, coord), c_ast.ExprList(list(args), coord), coord)


def _graft(p, seg):
    """seg (ID / .field / [i] chain with an ID leftmost) applied to pointer p: p->seg."""
    if isinstance(seg, c_ast.ID):
        return c_ast.StructRef(p, "->", c_ast.ID(seg.name))
    if isinstance(seg, c_ast.StructRef):
        return c_ast.StructRef(_graft(p, seg.name), seg.type, seg.field)
    if isinstance(seg, c_ast.ArrayRef):
        return c_ast.ArrayRef(_graft(p, seg.name), seg.subscript)
    raise AssertionError(seg)


# ----------------------------------------------------------------------------------------
# The translator
# ----------------------------------------------------------------------------------------
class Translator:
    def __init__(self, btf=None, cflags=(), filename="<bcc>", clang=None,
                 tracefs=None):
        self.btf = btf if btf is not None else _btf.kernel_btf()
        self.bt = btf_types(self.btf)
        self.cflags = list(cflags)
        self.filename = filename
        self.clang = clang
        self.tracefs = tracefs
        self.masker = Masker()
        self.lmap = []

    # -- locations ------------------------------------------------------------------------
    def where(self, node):
        """(file, line) in the user's sources of a node, from the preprocessor's line
        markers; (None, None) if unknown."""
        c = getattr(node, "coord", None) if node is not None else None
        if c is None or not c.line:
            return None, None
        i = c.line - 1 - _PARSE_LINE_OFFSET
        if 0 <= i < len(self.lmap):
            return self.lmap[i]
        return None, None

    def err(self, msg, node=None, construct=None):
        file, line = self.where(node)
        raise TranslateError(msg, file or self.filename, line, construct)

    def _err_at_offset(self, msg, off, construct=None):
        i = self.pp.count("\n", 0, off)
        f, l = self.lmap[i] if i < len(self.lmap) else (self.filename, None)
        raise TranslateError(msg, f, l, construct)

    # -- front: preprocess + parse ------------------------------------------------------
    def preprocess(self, text, src_dir):
        clang = self.clang or find_clang()
        body, self.dropped_includes = _strip_system_includes(text)
        prelude = os.path.join(_prelude_dir(), "bcc_parse_prelude.h")
        fname = self.filename.replace("\\", "\\\\").replace('"', '\\"')
        src = '# 1 "%s"\n%s\n' % (fname, body)
        flags = [f for f in self.cflags if f.startswith(("-D", "-U", "-I"))]
        if not any(f.startswith("-DLINUX_VERSION_CODE") for f in flags):
            flags.append("-DLINUX_VERSION_CODE=%d" % _linux_version_code())
        cmd = [clang, "-E", "-x", "c", "-target", "bpf", "-nostdinc",
               "-D__TARGET_ARCH_x86", "-D__BCC_COMPAT_PARSE__", "-include", prelude,
               "-I", src_dir or ".", *flags, "-"]
        r = subprocess.run(cmd, input=src, capture_output=True, text=True)
        if r.returncode:
            msg = r.stderr.strip().splitlines()
            first = next((l for l in msg if "error" in l), msg[0] if msg else "failed")
            m = re.match(r"(.*?):(\d+):\d+: (?:fatal )?error: (.*)", first)
            if m:
                raise TranslateError("preprocessing: " + m.group(3), m.group(1),
                                     int(m.group(2)))
            raise TranslateError("preprocessing failed: " + first, self.filename)
        return r.stdout

    def is_user_line(self, i):
        f = self.lmap[i][0] if 0 <= i < len(self.lmap) else None
        return _is_user_file(f, self.filename)

    def parse(self, text, src_dir="."):
        """Preprocess, mask GNU C (same offsets) and parse; sets self.source (the
        preprocessed text with its tokens) for the splicing emitter.  Structs the
        program defines under a kernel type's name are settled first (see
        :meth:`kernel_collisions`) and the text parsed again."""
        pp = self.preprocess(text, src_dir)
        ast = self.parse_pp(pp)
        fixed = self.kernel_collisions(ast)
        if fixed is not None:
            self.masker = Masker()
            ast = self.parse_pp(fixed)
        return ast

    def kernel_collisions(self, ast):
        """The preprocessed text with the program's definitions of kernel-named structs
        settled (vmlinux.h defines every kernel type, so clang would see two):

        * a definition whose members all exist in the kernel's type is the program's
          copy of a type the kernel headers do not export (dcsnoop's ``struct
          nameidata``): its body is dropped and the kernel's type (from BTF, so read
          with CO-RE) is used;
        * any other is the program's own type that happens to share a kernel name: it
          is renamed ``NAME___bcc`` throughout the program.

        None when there is nothing to settle."""
        drop, rename = [], set()
        for node in _walk(ast):
            if not isinstance(node, (c_ast.Struct, c_ast.Union)) or node.decls is None or \
                    not node.name or not self.is_user(node):
                continue
            su = "struct" if isinstance(node, c_ast.Struct) else "union"
            krec = self.bt.record(su, node.name)
            if krec is None:
                continue
            names = [d.name for d in node.decls if isinstance(d, c_ast.Decl) and d.name]
            if names and all(self.bt.member(krec, n) is not None for n in names):
                drop.append(node)
            else:
                rename.add((su, node.name))
        if not drop and not rename:
            return None
        src, pp = self.source, self.pp
        edits = []
        for node in drop:
            k = src.token_at(src.offset(node.coord))
            while k < len(src.tok) and src.tok[k] != "{":
                k += 1
            lo, hi = src.tok_start[k], src.tok_end[src.match[k]]
            edits.append((lo, hi, re.sub(r"[^\n]", " ", pp[lo:hi])))
        toks = src.tok
        for k in range(1, len(toks)):
            if (toks[k - 1], toks[k]) in rename and \
                    self.is_user_line(pp.count("\n", 0, src.tok_start[k])):
                edits.append((src.tok_start[k], src.tok_end[k], toks[k] + "___bcc"))
        return apply_edits(pp, 0, edits)

    def parse_pp(self, pp):
        self.pp = pp
        self.lmap = lmap = _line_map(pp)
        try:
            shallow = _blank_line_markers(self.masker.mask(pp))
            deep = _blank_line_markers(self.masker.mask(pp, deep=True))
        except MaskError as e:
            self._err_at_offset("cannot parse: %s" % e.msg, e.offset)
        self.source = Source(pp, deep, self.masker.regions, _PARSE_LINE_OFFSET)
        user_idents = set()
        for i, line in enumerate(shallow.split("\n")):
            if self.is_user_line(i):
                user_idents.update(_IDENT.findall(line))
        tdefs = self.bt.typedef_names()
        stubs = set(n for n in user_idents if n in tdefs) | set(_BASE_STUBS)
        stubs |= set(n for n, r in self.masker.regions.items() if r.kind == "T")
        tries = 0
        while True:
            try:
                ast = self._parse_text(shallow, stubs)
                break
            except c_parser.ParseError as e:
                m = re.match(r"(.*?):(\d+):(\d+): (.*)", str(e))
                i = int(m.group(2)) - 1 - _PARSE_LINE_OFFSET if m else -1
                f, l = lmap[i] if 0 <= i < len(lmap) else (self.filename, None)
                if m and tries < 8 and 0 <= i:
                    # a stubbed typedef name used as an ordinary identifier?
                    line = shallow.split("\n")[i]
                    bad = set(_IDENT.findall(line)) & (stubs - set(_BASE_STUBS))
                    bad = set(b for b in bad if not b.startswith("_MT"))
                    if bad:
                        stubs -= bad
                        tries += 1
                        continue
                if m:
                    hint = self._unknown_type_hint(shallow, i, m.group(4))
                    if hint:
                        raise TranslateError(hint, f, l) from None
                    raise TranslateError("syntax error: %s" % m.group(4), f, l) from None
                raise TranslateError("syntax error: %s" % e, self.filename) from None
        self.stubs = stubs
        return ast

    def _parse_text(self, masked, stubs, extra_lines=""):
        """pycparser over masked text, with one line of typedef stubs on top (so coords
        are the text's lines + _PARSE_LINE_OFFSET)."""
        stub_line = "".join("typedef int %s; " % n for n in sorted(stubs))
        return c_parser.CParser().parse(stub_line + "\n" + masked, "<bcc>")

    def _unknown_type_hint(self, masked, i, msg):
        m = re.match(r"before: (\w+)", msg)
        lines = masked.split("\n")
        if not m or not 0 <= i < len(lines):
            return None
        mm = re.search(r"\b(\w+)\s+\**\s*%s\b" % re.escape(m.group(1)), lines[i])
        if mm and mm.group(1) not in _C_WORDS:
            return ("unknown type name '%s' (not a typedef in the kernel's BTF nor "
                    "in the program)" % mm.group(1))
        return None

    # -- masked constructs ------------------------------------------------------------------
    def parse_region_body(self, region):
        """The ``{...}`` of a masked statement expression, parsed at its own place: a
        Compound whose coords are those of the whole source."""
        lo, hi = region.inner
        masked = _blank_line_markers(self.masker.mask(self.pp, lo=lo, hi=hi))
        li = self.pp.count("\n", 0, lo)
        ci = lo - (self.pp.rfind("\n", 0, lo) + 1)
        text = "\n" * (li - 1) + "void _MF(void)\n" + " " * ci + masked + "\n"
        try:
            ast = self._parse_text(text, self.stubs | self.user_typedefs)
        except c_parser.ParseError as e:
            self._err_at_offset("syntax error in a statement expression: %s" % e, lo)
        return ast.ext[-1].body

    def region_type(self, region):
        """The type a masked typeof(...) names."""
        lo, hi = region.inner
        masked = self.masker.mask(self.pp, lo=lo, hi=hi).replace("\n", " ")
        try:
            ast = self._parse_text("void _MF(void) { sizeof(%s); }" % masked,
                                   self.stubs | self.user_typedefs)
            e = ast.ext[-1].body.block_items[0].expr
            if isinstance(e, c_ast.Typename):
                return self.rtype(e)
            return self.expr(e).type
        except (c_parser.ParseError, TranslateError, AttributeError, IndexError):
            return Prim("long", 8)

    # -- entry point ----------------------------------------------------------------------
    def translate(self, text, src_dir="."):
        ast = self.parse(text, src_dir)
        return self.emit(ast)

    def is_user(self, node):
        c = getattr(node, "coord", None)
        if c is None or not c.line:
            return False
        return self.is_user_line(c.line - 1 - _PARSE_LINE_OFFSET)

    # -- scopes -------------------------------------------------------------------------------
    def lookup(self, name):
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        return None

    def declare(self, name, sym):
        self.scopes[-1][name] = sym

    def tag(self, su, name):
        for s in reversed(self.tags):
            r = s.get((su, name))
            if r is not None:
                return r
        r = self.bt.record(su, name)
        if r is None:
            r = Rec(su, name)       # unknown: an error only when its members are used
        return r

    # -- types from the AST ---------------------------------------------------------------
    def rtype(self, n):
        if isinstance(n, (c_ast.Typename, c_ast.Decl)):
            return self.rtype(n.type)
        if isinstance(n, c_ast.PtrDecl):
            return Ptr(self.rtype(n.type))
        if isinstance(n, c_ast.ArrayDecl):
            return Arr(self.rtype(n.type), self.const_int(n.dim))
        if isinstance(n, c_ast.FuncDecl):
            ps = []
            if n.args is not None:
                for p in n.args.params:
                    if isinstance(p, c_ast.EllipsisParam):
                        continue
                    ps.append(self.rtype(p))
            return Fn(self.rtype(n.type), ps)
        if isinstance(n, c_ast.TypeDecl):
            return self.rtype(n.type)
        if isinstance(n, c_ast.IdentifierType):
            names = n.names
            if len(names) == 1:
                nm = names[0]
                t = self.lookup_typedef(nm)
                if t is not None:
                    return t
                if nm == "void":
                    return Void()
            return prim_from_words(names)
        if isinstance(n, (c_ast.Struct, c_ast.Union)):
            su = "struct" if isinstance(n, c_ast.Struct) else "union"
            if n.decls is not None:
                return self.define_record(su, n)
            if n.name and n.name.startswith("__bcc_tp_args__"):
                return self.tp_record(n)
            return self.tag(su, n.name)
        if isinstance(n, c_ast.Enum):
            if n.values is not None:
                v = 0
                for e in n.values.enumerators:
                    if e.value is not None:
                        v = self.const_int(e.value)
                    self.scopes[-1][e.name] = Sym(Prim("int", 4), None, "enum")
                    v = (v or 0) + 1
            return Prim("enum " + (n.name or ""), 4)
        return Prim("int", 4)

    def lookup_typedef(self, name):
        for s in reversed(self.typedefs):
            if name in s:
                return s[name]
        region = self.masker.regions.get(name)
        if region is not None and region.kind == "T":
            t = self.region_type(region)
            self.typedefs[0][name] = t
            return t
        tid = self.bt.typedef_names().get(name)
        if tid is not None:
            return self.bt.conv(tid)
        return None

    def define_record(self, su, n):
        fields = {}
        rec = Rec(su, n.name, fields=fields)
        if n.name:
            self.tags[-1][(su, n.name)] = rec
        for d in n.decls:
            if isinstance(d, c_ast.Pragma):
                continue
            t = self.rtype(d.type)
            if d.name:
                fields[d.name] = (t, 0)
            elif isinstance(t, Rec) and t.fields is not None:
                fields.update(t.fields)     # anonymous struct/union member
        return rec

    def const_int(self, n):
        if n is None:
            return None
        try:
            if isinstance(n, c_ast.Constant) and n.type in ("int", "unsigned int", "long int",
                                                            "unsigned long int",
                                                            "long long int",
                                                            "unsigned long long int"):
                return int(n.value.rstrip("uUlL"), 0)
            if isinstance(n, c_ast.BinaryOp):
                a, b = self.const_int(n.left), self.const_int(n.right)
                if a is None or b is None:
                    return None
                return {"+": a + b, "-": a - b, "*": a * b, "<<": a << b, ">>": a >> b,
                        "/": a // b if b else None, "|": a | b, "&": a & b}.get(n.op)
            if isinstance(n, c_ast.UnaryOp) and n.op == "-":
                v = self.const_int(n.expr)
                return None if v is None else -v
        except (ValueError, TypeError):
            return None
        return None

    def member(self, rec, name, node):
        if not isinstance(rec, Rec):
            self.err("member reference '%s' on a value of type %s that is not a struct "
                     "or union" % (name, rec.spell() if rec else "?"), node)
        if rec.btf_id is not None:
            r = self.bt.member(rec, name)
            if r is None:
                self.err("no member named '%s' in %s (kernel BTF)" % (name, rec.spell()),
                         node)
            return r
        if rec.fields is None:
            self.err("unknown type '%s': not in the kernel's BTF nor defined in the "
                     "program" % rec.spell(), node)
        r = rec.fields.get(name)
        if r is None:
            self.err("no member named '%s' in %s" % (name, rec.spell()), node)
        return r

    # -- provenance ----------------------------------------------------------------------
    @staticmethod
    def kernel_ptr(t, prov):
        if prov == "direct":
            return False
        if prov == "kernel":
            return True
        p = pointee(t)
        return isinstance(p, Rec) and p.kernel

    @classmethod
    def eprov(cls, r):
        if r.prov:
            return r.prov
        return "kernel" if isinstance(r.type, Ptr) and cls.kernel_ptr(r.type, None) else None

    # -- chains ---------------------------------------------------------------------------
    def chain(self, n, mode):
        steps = []
        while True:
            if isinstance(n, c_ast.StructRef):
                steps.append((n.type, n.field.name, n))
                n = n.name
            elif isinstance(n, c_ast.ArrayRef):
                steps.append(("[]", n.subscript, n))
                n = n.name
            elif isinstance(n, c_ast.UnaryOp) and n.op == "*":
                steps.append(("*", None, n))
                n = n.expr
            else:
                break
        steps.reverse()
        base = self.expr(n)
        cur, t, prov = base.node, base.type, base.prov
        core = None
        for kind, arg, node in steps:
            if kind == ".":
                ft, bits = self.member(t, arg, node)
                if core is not None:
                    core.seg = c_ast.StructRef(core.seg, ".", _id(arg)) \
                        if core.seg is not None else _id(arg)
                    core.bitfield = bits
                else:
                    cur = node if cur is node.name else \
                        c_ast.StructRef(cur, ".", _id(arg), node.coord)
                t = ft
                continue
            if kind == "[]" and isinstance(t, Arr):
                idx = self.expr(arg).node
                if core is not None:
                    if core.seg is None:
                        self.err("indexing an array through '*' of a kernel pointer is "
                                 "not supported; use ->", node)
                    core.seg = c_ast.ArrayRef(core.seg, idx)
                    core.bitfield = 0
                else:
                    cur = node if (cur is node.name and idx is node.subscript) else \
                        c_ast.ArrayRef(cur, idx, node.coord)
                t = t.of
                continue
            # a dereference: ->, *, or [] on a pointer
            if not isinstance(t, (Ptr, Arr)):
                self.err("dereference of a value of type %s that is not a pointer"
                         % t.spell(), node)
            to = pointee(t)
            idx = self.expr(arg).node if kind == "[]" else None
            kern = core is not None or self.kernel_ptr(t, prov)
            if kern:
                if core is not None and kind == "->" and core.seg is not None \
                        and not core.bitfield:
                    core.segs.append(core.seg)
                    core.seg = _id(arg)
                else:
                    if core is not None:
                        cur = self.materialize(core, node)
                    if kind == "->":
                        core = Core(cur, _id(arg))
                    elif kind == "*":
                        core = Core(cur)
                    else:
                        core = Core(c_ast.UnaryOp("&", c_ast.ArrayRef(cur, idx)))
                    core.bitfield = 0
                prov = "kernel"
            else:
                if kind == "->":
                    cur = node if cur is node.name else \
                        c_ast.StructRef(cur, "->", _id(arg), node.coord)
                elif kind == "*":
                    cur = node if cur is node.expr else c_ast.UnaryOp("*", cur, node.coord)
                else:
                    cur = node if (cur is node.name and idx is node.subscript) else \
                        c_ast.ArrayRef(cur, idx, node.coord)
                prov = None
            if kind == "->":
                ft, bits = self.member(to, arg, node)
                if core is not None:
                    core.bitfield = bits
                t = ft
            else:
                t = to
        if core is None:
            if mode == "addr":
                return R(c_ast.UnaryOp("&", cur), Ptr(t), "direct", addr_of=cur)
            return R(cur, t, prov)
        if mode == "addr":
            if core.bitfield:
                self.err("cannot take the address of a bit-field", steps[-1][2])
            return R(self.core_addr(core), Ptr(t), "kernel", core)
        if mode == "lvalue":
            self.err("cannot write to kernel memory through a pointer: BPF programs may "
                     "only read it (translation would need bpf_probe_write_kernel)",
                     steps[-1][2], "kernel write")
        if isinstance(t, Arr):
            return R(self.core_lval(core), t, "kernel", core)
        return R(self.materialize(core, steps[-1][2]), t, "kernel", core)

    # A CO-RE read's base expression lands inside __builtin_preserve_access_index: an
    # access to the program's own memory there (valp->fp) would become a relocation
    # against a type the kernel does not have.  Such bases are evaluated first:
    # ({ typeof(B) __bcc_bN = (B); READ(__bcc_bN, ...); }).
    def hoisted(self, core, build):
        base = core.base
        if not any(isinstance(x, (c_ast.StructRef, c_ast.ArrayRef)) for x in _walk(base)):
            return build(base)
        self.n_hoist = getattr(self, "n_hoist", 0) + 1
        tmp = _id("__bcc_b%d" % self.n_hoist)
        return Hoist(base, tmp, build(tmp))

    def core_ptr(self, core, base=None):
        base = core.base if base is None else base
        if core.segs:
            return _call("BPF_CORE_READ", [base] + core.segs)
        return base

    def core_addr(self, core):
        if core.seg is None:
            return core.base
        return self.hoisted(core, lambda b: c_ast.UnaryOp("&", _graft(self.core_ptr(core, b),
                                                                      core.seg)))

    def core_lval(self, core):
        if core.seg is None:
            return c_ast.UnaryOp("*", core.base)
        return self.hoisted(core, lambda b: _graft(self.core_ptr(core, b), core.seg))

    def materialize(self, core, node):
        if core.seg is None:
            return _call("__bcc_read", [core.base])
        if core.bitfield:
            seg = core.seg
            if not (isinstance(seg, c_ast.ID) or
                    isinstance(seg, c_ast.StructRef) and seg.type == "."):
                self.err("unsupported bit-field access", node)

            def build(b):
                p = self.core_ptr(core, b)
                if isinstance(seg, c_ast.ID):
                    return _call("BPF_CORE_READ_BITFIELD_PROBED", [p, seg])
                return _call("BPF_CORE_READ_BITFIELD_PROBED",
                             [c_ast.UnaryOp("&", _graft(p, seg.name)), seg.field])
            return self.hoisted(core, build)
        return self.hoisted(core, lambda b: _call("BPF_CORE_READ",
                                                  [b] + core.segs + [core.seg]))

    # -- expressions ----------------------------------------------------------------------
    def expr(self, n, mode="value"):
        m = getattr(self, "x_" + type(n).__name__, None)
        if m is None:
            self.err("unsupported expression (%s)" % type(n).__name__, n)
        return m(n, mode)

    def x_StructRef(self, n, mode):
        return self.chain(n, mode)

    x_ArrayRef = x_StructRef

    def x_ID(self, n, mode):
        s = self.lookup(n.name)
        if s is None and n.name in self.masker.regions:
            return self.masked_expr(n, self.masker.regions[n.name])
        if s is None:
            if n.name in self.maps:
                return R(n, MapTy(self.maps[n.name]), "direct")
            ev = self.bt.enumerators().get(n.name)
            if ev is not None:
                return R(n, Prim("int", 4))
            if n.name in self.funcs:
                return R(n, self.funcs[n.name])
            rt = self.func_ret(n.name)
            if rt is not None:
                return R(n, Fn(rt))
            self.err("use of undeclared identifier '%s' (kernel macros and functions "
                     "are not available: only types and enum values from BTF)"
                     % n.name, n, n.name)
        if s.kind == "enum":
            return R(n, s.type)
        prov = s.prov
        if isinstance(s.type, Arr):
            prov = prov if prov == "kernel" else "direct"
        return R(n, s.type, prov)

    def masked_expr(self, n, region):
        """A masked construct standing as an expression: asm and builtins are typed
        only; a statement expression's body is parsed at its place, rewritten like any
        block, and typed by its last statement."""
        if region.kind == "A":
            return R(n, Void())
        if region.kind != "S":
            return R(n, Prim("int", 4))
        done = self.stmt_exprs.get(region.name)
        if done is not None:
            return done
        body = self.parse_region_body(region)
        self.em.attach(n, "@body", body)
        items = body.block_items or []
        self.push()
        last = R(n, Void())
        for i, st in enumerate(items):
            if i == len(items) - 1 and not isinstance(st, _STATEMENTS):
                r = self.expr(st)
                items[i] = r.node
                last = R(n, r.type, r.prov)
            else:
                items[i] = self.stmt(st)
        self.pop()
        self.stmt_exprs[region.name] = last
        return last

    def x_Constant(self, n, mode):
        if n.type == "string":
            return R(n, Arr(Prim("char", 1), None), "direct")
        if n.type in ("float", "double"):
            return R(n, Prim("double", 8))
        if n.type == "char":
            return R(n, Prim("int", 4))
        return R(n, prim_from_words(n.type.split()))

    def x_UnaryOp(self, n, mode):
        op = n.op
        if op == "*":
            return self.chain(n, mode)
        if op == "sizeof":
            return R(n, Prim("unsigned long", 8))
        if op == "&":
            e = n.expr
            if isinstance(e, (c_ast.StructRef, c_ast.ArrayRef)) or \
                    (isinstance(e, c_ast.UnaryOp) and e.op == "*"):
                r = self.chain(e, "addr")
                if r.core is None and r.addr_of is e:
                    return R(n, r.type, r.prov)       # unchanged: keep the node
                return r
            r = self.expr(e, "lvalue")
            n.expr = r.node
            return R(n, Ptr(r.type), "direct")
        if op in ("++", "--", "p++", "p--"):
            r = self.expr(n.expr, "lvalue")
            n.expr = r.node
            return R(n, r.type, r.prov)
        r = self.expr(n.expr)
        n.expr = r.node
        if op == "!":
            return R(n, Prim("int", 4))
        return R(n, r.type)

    def x_BinaryOp(self, n, mode):
        a = self.expr(n.left)
        b = self.expr(n.right)
        n.left, n.right = a.node, b.node
        op = n.op
        if op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            return R(n, Prim("int", 4))
        if op in ("+", "-"):
            if is_ptrish(a.type) and not is_ptrish(b.type):
                t = a.type if isinstance(a.type, Ptr) else Ptr(a.type.of)
                return R(n, t, self.eprov(R(None, t, a.prov)))
            if is_ptrish(b.type) and not is_ptrish(a.type):
                t = b.type if isinstance(b.type, Ptr) else Ptr(b.type.of)
                return R(n, t, self.eprov(R(None, t, b.prov)))
            if is_ptrish(a.type):
                return R(n, Prim("long", 8))
        ta, tb = a.type, b.type
        prov = "kernel" if op in ("+", "-", "&", "|") and "kernel" in (a.prov, b.prov) \
            else None
        if isinstance(ta, Prim) and isinstance(tb, Prim):
            return R(n, ta if (ta.size or 4) >= (tb.size or 4) else tb, prov)
        return R(n, ta, prov)

    def x_Assignment(self, n, mode):
        lv = self.expr(n.lvalue, "lvalue")
        rv = self.expr(n.rvalue)
        n.lvalue, n.rvalue = lv.node, rv.node
        if n.op == "=" and isinstance(n.lvalue, c_ast.ID):
            s = self.lookup(n.lvalue.name)
            if s is not None and s.kind == "var" and isinstance(s.type, (Ptr, Rec)):
                s.prov = self.eprov(rv)
        return R(n, lv.type, lv.prov)

    def x_TernaryOp(self, n, mode):
        c = self.expr(n.cond)
        a = self.expr(n.iftrue)
        b = self.expr(n.iffalse)
        n.cond, n.iftrue, n.iffalse = c.node, a.node, b.node
        return R(n, a.type, a.prov if a.prov == b.prov else None)

    def x_Cast(self, n, mode):
        t = self.rtype(n.to_type)
        r = self.expr(n.expr)
        n.expr = r.node
        prov = None
        if isinstance(r.type, (Ptr, Arr)) and isinstance(t, Ptr):
            prov = self.eprov(r)
        elif isinstance(t, (Ptr, Prim)) and (r.prov == "kernel" or self.eprov(r) == "kernel"):
            # an address in kernel memory (or a value read from it) as a number, or a
            # number made a pointer again: still kernel memory (BCC's rule)
            prov = "kernel"
        return R(n, t, prov)

    def x_ExprList(self, n, mode):
        last = R(n, Void())
        for i, e in enumerate(n.exprs):
            last = self.expr(e)
            n.exprs[i] = last.node
        return R(n, last.type, last.prov)

    def x_InitList(self, n, mode):
        for i, e in enumerate(n.exprs):
            n.exprs[i] = self.expr(e).node
        return R(n, Void())

    def x_NamedInitializer(self, n, mode):
        n.expr = self.expr(n.expr).node
        return R(n, Void())

    def x_CompoundLiteral(self, n, mode):
        t = self.rtype(n.type)
        self.expr(n.init)
        return R(n, t, "direct")

    def x_Typename(self, n, mode):
        return R(n, self.rtype(n))

    def func_ret(self, name):
        ret = _EXTRA_FUNCS.get(name)
        if ret is None:
            ret = helper_returns().get(name)
        if ret is None:
            if name.startswith(("__builtin_", "__sync_", "__atomic_")):
                return Prim("long", 8)
            return None
        return self.type_from_text(ret)

    def type_from_text(self, text):
        stars = text.count("*")
        words = text.replace("*", " ").replace("const", " ").split()
        if words[:1] in (["struct"], ["union"]):
            t = self.tag(words[0], words[1])
        elif words == ["void"]:
            t = Void()
        elif len(words) == 1 and self.lookup_typedef(words[0]) is not None:
            t = self.lookup_typedef(words[0])
        else:
            t = prim_from_words(words)
        for _ in range(stars):
            t = Ptr(t)
        return t

    def x_FuncCall(self, n, mode):
        args = n.args.exprs if n.args is not None else []
        if isinstance(n.name, c_ast.StructRef) and n.name.type == "." and \
                isinstance(n.name.name, c_ast.ID) and n.name.name.name in self.maps and \
                self.lookup(n.name.name.name) is None:
            return self.map_call(n, self.maps[n.name.name.name], n.name.field.name, args)
        if isinstance(n.name, c_ast.ID):
            name = n.name.name
            if name == "offsetof":
                return R(n, Prim("unsigned long", 8))
            if name in _UNSUPPORTED_CALLS:
                self.err(_UNSUPPORTED_CALLS[name] or "%s is not supported" % name, n, name)
            if name in ("TP_DATA_LOC_READ", "TP_DATA_LOC_READ_CONST",
                        "TP_DATA_LOC_READ_STR"):
                return self.tp_data_loc(n, name, args)
            if name == "bpf_trace_printk":
                n.name = _id("bpf_printk", n.name.coord)
            if name in ("memcpy", "__builtin_memcpy") and len(args) == 3:
                return self.kernel_memcpy(n, args)
            if name in _PROBE_READ and len(args) == 3:
                return self.probe_read(n, name, args)
        fr = self.expr(n.name)
        for i, a in enumerate(args):
            args[i] = self.expr(a).node
        ft = fr.type
        if isinstance(ft, Ptr):
            ft = ft.to
        if not isinstance(ft, Fn):
            self.err("called object is not a function", n)
        prov = "direct" if getattr(n.name, "name", None) in (
            "bpf_map_lookup_elem", "bpf_ringbuf_reserve") else None
        return R(n, ft.ret, prov)

    # -- special calls --------------------------------------------------------------------
    def tp_data_loc(self, n, name, args):
        need = 2 if name == "TP_DATA_LOC_READ" else 3
        if len(args) != need or not isinstance(args[1], c_ast.ID):
            self.err("%s(dst, field%s) expects %d arguments" % (
                name, "" if need == 2 else ", length", need), n)
        s = self.lookup("args")
        if s is None or not isinstance(s.type, Ptr):
            self.err("%s is only available in TRACEPOINT_PROBE" % name, n)
        self.member(s.type.to, "__data_loc_" + args[1].name, n)
        args[0] = self.expr(args[0]).node
        if need == 3:
            args[2] = self.expr(args[2]).node
        return R(n, Prim("long", 8))

    def probe_read(self, n, name, args):
        is_str, kname = _PROBE_READ[name]
        dst, size, src = args
        d = self.expr(dst)
        sz = self.expr(size)
        s = src
        while isinstance(s, c_ast.Cast):
            s = s.expr
        core = None
        if isinstance(s, c_ast.UnaryOp) and s.op == "&" and isinstance(
                s.expr, (c_ast.StructRef, c_ast.ArrayRef, c_ast.UnaryOp)) and \
                not (isinstance(s.expr, c_ast.UnaryOp) and s.expr.op != "*"):
            r = self.chain(s.expr, "addr")
            core = r.core
        elif isinstance(s, (c_ast.StructRef, c_ast.ArrayRef)):
            r = self.chain(s, "value")
            if isinstance(r.type, Arr):
                core = r.core
                if core is not None:
                    r = R(self.core_addr(core), Ptr(r.type.of), "kernel", core)
        else:
            r = None
        args[0], args[1] = d.node, sz.node
        if core is not None:
            # a kernel field: CO-RE
            field_t = r.type.to if isinstance(r.type, Ptr) else r.type
            if core.seg is not None and self._reads_whole(dst, size, field_t, is_str):
                fn = "BPF_CORE_READ_STR_INTO" if is_str else "BPF_CORE_READ_INTO"
                return R(self.hoisted(core, lambda b: _call(
                    fn, [d.node, b] + core.segs + [core.seg], n.coord)), Prim("long", 8))
            if core.segs or core.seg is None:
                # the address holds a BPF_CORE_READ (no nested preserve_access_index):
                # the field access itself is relocated by vmlinux.h's attribute
                fn = kname
            else:
                fn = "bpf_core_read_str" if is_str else "bpf_core_read"
            if fn.startswith("bpf_core_read") and isinstance(r.node, Hoist):
                h = r.node      # the read itself goes inside the hoisted base's scope
                return R(Hoist(h.base, h.tmp, _call(fn, [d.node, sz.node, h.expr], n.coord)),
                         Prim("long", 8))
            return R(_call(fn, [d.node, sz.node, r.node], n.coord), Prim("long", 8))
        rs = self.expr(src) if r is None else r
        args[2] = rs.node
        if self.eprov(rs) == "kernel":
            n.name = _id(kname, n.name.coord)
        return R(n, Prim("long", 8))

    def kernel_memcpy(self, n, args):
        """memcpy(dst, src, size) from kernel memory is a probe read (as BCC rewrites
        it); between the program's own buffers it stays a memcpy."""
        dst, src, size = args
        probe = _call("__bcc_memcpy", [dst, size, src], n.coord)
        r = self.probe_read(probe, "bpf_probe_read_kernel", probe.args.exprs)
        if r.node is probe and probe.name.name == "__bcc_memcpy":
            d, sz, sr = probe.args.exprs
            args[0], args[1], args[2] = d, sr, sz
            return R(n, Ptr(Void()), "direct")
        return r

    def _reads_whole(self, dst, size, field_t, is_str):
        """dst is &X (or array X) and size is sizeof(X), and X has the field's type:
        then the BPF_CORE_READ_*INTO form reads exactly what the user asked for."""
        if not (isinstance(size, c_ast.UnaryOp) and size.op == "sizeof"):
            return False
        target = dst.expr if isinstance(dst, c_ast.UnaryOp) and dst.op == "&" else dst
        gen = c_generator.CGenerator()
        if gen.visit(size.expr) != gen.visit(target):
            return False
        try:
            tt = self.expr(target).type if not isinstance(target, c_ast.ID) else \
                self.lookup(target.name).type
        except TranslateError:
            return False
        if is_str:
            return isinstance(tt, Arr) and isinstance(field_t, Arr) and \
                tt.n is not None and field_t.n is not None and tt.n >= field_t.n
        return _same_type(tt, field_t)

    def map_call(self, n, m, meth, args):
        c = n.coord
        ref = c_ast.UnaryOp("&", _id(m.name), c)
        targs = [self.expr(a).node for a in args]

        def want(k):
            if len(targs) not in (k if isinstance(k, tuple) else (k,)):
                self.err("%s.%s() takes %s argument(s)" % (m.name, meth, k), n, meth)
        long_ = Prim("long", 8)
        if meth == "lookup":
            want(1)
            return R(_call("bpf_map_lookup_elem", [ref] + targs, c), Ptr(m.value), "direct")
        if meth in ("lookup_or_try_init", "lookup_or_init"):
            want(2)
            return R(_call("__bcc_lookup_or_try_init", [ref] + targs, c), Ptr(m.value),
                     "direct")
        if meth in ("update", "insert"):
            want(2)
            flag = "BPF_ANY" if meth == "update" else "BPF_NOEXIST"
            return R(_call("bpf_map_update_elem", [ref] + targs + [_id(flag)], c), long_)
        if meth == "delete":
            want(1)
            return R(_call("bpf_map_delete_elem", [ref] + targs, c), long_)
        if meth in ("increment", "atomic_increment"):
            want((1, 2))
            if len(targs) == 1:
                targs.append(c_ast.Constant("int", "1"))
            fn = "__bcc_map_increment_percpu" if m.percpu and meth == "increment" \
                else "__bcc_map_increment"
            return R(_call(fn, [ref] + targs, c), Void())
        if meth == "perf_submit":
            want(3)
            return R(_call("bpf_perf_event_output",
                           [targs[0], ref, _id("BPF_F_CURRENT_CPU"), targs[1], targs[2]], c),
                     long_)
        if meth == "perf_submit_skb":
            want(4)
            flags = c_ast.BinaryOp("|", c_ast.BinaryOp("<<", c_ast.Cast(
                c_ast.Typename(None, [], None, c_ast.TypeDecl(None, [], None,
                               c_ast.IdentifierType(["u64"]))), targs[1]),
                c_ast.Constant("int", "32")), _id("BPF_F_CURRENT_CPU"))
            return R(_call("bpf_perf_event_output", [targs[0], ref, flags, targs[2],
                                                     targs[3]], c), long_)
        if meth == "ringbuf_output":
            want(3)
            return R(_call("bpf_ringbuf_output", [ref] + targs, c), long_)
        if meth == "ringbuf_reserve":
            want(1)
            return R(_call("bpf_ringbuf_reserve", [ref, targs[0], c_ast.Constant("int", "0")],
                           c), Ptr(Void()), "direct")
        if meth in ("ringbuf_submit", "ringbuf_discard"):
            want(2)
            return R(_call("bpf_" + meth, targs, c), Void())
        if meth == "get_stackid":
            want(2)
            return R(_call("bpf_get_stackid", [targs[0], ref, targs[1]], c), long_)
        if meth == "perf_read":
            want(1)
            return R(_call("bpf_perf_event_read", [ref, targs[0]], c), Prim("u64", 8))
        if meth == "call":
            want(2)
            return R(_call("bpf_tail_call", [targs[0], ref, targs[1]], c), long_)
        if meth in ("push", "peek", "pop"):
            want((1, 2) if meth == "push" else 1)
            if meth == "push" and len(targs) == 1:
                targs.append(c_ast.Constant("int", "0"))
            return R(_call("bpf_map_%s_elem" % meth, [ref] + targs, c), long_)
        self.err("BCC table method '%s.%s()' is not supported" % (m.name, meth), n,
                 "." + meth)

    # -- statements -----------------------------------------------------------------------
    def stmt(self, n):
        if n is None:
            return None
        if isinstance(n, c_ast.Compound):
            self.push()
            for i, s in enumerate(n.block_items or []):
                n.block_items[i] = self.stmt(s)
            self.pop()
            return n
        if isinstance(n, c_ast.Decl):
            self.local_decl(n)
            return n
        if isinstance(n, c_ast.DeclList):
            for d in n.decls:
                self.local_decl(d)
            return n
        if isinstance(n, (c_ast.Typedef,)):
            self.typedefs[-1][n.name] = self.rtype(n.type)
            return n
        if isinstance(n, c_ast.If):
            n.cond = self.expr(n.cond).node
            n.iftrue = self.stmt(n.iftrue)
            n.iffalse = self.stmt(n.iffalse)
            return n
        if isinstance(n, c_ast.For):
            self.push()
            if isinstance(n.init, c_ast.DeclList):
                self.stmt(n.init)
            elif n.init is not None:
                n.init = self.expr(n.init).node
            if n.cond is not None:
                n.cond = self.expr(n.cond).node
            if n.next is not None:
                n.next = self.expr(n.next).node
            n.stmt = self.stmt(n.stmt)
            self.pop()
            return n
        if isinstance(n, (c_ast.While, c_ast.DoWhile)):
            n.cond = self.expr(n.cond).node
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, c_ast.Switch):
            n.cond = self.expr(n.cond).node
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, (c_ast.Case, c_ast.Default)):
            n.stmts = [self.stmt(s) for s in n.stmts or []]
            return n
        if isinstance(n, c_ast.Label):
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, c_ast.Return):
            if n.expr is not None:
                n.expr = self.expr(n.expr).node
            return n
        if isinstance(n, (c_ast.Break, c_ast.Continue, c_ast.Goto, c_ast.EmptyStatement,
                          c_ast.Pragma, c_ast.StaticAssert)):
            return n
        return self.expr(n).node

    def push(self):
        self.scopes.append({})
        self.typedefs.append({})
        self.tags.append({})

    def pop(self):
        self.scopes.pop()
        self.typedefs.pop()
        self.tags.pop()

    def local_decl(self, d):
        if isinstance(d.type, (c_ast.Struct, c_ast.Union, c_ast.Enum)) and not d.name:
            self.rtype(d.type)
            return
        t = self.rtype(d.type)
        prov = None
        if d.init is not None:
            if isinstance(d.init, c_ast.InitList):
                self.expr(d.init)
            else:
                r = self.expr(d.init)
                d.init = r.node
                prov = self.eprov(r) if isinstance(t, (Ptr, Rec)) else None
        if isinstance(t, Arr):
            prov = "direct"
        if d.name:
            self.declare(d.name, Sym(t, prov))

    # -- top level ------------------------------------------------------------------------
    def emit(self, ast):
        """The CO-RE C: the preprocessed source with the rewritten spans spliced in
        (everything else reaches clang as the user wrote it, GNU C included), after
        the CO-RE headers and the tracepoint argument structs it needs."""
        self.scopes = [{}]
        self.typedefs = [{}]
        self.tags = [{}]
        self.maps = {}
        self.funcs = {}
        self.tp_text = []
        self.stmt_exprs = {}
        self.em = Emitter(self.source)
        self.em.snapshot(ast)
        calls = set()
        self.user_typedefs = set()
        for node in _walk(ast):
            if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID):
                calls.add(node.name.name)
            elif isinstance(node, c_ast.Typedef) and self.is_user(node):
                self.user_typedefs.add(node.name)
        self.called = calls
        src = self.source
        items = src.top_items()
        starts = [i[0] for i in items]
        edits = {}
        for ext in ast.ext:
            if not self.is_user(ext) or isinstance(ext, c_ast.Pragma):
                continue
            item = self.item_of(ext, items, starts)
            if isinstance(ext, c_ast.Decl) and ext.name and \
                    ext.name.startswith("__bcc_unsupported__"):
                what = ext.name[len("__bcc_unsupported__"):]
                self.err("%s is not supported by the CO-RE translation" % what, ext, what)
            out = []
            replaced = False
            if isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.TypeDecl) and \
                    isinstance(ext.type.type, c_ast.Struct) and ext.type.type.name and \
                    ext.type.type.name.startswith("__bcc_map__"):
                out.append(self.item_span(item) + (self.map_decl(ext),))
                replaced = True
            elif isinstance(ext, c_ast.FuncDef):
                out = self.funcdef(ext, item)
            elif isinstance(ext, c_ast.Typedef):
                self.typedefs[0][ext.name] = self.rtype(ext.type)
            elif isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.FuncDecl):
                self.funcs[ext.name] = self.rtype(ext.type)
                out.append(self.item_span(item) + ("",))   # the definitions follow
                replaced = True
            elif isinstance(ext, c_ast.Decl):
                self.global_decl(ext)
            if not replaced:
                self.em.collect(ext, out)
            for e in out:
                edits[e[:2]] = e
        head = ["/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */\n",
                '#include "vmlinux.h"\n', "#include <bpf/bpf_helpers.h>\n",
                "#include <bpf/bpf_tracing.h>\n", "#include <bpf/bpf_core_read.h>\n",
                "#include <bpf/bpf_endian.h>\n", '#include "bcc_compat.h"\n']
        head += self.tp_text
        tail = []
        if not self.has_license:
            tail = ['\nchar _license[] SEC("license") = "GPL";\n']
        body = apply_edits(self.pp, 0, list(edits.values()))
        return "".join(head) + _drop_preamble(body, self.filename) + "".join(tail)

    def item_of(self, ext, items, starts):
        k = self.source.token_at(self.source.offset(ext.coord))
        i = bisect.bisect_right(starts, k) - 1
        return items[max(i, 0)]

    def item_span(self, item):
        src = self.source
        return src.tok_start[item[0]], src.tok_end[item[1]]

    has_license = False

    def global_decl(self, d):
        if d.name in ("_license", "LICENSE", "__license", "license"):
            self.has_license = True
        t = self.rtype(d.type) if not isinstance(d.type, (c_ast.Struct, c_ast.Union,
                                                           c_ast.Enum)) else \
            self.rtype(d.type)
        if d.init is not None and not isinstance(d.init, c_ast.InitList):
            d.init = self.expr(d.init).node
        if d.name:
            self.scopes[0][d.name] = Sym(t, "direct" if isinstance(t, Arr) else None)

    def map_decl(self, d):
        st = d.type.type
        name = d.name
        key_decl = st.decls[0]
        val_decl = st.decls[1]
        key_t = self.rtype(key_decl.type).to
        val_t = self.rtype(val_decl.type).to
        init = d.init.exprs
        kind = init[0].value.strip('"')
        size = init[1]
        flags = init[2]
        if kind not in _MAP_TYPES:
            self.err("BPF_TABLE type \"%s\" is not supported" % kind, d, kind)
        m = MapDecl(name, kind, key_decl.type.type, val_decl.type.type, key_t, val_t,
                    size, flags, d.coord)
        self.maps[name] = m
        mtype = _MAP_TYPES[kind]
        if kind == "histogram":
            mtype = "BPF_MAP_TYPE_ARRAY" if isinstance(key_t, Prim) and \
                key_t.name in ("int", "signed int") else "BPF_MAP_TYPE_HASH"
        g = self.em.printer

        def tyname(node):
            node = _strip_declname(node)
            return g.visit(c_ast.Typename(None, [], None, node))
        lines = ["struct {", "\t__uint(type, %s);" % mtype]
        if kind == "ringbuf":
            lines.append("\t__uint(max_entries, (%s) * 4096);" % self.em.render(size))
        elif kind != "perf_output":
            lines.append("\t__uint(max_entries, %s);" % self.em.render(size))
        if kind in ("perf_output", "perf_array", "prog", "cgroup_array"):
            lines += ["\t__uint(key_size, sizeof(u32));", "\t__uint(value_size, sizeof(u32));"]
        elif kind == "stacktrace":
            lines += ["\t__uint(key_size, sizeof(u32));",
                      "\t__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(u64));"]
        elif kind in ("queue", "stack"):
            lines.append("\t__type(value, %s);" % tyname(m.value_node))
        elif kind != "ringbuf":
            lines.append("\t__type(key, %s);" % tyname(m.key_node))
            lines.append("\t__type(value, %s);" % tyname(m.value_node))
        fl = self.const_int(flags)
        if fl or (fl is None and not (isinstance(flags, c_ast.Constant))):
            lines.append("\t__uint(map_flags, %s);" % self.em.render(flags))
        lines.append('} %s SEC(".maps");' % name)
        return " ".join(l.strip() for l in lines)

    # -- functions ------------------------------------------------------------------------
    def funcdef(self, f, item):
        decl = f.decl
        name = decl.name
        fdecl = decl.type
        if not isinstance(fdecl, c_ast.FuncDecl):
            self.err("cannot parse the definition of '%s' as a function" % name, f)
        params = list(fdecl.args.params) if fdecl.args is not None else []
        params = [p for p in params if not (isinstance(p, c_ast.Typename) and
                                            _is_void(p))]
        self.funcs[name] = self.rtype(fdecl)
        storage = list(decl.storage or [])
        sec = None
        macro = None
        out_name = name
        ctx_names = set()
        kernel_params = False
        static = "static" in storage
        first_t = self.rtype(params[0].type) if params and \
            not isinstance(params[0], c_ast.EllipsisParam) else None
        first_is_regs = isinstance(first_t, Ptr) and isinstance(first_t.to, Rec) and \
            first_t.to.name == "pt_regs"
        if name.startswith("__bcc_tracepoint__"):
            rest = name[len("__bcc_tracepoint__"):]
            cat, _, ev = rest.partition("__")
            out_name = "tracepoint__%s__%s" % (cat, ev)
            sec = "tracepoint/%s/%s" % (cat, ev)
            # args: the kernel's trace_event_raw_* type (read with CO-RE: a direct load
            # at a relocated offset can become "modified ctx" access) or a struct made
            # from the format file (constant offsets, read directly)
            ctx_names.add("args")
            kernel_params = True
        elif name.startswith("__bcc_raw_tracepoint__"):
            ev = name[len("__bcc_raw_tracepoint__"):]
            out_name = "raw_tracepoint__" + ev
            sec = "raw_tp/" + ev
            ctx_names.add("ctx")
        elif name.startswith(("__bcc_kfunc__", "__bcc_kretfunc__", "__bcc_lsm__",
                              "__bcc_kmod_ret__")):
            pre, _, ev = name[len("__bcc_"):].partition("__")
            out_name = "%s__%s" % (pre, ev)
            sec = {"kfunc": "fentry/", "kretfunc": "fexit/", "lsm": "lsm/",
                   "kmod_ret": "fmod_ret/"}[pre] + ev
            macro = "BPF_PROG"
        elif name.startswith(("kprobe__", "kretprobe__")):
            kernel_params = True
            ret = name.startswith("kretprobe__")
            ev = name.split("__", 1)[1]
            sec = ("kretprobe/" if ret else "kprobe/") + ev
            if not first_is_regs and params:
                self.err("%s: the first parameter of a kprobe function must be "
                         "struct pt_regs *" % name, f)
            if len(params) > 1:
                if ret:
                    self.err("%s: kretprobe functions take only the struct pt_regs * "
                             "context (use PT_REGS_RC(ctx))" % name, params[1], "kretprobe")
                macro = "BPF_KPROBE"
            if params:
                ctx_names.add(params[0].name)
        elif name.startswith("syscall__"):
            ev = name[len("syscall__"):]
            sec = "ksyscall/" + ev
            if len(params) > 1:
                macro = "BPF_KSYSCALL"
            if params:
                ctx_names.add(params[0].name)
        elif not static and params and name not in self.called and \
                isinstance(first_t, Ptr):
            to = first_t.to
            tn = to.name if isinstance(to, Rec) else None
            sec = {"pt_regs": "kprobe", "bpf_perf_event_data": "perf_event",
                   "__sk_buff": "socket", "xdp_md": "xdp",
                   "bpf_raw_tracepoint_args": "raw_tp"}.get(tn, "kprobe")
            kernel_params = tn == "pt_regs"
            if tn == "pt_regs" and len(params) > 1:
                macro = "BPF_KPROBE"
            ctx_names.add(params[0].name)
        # body
        self.push()
        for p in params:
            if isinstance(p, c_ast.EllipsisParam) or not p.name:
                continue
            t = self.rtype(p.type)
            if p.name in ctx_names and not (kernel_params and isinstance(t, Ptr) and
                                            isinstance(t.to, Rec) and t.to.kernel):
                prov = "direct"
            elif kernel_params and isinstance(t, Ptr) and p.name not in ctx_names:
                prov = "kernel"         # a kprobe's arguments point into the kernel
            else:
                prov = None
            self.declare(p.name, Sym(t, prov))
        if macro in ("BPF_KPROBE", "BPF_KSYSCALL") and params[0].name != "ctx":
            self.declare("ctx", Sym(first_t, "direct"))
        f.body = self.stmt(f.body)
        self.pop()
        em = self.em
        src = self.source
        head_lo = src.tok_start[item[0]]
        if item[2] is None:
            self.err("%s: cannot find the function's body" % name, f)
        body_lo = src.tok_start[item[2]]
        edits = []
        if macro in ("BPF_KPROBE", "BPF_KSYSCALL") and params[0].name != "ctx":
            # BPF_KPROBE names the context ctx; keep the user's name working
            edits.append((body_lo + 1, body_lo + 1,
                          " %s = ctx;" % em.render_original(params[0])))
        if sec is None:
            # a helper function: always inlined (storage words before its name dropped)
            name_lo = src.offset(decl.coord)
            lead = re.sub(r"\b(static|extern|inline|__inline|__inline__)\b|"
                          r"__attribute__\s*\(\(\s*always_inline\s*\)\)", "",
                          self.pp[head_lo:name_lo]).lstrip()
            header = "static __always_inline " + lead + self.pp[name_lo:body_lo]
            return [(head_lo, body_lo, header)] + edits
        g = em.printer
        ret = g.visit(c_ast.Typename(None, [], None, _strip_declname(fdecl.type)))
        if name.startswith("__bcc_tracepoint__"):
            rec = self.rtype(params[0].type)
            ps = ["struct %s *%s" % (rec.to.name, params[0].name)]
        else:
            ps = [em.render(p) for p in params]
        if macro:
            rest = ps[1:] if macro in ("BPF_KPROBE", "BPF_KSYSCALL") else ps
            sig = "%s %s(%s)" % (ret, macro, ", ".join([out_name] + rest))
        else:
            sig = "%s %s(%s)" % (ret, out_name, ", ".join(ps or ["void"]))
        if ret.strip() != "int" and macro:
            self.err("%s: probe functions must return int" % out_name, f)
        return [(head_lo, body_lo, 'SEC("%s") %s ' % (sec, sig))] + edits

    # -- tracepoints ----------------------------------------------------------------------
    def tp_record(self, n):
        key = n.name
        r = self.tags[0].get(("struct", key))
        if r is not None:
            return r
        rest = key[len("__bcc_tp_args__"):]
        cat, _, ev = rest.partition("__")
        rec, cname, text = self.tp_struct(cat, ev, n)
        self.tags[0][("struct", key)] = rec
        self.tags[0][("struct", cname)] = rec
        n.name = cname
        if text:
            self.tp_text.append(text)
        return rec

    def read_format(self, cat, ev):
        tf = self.tracefs
        if tf is None:
            from bcc_core import features
            tf = features.tracefs(mount=True)
        if not tf:
            return None
        p = os.path.join(tf, "events", cat, ev, "format")
        try:
            with open(p) as fh:
                text = fh.read()
        except OSError:
            return None
        fields = []
        for m in re.finditer(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);",
                             text):
            fields.append((m.group(1).strip(), int(m.group(2)), int(m.group(3)),
                           int(m.group(4))))
        return fields

    def tp_struct(self, cat, ev, node):
        """The record for TRACEPOINT_PROBE(cat, ev)'s args: the kernel's
        trace_event_raw_* type in BTF when one matches the tracepoint's format,
        else a struct generated from the tracefs format file."""
        fmt = self.read_format(cat, ev)
        key = "__bcc_tp_args__%s__%s" % (cat, ev)
        want = None
        if fmt is not None:
            want = []
            for decl, off, size, sgn in fmt:
                nm = _IDENT.findall(re.sub(r"\[\d*\]", "", decl))[-1]
                if nm.startswith("common_"):
                    continue
                if decl.startswith("__data_loc"):
                    nm = "__data_loc_" + nm
                want.append((nm, off))
        cands = self.btf.find("trace_event_raw_" + ev, _btf.KIND_STRUCT)
        if want is not None and not cands:
            cands = self._tp_candidates(len(want) + 2)
        for tid in cands:
            bt = self.btf.type(tid)
            have = [(m.name, m.bit_offset // 8) for m in bt.members
                    if m.name not in ("ent", "__data")]
            if want is None or have == want:
                return self.bt.conv(tid), bt.name, ""
        if fmt is None:
            self.err("tracepoint %s:%s not found (no trace_event_raw_%s in BTF and no "
                     "tracefs format file)" % (cat, ev, ev), node, "TRACEPOINT_PROBE")
        # generate from the format file
        cname = "tracepoint__%s__%s" % (cat, ev)
        lines = ["struct %s {" % cname]
        fields = {}
        cur = 0
        npad = 0
        for decl, off, size, sgn in fmt:
            if off > cur:
                lines.append("\tchar __pad_%d[%d];" % (npad, off - cur))
                npad += 1
            decl = decl.replace("__user", "").strip()
            nm = _IDENT.findall(re.sub(r"\[\d*\]", "", decl))[-1]
            if decl.startswith("__data_loc"):
                c, t = "u32 __data_loc_%s" % nm, Prim("u32", 4)
                nm = "__data_loc_" + nm
            elif "[" in decl:
                n_el = re.search(r"\[(\d*)\]", decl)
                cnt = int(n_el.group(1)) if n_el and n_el.group(1) else 0
                if cnt and size % cnt == 0 and size // cnt in (1, 2, 4, 8):
                    es = size // cnt
                    et = ("s" if sgn else "u") + str(es * 8)
                    if decl.split()[0] == "char":
                        et = "char"
                    c, t = "%s %s[%d]" % (et, nm, cnt), Arr(Prim(et, es), cnt)
                else:
                    c, t = "u8 %s[%d]" % (nm, size), Arr(Prim("u8", 1), size)
            elif "*" in decl:
                base = decl[:decl.rindex("*") + 1]
                c = "%s%s" % (base, nm) if base.endswith("*") else base + " " + nm
                t = self.type_from_text(base)
            else:
                ty = {1: "8", 2: "16", 4: "32", 8: "64"}.get(size)
                if ty is None:
                    c, t = "u8 %s[%d]" % (nm, size), Arr(Prim("u8", 1), size)
                else:
                    et = ("s" if sgn else "u") + ty
                    c, t = "%s %s" % (et, nm), Prim(et, size)
            lines.append("\t%s;" % c)
            fields[nm] = (t, 0)
            cur = off + size
        lines.append("};\n")
        rec = Rec("struct", cname, fields=fields)
        return rec, cname, "\n".join(lines) + "\n"

    def _tp_candidates(self, max_members):
        b = self.btf
        out = []
        for off in b._string_offsets("trace_event_raw_", prefix=True):
            for tid in b._ids_with_name_off(off):
                if b.kind_of(tid) == _btf.KIND_STRUCT:
                    out.append(tid)
        return sorted(out)


def _same_type(a, b):
    if isinstance(a, Prim) and isinstance(b, Prim):
        return a.size is not None and a.size == b.size
    if isinstance(a, Ptr) and isinstance(b, Ptr):
        return True
    if isinstance(a, Arr) and isinstance(b, Arr):
        return a.n == b.n and _same_type(a.of, b.of)
    if isinstance(a, Rec) and isinstance(b, Rec):
        return a is b or (a.btf_id is not None and a.btf_id == b.btf_id)
    return False


def _is_void(p):
    t = p.type
    return isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType) and \
        t.type.names == ["void"]


def _strip_declname(node, name=None):
    """A copy of a declarator chain with the declared name replaced (None: abstract)."""
    import copy
    node = copy.deepcopy(node)
    t = node
    while not isinstance(t, c_ast.TypeDecl):
        if isinstance(t, c_ast.FuncDecl):
            break
        t = t.type
    if isinstance(t, c_ast.TypeDecl):
        t.declname = name
    return node


def _walk(n):
    if n is None:
        return
    stack = [n]
    while stack:
        x = stack.pop()
        yield x
        for _, c in x.children():
            stack.append(c)


_prelude_path = None


def _prelude_dir():
    global _prelude_path
    if _prelude_path is None:
        from bcc_core.btf import cache_dir, content_key
        key = content_key(PRELUDE.encode())[:16]
        d = os.path.join(cache_dir(), "compat", "prelude-" + key)
        p = os.path.join(d, "bcc_parse_prelude.h")
        if not os.path.exists(p):
            os.makedirs(d, exist_ok=True)
            tmp = p + ".%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(PRELUDE)
            os.replace(tmp, p)
        _prelude_path = d
    return _prelude_path


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------
_BCC_MARKERS = re.compile(
    r"\b(BPF_HASH|BPF_ARRAY|BPF_HISTOGRAM|BPF_PERCPU_ARRAY|BPF_PERCPU_HASH|BPF_LRU_HASH|"
    r"BPF_STACK_TRACE|BPF_PERF_OUTPUT|BPF_RINGBUF_OUTPUT|BPF_TABLE|BPF_F_TABLE|"
    r"BPF_PROG_ARRAY|TRACEPOINT_PROBE|RAW_TRACEPOINT_PROBE|KFUNC_PROBE|KRETFUNC_PROBE|"
    r"LSM_PROBE|kprobe__\w+|kretprobe__\w+|syscall__\w+|bpf_trace_printk)\b")


def is_bcc_dialect(text):
    """Whether C text is BCC's dialect (as opposed to libbpf CO-RE C, which includes
    vmlinux.h/bpf_helpers.h and marks programs with SEC())."""
    if re.search(r'\bSEC\s*\(\s*"', text) and re.search(r"bpf/bpf_helpers\.h|vmlinux\.h",
                                                         text):
        return False
    return bool(_BCC_MARKERS.search(text)) or not re.search(r'\bSEC\s*\(', text)


def translate(text, filename="<bcc>", btf=None, cflags=(), src_dir=None, tracefs=None):
    """BCC-dialect C text -> CO-RE C text.  Raises TranslateError."""
    import sys
    tr = Translator(btf=btf, cflags=cflags, filename=filename, tracefs=tracefs)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        return tr.translate(text, src_dir or (os.path.dirname(os.path.abspath(filename))
                                               if not filename.startswith("<") else "."))
    except RecursionError:
        raise TranslateError("expression too deeply nested", filename) from None
    finally:
        sys.setrecursionlimit(old)


def translate_file(path, btf=None, cflags=(), tracefs=None):
    with open(path) as f:
        text = f.read()
    return translate(text, filename=path, btf=btf, cflags=cflags, tracefs=tracefs)
