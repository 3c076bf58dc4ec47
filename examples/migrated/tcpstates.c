/* tcpstates: BCC's tools/tcpstates.py BPF program (Copyright 2018 Netflix, Inc.;
 * Apache License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration
 * example (the sock:inet_sock_set_state tracepoint variant; the kprobe fallback for
 * kernels before 4.16 is not included).  FILTER_DPORT, FILTER_LPORT and FILTER_FAMILY,
 * spliced into the text by tcpstates.py, are read-only globals (port lists: a fixed
 * array + count). */
#include <uapi/linux/ptrace.h>
#include <linux/tcp.h>
#include <net/sock.h>
#include <bcc/proto.h>

BPF_HASH(last, struct sock *, u64);

// separate data structs for ipv4 and ipv6
struct ipv4_data_t {
    u64 ts_us;
    u64 skaddr;
    u32 saddr;
    u32 daddr;
    u64 span_us;
    u32 pid;
    u32 ports;
    u32 oldstate;
    u32 newstate;
    char task[TASK_COMM_LEN];
};
BPF_PERF_OUTPUT(ipv4_events);

struct ipv6_data_t {
    u64 ts_us;
    u64 skaddr;
    unsigned __int128 saddr;
    unsigned __int128 daddr;
    u64 span_us;
    u32 pid;
    u32 ports;
    u32 oldstate;
    u32 newstate;
    char task[TASK_COMM_LEN];
};
BPF_PERF_OUTPUT(ipv6_events);

#define MAX_PORTS 8
const volatile u16 filter_dports[MAX_PORTS] = {};  /* FILTER_DPORT (-D) */
const volatile int n_dports = 0;
const volatile u16 filter_lports[MAX_PORTS] = {};  /* FILTER_LPORT (-L) */
const volatile int n_lports = 0;
const volatile u16 filter_family = 0;              /* FILTER_FAMILY (-4/-6), 0: off */

/* bcc-core: keep the event structs in BTF for b["ipv4_events"].event() */
struct ipv4_data_t *unused_ipv4 __attribute__((unused));
struct ipv6_data_t *unused_ipv6 __attribute__((unused));

static __always_inline int port_in(const volatile u16 *ports, int n, u16 port)
{
    for (int i = 0; i < MAX_PORTS; i++)
        if (i < n && ports[i] == port)
            return 1;
    return 0;
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != IPPROTO_TCP)
        return 0;

    u32 pid = bpf_get_current_pid_tgid() >> 32;
    // sk is used as a UUID
    struct sock *sk = (struct sock *)args->skaddr;

    // lport is either used in a filter here, or later
    u16 lport = args->sport;
    if (n_lports && !port_in(filter_lports, n_lports, lport)) { last.delete(&sk); return 0; }

    // dport is either used in a filter here, or later
    u16 dport = args->dport;
    if (n_dports && !port_in(filter_dports, n_dports, dport)) { last.delete(&sk); return 0; }

    // calculate delta
    u64 *tsp, delta_us;
    tsp = last.lookup(&sk);
    if (tsp == 0)
        delta_us = 0;
    else
        delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
    u16 family = args->family;
    if (filter_family && family != filter_family) { return 0; }

    if (args->family == AF_INET) {
        struct ipv4_data_t data4 = {
            .span_us = delta_us,
            .oldstate = args->oldstate,
            .newstate = args->newstate };
        data4.skaddr = (u64)args->skaddr;
        data4.ts_us = bpf_ktime_get_ns() / 1000;
        __builtin_memcpy(&data4.saddr, args->saddr, sizeof(data4.saddr));
        __builtin_memcpy(&data4.daddr, args->daddr, sizeof(data4.daddr));
        // a workaround until data4 compiles with separate lport/dport
        data4.ports = dport + ((0ULL + lport) << 16);
        data4.pid = pid;

        bpf_get_current_comm(&data4.task, sizeof(data4.task));
        ipv4_events.perf_submit(args, &data4, sizeof(data4));

    } else /* 6 */ {
        struct ipv6_data_t data6 = {
            .span_us = delta_us,
            .oldstate = args->oldstate,
            .newstate = args->newstate };
        data6.skaddr = (u64)args->skaddr;
        data6.ts_us = bpf_ktime_get_ns() / 1000;
        /* bcc-core: was __builtin_memcpy(), which clang turns into a read through a
         * modified ctx pointer that the verifier rejects */
        bpf_probe_read_kernel(&data6.saddr, sizeof(data6.saddr), args->saddr_v6);
        /* bcc-core: was __builtin_memcpy(), which clang turns into a read through a
         * modified ctx pointer that the verifier rejects */
        bpf_probe_read_kernel(&data6.daddr, sizeof(data6.daddr), args->daddr_v6);
        // a workaround until data6 compiles with separate lport/dport
        data6.ports = dport + ((0ULL + lport) << 16);
        data6.pid = pid;
        bpf_get_current_comm(&data6.task, sizeof(data6.task));
        ipv6_events.perf_submit(args, &data6, sizeof(data6));
    }

    if (args->newstate == TCP_CLOSE) {
        last.delete(&sk);
    } else {
        u64 ts = bpf_ktime_get_ns();
        last.update(&sk, &ts);
    }

    return 0;
}
