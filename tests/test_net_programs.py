"""BCC's networking route through ``BPF(text=)``, on the real kernel, in network
namespaces made here (no traffic leaves the machine).  The programs are written after
BCC 0.26's examples/networking (tc_perf_event.py, xdp_redirect_map.py,
xdp_redirect_cpu.py, http-parse-simple.py) and tests/python (test_call1's tail calls):

* a tc clsact egress filter handed to pyroute2 as ``fn.fd`` (direct action), with
  constants from uapi headers, submitting the skb with ``perf_submit_skb``;
* ``load_func(..., BPF.XDP)`` plain functions attached with ``attach_xdp``: a devmap
  redirect to another veth and a cpumap redirect to a CPU;
* a ``<bcc/proto.h>`` socket filter on ``attach_raw_socket(fn, dev)``'s socket;
* ``BPF_PROG_ARRAY`` tail calls filled from Python;
* ``load_func`` for every program type BCC names (the kernel's prog_type checked).

``tests/bcc_net.py`` runs BCC's own examples (imports changed) the same way, beside BCC.
"""
import ctypes
import ctypes as ct
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import need_root

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bcc_net import Net, M_IP, P_IP  # noqa: E402


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class netns:
    """This thread in network namespace ``name`` for the ``with`` block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/%s" % self.name, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns %s" % self.name)
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        _libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


@pytest.fixture
def net():
    need_root()
    n = Net()
    try:
        yield n
    finally:
        n.close()


def prog_type(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        return int(re.search(r"prog_type:\s*(\d+)", f.read()).group(1))


TC_EGRESS = r"""
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in6.h>
#include <uapi/linux/ipv6.h>
#include <uapi/linux/pkt_cls.h>

BPF_PERF_OUTPUT(frames);

struct l2 { unsigned char dst[ETH_ALEN]; unsigned char src[ETH_ALEN]; unsigned short proto; };

int egress(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct l2 *eth = data;
    struct ipv6hdr *ip6 = data + sizeof(*eth);
    u32 tag = 0xb0ccc0de;

    if (data + sizeof(*eth) + sizeof(*ip6) > data_end)
        return TC_ACT_OK;
    if (eth->proto == htons(ETH_P_IPV6) && ip6->nexthdr == IPPROTO_ICMPV6)
        frames.perf_submit_skb(skb, skb->len, &tag, sizeof(tag));
    return TC_ACT_OK;
}
"""


def test_tc_clsact_filter_from_fd_submits_skbs(net):
    """pyroute2's tc with ``fn.fd`` as BCC's tc_perf_event.py: every ICMPv6 echo request
    leaving veth_a reaches user space with the program's tag, the frame after it."""
    pyroute2 = pytest.importorskip("pyroute2")
    from bcc_core import BPF
    b = BPF(text=TC_EGRESS)
    got = []
    try:
        fn = b.load_func("egress", BPF.SCHED_CLS)
        assert prog_type(fn.fd) == 3                       # BPF_PROG_TYPE_SCHED_CLS

        def frame(cpu, data, size):
            raw = ct.string_at(data, size)
            tag, = struct.unpack("=I", raw[:4])
            pkt = raw[4:]
            got.append((tag, pkt[14 + 40], pkt[14 + 24:14 + 40]))   # ICMPv6 type, dst
        b["frames"].open_perf_buffer(frame)
        with netns(net.m):
            ipr = pyroute2.IPRoute()
            try:
                idx = ipr.link_lookup(ifname="veth_a")[0]
                ipr.tc("add", "clsact", idx)
                ipr.tc("add-filter", "bpf", idx, ":1", fd=fn.fd, name=fn.name,
                       parent="ffff:fff3", classid=1, direct_action=True)
            finally:
                ipr.close()
        for _ in range(40):           # until veth_a has its link-local address
            r = net.run(net.m, "ping", "-6", "-n", "-c", "3", "-i", "0.2", "ff02::1%veth_a")
            if r.returncode == 0:
                break
            time.sleep(0.25)
        assert r.returncode == 0, r.stdout + r.stderr
        end = time.monotonic() + 10
        while time.monotonic() < end and sum(t == 128 for _, t, _ in got) < 3:
            b.perf_buffer_poll(200)
    finally:
        b.cleanup()
    requests = [g for g in got if g[1] == 128]
    assert len(requests) >= 3, got
    assert all(tag == 0xb0ccc0de and dst == socket.inet_pton(socket.AF_INET6, "ff02::1")
               for tag, _, dst in requests)


