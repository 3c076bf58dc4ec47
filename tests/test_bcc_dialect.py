"""BCC C dialect items the translator gives BCC's meaning (issue 21), on the real kernel:
programs in the style of BCC's own test programs (tracepoints, since this host has no
kprobes), checked by what the kernel counted; plus BCC's compile-time errors and
bpf_trace_printk format warnings (pure logic: :func:`printk_format_warning`)."""
import ctypes as ct
import os
import socket
import struct

import pytest

from bcc_core import BPF
from bcc_core import btf as B
from bcc_core.errors import BccCoreError
from conftest import CLANG, need_root

pytest.importorskip("pycparser")
from bcc_core.compat.calls import printk_format_warning  # noqa: E402

_no_btf = pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF")
_no_clang = pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")


def kernel(f):
    """A test that compiles a program with clang against this kernel's BTF."""
    return _no_btf(_no_clang(f))


def getpid_n(n):
    for _ in range(n):
        os.getpid()     # glibc does not cache getpid(): one syscall each


@kernel
def test_lookup_or_init_result_used_unchecked():
    """BCC programs dereference lookup_or_init()'s result with no NULL check (BCC returns
    0 from the program when it cannot get the element): it must load and count."""
    need_root()
    b = BPF(text=b"""
BPF_HASH(calls, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 zero = 0, *val = calls.lookup_or_init(&pid, &zero);
    (*val) += 2;
    return 0;
}
""")
    try:
        getpid_n(25)
        got = {k.value: v.value for k, v in b["calls"].items()}
        assert got.get(os.getpid()) == 50
    finally:
        b.cleanup()


@kernel
def test_struct_key_histogram_memset_and_cpu_identifier():
    """A BPF_HISTOGRAM keyed by a struct given as a compound literal, a memset() of a
    stack record, and CUR_CPU_IDENTIFIER for perf output: counted and received."""
    need_root()
    b = BPF(text=b"""
typedef struct { u64 pid; u64 slot; } Key;   /* no padding: the key is its bytes */
struct rec { u32 pid; char pad[20]; u64 one; };
BPF_HISTOGRAM(hist, Key, 1024);
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    hist.increment((Key){pid, bpf_log2l(1000)});
    struct rec r;
    memset(&r, 0, sizeof(r));
    r.pid = pid;
    r.one = 1;
    bpf_perf_event_output(args, &events, CUR_CPU_IDENTIFIER, &r, sizeof(r));
    return 0;
}
""")
    seen = []
    try:
        b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(
            bytes(ct.string_at(data, size))))
        getpid_n(10)
        b.perf_buffer_poll(timeout=200)
        mine = {(k.pid, k.slot): v.value for k, v in b["hist"].items()
                if k.pid == os.getpid()}
        assert mine == {(os.getpid(), 10): 10}
        recs = [struct.unpack_from("<I20xQ", s) for s in seen]
        assert recs.count((os.getpid(), 1)) == 10
        assert all(s[4:24] == bytes(20) for s in seen)     # memset cleared the pad
    finally:
        b.cleanup()


@kernel
def test_int128_keys_and_values_keep_16_bytes():
    need_root()
    b = BPF(text=b"BPF_HASH(t, unsigned __int128, __int128);")
    try:
        t = b["t"]
        assert ct.sizeof(t.Key) == ct.sizeof(t.Leaf) == 16
        addr = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
        t[t.Key.from_buffer_copy(addr)] = t.Leaf.from_buffer_copy(struct.pack("<qq", -3, 9))
        [(k, v)] = list(t.items())
        assert bytes(k) == addr and struct.unpack("<qq", bytes(v)) == (-3, 9)
    finally:
        b.cleanup()


@pytest.mark.parametrize("text,why", [
    (b"BPF_HASH(drops, struct key_t);\nstruct key_t { u64 location; };\n",
     "its key type struct key_t is incomplete"),
    (b"int bar(void) { return 0; }\nint foo(struct pt_regs *ctx) { return bar(); }\n",
     "cannot call non-static helper function 'bar'"),
])
@kernel
def test_bcc_compile_errors(text, why):
    """What BCC's front end refuses, refused with the user's line."""
    with pytest.raises(BccCoreError) as e:
        BPF(text=text)
    assert why in str(e.value)


@kernel
def test_own_struct_sock_keeps_its_members():
    """A program's own struct sock (no net header) is not renamed by the kernel's sk_*
    aliases; it loads as a kprobe-type program (loading needs no kprobe support)."""
    need_root()
    b = BPF(text=b"""
struct sock { u32 *sk_daddr; };
int test(struct pt_regs *ctx, struct sock *skp) { return *(skp->sk_daddr); }
""")
    try:
        assert b.load_func(b"test", BPF.KPROBE).fd >= 0
    finally:
        b.cleanup()


@kernel
def test_printk_warnings_printed_on_every_start(capfd):
    need_root()
    text = b"""TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    bpf_trace_printk("%0.2f\\n", 1);
    return 0;
}
"""
    for _ in range(2):          # the second start is a cache hit: warned again, as BCC
        BPF(text=text).cleanup()
        err = capfd.readouterr().err
        assert "warning: only %d %u %x %ld %lu %lx %lld %llu %llx %p %s conversion " \
            "specifiers allowed" in err


