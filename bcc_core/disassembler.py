"""BCC's ``bcc.disassembler``: BPF instructions as text and a map's key/value layout.

``disassemble_prog(name, insns)`` is what ``BPF.disassemble_func`` prints::

    Disassemble of BPF program b'f':
       0: (b7) r0 = 1
       1: (95) exit

one line per 8-byte instruction, ``"%4d: (%02x) %s"`` (index, opcode, text), in BCC's
notation (``if r1 > 5 goto pc+3 <7>``, ``r2 = *(u32*)(r1 +8)``, ``call bpf_trace_printk#6``).
The instructions BCC 0.26 decodes read exactly as in BCC (its quirks included: 0xdd, the
register form of ``jsle``, reads as the immediate form; ``or``/``and``/``xor`` immediates
in hex).  Beyond BCC: the 32-bit jumps (class JMP32, what clang's -mcpu=v3 emits) read
as the 64-bit ones on ``w`` registers, helpers are named up to #211, a 64-bit load
says what its source register means (``BPF_PSEUDO_MAP_FD``, ``..._MAP_VALUE``) rather than
taking every constant below 2**32 for a map, and an unknown opcode is one line
(``unknown <0x..>``) where BCC raises.

``decode_map(name, table, map_type, sizeinfo=False)`` is what ``BPF.decode_table`` prints:
the table's ctypes ``Key`` and ``Leaf`` (made from the map's BTF types) as C declarations.
"""
import struct
from os import linesep

BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

# helper names by id (enum bpf_func_id, without the bpf_ prefix)
HELPERS = """unspec map_lookup_elem map_update_elem map_delete_elem probe_read ktime_get_ns
trace_printk get_prandom_u32 get_smp_processor_id skb_store_bytes l3_csum_replace
l4_csum_replace tail_call clone_redirect get_current_pid_tgid get_current_uid_gid
get_current_comm get_cgroup_classid skb_vlan_push skb_vlan_pop skb_get_tunnel_key
skb_set_tunnel_key perf_event_read redirect get_route_realm perf_event_output
skb_load_bytes get_stackid csum_diff skb_get_tunnel_opt skb_set_tunnel_opt
skb_change_proto skb_change_type skb_under_cgroup get_hash_recalc get_current_task
probe_write_user current_task_under_cgroup skb_change_tail skb_pull_data csum_update
set_hash_invalid get_numa_node_id skb_change_head xdp_adjust_head probe_read_str
get_socket_cookie get_socket_uid set_hash setsockopt skb_adjust_room redirect_map
sk_redirect_map sock_map_update xdp_adjust_meta perf_event_read_value
perf_prog_read_value getsockopt override_return sock_ops_cb_flags_set
msg_redirect_map msg_apply_bytes msg_cork_bytes msg_pull_data bind xdp_adjust_tail
skb_get_xfrm_state get_stack skb_load_bytes_relative fib_lookup sock_hash_update
msg_redirect_hash sk_redirect_hash lwt_push_encap lwt_seg6_store_bytes
lwt_seg6_adjust_srh lwt_seg6_action rc_repeat rc_keydown skb_cgroup_id
get_current_cgroup_id get_local_storage sk_select_reuseport skb_ancestor_cgroup_id
sk_lookup_tcp sk_lookup_udp sk_release map_push_elem map_pop_elem map_peek_elem
msg_push_data msg_pop_data rc_pointer_rel spin_lock spin_unlock sk_fullsock tcp_sock
skb_ecn_set_ce get_listener_sock skc_lookup_tcp tcp_check_syncookie sysctl_get_name
sysctl_get_current_value sysctl_get_new_value sysctl_set_new_value strtol strtoul
sk_storage_get sk_storage_delete send_signal tcp_gen_syncookie skb_output
probe_read_user probe_read_kernel probe_read_user_str probe_read_kernel_str
tcp_send_ack send_signal_thread jiffies64 read_branch_records
get_ns_current_pid_tgid xdp_output get_netns_cookie get_current_ancestor_cgroup_id
sk_assign ktime_get_boot_ns seq_printf seq_write sk_cgroup_id sk_ancestor_cgroup_id
ringbuf_output ringbuf_reserve ringbuf_submit ringbuf_discard ringbuf_query
csum_level skc_to_tcp6_sock skc_to_tcp_sock skc_to_tcp_timewait_sock
skc_to_tcp_request_sock skc_to_udp6_sock get_task_stack load_hdr_opt store_hdr_opt
reserve_hdr_opt inode_storage_get inode_storage_delete d_path copy_from_user
snprintf_btf seq_printf_btf skb_cgroup_classid redirect_neigh per_cpu_ptr
this_cpu_ptr redirect_peer task_storage_get task_storage_delete get_current_task_btf
bprm_opts_set ktime_get_coarse_ns ima_inode_hash sock_from_file check_mtu
for_each_map_elem snprintf sys_bpf btf_find_by_name_kind sys_close timer_init
timer_set_callback timer_start timer_cancel get_func_ip get_attach_cookie
task_pt_regs get_branch_snapshot trace_vprintk skc_to_unix_sock kallsyms_lookup_name
find_vma loop strncmp get_func_arg get_func_ret get_func_arg_cnt get_retval
set_retval xdp_get_buff_len xdp_load_bytes xdp_store_bytes copy_from_user_task
skb_set_tstamp ima_file_hash kptr_xchg map_lookup_percpu_elem skc_to_mptcp_sock
dynptr_from_mem ringbuf_reserve_dynptr ringbuf_submit_dynptr ringbuf_discard_dynptr
dynptr_read dynptr_write dynptr_data tcp_raw_gen_syncookie_ipv4
tcp_raw_gen_syncookie_ipv6 tcp_raw_check_syncookie_ipv4 tcp_raw_check_syncookie_ipv6
ktime_get_tai_ns user_ringbuf_drain cgrp_storage_get cgrp_storage_delete""".split()

