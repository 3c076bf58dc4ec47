// A flood of perf buffer records: each getppid() of the target process writes one
// 256-byte record; the program counts the writes the kernel refused (buffer full), which
// is what the kernel reports to user space as lost.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct rec {
	u64 seq;
	char pad[248];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

const volatile u32 target_tgid = 0;
u64 sent = 0, refused = 0;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct rec r = {};

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	r.seq = __sync_fetch_and_add(&sent, 1);
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &r, sizeof(r)))
		__sync_fetch_and_add(&refused, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
