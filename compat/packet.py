"""BCC's packet dialect (``#include <bcc/proto.h>``; a mixin of
:class:`.translate.Translator`).

A packet program walks the packet with a cursor that starts at 0 (``u8 *cursor = 0;``)::

    struct ethernet_t *eth = cursor_advance(cursor, sizeof(*eth));
    if (eth->type == 0x0800) ...

so a header "pointer" is the header's offset in the packet.  A struct declared with
``BPF_PACKET_HEADER`` (packed, and marked ``deprecated("packet")`` as in BCC) is a packet
header: its fields are big-endian bit ranges laid end to end.  Through a variable
pointing at one, as BCC's front end does:

* a read ``eth->type`` becomes ``bpf_dext_pkt(skb, (u64)eth + 12, 0, 16)``
  (byte offset, bit offset from that byte's most significant bit, width in bits),
* an assignment ``eth->type = v`` becomes ``bpf_dins_pkt(skb, (u64)eth + 12, 0, 16, v)``
  (``op=`` reads the field first),

where ``skb`` is the function's first parameter.  The helpers are in bcc_compat.h.
"""
import re

from pycparser import c_ast

from .typemodel import Prim, Ptr, Arr, Rec, Void
from .tnodes import R, _id, _call

PACKET_ATTR = '__attribute__((packed)) __attribute__((deprecated("packet")))'

# bcc/proto.h's headers (BCC's field names and widths), as one line: the #include line
# it replaces keeps the program's line numbers
_PROTO = [
    ("ethernet_t", "unsigned long long dst:48; unsigned long long src:48; "
                   "unsigned int type:16;"),
    ("dot1q_t", "unsigned short pri:3; unsigned short cfi:1; unsigned short vlanid:12; "
                "unsigned short type;"),
    ("arp_t", "unsigned short htype; unsigned short ptype; unsigned char hlen; "
              "unsigned char plen; unsigned short oper; unsigned long long sha:48; "
              "unsigned long long spa:32; unsigned long long tha:48; unsigned int tpa;"),
    ("ip_t", "unsigned char ver:4; unsigned char hlen:4; unsigned char tos; "
             "unsigned short tlen; unsigned short identification; "
             "unsigned short ffo_unused:1; unsigned short df:1; unsigned short mf:1; "
             "unsigned short foffset:13; unsigned char ttl; unsigned char nextp; "
             "unsigned short hchecksum; unsigned int src; unsigned int dst;"),
    ("icmp_t", "unsigned char type; unsigned char code; unsigned short checksum;"),
    ("ip6_t", "unsigned int ver:4; unsigned int priority:8; unsigned int flow_label:20; "
              "unsigned short payload_len; unsigned char next_header; "
              "unsigned char hop_limit; unsigned long long src_hi; "
              "unsigned long long src_lo; unsigned long long dst_hi; "
              "unsigned long long dst_lo;"),
    ("ip6_opt_t", "unsigned char next_header; unsigned char ext_len; "
                  "unsigned char pad[6];"),
    ("icmp6_t", "unsigned char type; unsigned char code; unsigned short checksum;"),
    ("udp_t", "unsigned short sport; unsigned short dport; unsigned short length; "
              "unsigned short crc;"),
    ("tcp_t", "unsigned short src_port; unsigned short dst_port; unsigned int seq_num; "
              "unsigned int ack_num; unsigned char offset:4; unsigned char reserved:4; "
              "unsigned char flag_cwr:1; unsigned char flag_ece:1; "
              "unsigned char flag_urg:1; unsigned char flag_ack:1; "
              "unsigned char flag_psh:1; unsigned char flag_rst:1; "
              "unsigned char flag_syn:1; unsigned char flag_fin:1; "
              "unsigned short rcv_wnd; unsigned short cksum; unsigned short urg_ptr;"),
    ("vxlan_t", "unsigned int rsv1:4; unsigned int iflag:1; unsigned int rsv2:3; "
                "unsigned int rsv3:24; unsigned int key:24; unsigned int rsv4:8;"),
    ("vxlan_gbp_t", "unsigned int gflag:1; unsigned int rsv1:3; unsigned int iflag:1; "
                    "unsigned int rsv2:3; unsigned int rsv3:1; unsigned int dflag:1; "
                    "unsigned int rsv4:1; unsigned int aflag:1; unsigned int rsv5:3; "
                    "unsigned int tag:16; unsigned int key:24; unsigned int rsv6:8;"),
]
PROTO_LINE = " ".join(
    "struct %s { %s } %s;" % (name, body, "BPF_PACKET_HEADER") for name, body in _PROTO)
PROTO_INCLUDE = re.compile(r"#\s*include\s*<bcc/proto\.h>")

# a packet header definition in the preprocessed text (headers nest no braces)
_PACKET_DEF = re.compile(r"\bstruct\s+(\w+)\s*\{[^{}]*\}\s*__attribute__\s*\(\(\s*packed"
                         r"\s*\)\)\s*__attribute__\s*\(\(\s*deprecated\s*\(\s*\"packet\"")


def packet_struct_names(pp):
    """Names of the structs the preprocessed text defines as packet headers."""
    return set(_PACKET_DEF.findall(pp))


def _bits(t):
    if isinstance(t, Prim) and t.size:
        return t.size * 8
    if isinstance(t, Arr) and t.n:
        inner = _bits(t.of)
        return inner * t.n if inner else None
    return None