XDP_REDIRECT = r"""
#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>

BPF_DEVMAP(out_port, 1);
BPF_CPUMAP(cpus, 64);
BPF_ARRAY(target_cpu, u32, 1);
BPF_PERCPU_ARRAY(seen, long, 2);

static inline int count(int i) {
    long *v = seen.lookup(&i);
    if (v)
        *v += 1;
    return 0;
}

int to_port(struct xdp_md *ctx) {
    void *data_end = (void *)(long)ctx->data_end;
    void *data = (void *)(long)ctx->data;
    struct ethhdr *eth = data;
    if (data + sizeof(*eth) > data_end)
        return XDP_DROP;
    if (eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    count(0);
    return out_port.redirect_map(0, 0);
}

int to_cpu(struct xdp_md *ctx) {
    u32 k = 0, *cpu = target_cpu.lookup(&k);
    if (!cpu)
        return XDP_PASS;
    count(1);
    return cpus.redirect_map(*cpu, 0);
}

int pass(struct xdp_md *ctx) {
    return XDP_PASS;
}
"""


def test_xdp_devmap_and_cpumap_redirects(net):
    """xdp_redirect_map.py / xdp_redirect_cpu.py's route: plain functions loaded with
    ``load_func(.., BPF.XDP)`` (the device attach type, not a devmap program's),
    redirected through a devmap to another veth (every ping into veth_a leaves by
    veth_c, none answered) and through a cpumap to CPU 0 (every ping answered there)."""
    from bcc_core import BPF
    b = BPF(text=XDP_REDIRECT)
    try:
        to_port, to_cpu = b.load_func("to_port", BPF.XDP), b.load_func("to_cpu", BPF.XDP)
        pass_fn = b.load_func("pass", BPF.XDP)
        assert prog_type(to_port.fd) == 6
        with netns(net.m):
            b["out_port"][0] = ct.c_int(socket.if_nametoindex("veth_c"))
            b.attach_xdp("veth_a", to_port, 0)
            b.attach_xdp("veth_c", pass_fn, 0)
        with netns(net.p):           # veth_d takes redirected frames while it has XDP
            b.attach_xdp("veth_d", pass_fn, 0)
        before = net.rx_packets(net.p, "veth_d")
        answered = net.ping(5)
        time.sleep(0.2)
        out = net.rx_packets(net.p, "veth_d") - before
        redirected = b["seen"].sum(0).value
        assert answered == 0 and redirected == 5 and out >= 5, (answered, redirected, out)

        b["target_cpu"][0] = ct.c_uint32(0)
        b["cpus"][0] = ct.c_uint32(192)                    # the CPU's queue size
        with netns(net.m):
            b.attach_xdp("veth_a", to_cpu, 0)              # replaces to_port (BCC)
        assert net.ping(5) == 5
        assert b["seen"].sum(1).value >= 5
        with netns(net.m):
            b.remove_xdp("veth_a", 0)
            b.remove_xdp("veth_c", 0)
        with netns(net.p):
            b.remove_xdp("veth_d", 0)
        assert "xdp" not in net.run(net.m, "ip", "link", "show", "veth_a").stdout
    finally:
        b.cleanup()


