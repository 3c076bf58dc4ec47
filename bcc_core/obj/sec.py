"""libbpf's SEC() naming convention: section name -> program type, expected attach type,
and how to auto-attach.  Matching follows libbpf 1.x: a prefix marked '+' matches the
exact name or the name followed by '/'; other entries match exactly."""

# program types (enum bpf_prog_type)
(PROG_UNSPEC, SOCKET_FILTER, KPROBE, SCHED_CLS, SCHED_ACT, TRACEPOINT, XDP, PERF_EVENT,
 CGROUP_SKB, CGROUP_SOCK, LWT_IN, LWT_OUT, LWT_XMIT, SOCK_OPS, SK_SKB, CGROUP_DEVICE, SK_MSG,
 RAW_TRACEPOINT, CGROUP_SOCK_ADDR, LWT_SEG6LOCAL, LIRC_MODE2, SK_REUSEPORT, FLOW_DISSECTOR,
 CGROUP_SYSCTL, RAW_TRACEPOINT_WRITABLE, CGROUP_SOCKOPT, TRACING, STRUCT_OPS, EXT, LSM,
 SK_LOOKUP, SYSCALL, NETFILTER) = range(33)

PROG_TYPE_NAMES = [
    "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
    "perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
    "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr",
    "lwt_seg6local", "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl",
    "raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm",
    "sk_lookup", "syscall", "netfilter"]

# attach types (enum bpf_attach_type)
ATTACH_NAMES = [
    "CGROUP_INET_INGRESS", "CGROUP_INET_EGRESS", "CGROUP_INET_SOCK_CREATE",
    "CGROUP_SOCK_OPS", "SK_SKB_STREAM_PARSER", "SK_SKB_STREAM_VERDICT", "CGROUP_DEVICE",
    "SK_MSG_VERDICT", "CGROUP_INET4_BIND", "CGROUP_INET6_BIND", "CGROUP_INET4_CONNECT",
    "CGROUP_INET6_CONNECT", "CGROUP_INET4_POST_BIND", "CGROUP_INET6_POST_BIND",
    "CGROUP_UDP4_SENDMSG", "CGROUP_UDP6_SENDMSG", "LIRC_MODE2", "FLOW_DISSECTOR",
    "CGROUP_SYSCTL", "CGROUP_UDP4_RECVMSG", "CGROUP_UDP6_RECVMSG", "CGROUP_GETSOCKOPT",
    "CGROUP_SETSOCKOPT", "TRACE_RAW_TP", "TRACE_FENTRY", "TRACE_FEXIT", "MODIFY_RETURN",
    "LSM_MAC", "TRACE_ITER", "CGROUP_INET4_GETPEERNAME", "CGROUP_INET6_GETPEERNAME",
    "CGROUP_INET4_GETSOCKNAME", "CGROUP_INET6_GETSOCKNAME", "XDP_DEVMAP",
    "CGROUP_INET_SOCK_RELEASE", "XDP_CPUMAP", "SK_LOOKUP", "XDP", "SK_SKB_VERDICT",
    "SK_REUSEPORT_SELECT", "SK_REUSEPORT_SELECT_OR_MIGRATE", "PERF_EVENT",
    "TRACE_KPROBE_MULTI", "LSM_CGROUP", "STRUCT_OPS", "NETFILTER", "TCX_INGRESS",
    "TCX_EGRESS", "TRACE_UPROBE_MULTI", "CGROUP_UNIX_CONNECT", "CGROUP_UNIX_SENDMSG",
    "CGROUP_UNIX_RECVMSG", "CGROUP_UNIX_GETPEERNAME", "CGROUP_UNIX_GETSOCKNAME",
    "NETKIT_PRIMARY", "NETKIT_PEER", "TRACE_KPROBE_SESSION", "TRACE_UPROBE_SESSION"]
A = {n: i for i, n in enumerate(ATTACH_NAMES)}

# flags
SLEEPABLE = 1
ATTACH_BTF = 2     # needs attach_btf_id from the target name (fentry/fexit/tp_btf/lsm/iter)
XDP_FRAGS = 4
USDT = 8