# instruction classes (the low 3 bits of the opcode)
_LD, _LDX, _ST, _STX, _ALU, _JMP, _JMP32, _ALU64 = range(8)
_SIZE_BITS = {0x00: 32, 0x08: 16, 0x10: 8, 0x18: 64}    # BPF_W, BPF_H, BPF_B, BPF_DW
_MODE_ABS, _MODE_IND, _MODE_MEM = 0x20, 0x40, 0x60
_BPF_X = 0x08                                            # source is a register

# ALU operation (opcode & 0xf0) -> C operator; neg (0x80) and end (0xd0) are apart
_ALU_OPS = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=",
            0x60: "<<=", 0x70: ">>=", 0x90: "%=", 0xa0: "^=", 0xb0: "=", 0xc0: "s>>="}
_HEX_IMM_OPS = (0x40, 0x50, 0xa0)         # or, and, xor: BCC shows the immediate in hex
# conditional jump (opcode & 0xf0) -> comparison
_JMP_OPS = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>",
            0x70: "s>=", 0xa0: "<", 0xb0: "<=", 0xc0: "s<", 0xd0: "s<="}


class Insn(object):
    """One decoded 8-byte instruction: opcode, dst, src, off (s16), imm (s32)."""
    __slots__ = ("opcode", "dst", "src", "off", "imm")
    _layout = struct.Struct("<BBhi")

    def __init__(self, raw, at=0):
        self.opcode, regs, self.off, self.imm = self._layout.unpack_from(raw, at)
        self.dst, self.src = regs & 0xf, regs >> 4

    @property
    def uimm(self):
        return self.imm & 0xffffffff


def _target(i, w):
    return "pc%+d <%d>" % (w.off, i + w.off + 1)


def _alu(w):
    cls, op = w.opcode & 7, w.opcode & 0xf0
    bits = 64 if cls == _ALU64 else 32
    if op == 0x80 and not w.opcode & _BPF_X:
        return "r%d = ~ (u%d)r%d" % (w.dst, bits, w.dst)
    if w.opcode == 0xdc:                        # BCC's one endian form
        return "r%d endian r%d" % (w.dst, w.src)
    sym = _ALU_OPS.get(op)
    if sym is None:
        return None
    if w.opcode & _BPF_X:
        return "r%d %s r%d" % (w.dst, sym, w.src)
    if op in _HEX_IMM_OPS:
        return "r%d %s 0x%x" % (w.dst, sym, w.uimm)
    return "r%d %s %d" % (w.dst, sym, w.imm)


def _call(w):
    if w.src == BPF_PSEUDO_CALL:
        return "call %+d" % w.imm
    if w.src == BPF_PSEUDO_KFUNC_CALL:
        return "call kfunc#%d" % w.imm
    if w.uimm < len(HELPERS):
        return "call bpf_%s#%d" % (HELPERS[w.uimm], w.uimm)
    return "call <unknown helper #%d>" % w.uimm