@pytest.mark.parametrize("fmt,warning", [
    (r"%d %u %x\n", None),
    (r"%ld %lu %llx", None),
    (r"%lx %lld %llu", None),
    (r"%p %s\n", None),
    (r"pid %d", None),
    (r"%s", None),
    (r"%s %s\n", "cannot use several %s conversion specifiers"),
    (r"%0.2f\n", "only"),
    (r"%lf\n", "only"),
    (r"%d %d %d %d", "cannot use more than 3 conversion specifiers"),
    (r"%sx", "only"),
    (r"%", "only"),
    ("caf\u00e9 %d", "unrecognized character"),
])
def test_printk_format_rules(fmt, warning):
    got = printk_format_warning(fmt)
    if warning is None:
        assert got is None
    else:
        assert got is not None and got.startswith(warning)


def test_parse_prelude_rewritten_after_the_cache_lost_it():
    """The cache's pruning may remove the parse prelude while a process that already
    used it runs on: the next translation writes it again."""
    import shutil
    from bcc_core.compat import prelude
    d = prelude.prelude_dir()
    shutil.rmtree(d)
    again = prelude.prelude_dir()
    assert os.path.isfile(os.path.join(again, "bcc_parse_prelude.h"))


@kernel
def test_plain_function_loaded_with_the_type_load_func_gives():
    """BCC loads a plain function when load_func() names its type: one that only that
    type's verifier accepts (direct packet access of a tc classifier) constructs, loads
    as SCHED_CLS and runs (BPF_PROG_TEST_RUN on real frames); asked for as the type its
    section defaults to (a socket filter: no direct packet access) it raises the
    verifier's rejection."""
    text = b"""
#include <uapi/linux/pkt_cls.h>
#include <linux/if_ether.h>
int classify(struct __sk_buff *ctx) {
    void *data_end = (void *)(long)ctx->data_end;
    void *data = (void *)(long)ctx->data;
    if (data + sizeof(struct ethhdr) > data_end)
        return TC_ACT_SHOT;
    struct ethhdr *eh = (struct ethhdr *)data;
    return eh->h_proto == htons(ETH_P_ARP) ? TC_ACT_SHOT : TC_ACT_OK;
}
"""
    b = BPF(text=text)
    try:
        fn = b.load_func(b"classify", BPF.SCHED_CLS)
        assert fn.fd >= 0
        prog = b._obj.programs["classify"]

        def frame(proto):
            return b"\xff" * 6 + b"\x02" * 6 + struct.pack(">H", proto) + b"\0" * 46
        assert prog.test_run(frame(0x0806))[0] == 2        # TC_ACT_SHOT
        assert prog.test_run(frame(0x0800))[0] == 0        # TC_ACT_OK
        with pytest.raises(BccCoreError, match="classify.*rejected by the verifier"):
            b2 = BPF(text=text)
            try:
                b2.load_func(b"classify", BPF.SOCKET_FILTER)
            finally:
                b2.cleanup()
    finally:
        b.cleanup()


@kernel
def test_packet_header_reads_and_writes():
    """BCC's proto.h dialect: header fields read and written through cursor_advance()
    pointers (bpf_dext_pkt/bpf_dins_pkt: bit-fields in network order), run on a real
    IPv4 frame with BPF_PROG_TEST_RUN; the frame that comes back is checked byte by
    byte against the same edits done in Python."""
    b = BPF(text=b"""
#include <bcc/proto.h>
int rw(struct __sk_buff *skb) {
    u8 *cursor = 0;
    struct ethernet_t *eth = cursor_advance(cursor, sizeof(*eth));
    if (eth->type != ETH_P_IP)
        return 1;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    ip->tos = ip->ver * 16 + ip->hlen;
    ip->ttl += 1;
    ip->foffset = 0x1abc;
    ip->mf = 1;
    struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
    udp->crc = udp->dport;
    return 2;
}
""")
    try:
        prog = b._obj.programs["rw"]
        b.load_func(b"rw", BPF.SCHED_CLS)
        eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
        ip = bytes([0x45, 0, 0, 28, 0x12, 0x34, 0x40, 0x00, 63, 17, 0, 0]) + \
            bytes([10, 0, 0, 1, 10, 0, 0, 2])
        udp = struct.pack(">HHHH", 1234, 5678, 8, 0)
        frame = eth + ip + udp + b"\0" * 18
        ret, out = prog.test_run(frame)
        want = bytearray(frame)
        want[15] = 0x45                                      # tos = ver * 16 + hlen
        want[22] = 64                                        # ttl + 1
        want[20:22] = struct.pack(">H", 0x4000 | 0x2000 | 0x1abc)  # DF kept, MF, offset
        want[40:42] = struct.pack(">H", 5678)                # crc = dport
        assert ret == 2
        assert out[:len(want)] == bytes(want)
        arp = eth[:12] + b"\x08\x06" + b"\0" * 46
        assert prog.test_run(arp)[0] == 1
    finally:
        b.cleanup()


def test_packet_header_layout():
    """The bit offsets BCC's clang gives proto.h's packed headers (fields end to end)."""
    from bcc_core.compat.packet import _PROTO
    from bcc_core.compat.translate import Translator
    tr = Translator()
    text = "#include <bcc/proto.h>\nint f(struct __sk_buff *skb) { return 0; }\n"
    tr.translate(text)
    tags = {name: tr.tag("struct", name) for name, _ in _PROTO}
    tcp = tags["tcp_t"].packet
    assert tcp["offset"] == (96, 4) and tcp["flag_syn"] == (110, 1)
    assert tcp["rcv_wnd"] == (112, 16) and tcp["urg_ptr"] == (144, 16)
    assert tags["ip_t"].packet["foffset"] == (51, 13)
    assert tags["ip6_t"].packet["payload_len"] == (32, 16)
    assert tags["ethernet_t"].packet["type"] == (96, 16)
    assert tags["arp_t"].packet["tpa"] == (192, 32)
