// Programs whose attach kinds this host may lack: fentry, tp_btf (trampolines), kprobe.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

int fentry_hits = 0;
int tp_btf_hits = 0;
int kprobe_hits = 0;

SEC("?fentry/do_sys_openat2")
int BPF_PROG(on_openat2_fentry, int dfd, const char *filename)
{
	fentry_hits++;
	return 0;
}

SEC("?tp_btf/sched_switch")
int BPF_PROG(on_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	tp_btf_hits++;
	return 0;
}

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(on_openat2_kprobe, int dfd)
{
	kprobe_hits++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
