// Programs this host's kernel cannot run (no kprobes, no BPF trampolines).  On the
// 6.1 guest both attach; here BPF() must say clearly what is missing.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

u64 kprobe_hits = 0;
u64 kfunc_hits = 0;
const volatile u32 target_tgid = 0;

SEC("kprobe")
int kprobe__do_sys_openat2(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("fentry/do_sys_openat2")
int BPF_PROG(kfunc__do_sys_openat2)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&kfunc_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
