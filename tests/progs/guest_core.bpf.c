// Guest kernel matrix (issue 5): the same object, built once on the host, reads
// task_struct fields through BPF_CORE_READ on two kernels whose task_struct layouts
// differ.  A plain tracepoint, so it loads on any kernel; the test compares the CO-RE
// decisions (target offsets) between host and guest and checks the values read.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile u32 target_tgid = 0;
u32 hits = 0;
u32 core_tgid = 0;
u32 core_pid = 0;
u32 core_ppid = 0;
u64 helper_pid_tgid = 0;
char core_comm[16];

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct *task;
	u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) != target_tgid)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	core_tgid = BPF_CORE_READ(task, tgid);
	core_pid = BPF_CORE_READ(task, pid);
	core_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&core_comm, task, comm);
	helper_pid_tgid = id;
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
