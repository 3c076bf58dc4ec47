// BCC-facade test program: tracepoints (SEC target, BCC-style names, explicit attach),
// perf buffer + ring buffer events, hash/array/percpu maps, log2/linear/keyed
// histograms, stack traces, uprobe/uretprobe.  Only the test's own process counts
// (target_tgid); write()s are binned only on target_fd.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 64

struct event {
	u32 pid;
	u32 seq;
	char comm[16];
	char path[64];
};
/* keep struct event in BTF so that b["events"].event(data) can decode records */
struct event *unused_event __attribute__((unused));

struct hist_key {
	u32 bucket;
	u32 slot;
};

struct stack_key {
	u32 pid;
	s32 kstack;
	s32 ustack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, u32);
	__type(value, u64);
} dist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, u32);
	__type(value, u64);
} lin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, u64);
} keyed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(u32));
	__uint(value_size, 127 * sizeof(u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct stack_key);
	__type(value, u64);
} stack_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} ucalls SEC(".maps");

const volatile u32 target_tgid = 0;
const volatile s32 target_fd = -1;
u32 seq = 0;
u64 close_calls = 0;
u64 raw_calls = 0;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline u32 log2l(u64 v)
{
	u32 r = 0;
	for (int i = 0; i < 64 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

static __always_inline void bump(void *map, const void *key)
{
	u64 one = 1, *v = bpf_map_lookup_elem(map, key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
}

/* SEC with a target: auto-attached like libbpf */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct event e = {}, *r;
	u32 pid;

	if (!mine())
		return 0;
	pid = target_tgid;
	e.pid = pid;
	e.seq = seq++;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(e.path, sizeof(e.path), (const char *)ctx->args[1]);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	r = bpf_ringbuf_reserve(&ring, sizeof(*r), 0);
	if (r) {
		*r = e;
		bpf_ringbuf_submit(r, 0);
	}
	bump(&counts, &pid);
	return 0;
}

/* no target in SEC: attached by its BCC-style name */
SEC("tracepoint")
int tracepoint__syscalls__sys_enter_close(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&close_calls, 1);
	return 0;
}

SEC("raw_tp")
int raw_tracepoint__sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && ctx->args[1] == 39 /* __NR_getpid */)
		__sync_fetch_and_add(&raw_calls, 1);
	return 0;
}

/* attached explicitly by the test: attach_tracepoint(tp="syscalls:sys_enter_write") */
SEC("tracepoint")
int on_write(struct trace_event_raw_sys_enter *ctx)
{
	struct hist_key hk = {};
	struct stack_key sk = {};
	u64 size, *v;
	u32 slot, zero = 0;

	if (!mine() || (s32)ctx->args[0] != target_fd)
		return 0;
	size = ctx->args[2];
	slot = log2l(size);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	/* BCC's bpf_log2l: slot = log2(v) + 1 for v > 0, 0 for v == 0 */
	if (size)
		slot += 1;
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	v = bpf_map_lookup_elem(&dist, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	u32 ls = size / 100;
	if (ls > 31)
		ls = 31;
	v = bpf_map_lookup_elem(&lin, &ls);
	if (v)
		__sync_fetch_and_add(v, 1);
	hk.bucket = size & 1;
	hk.slot = slot;
	bump(&keyed, &hk);
	v = bpf_map_lookup_elem(&pcpu, &zero);
	if (v)
		*v += size;
	sk.pid = target_tgid;
	sk.kstack = bpf_get_stackid(ctx, &stacks, 0);
	sk.ustack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	bump(&stack_counts, &sk);
	return 0;
}

/* attached by the test with attach_uprobe(name="c", sym="getpid") */
SEC("uprobe")
int on_getpid(struct pt_regs *ctx)
{
	u32 k = 0;
	u64 *v;

	if (!mine())
		return 0;
	v = bpf_map_lookup_elem(&ucalls, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("uretprobe")
int on_getpid_ret(struct pt_regs *ctx)
{
	u32 k = 1;
	u64 *v;

	if (!mine())
		return 0;
	v = bpf_map_lookup_elem(&ucalls, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	k = 2;
	v = bpf_map_lookup_elem(&ucalls, &k);
	if (v)
		*v = ctx->ax;       /* getpid()'s return value */
	return 0;
}

u64 samples = 0;

/* attached by the test with attach_perf_event(PerfType.SOFTWARE, CPU_CLOCK) */
SEC("perf_event")
int on_sample(void *ctx)
{
	__sync_fetch_and_add(&samples, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