# (prefix, plus, prog_type, expected_attach_type, flags, attach kind)
_T = [
    ("socket", 0, SOCKET_FILTER, 0, 0, None),
    ("sk_reuseport/migrate", 0, SK_REUSEPORT, A["SK_REUSEPORT_SELECT_OR_MIGRATE"], 0, None),
    ("sk_reuseport", 0, SK_REUSEPORT, A["SK_REUSEPORT_SELECT"], 0, None),
    ("kprobe", 1, KPROBE, 0, 0, "kprobe"),
    ("uprobe", 1, KPROBE, 0, 0, "uprobe"),
    ("uprobe.s", 1, KPROBE, 0, SLEEPABLE, "uprobe"),
    ("kretprobe", 1, KPROBE, 0, 0, "kretprobe"),
    ("uretprobe", 1, KPROBE, 0, 0, "uretprobe"),
    ("uretprobe.s", 1, KPROBE, 0, SLEEPABLE, "uretprobe"),
    ("kprobe.multi", 1, KPROBE, A["TRACE_KPROBE_MULTI"], 0, "kprobe.multi"),
    ("kretprobe.multi", 1, KPROBE, A["TRACE_KPROBE_MULTI"], 0, "kprobe.multi"),
    ("kprobe.session", 1, KPROBE, A["TRACE_KPROBE_SESSION"], 0, "kprobe.multi"),
    ("uprobe.multi", 1, KPROBE, A["TRACE_UPROBE_MULTI"], 0, "uprobe.multi"),
    ("uretprobe.multi", 1, KPROBE, A["TRACE_UPROBE_MULTI"], 0, "uprobe.multi"),
    ("uprobe.session", 1, KPROBE, A["TRACE_UPROBE_SESSION"], 0, "uprobe.multi"),
    ("uprobe.multi.s", 1, KPROBE, A["TRACE_UPROBE_MULTI"], SLEEPABLE, "uprobe.multi"),
    ("uretprobe.multi.s", 1, KPROBE, A["TRACE_UPROBE_MULTI"], SLEEPABLE, "uprobe.multi"),
    ("ksyscall", 1, KPROBE, 0, 0, "ksyscall"),
    ("kretsyscall", 1, KPROBE, 0, 0, "kretsyscall"),
    ("usdt", 1, KPROBE, 0, USDT, "usdt"),
    ("usdt.s", 1, KPROBE, 0, USDT | SLEEPABLE, "usdt"),
    ("tc/ingress", 0, SCHED_CLS, A["TCX_INGRESS"], 0, None),
    ("tc/egress", 0, SCHED_CLS, A["TCX_EGRESS"], 0, None),
    ("tcx/ingress", 0, SCHED_CLS, A["TCX_INGRESS"], 0, None),
    ("tcx/egress", 0, SCHED_CLS, A["TCX_EGRESS"], 0, None),
    ("tc", 0, SCHED_CLS, 0, 0, None),
    ("classifier", 0, SCHED_CLS, 0, 0, None),
    ("action", 0, SCHED_ACT, 0, 0, None),
    ("netkit/primary", 0, SCHED_CLS, A["NETKIT_PRIMARY"], 0, None),
    ("netkit/peer", 0, SCHED_CLS, A["NETKIT_PEER"], 0, None),
    ("tracepoint", 1, TRACEPOINT, 0, 0, "tracepoint"),
    ("tp", 1, TRACEPOINT, 0, 0, "tracepoint"),
    ("tracepoint.s", 1, TRACEPOINT, 0, SLEEPABLE, "tracepoint"),
    ("tp.s", 1, TRACEPOINT, 0, SLEEPABLE, "tracepoint"),
    ("raw_tracepoint", 1, RAW_TRACEPOINT, 0, 0, "raw_tp"),
    ("raw_tp", 1, RAW_TRACEPOINT, 0, 0, "raw_tp"),
    ("raw_tracepoint.s", 1, RAW_TRACEPOINT, 0, SLEEPABLE, "raw_tp"),
    ("raw_tp.s", 1, RAW_TRACEPOINT, 0, SLEEPABLE, "raw_tp"),
    ("raw_tracepoint.w", 1, RAW_TRACEPOINT_WRITABLE, 0, 0, "raw_tp"),
    ("raw_tp.w", 1, RAW_TRACEPOINT_WRITABLE, 0, 0, "raw_tp"),
    ("tp_btf", 1, TRACING, A["TRACE_RAW_TP"], ATTACH_BTF, "trace"),
    ("tp_btf.s", 1, TRACING, A["TRACE_RAW_TP"], ATTACH_BTF | SLEEPABLE, "trace"),
    ("fentry", 1, TRACING, A["TRACE_FENTRY"], ATTACH_BTF, "trace"),
    ("fmod_ret", 1, TRACING, A["MODIFY_RETURN"], ATTACH_BTF, "trace"),
    ("fexit", 1, TRACING, A["TRACE_FEXIT"], ATTACH_BTF, "trace"),
    ("fentry.s", 1, TRACING, A["TRACE_FENTRY"], ATTACH_BTF | SLEEPABLE, "trace"),
    ("fmod_ret.s", 1, TRACING, A["MODIFY_RETURN"], ATTACH_BTF | SLEEPABLE, "trace"),
    ("fexit.s", 1, TRACING, A["TRACE_FEXIT"], ATTACH_BTF | SLEEPABLE, "trace"),
    ("freplace", 1, EXT, 0, ATTACH_BTF, "trace"),
    ("lsm", 1, LSM, A["LSM_MAC"], ATTACH_BTF, "lsm"),
    ("lsm.s", 1, LSM, A["LSM_MAC"], ATTACH_BTF | SLEEPABLE, "lsm"),
    ("lsm_cgroup", 1, LSM, A["LSM_CGROUP"], ATTACH_BTF, None),
    ("iter", 1, TRACING, A["TRACE_ITER"], ATTACH_BTF, "iter"),
    ("iter.s", 1, TRACING, A["TRACE_ITER"], ATTACH_BTF | SLEEPABLE, "iter"),
    ("syscall", 0, SYSCALL, 0, SLEEPABLE, None),
    ("xdp.frags/devmap", 0, XDP, A["XDP_DEVMAP"], XDP_FRAGS, None),
    ("xdp/devmap", 0, XDP, A["XDP_DEVMAP"], 0, None),
    ("xdp.frags/cpumap", 0, XDP, A["XDP_CPUMAP"], XDP_FRAGS, None),
    ("xdp/cpumap", 0, XDP, A["XDP_CPUMAP"], 0, None),
    ("xdp.frags", 0, XDP, A["XDP"], XDP_FRAGS, None),
    ("xdp", 0, XDP, A["XDP"], 0, None),
    ("perf_event", 0, PERF_EVENT, 0, 0, None),
    ("lwt_in", 0, LWT_IN, 0, 0, None),
    ("lwt_out", 0, LWT_OUT, 0, 0, None),
    ("lwt_xmit", 0, LWT_XMIT, 0, 0, None),
    ("lwt_seg6local", 0, LWT_SEG6LOCAL, 0, 0, None),
    ("sockops", 0, SOCK_OPS, A["CGROUP_SOCK_OPS"], 0, None),
    ("sk_skb/stream_parser", 0, SK_SKB, A["SK_SKB_STREAM_PARSER"], 0, None),
    ("sk_skb/stream_verdict", 0, SK_SKB, A["SK_SKB_STREAM_VERDICT"], 0, None),
    ("sk_skb/verdict", 0, SK_SKB, A["SK_SKB_VERDICT"], 0, None),
    ("sk_skb", 0, SK_SKB, 0, 0, None),
    ("sk_msg", 0, SK_MSG, A["SK_MSG_VERDICT"], 0, None),
    ("lirc_mode2", 0, LIRC_MODE2, A["LIRC_MODE2"], 0, None),
    ("flow_dissector", 0, FLOW_DISSECTOR, A["FLOW_DISSECTOR"], 0, None),
    ("cgroup_skb/ingress", 0, CGROUP_SKB, A["CGROUP_INET_INGRESS"], 0, None),
    ("cgroup_skb/egress", 0, CGROUP_SKB, A["CGROUP_INET_EGRESS"], 0, None),
    ("cgroup/skb", 0, CGROUP_SKB, 0, 0, None),
    ("cgroup/sock_create", 0, CGROUP_SOCK, A["CGROUP_INET_SOCK_CREATE"], 0, None),
    ("cgroup/sock_release", 0, CGROUP_SOCK, A["CGROUP_INET_SOCK_RELEASE"], 0, None),
    ("cgroup/sock", 0, CGROUP_SOCK, A["CGROUP_INET_SOCK_CREATE"], 0, None),
    ("cgroup/post_bind4", 0, CGROUP_SOCK, A["CGROUP_INET4_POST_BIND"], 0, None),
    ("cgroup/post_bind6", 0, CGROUP_SOCK, A["CGROUP_INET6_POST_BIND"], 0, None),
    ("cgroup/bind4", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET4_BIND"], 0, None),
    ("cgroup/bind6", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET6_BIND"], 0, None),
    ("cgroup/connect4", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET4_CONNECT"], 0, None),
    ("cgroup/connect6", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET6_CONNECT"], 0, None),
    ("cgroup/connect_unix", 0, CGROUP_SOCK_ADDR, A["CGROUP_UNIX_CONNECT"], 0, None),
    ("cgroup/sendmsg4", 0, CGROUP_SOCK_ADDR, A["CGROUP_UDP4_SENDMSG"], 0, None),
    ("cgroup/sendmsg6", 0, CGROUP_SOCK_ADDR, A["CGROUP_UDP6_SENDMSG"], 0, None),
    ("cgroup/sendmsg_unix", 0, CGROUP_SOCK_ADDR, A["CGROUP_UNIX_SENDMSG"], 0, None),
    ("cgroup/recvmsg4", 0, CGROUP_SOCK_ADDR, A["CGROUP_UDP4_RECVMSG"], 0, None),
    ("cgroup/recvmsg6", 0, CGROUP_SOCK_ADDR, A["CGROUP_UDP6_RECVMSG"], 0, None),
    ("cgroup/recvmsg_unix", 0, CGROUP_SOCK_ADDR, A["CGROUP_UNIX_RECVMSG"], 0, None),
    ("cgroup/getpeername4", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET4_GETPEERNAME"], 0, None),
    ("cgroup/getpeername6", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET6_GETPEERNAME"], 0, None),
    ("cgroup/getpeername_unix", 0, CGROUP_SOCK_ADDR, A["CGROUP_UNIX_GETPEERNAME"], 0, None),
    ("cgroup/getsockname4", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET4_GETSOCKNAME"], 0, None),
    ("cgroup/getsockname6", 0, CGROUP_SOCK_ADDR, A["CGROUP_INET6_GETSOCKNAME"], 0, None),
    ("cgroup/getsockname_unix", 0, CGROUP_SOCK_ADDR, A["CGROUP_UNIX_GETSOCKNAME"], 0, None),
    ("cgroup/sysctl", 0, CGROUP_SYSCTL, A["CGROUP_SYSCTL"], 0, None),
    ("cgroup/getsockopt", 0, CGROUP_SOCKOPT, A["CGROUP_GETSOCKOPT"], 0, None),
    ("cgroup/setsockopt", 0, CGROUP_SOCKOPT, A["CGROUP_SETSOCKOPT"], 0, None),
    ("cgroup/dev", 0, CGROUP_DEVICE, A["CGROUP_DEVICE"], 0, None),
    ("struct_ops", 1, STRUCT_OPS, 0, 0, None),
    ("struct_ops.s", 1, STRUCT_OPS, 0, SLEEPABLE, None),
    ("sk_lookup", 0, SK_LOOKUP, A["SK_LOOKUP"], 0, None),
    ("netfilter", 0, NETFILTER, A["NETFILTER"], 0, None),
]


class SecDef:
    __slots__ = ("prefix", "prog_type", "attach_type", "flags", "attach_kind")

    def __init__(self, prefix, prog_type, attach_type, flags, attach_kind):
        self.prefix, self.prog_type, self.attach_type = prefix, prog_type, attach_type
        self.flags, self.attach_kind = flags, attach_kind

    def __repr__(self):
        return "SecDef(%r, %s)" % (self.prefix, PROG_TYPE_NAMES[self.prog_type])


_DEFS = [(p, plus, SecDef(p, pt, at, fl, ak)) for p, plus, pt, at, fl, ak in _T]


def find_sec_def(sec_name):
    """The SecDef for an ELF section name (without libbpf's leading '?'), or None."""
    for prefix, plus, d in _DEFS:
        if sec_name == prefix:
            return d
        if plus and sec_name.startswith(prefix + "/"):
            return d
    return None


def sec_def_for_type(prog_type, attach_type=None):
    """The plain section kind (no flags; "xdp" rather than "xdp/devmap", "tc" rather
    than "tc/ingress") of a program type, or None.  With ``attach_type`` (BCC's
    ``load_func(..., attach_type=)``): that expected attach type."""
    found = [d for prefix, plus, d in _DEFS if d.prog_type == prog_type and not d.flags]
    if not found:
        return None
    d = next((d for d in found if "/" not in d.prefix), found[0])
    if attach_type is not None and attach_type >= 0 and attach_type != d.attach_type:
        d = SecDef(d.prefix, d.prog_type, attach_type, d.flags, d.attach_kind)
    return d


def attach_target(sec_name, d):
    """The part after 'prefix/' (e.g. 'syscalls/sys_enter_openat'), or ''."""
    rest = sec_name[len(d.prefix):]
    return rest[1:] if rest.startswith("/") else ""
