// Guest kernel matrix (issue 5): kprobe + kretprobe on do_sys_openat2.  The kprobe
// records the path each open by target_tgid asks for, the kretprobe the value returned
// to user space (an fd or -errno).  Needs CONFIG_KPROBES: attaching fails with
// NotSupportedError on kernels without it.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOTS 16

const volatile u32 target_tgid = 0;
u32 enter_count = 0;
u32 exit_count = 0;
s64 rets[SLOTS];
char names[SLOTS][64];

/* the same counts in a map, for BCC-style table reads: [0] kprobe hits, [1] kretprobe */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

static void bump(u32 key)
{
	u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(kprobe_open, int dfd, const char *filename)
{
	u32 idx;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	bump(0);
	idx = enter_count++;	/* the test opens from one thread */
	if (idx < SLOTS)
		bpf_probe_read_user_str(names[idx], sizeof(names[idx]), filename);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(kretprobe_open, long ret)
{
	u32 idx;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	bump(1);
	idx = exit_count++;
	if (idx < SLOTS)
		rets[idx] = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
