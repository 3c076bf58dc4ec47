// Benchmark source: one record per getppid() of the load generator, to a perf buffer
// (mode 1) or a ring buffer (mode 2).  Ring buffer drops are counted in ring_drops.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	u64 ts;
	u32 pid;
	u32 seq;
	char comm[16];
};
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ring SEC(".maps");

const volatile u32 target_tgid = 0;
const volatile u32 mode = 1;
u32 seq = 0;
u64 ring_drops = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct event e;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	e.ts = bpf_ktime_get_ns();
	e.pid = target_tgid;
	e.seq = seq++;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (mode == 1)
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	else if (bpf_ringbuf_output(&ring, &e, sizeof(e), 0))
		__sync_fetch_and_add(&ring_drops, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