RAW_FILTER = r"""
#include <bcc/proto.h>

int keep_marked(struct __sk_buff *skb) {
    u8 *cursor = 0;
    struct ethernet_t *eth = cursor_advance(cursor, sizeof(*eth));
    if (eth->type != 0x0800)
        return 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    if (ip->nextp != 17 || ip->hlen != 5)
        return 0;
    struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
    if (udp->dport != PORT)
        return 0;
    u32 at = 14 + 20 + 8;
    if (load_byte(skb, at) == 'b' && load_byte(skb, at + 1) == 'c' &&
        load_byte(skb, at + 2) == 'c')
        return -1;
    return 0;
}
"""


def test_raw_socket_filter_with_packet_headers(net):
    """http-parse-simple.py's route: a proto.h program on ``attach_raw_socket``'s socket
    keeps the UDP datagrams to one port whose payload starts with "bcc" (read with
    load_byte) and nothing else; the socket returns exactly those frames."""
    from bcc_core import BPF
    port = 4789
    b = BPF(text=RAW_FILTER, cflags=["-DPORT=%d" % port])
    try:
        fn = b.load_func("keep_marked", BPF.SOCKET_FILTER)
        assert prog_type(fn.fd) == 1
        with netns(net.m):
            BPF.attach_raw_socket(fn, "veth_a")
        sock = socket.fromfd(fn.sock, socket.PF_PACKET, socket.SOCK_RAW, socket.IPPROTO_IP)
        sock.settimeout(0.5)
        for payload, dport in ((b"bcc-1", port), (b"xyz", port), (b"bcc-2", port + 1),
                               (b"bcc-3", port)):
            net.udp(1, port=dport, payload=payload)
        got = []
        try:
            while True:
                f = sock.recv(2048)
                got.append(f[14 + 20 + 8:])
        except socket.timeout:
            pass
        sock.close()
    finally:
        b.cleanup()
    assert got == [b"bcc-1", b"bcc-3"]


TAIL = r"""
BPF_PROG_ARRAY(jump, 4);
BPF_ARRAY(hits, u64, 4);

static inline void hit(int i) {
    u64 *v = hits.lookup(&i);
    if (v)
        __sync_fetch_and_add(v, 1);
}

int entry(struct __sk_buff *skb) {
    hit(0);
    jump.call(skb, skb->len & 3);
    return 7;                       /* no program in that slot */
}

int one(struct __sk_buff *skb) { hit(1); return 1; }
int two(struct __sk_buff *skb) { hit(2); jump.call(skb, 1); return 2; }
"""


def test_prog_array_tail_calls_filled_from_python():
    """test_call1's pattern: ``prog_array.call(ctx, i)`` jumps to what Python stored in
    slot i (``b["jump"][i] = fn.fd``); an empty slot falls through; a tail-called
    program can jump again; removing the entry stops the jump."""
    need_root()
    from bcc_core import BPF
    b = BPF(text=TAIL)
    try:
        entry = b._obj.programs["entry"]
        fns = {n: b.load_func(n, BPF.SCHED_CLS) for n in ("entry", "one", "two")}
        jump = b["jump"]
        jump[ct.c_int(1)] = ct.c_int(fns["one"].fd)
        jump[ct.c_int(2)] = ct.c_int(fns["two"].fd)
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + b"\0" * 46      # len 60: slot 0
        assert entry.test_run(frame)[0] == 7
        assert entry.test_run(frame + b"\0")[0] == 1         # 61: slot 1
        assert entry.test_run(frame + b"\0" * 2)[0] == 1     # 62: two, then one
        assert entry.test_run(frame + b"\0" * 3)[0] == 7     # 63: slot 3 empty
        del jump[ct.c_int(1)]
        assert entry.test_run(frame + b"\0")[0] == 7
        assert [b["hits"][i].value for i in range(3)] == [5, 2, 1]
    finally:
        b.cleanup()


