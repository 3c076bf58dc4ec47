"""BCC's constants: kernel UAPI values grouped in classes as BCC's Python API has
them (PerfType, BPFProgType...), the debug flags and the tracefs/debugfs paths."""
import os

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

