"""Property tests of BCC's packet dialect against a Python reference, run in the kernel
(BPF_PROG_TEST_RUN on a socket-buffer program, one compile for every example):

* ``bpf_dext_pkt(skb, off, bofs, bsz)`` -- what a header field read becomes -- returns
  bits [bofs, bofs + bsz) of the big-endian window at byte ``off``, for every bit offset
  in a byte and every width up to 64 bits;
* ``bpf_dins_pkt(skb, off, bofs, bsz, v)`` -- a field assignment -- changes exactly
  those bits of the frame, the others kept;
* ``incr_cksum_l3`` / ``incr_cksum_l4`` -- after a header field rewrite, the IPv4
  header and the UDP checksums verify, as on a frame built with the new values.
"""
import ctypes as ct
import socket
import struct

import pytest
from hypothesis import given, settings, strategies as st

from conftest import need_root

PROG = r"""
#include <bcc/proto.h>
struct op { u64 off; u64 bofs; u64 bsz; u64 val; u64 write; };
BPF_ARRAY(ops, struct op, 1);
BPF_ARRAY(result, u64, 1);

int field(struct __sk_buff *skb) {
    int k = 0;
    struct op *o = ops.lookup(&k);
    if (!o)
        return 1;
    if (o->write) {
        bpf_dins_pkt(skb, o->off, o->bofs, o->bsz, o->val);
    } else {
        u64 v = bpf_dext_pkt(skb, o->off, o->bofs, o->bsz);
        result.update(&k, &v);
    }
    return 2;
}

int nat(struct __sk_buff *skb) {
    u8 *cursor = 0;
    struct ethernet_t *eth = cursor_advance(cursor, sizeof(*eth));
    if (eth->type != ETH_P_IP)
        return 1;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    u32 old_src = ip->src, old_dst = ip->dst;
    u32 new_src = NEW_SRC, new_dst = NEW_DST;
    ip->src = new_src;
    incr_cksum_l3(&ip->hchecksum, old_src, new_src);
    ip->dst = new_dst;
    incr_cksum_l3(&ip->hchecksum, old_dst, new_dst);
    struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
    u16 old_port = udp->dport;
    udp->dport = NEW_PORT;
    incr_cksum_l4(&udp->crc, old_src, new_src, 1);
    incr_cksum_l4(&udp->crc, old_dst, new_dst, 1);
    incr_cksum_l4(&udp->crc, old_port, NEW_PORT, 0);
    return 2;
}
"""
NEW_SRC, NEW_DST, NEW_PORT = "192.0.2.7", "198.51.100.9", 8472
FRAME_LEN = 64


@pytest.fixture(scope="module")
def bpf():
    need_root()
    from bcc_core import BPF
    b = BPF(text=PROG, cflags=[
        "-DNEW_SRC=0x%08x" % struct.unpack(">I", socket.inet_aton(NEW_SRC))[0],
        "-DNEW_DST=0x%08x" % struct.unpack(">I", socket.inet_aton(NEW_DST))[0],
        "-DNEW_PORT=%d" % NEW_PORT])
    for name in ("field", "nat"):
        b.load_func(name, BPF.SCHED_CLS)
    yield b
    b.cleanup()


def window(bofs, bsz):
    return next(w for w in (8, 16, 32, 64) if bofs + bsz <= w)


def set_op(b, off, bofs, bsz, val=0, write=0):
    ops = b["ops"]
    leaf = ops.Leaf()
    leaf.off, leaf.bofs, leaf.bsz, leaf.val, leaf.write = off, bofs, bsz, val, write
    ops[ct.c_int(0)] = leaf


fields = st.integers(0, 7).flatmap(lambda bofs: st.tuples(
    st.just(bofs), st.integers(1, 64 - bofs)))


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(min_size=FRAME_LEN, max_size=FRAME_LEN), field=fields,
       off=st.integers(0, FRAME_LEN - 8))
def test_dext_reads_the_field_bits_in_network_order(bpf, frame, field, off):
    bofs, bsz = field
    w = window(bofs, bsz)
    set_op(bpf, off, bofs, bsz)
    ret, _ = bpf._obj.programs["field"].test_run(frame)
    assert ret == 2
    word = int.from_bytes(frame[off:off + w // 8], "big")
    want = (word >> (w - bofs - bsz)) & ((1 << bsz) - 1)
    assert bpf["result"][ct.c_int(0)].value == want


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(min_size=FRAME_LEN, max_size=FRAME_LEN), field=fields,
       off=st.integers(0, FRAME_LEN - 8), val=st.integers(0, 2**64 - 1))
def test_dins_writes_only_the_field_bits(bpf, frame, field, off, val):
    bofs, bsz = field
    w = window(bofs, bsz)
    set_op(bpf, off, bofs, bsz, val, write=1)
    ret, out = bpf._obj.programs["field"].test_run(frame)
    assert ret == 2
    word = int.from_bytes(frame[off:off + w // 8], "big")
    shift, mask = w - bofs - bsz, (1 << bsz) - 1
    word = (word & ~(mask << shift)) | ((val & mask) << shift)
    want = frame[:off] + word.to_bytes(w // 8, "big") + frame[off + w // 8:]
    assert out[:FRAME_LEN] == want


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def udp_frame(src, dst, sport, dport, payload):
    ulen = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">BBH", 0, 17, ulen)
    udp = struct.pack(">HHHH", sport, dport, ulen, 0) + payload
    ucs = csum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack(">H", ucs) + udp[8:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0x1234, 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


@settings(max_examples=100, deadline=None)
@given(src=st.integers(1, 2**32 - 2), dst=st.integers(1, 2**32 - 2),
       sport=st.integers(1, 65535), dport=st.integers(1, 65535),
       payload=st.binary(min_size=18, max_size=40))
def test_incremental_checksums_match_a_rebuilt_frame(bpf, src, dst, sport, dport, payload):
    a, d = (socket.inet_ntoa(struct.pack(">I", x)) for x in (src, dst))
    frame = udp_frame(a, d, sport, dport, payload)
    ret, out = bpf._obj.programs["nat"].test_run(frame)
    assert ret == 2
    want = udp_frame(NEW_SRC, NEW_DST, sport, NEW_PORT, payload)
    got = out[:len(want)]
    assert got[:24] == want[:24] and got[26:] == want[26:]    # all but the IP checksum
    assert csum(got[14:34]) == 0                                # ... which verifies
    # the UDP checksum: the one of the rebuilt frame (0 and 0xffff are both "none"
    # in one's complement: an incremental update may give either)
    gu, wu = struct.unpack(">H", got[40:42])[0], struct.unpack(">H", want[40:42])[0]
    assert gu == wu or {gu, wu} == {0, 0xffff}