# (BCC's BPF constant, kernel prog_type, a body its verifier takes)
TYPES = [("SOCKET_FILTER", 1, "struct __sk_buff", 0), ("SCHED_CLS", 3, "struct __sk_buff", 0),
         ("SCHED_ACT", 4, "struct __sk_buff", 0), ("XDP", 6, "struct xdp_md", 2),
         ("CGROUP_SKB", 8, "struct __sk_buff", 1), ("CGROUP_SOCK", 9, "struct bpf_sock", 1),
         ("LWT_IN", 10, "struct __sk_buff", 0), ("LWT_OUT", 11, "struct __sk_buff", 0),
         ("LWT_XMIT", 12, "struct __sk_buff", 0), ("SOCK_OPS", 13, "struct bpf_sock_ops", 1),
         ("SK_SKB", 14, "struct __sk_buff", 1), ("SK_MSG", 16, "struct sk_msg_md", 1),
         ("CGROUP_DEVICE", 15, "struct bpf_cgroup_dev_ctx", 1),
         ("CGROUP_SOCK_ADDR", 18, "struct bpf_sock_addr", 1),
         ("CGROUP_SOCKOPT", 25, "struct bpf_sockopt", 1), ("PERF_EVENT", 7, "void", 0),
         ("KPROBE", 2, "void", 0), ("TRACEPOINT", 5, "void", 0),
         ("RAW_TRACEPOINT", 17, "void", 0)]


def test_load_func_gives_every_program_type_bcc_names():
    """``load_func(name, BPF.X)`` of one plain function per type BCC names: the kernel
    holds a program of that type (its fdinfo), and load_func with an attach type
    (``BPFAttachType.CGROUP_INET_EGRESS``) loads it for that attach type."""
    need_root()
    from bcc_core import BPF, BPFAttachType
    text = "\n".join("int f_%s(%s *ctx) { return %d; }" % (n.lower(), ctx, ret)
                     for n, _, ctx, ret in TYPES)
    b = BPF(text=text)
    try:
        for name, want, _, _ in TYPES:
            fn = b.load_func("f_%s" % name.lower(), getattr(BPF, name))
            assert prog_type(fn.fd) == want, name
        fn = b.load_func("f_cgroup_skb", BPF.CGROUP_SKB,
                         attach_type=BPFAttachType.CGROUP_INET_EGRESS)
        assert b._obj.programs["f_cgroup_skb"].expected_attach_type == \
            BPFAttachType.CGROUP_INET_EGRESS
    finally:
        b.cleanup()


CTX_HELPER = r"""
struct key { u32 sip, dip, sport, dport; };
BPF_SOCKHASH(socks, struct key, 64);
BPF_ARRAY(redirected, u64, 1);

/* context structs handed to helper functions: read directly, as in their program */
static __always_inline void add(struct bpf_sock_ops *ops) {
    struct key k = {.sip = ops->local_ip4, .dip = ops->remote_ip4,
                    .sport = ops->local_port, .dport = bpf_ntohl(ops->remote_port)};
    socks.sock_hash_update(ops, &k, BPF_NOEXIST);
}

int on_ops(struct bpf_sock_ops *ops) {
    if (ops->family == AF_INET && (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
                                   ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB))
        add(ops);
    return 0;
}

static __always_inline int peer(struct sk_msg_md *msg, struct key *k) {
    k->sip = msg->remote_ip4;
    k->dip = msg->local_ip4;
    k->sport = bpf_ntohl(msg->remote_port);
    k->dport = msg->local_port;
    return msg->family == AF_INET;
}

int on_msg(struct sk_msg_md *msg) {
    struct key k = {};
    if (!peer(msg, &k))
        return SK_PASS;
    int ret = socks.msg_redirect_hash(msg, &k, BPF_F_INGRESS);
    if (ret == SK_PASS) {
        int z = 0;
        u64 *n = redirected.lookup(&z);
        if (n)
            __sync_fetch_and_add(n, 1);
    }
    return ret;
}
"""