def _jump(i, w):
    op, reg = w.opcode & 0xf0, "w" if w.opcode & 7 == _JMP32 else "r"
    if w.opcode == 0x05:
        return "goto %+d <%d>" % (w.off, i + w.off + 1)
    if w.opcode == 0x85:
        return _call(w)
    if w.opcode == 0x95:
        return "exit"
    sym = _JMP_OPS.get(op)
    if sym is None:
        return None
    # 0xdd (jsle, register) reads as the immediate form, as in BCC 0.26
    if w.opcode & _BPF_X and w.opcode != 0xdd:
        return "if %s%d %s %s%d goto %s" % (reg, w.dst, sym, reg, w.src, _target(i, w))
    return "if %s%d %s %d goto %s" % (reg, w.dst, sym, w.imm, _target(i, w))


def _lddw(w, upper):
    if upper is None:
        raise ValueError("lddw at the end of the program: its upper word is missing")
    if w.src == BPF_PSEUDO_MAP_FD:
        return "r%d = <map at fd #%d>" % (w.dst, w.imm)
    if w.src == BPF_PSEUDO_MAP_VALUE:
        return "r%d = <map value at fd #%d %+d>" % (w.dst, w.imm, upper.imm)
    return "r%d = 0x%x" % (w.dst, (upper.uimm << 32) | w.uimm)


def _memory(w):
    cls, mode = w.opcode & 7, w.opcode & 0xe0
    bits = _SIZE_BITS[w.opcode & 0x18]
    if cls == _LD and mode == _MODE_ABS:
        return "r0 = *(u%d*)skb[%d]" % (bits, w.imm)
    if cls == _LD and mode == _MODE_IND:
        return "r0 = *(u%d*)skb[r%d %+d]" % (bits, w.src, w.imm)
    if mode != _MODE_MEM:
        return None
    if cls == _LDX:
        return "r%d = *(u%d*)(r%d %+d)" % (w.dst, bits, w.src, w.off)
    if cls == _ST:
        return "*(u%d*)(r%d %+d) = %d" % (bits, w.dst, w.off, w.imm)
    if cls == _STX:
        return "*(u%d*)(r%d %+d) = r%d" % (bits, w.dst, w.off, w.src)
    return None


def decode(i, w, upper=None):
    """(text of instruction ``w`` at index ``i``, how many following words it uses).
    ``upper`` is the next instruction (a 64-bit load's upper word)."""
    cls = w.opcode & 7
    if w.opcode == 0x18:
        return _lddw(w, upper), 1
    if cls in (_ALU, _ALU64):
        text = _alu(w)
    elif cls in (_JMP, _JMP32):
        text = _jump(i, w)
    else:
        text = _memory(w)
    return ("unknown <0x%x>" % w.opcode if text is None else text), 0


def disassemble_instruction(i, w0, w1=None):
    """(``"%4d: (%02x) text"``, words to skip) for instruction w0 at index i."""
    text, skip = decode(i, w0, w1)
    return "%4d: (%02x) %s" % (i, w0.opcode, text), skip


def disassemble_str(bpfstr):
    """The lines of the instructions in ``bpfstr`` (bytes, 8 per instruction)."""
    bpfstr = bytes(bpfstr)
    words = [Insn(bpfstr, at) for at in range(0, len(bpfstr) - 7, 8)]
    lines, skip = [], 0
    for i, w in enumerate(words):
        if skip:
            skip -= 1
            lines.append("%4d:      (64-bit upper word)" % i)
            continue
        line, skip = disassemble_instruction(i, w, words[i + 1] if i + 1 < len(words)
                                             else None)
        lines.append(line)
    return lines


def disassemble_prog(func_name, bpfstr):
    """BPF.disassemble_func's text: a title line, then one line per instruction."""
    return linesep.join(["Disassemble of BPF program %s:" % (func_name,)]
                        + disassemble_str(bpfstr))


