// Guest kernel matrix (issue 5): BTF-enabled tracepoints (tp_btf).  sys_enter counts the
// target's calls of one syscall number; sched_switch counts how often a thread of the
// target was switched out, reading prev->tgid directly through BTF (CO-RE relocated).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile u32 target_tgid = 0;
const volatile s64 target_nr = -1;
u32 sys_count = 0;
u32 switch_out = 0;
u32 switch_in = 0;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid && id == target_nr)
		__sync_fetch_and_add(&sys_count, 1);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	if (prev->tgid == target_tgid)
		__sync_fetch_and_add(&switch_out, 1);
	if (next->tgid == target_tgid)
		__sync_fetch_and_add(&switch_in, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