class PacketRules:
    """Fields of packet headers -> bpf_dext_pkt()/bpf_dins_pkt()."""

    packet_structs = frozenset()

    def packet_layout(self, rec, decls):
        """{field: (bit offset, bits)} of a packet header struct (packed: each field
        starts where the one before it ends)."""
        layout, off = {}, 0
        for d in decls:
            if isinstance(d, c_ast.Pragma):
                continue
            if d.bitsize is not None:
                bits = self.const_int(d.bitsize)
            else:
                bits = _bits(self.rtype(d.type))
            if bits is None:
                self.err("packet header %s: cannot lay out member '%s'" % (
                    rec.spell(), d.name), d)
            if d.name:
                layout[d.name] = (off, bits)
            off += bits
        rec.packet = layout

    def packet_field(self, n):
        """(header variable, field, (bit offset, bits)) when ``n`` is ``hdr->field`` of
        a variable pointing at a packet header, else None."""
        if not (isinstance(n, c_ast.StructRef) and n.type == "->" and
                isinstance(n.name, c_ast.ID)):
            return None
        s = self.lookup(n.name.name)
        t = s.type if s is not None else None
        rec = t.to if isinstance(t, Ptr) else None
        layout = getattr(rec, "packet", None) if isinstance(rec, Rec) else None
        if layout is None:
            return None
        f = n.field.name
        if f not in layout:
            self.err("no member named '%s' in %s" % (f, rec.spell()), n)
        return n.name, f, layout[f]

    def _packet_args(self, n, var, where):
        ctx = getattr(self, "cur_ctx", None)
        if not ctx:
            self.err("packet header access needs the function's first parameter (the "
                     "socket buffer: BCC passes it to bpf_dext_pkt/bpf_dins_pkt)", n)
        bitoff, bits = where
        u64 = c_ast.Typename(None, [], None, c_ast.TypeDecl(
            None, [], None, c_ast.IdentifierType(["u64"])))
        off = c_ast.BinaryOp("+", c_ast.Cast(u64, c_ast.ID(var.name)),
                             c_ast.Constant("int", str(bitoff >> 3)))
        return [_id(ctx), off, c_ast.Constant("int", str(bitoff & 7)),
                c_ast.Constant("int", str(bits))]

    def packet_read(self, n, mode):
        """``hdr->field`` as a value (None when n is no packet field access)."""
        pf = self.packet_field(n)
        if pf is None:
            return None
        var, field, where = pf
        if mode != "value":
            self.err("packet header field '%s' is not in memory: it can be read or "
                     "assigned, not %s" % (field, "addressed" if mode == "addr" else
                                           "incremented or decremented"), n)
        return R(_call("bpf_dext_pkt", self._packet_args(n, var, where), n.coord),
                 Prim("u64", 8))

    def packet_write(self, n):
        """``hdr->field = v`` (or ``op=``) -> bpf_dins_pkt(); None for other
        assignments."""
        pf = self.packet_field(n.lvalue)
        if pf is None:
            return None
        var, field, where = pf
        self.source.span(n)     # the assignment's text, before its operands are rewritten
        val = self.expr(n.rvalue).node
        if n.op != "=":
            old = _call("bpf_dext_pkt", self._packet_args(n, var, where), n.coord)
            val = c_ast.BinaryOp(n.op[:-1], old, val)
        return R(_call("bpf_dins_pkt", self._packet_args(n, var, where) + [val], n.coord),
                 Void())

    def cksum_call(self, n, name, args):
        """``incr_cksum_l3(&ip->hchecksum, old, new)`` -> ``bpf_l3_csum_replace_(skb,
        (u64)OFF, old, new, sizeof(new))``, and ``incr_cksum_l4(OFF, old, new, pseudo)``
        with BPF_F_PSEUDO_HDR (0x10) from its last argument, as BCC rewrites them.  OFF
        is the address of a packet header field: its offset in the packet."""
        want = 3 if name == "incr_cksum_l3" else 4
        if len(args) != want:
            self.err("%s() takes %d arguments" % (name, want), n, name)
        ctx = getattr(self, "cur_ctx", None)
        if not ctx:
            self.err("%s() needs the function's first parameter (the socket buffer)"
                     % name, n, name)
        self.source.span(n)     # the call's text, before its arguments are rewritten
        off = args[0]
        pf = self.packet_field(off.expr) if isinstance(off, c_ast.UnaryOp) and \
            off.op == "&" else None
        u64 = c_ast.Typename(None, [], None, c_ast.TypeDecl(
            None, [], None, c_ast.IdentifierType(["u64"])))
        if pf is not None:      # &hdr->field: the field's byte in the packet (bytes:
            var, _, (bitoff, _) = pf    # the header pointer as a number first)
            off = c_ast.BinaryOp("+", c_ast.Cast(u64, c_ast.ID(var.name)),
                                 c_ast.Constant("int", str(bitoff >> 3)))
        else:
            off = c_ast.Cast(u64, self.expr(off).node)
        rest = [self.expr(a).node for a in args[1:]]
        size = c_ast.UnaryOp("sizeof", rest[1])
        if name == "incr_cksum_l3":
            flags = size
        else:
            pseudo = c_ast.BinaryOp("<<", c_ast.BinaryOp("&", rest[2],
                                                         c_ast.Constant("int", "1")),
                                    c_ast.Constant("int", "4"))
            flags = c_ast.BinaryOp("|", pseudo, size)
        fn = "bpf_l3_csum_replace_" if name == "incr_cksum_l3" else "bpf_l4_csum_replace_"
        return R(_call(fn, [_id(ctx), off, rest[0], rest[1], flags],
                       n.coord), Prim("int", 4))