def test_sockhash_redirect_with_context_helpers(net, tmp_path):
    """sockmap.py's route: a SOCK_OPS program on a cgroup (``attach_func`` with
    ``BPFAttachType.CGROUP_SOCK_OPS``) puts both ends of each loopback TCP connection in
    a sockhash, an SK_MSG program on the map (``SK_MSG_VERDICT``, the map fd from
    ``lib.bpf_table_fd``) redirects each message to the peer socket's ingress.  Their
    context structs go through helper functions (read directly, not as kernel memory):
    the keys match, so every message is redirected and arrives."""
    from bcc_core import BPF, BPFAttachType, lib
    cg = str(tmp_path / "cgroup2")
    os.mkdir(cg)
    subprocess.run(["mount", "-t", "cgroup2", "none", cg], check=True)
    b = BPF(text=CTX_HELPER)
    fd = os.open(cg, os.O_RDONLY)
    try:
        ops, msg = b.load_func("on_ops", BPF.SOCK_OPS), b.load_func("on_msg", BPF.SK_MSG)
        map_fd = lib.bpf_table_fd(b.module, b"socks")
        b.attach_func(ops, fd, BPFAttachType.CGROUP_SOCK_OPS)
        b.attach_func(msg, map_fd, BPFAttachType.SK_MSG_VERDICT)
        code = ("import socket\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n"
                "c=socket.create_connection(s.getsockname()); a,_=s.accept()\n"
                "for i in range(3):\n    c.sendall(b'ping%d' % i); a.settimeout(3)\n"
                "    print(a.recv(16).decode())\n"
                "a.sendall(b'pong'); c.settimeout(3); print(c.recv(16).decode())\n")
        r = net.run(net.m, sys.executable, "-c", code)
        b.detach_func(ops, fd, BPFAttachType.CGROUP_SOCK_OPS)
        b.detach_func(msg, map_fd, BPFAttachType.SK_MSG_VERDICT)
        assert r.stdout.split() == ["ping0", "ping1", "ping2", "pong"], r.stderr
        assert b["redirected"][0].value == 4
    finally:
        os.close(fd)
        b.cleanup()
        subprocess.run(["umount", cg])


def test_socket_buffer_in_a_helper_function():
    """A ``struct __sk_buff *`` passed to a helper function is the program's context
    there too: its fields read directly (the verifier's context rewrite), so the values
    are the frame's."""
    need_root()
    from bcc_core import BPF
    b = BPF(text=r"""
static __always_inline u32 facts(struct __sk_buff *skb) {
    return (skb->len << 16) | bpf_ntohs(skb->protocol);
}
int entry(struct __sk_buff *skb) { return facts(skb); }
""")
    try:
        b.load_func("entry", BPF.SCHED_CLS)
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + b"\0" * 50
        ret, _ = b._obj.programs["entry"].test_run(frame)
        assert ret == (64 << 16) | 0x86dd
    finally:
        b.cleanup()


def test_uapi_headers_give_their_macros_not_their_declarations():
    """``#include <uapi/linux/in6.h>`` and friends give the program the header's macros
    (object-like and function-like) -- not its types, which come from BTF -- and the
    lines keep their numbers; a header with no uapi twin gives nothing; the program's
    own later definition of a name wins."""
    from bcc_core.compat.translate import translate
    text = ("#include <uapi/linux/in6.h>\n#include <linux/pkt_sched.h>\n"
            "#include <linux/skbuff.h>\n#include <linux/if_ether.h>\n"
            "#define ETH_ZLEN 99\n"
            "int f(struct __sk_buff *skb) {\n"
            "    return IPPROTO_ICMPV6 + TC_H_MAJ(0x12340000) + ETH_P_8021AD + ETH_ZLEN;\n"
            "}\n")
    out = translate(text, filename="uapi.c")
    body = [line for line in out.split("\n") if "return" in line][0]
    assert "58" in body and "0x88A8" in body and "99" in body, body
    assert "0xFFFF0000U" in body or "0xFFFF0000" in body, body
    assert "struct in6_addr {" not in out and "struct ipv6_mreq" not in out
    lines = out.split("\n")
    first = lines.index('# 1 "uapi.c"')
    assert lines[first + 7].strip().startswith("return"), lines[first:first + 9]