# -- map layouts -------------------------------------------------------------------------
def _base_names():
    import ctypes as ct
    names = {}
    # later entries win where ctypes aliases two names (c_ulonglong is c_ulong on
    # LP64): the wider C spelling, as BCC prints u64 values as "unsigned long long"
    for t, n in ((ct.c_bool, "_Bool"), (ct.c_char, "char"), (ct.c_wchar, "wchar_t"),
                 (ct.c_byte, "signed char"), (ct.c_ubyte, "unsigned char"),
                 (ct.c_short, "short"), (ct.c_ushort, "unsigned short"),
                 (ct.c_int, "int"), (ct.c_uint, "unsigned int"), (ct.c_long, "long"),
                 (ct.c_ulong, "unsigned long"), (ct.c_longlong, "long long"),
                 (ct.c_ulonglong, "unsigned long long"), (ct.c_float, "float"),
                 (ct.c_double, "double"), (ct.c_longdouble, "long double"),
                 (ct.c_void_p, "void *"), (ct.c_char_p, "char *"),
                 (ct.c_int64 * 2, "__int128"), (ct.c_uint64 * 2, "unsigned __int128")):
        names[t] = n
    return names


class MapDecoder(object):
    """A ctypes Key/Leaf as C declarations, in BCC's layout text."""
    _names = None

    @classmethod
    def get_ct_name(cls, t):
        import ctypes as ct
        if cls._names is None:
            cls._names = _base_names()
        if t in cls._names:
            return cls._names[t]
        if issubclass(t, ct.Structure):
            return "struct"
        if issubclass(t, ct.Union):
            return "union"
        if issubclass(t, ct.Array):
            return "%s[%d]" % (cls.get_ct_name(t._type_), t._length_)
        return str(t)

    @staticmethod
    def format_size_info(offset, size, enabled=False, bitoffset=None):
        """``[offset +size] `` (bytes) or ``[offset,bit +bits bit]`` when enabled."""
        if not enabled:
            return ""
        if bitoffset is not None:
            return "[%d,%d +%d bit]" % (offset, bitoffset, size)
        return "[%d +%d] " % (offset, size)

    @classmethod
    def print_ct_map(cls, t, indent="", offset=0, sizeinfo=False):
        """The lines declaring the fields of struct/union ``t`` at byte ``offset``."""
        import ctypes as ct
        lines = []
        for field in t._fields_:
            name, ftype = field[0], field[1]
            info = getattr(t, name)
            type_name = cls.get_ct_name(ftype)
            if len(field) == 3:           # a bit field: CField.size is bits << 16 | bit
                bits, bit = info.size >> 16, info.size & 0xffff
                desc = cls.format_size_info(offset + info.offset, bits, sizeinfo, bit)
                lines.append("%s%s%s %s:%d;" % (indent, desc, type_name, name, bits))
                continue
            desc = cls.format_size_info(offset + info.offset, ct.sizeof(ftype), sizeinfo)
            if issubclass(ftype, (ct.Structure, ct.Union)):
                lines.append("%s%s%s {" % (indent, desc, type_name))
                lines += cls.print_ct_map(ftype, indent + "  ", offset + info.offset,
                                          sizeinfo)
                lines.append("%s} %s;" % (indent, name))
            else:
                lines.append("%s%s%s %s;" % (indent, desc, type_name, name))
        return lines

    @classmethod
    def print_map_ctype(cls, t, field_name, sizeinfo):
        import ctypes as ct
        type_name = cls.get_ct_name(t)
        if not issubclass(t, (ct.Structure, ct.Union)):
            return ["  %s %s;" % (type_name, field_name)]
        return (["  %s {" % type_name] + cls.print_ct_map(t, "    ", sizeinfo=sizeinfo)
                + ["  } %s;" % field_name])

    @classmethod
    def decode_map(cls, map_name, map_obj, map_type, sizeinfo=False):
        """The layout text of ``map_obj`` (its .map_fd, .map_id, .Key, .Leaf);
        ``map_type`` is the type's name (``HASH``)."""
        title = "Layout of BPF map %s (type %s, FD %d, ID %d):" % (
            map_name, map_type, map_obj.map_fd, map_obj.map_id or 0)
        return linesep.join([title]
                            + cls.print_map_ctype(map_obj.Key, "key", sizeinfo)
                            + cls.print_map_ctype(map_obj.Leaf, "value", sizeinfo))


def decode_map(map_name, map_obj, map_type, sizeinfo=False):
    """BPF.decode_table's text for a table; ``map_type`` is BPF_MAP_TYPE_* (a number)."""
    from .table import get_table_type_name
    return MapDecoder.decode_map(map_name, map_obj, get_table_type_name(map_type),
                                 sizeinfo=sizeinfo)
