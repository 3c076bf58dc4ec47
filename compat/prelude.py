"""The parse prelude and the preparation of a BCC program's text for the parser.

``PRELUDE`` is force-included when the translator preprocesses a program: it gives
BCC's macros (``BPF_HASH``, ``TRACEPOINT_PROBE``...) a meaning pycparser can parse and
that still carries what they declare, and defines the kernel macros BCC programs take
from kernel headers (types come from BTF; macros are not in BTF).  The helpers map the
preprocessed text's lines back to the user's files.
"""
import os
import re

# ----------------------------------------------------------------------------------------
# Parse prelude: BCC's macros as pycparser-friendly C
# ----------------------------------------------------------------------------------------
_MAP_MACROS = [
    # macro, kind, parameters with defaults in BCC's order[, flags[, fixed value type]]
    ("BPF_HASH", "hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_LRU_HASH", "lru_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_PERCPU_HASH", "percpu_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_LRU_PERCPU_HASH", "lru_percpu_hash", ["n", "k=u64", "v=u64", "s=10240"]),
    ("BPF_ARRAY", "array", ["n", "v=u64", "s=10240"]),
    ("BPF_PERCPU_ARRAY", "percpu_array", ["n", "v=u64", "s=10240"]),
    ("BPF_HISTOGRAM", "histogram", ["n", "k=int", "s=64"]),
    ("BPF_LPM_TRIE", "lpm_trie", ["n", "k=u64", "v=u64", "s=10240"], "BPF_F_NO_PREALLOC"),
    ("BPF_SOCKHASH", "sockhash", ["n", "k=u32", "s=10240"], "0", "int"),
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
#define __BCC_QUEUESTACK(kind, name, v, size, flags) __BCC_MAP(kind, name, int, v, size, flags)
#define BPF_QUEUESTACK(kind, name, v, size, flags) __BCC_QUEUESTACK(kind, name, v, size, flags)
#define BPF_QUEUE(...) __BCC_CAT(__BCC_QUEUE_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)
#define __BCC_QUEUE_3(name, v, size) __BCC_QUEUESTACK("queue", name, v, size, 0)
#define __BCC_QUEUE_4(name, v, size, flags) __BCC_QUEUESTACK("queue", name, v, size, flags)
#define BPF_STACK(...) __BCC_CAT(__BCC_STACK_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)
#define __BCC_STACK_3(name, v, size) __BCC_QUEUESTACK("stack", name, v, size, 0)
#define __BCC_STACK_4(name, v, size, flags) __BCC_QUEUESTACK("stack", name, v, size, flags)
#define BPF_QUEUESTACK_PINNED(kind, name, v, size, flags, path) \
    __BCC_QUEUESTACK(kind ":" path, name, v, size, flags)
#define BPF_QUEUESTACK_PUBLIC(kind, name, v, size, flags) \
    __BCC_QUEUESTACK(kind "@public", name, v, size, flags)
#define BPF_QUEUESTACK_SHARED(kind, name, v, size, flags) \
    __BCC_QUEUESTACK(kind "@shared", name, v, size, flags)
/* BCC's table type strings: "KIND:PATH" pinned, "KIND@public"/"@shared" (compat.mapdecl) */
#define BPF_TABLE_PINNED(...) __BCC_CAT(__BCC_TABLE_PINNED_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)
#define __BCC_TABLE_PINNED_6(kind, k, v, name, size, path) \
    __BCC_MAP(kind ":" path, name, k, v, size, 0)
#define __BCC_TABLE_PINNED_7(kind, k, v, name, size, path, flags) \
    __BCC_MAP(kind ":" path, name, k, v, size, flags)
#define BPF_TABLE_PUBLIC(kind, k, v, name, size) __BCC_MAP(kind "@public", name, k, v, size, 0)
#define BPF_TABLE_SHARED(kind, k, v, name, size) __BCC_MAP(kind "@shared", name, k, v, size, 0)
#define BPF_STACK_TRACE_BUILDID(name, size) \
    __BCC_MAP("stacktrace", name, int, int, size, BPF_F_STACK_BUILD_ID)
#define BPF_ARRAY_OF_MAPS(name, inner, size) \
    __BCC_MAP("array_of_maps$" inner, name, int, int, size, 0)
#define BPF_HASH_OF_MAPS(...) __BCC_CAT(__BCC_HASH_OF_MAPS_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)
#define __BCC_HASH_OF_MAPS_2(name, inner) \
    __BCC_MAP("hash_of_maps$" inner, name, int, int, 10240, 0)
#define __BCC_HASH_OF_MAPS_3(name, k, inner) \
    __BCC_MAP("hash_of_maps$" inner, name, k, int, 10240, 0)
#define __BCC_HASH_OF_MAPS_4(name, k, inner, size) \
    __BCC_MAP("hash_of_maps$" inner, name, k, int, size, 0)
#define BPF_SK_STORAGE(name, v) __BCC_MAP("sk_storage", name, int, v, 0, 0)
#define BPF_INODE_STORAGE(name, v) __BCC_MAP("inode_storage", name, int, v, 0, 0)
#define BPF_TASK_STORAGE(name, v) __BCC_MAP("task_storage", name, int, v, 0, 0)
#define BPF_CGROUP_STORAGE(name, v) \
    __BCC_MAP("cgroup_storage", name, struct bpf_cgroup_storage_key, v, 0, 0)
#define BPF_PERCPU_CGROUP_STORAGE(name, v) \
    __BCC_MAP("percpu_cgroup_storage", name, struct bpf_cgroup_storage_key, v, 0, 0)
#define BPF_XDP_REDIRECT_MAP(kind, v, name, size) __BCC_MAP(kind, name, u32, v, size, 0)
#define BPF_DEVMAP(name, size) __BCC_MAP("devmap", name, u32, int, size, 0)
#define BPF_CPUMAP(name, size) __BCC_MAP("cpumap", name, u32, u32, size, 0)
#define BPF_XSKMAP(...) __BCC_CAT(__BCC_XSKMAP_, __BCC_NARG(__VA_ARGS__))(__VA_ARGS__)
#define __BCC_XSKMAP_2(name, size) __BCC_MAP("xskmap", name, u32, int, size, 0)
#define __BCC_XSKMAP_3(name, size, path) __BCC_MAP("xskmap:" path, name, u32, int, size, 0)
#define BPF_SOCKMAP(name, size) __BCC_MAP("sockmap", name, u32, int, size, 0)
#define __BCC_UNSUPPORTED(what) int __bcc_unsupported__##what
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
/* BCC's packet dialect (compat/packet.py) */
#define BPF_PACKET_HEADER __attribute__((packed)) __attribute__((deprecated("packet")))
#define cursor_advance(_cursor, _len) \
    ({ void *__bcc_cur = _cursor; _cursor += _len; __bcc_cur; })
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
#define div_u64(a, b) ((u64)(a) / (b))
#define div64_u64(a, b) ((u64)(a) / (u64)(b))
#define div_s64(a, b) ((s64)(a) / (b))
#ifdef __TARGET_ARCH_x86
#define __PAGE_OFFSET_BASE_L4 0xffff888000000000UL
#define __PAGE_OFFSET_BASE_L5 0xff11000000000000UL
#endif
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_EXEC 0x20
#define FMODE_CREATED 0x100000
#define READ 0
#define WRITE 1
#define SCM_RIGHTS 0x01
#define SCM_CREDENTIALS 0x02
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EPIPE 32
#define ERANGE 34
#define ENOSYS 38
#define ENOTEMPTY 39
#define ENOTSUPP 524
#define EOPNOTSUPP 95
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define EINPROGRESS 115
#define DISK_NAME_LEN 32
#define IFNAMSIZ 16
#define BDEVNAME_SIZE 32
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
/* linux/security.h (5.1+): cap_capable()'s opts; BCC's capable tests #ifdef CAP_OPT_NONE */
#define CAP_OPT_NONE 0x0
#define CAP_OPT_NOAUDIT (1 << 1)
#define CAP_OPT_INSETID (1 << 2)
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
/* net/sock.h's and net/inet_sock.h's member aliases: not when the program defines
 * its own struct sock / inet_sock (BCC's programs that include no net header) */
#ifndef __BCC_OWN_SOCK
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
#endif
/* string.h / the kernel's string functions: clang's builtins (BCC's helpers.h) */
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
/* helpers.h */
#define CUR_CPU_IDENTIFIER BPF_F_CURRENT_CPU
/* net/tcp.h, net/sch_generic.h */
#define TCP_SKB_CB(__skb) ((struct tcp_skb_cb *)&((__skb)->cb[0]))
#define qdisc_skb_cb(skb) ((struct qdisc_skb_cb *)(skb)->cb)
/* uapi/linux/pkt_cls.h */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_RECLASSIFY 1
#define TC_ACT_SHOT 2
#define TC_ACT_PIPE 3
#define TC_ACT_STOLEN 4
#define TC_ACT_QUEUED 5
#define TC_ACT_REPEAT 6
#define TC_ACT_REDIRECT 7
#define TC_ACT_TRAP 8
/* uapi/linux/if_ether.h (IPPROTO_* are enumerators: BTF has them) */
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_ALL 0x0003
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
"""

# macros with defaults, generated
_lines = []
for _m, _kind, _params, *_fixed in _MAP_MACROS:
    _flags, _value = (list(_fixed) + ["0", None][len(_fixed):])[:2]
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
        v = _value or vals.get("v", "u64")
        _lines.append("#define __BCC_%s_%d(%s) __BCC_MAP(\"%s\", %s, %s, %s, %s, %s)"
                      % (_m, i, ", ".join(given), _kind, vals["n"], k, v, vals["s"], _flags))
PRELUDE += "\n".join(_lines) + "\n"
del _lines

C_WORDS = frozenset("auto break case char const continue default do double else enum "
                     "extern float for goto if inline int long register restrict return "
                     "short signed sizeof static struct switch typedef union unsigned void "
                     "volatile while _Bool".split())
BASE_STUBS = ("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16",
               "__u32", "__u64", "__s8", "__s16", "__s32", "__s64", "size_t", "bool")

# ----------------------------------------------------------------------------------------
# Source preparation
# ----------------------------------------------------------------------------------------
IDENT = re.compile(r"[A-Za-z_]\w*")
_LINEMARK = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"')


def strip_system_includes(text):
    """Kernel headers are not available (types come from BTF): drop #include <...>;
    ``<bcc/proto.h>`` becomes its packet header structs (:mod:`.packet`).  Returns the
    text and the dropped lines [(line number, text)] (the uapi ones give their macros:
    :mod:`.uapi`)."""
    from .packet import PROTO_INCLUDE, PROTO_LINE
    out = []
    dropped = []
    for i, line in enumerate(text.split("\n")):
        s = line.lstrip()
        if s.startswith("#") and re.match(r"#\s*include\s*<", s):
            dropped.append((i + 1, s.strip()))
            # BCC's packet headers are not the kernel's: defined in place (one line)
            out.append(PROTO_LINE if PROTO_INCLUDE.match(s) else "")
        else:
            out.append(line)
    return "\n".join(out), dropped


PARSE_LINE_OFFSET = 1      # the typedef stubs' line above the parsed text


def blank_line_markers(text):
    """Preprocessor lines blanked (pycparser would renumber lines at line markers);
    offsets unchanged."""
    return re.sub(r"(?m)^[ \t]*#[^\n]*", lambda m: " " * len(m.group(0)), text)


def linux_version_code():
    """LINUX_VERSION_CODE of the running kernel, for #if in programs (BCC takes it from
    the kernel's headers)."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", os.uname().release)
    if not m:
        return 0
    a, b, c = (int(x or 0) for x in m.groups())
    return (a << 16) + (b << 8) + min(c, 255)


_OWN_HEADERS = ("bcc_parse_prelude.h", "bcc_kconfig.h", ".bcc-uapi.h")   # force-included, not the user's


def is_user_file(f, filename):
    """Whether a line marker's file is the user's (the program's file, named by the
    caller -- "<text>" too -- or a header it includes) rather than clang's <built-in>,
    <command line>, <stdin> or the parse prelude."""
    if not f:
        return False
    if f == filename:
        return True
    return not f.startswith("<") and not f.endswith(_OWN_HEADERS)


def drop_preamble(text, filename):
    """The preprocessed text from the first line marker of a user's file on (before
    it: markers of <built-in>, <command line> and the parse prelude, and blank lines)."""
    for m in re.finditer(r'(?m)^# \d+ "((?:[^"\\]|\\.)*)"', text):
        if is_user_file(m.group(1).replace('\\"', '"').replace("\\\\", "\\"),
                         filename):
            return text[m.start():]
    return text


def line_map(text):
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


_prelude_path = None


def _cached_header(kind, name, text):
    """The path of a header with this text, written once per content under the cache
    (cache_dir()/compat/KIND-HASH/NAME)."""
    from bcc_core.btf import cache_dir, content_key
    d = os.path.join(cache_dir(), "compat", "%s-%s" % (kind, content_key(text.encode())[:16]))
    p = os.path.join(d, name)
    if not os.path.exists(p):
        write_whole(p, text)
    return p


def write_whole(path, text):
    """Write ``path`` (its directory made) so that a reader sees all of it or none."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def prelude_dir():
    """The directory of the parse prelude header (bcc_parse_prelude.h)."""
    global _prelude_path
    # written again when the cache's pruning removed it while this process ran (a
    # long-lived process, or many others compiling beside it)
    if _prelude_path is None or not os.path.exists(os.path.join(_prelude_path,
                                                                "bcc_parse_prelude.h")):
        _prelude_path = os.path.dirname(_cached_header("prelude", "bcc_parse_prelude.h",
                                                       PRELUDE))
    return _prelude_path


def kconfig_header():
    """A header defining the running kernel's CONFIG_* options as its autoconf.h does
    (``CONFIG_X 1``, ``CONFIG_X_MODULE 1``, values as written), for ``#ifdef CONFIG_...``
    in programs; written once per config content.  None without a kernel config."""
    from bcc_core.load import kconfig
    cfg = kconfig.read_config()
    if not cfg:
        return None
    lines = []
    for k, v in sorted(cfg.items()):
        if v == "y":
            lines.append("#define %s 1" % k)
        elif v == "m":
            lines.append("#define %s_MODULE 1" % k)
        elif v and v != "n":
            lines.append("#define %s %s" % (k, v))
    return _cached_header("kconfig", "bcc_kconfig.h", "\n".join(lines) + "\n")
