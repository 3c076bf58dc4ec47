// Event delivery: perf buffer and ring buffer records carrying the opener's pid and path.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	u32 pid;
	u32 seq;
	char path[64];
};
struct event *unused_event __attribute__((unused));     /* in BTF, for event() */

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ring_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} perf_more SEC(".maps");         /* a second perf buffer (written when "both" is set) */

const volatile u32 target_tgid = 0;
const volatile u32 repeat = 1;      /* records per syscall, to fill buffers quickly */
const volatile u32 both = 0;
u32 seq = 0;

SEC("tp/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct event e = {}, *r;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	e.pid = target_tgid;
	bpf_probe_read_user_str(e.path, sizeof(e.path), (const char *)ctx->args[1]);
	for (u32 i = 0; i < repeat && i < 64; i++) {
		e.seq = seq++;
		bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
		if (both)
			bpf_perf_event_output(ctx, &perf_more, BPF_F_CURRENT_CPU, &e, sizeof(e));
		r = bpf_ringbuf_reserve(&ring_events, sizeof(*r), 0);
		if (r) {
			*r = e;
			bpf_ringbuf_submit(r, 0);
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
