// Guest kernel matrix (issue 5): fentry + fexit on do_sys_openat2 (BPF trampolines).
// fentry records the requested path, fexit the path again and the return value.
// Fails to load with NotSupportedError on kernels without trampolines.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOTS 16

const volatile u32 target_tgid = 0;
u32 enter_count = 0;
u32 exit_count = 0;
s64 rets[SLOTS];
char names[SLOTS][64];

SEC("fentry/do_sys_openat2")
int BPF_PROG(fentry_open, int dfd, const char *filename, struct open_how *how)
{
	u32 idx;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	idx = enter_count++;	/* the test opens from one thread */
	if (idx < SLOTS)
		bpf_probe_read_user_str(names[idx], sizeof(names[idx]), filename);
	return 0;
}

SEC("fexit/do_sys_openat2")
int BPF_PROG(fexit_open, int dfd, const char *filename, struct open_how *how, long ret)
{
	u32 idx;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	idx = exit_count++;
	if (idx < SLOTS)
		rets[idx] = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
