// CO-RE on the running kernel: task_struct reads, a probed bitfield, field/type/enum
// existence, flavors (task_struct___old: `state` before 5.14 became `__state`), enum
// values and type sizes.  Filtered on the test's tgid (rodata knob), triggered by getppid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* kernels before 5.14 */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* a field no kernel has */
struct task_struct___fake {
	int no_such_field;
} __attribute__((preserve_access_index));

/* a type no kernel has */
struct no_such_type___x {
	int a;
} __attribute__((preserve_access_index));

/* UAPI enums, with local values deliberately different from the kernel's */
enum bpf_func_id___local {
	BPF_FUNC_ktime_get_ns___local = 1000,
	BPF_FUNC_no_such_helper___local = 1001,
};

enum bpf_map_type___local {
	BPF_MAP_TYPE_RINGBUF___local = 2000,
};

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

const volatile int target_tgid = 0;

int hits = 0;
int pid = 0;
int tgid = 0;
int ppid = 0;
long state = -1;
int has_state_new = -1;
int has_state_old = -1;
int fake_exists = -1;
unsigned long long subreaper = 99;
unsigned long long enum_ktime = 0;
unsigned long long enum_ringbuf = 0;
int enum_missing_exists = -1;
int enum_ktime_exists = -1;
int task_exists = -1;
int no_type_exists = -1;
unsigned int task_size = 0;
unsigned int pt_regs_size = 0;
unsigned int kver = 0;
unsigned int comm_size = 0;
char comm[16] = {};

unsigned int fake_value = 0;

/* a real subprogram in .text: its relocations belong to it, not to the caller */
static __noinline long read_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return BPF_CORE_READ(task, __state);
	return BPF_CORE_READ((struct task_struct___old *)task, state);
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct signal_struct *sig;

	if (BPF_CORE_READ(task, tgid) != target_tgid)
		return 0;
	hits++;
	pid = BPF_CORE_READ(task, pid);
	tgid = BPF_CORE_READ(task, tgid);
	ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&comm, task, comm);
	comm_size = bpf_core_field_size(task->comm);
	state = read_state(task);
	has_state_new = bpf_core_field_exists(task->__state);
	has_state_old = bpf_core_field_exists(((struct task_struct___old *)task)->state);
	fake_exists = bpf_core_field_exists(((struct task_struct___fake *)task)->no_such_field);

	sig = BPF_CORE_READ(task, signal);
	subreaper = BPF_CORE_READ_BITFIELD_PROBED(sig, is_child_subreaper);

	enum_ktime = bpf_core_enum_value(enum bpf_func_id___local,
					 BPF_FUNC_ktime_get_ns___local);
	enum_ringbuf = bpf_core_enum_value(enum bpf_map_type___local,
					   BPF_MAP_TYPE_RINGBUF___local);
	enum_ktime_exists = bpf_core_enum_value_exists(enum bpf_func_id___local,
						       BPF_FUNC_ktime_get_ns___local);
	enum_missing_exists = bpf_core_enum_value_exists(enum bpf_func_id___local,
							 BPF_FUNC_no_such_helper___local);
	task_exists = bpf_core_type_exists(struct task_struct);
	no_type_exists = bpf_core_type_exists(struct no_such_type___x);
	task_size = bpf_core_type_size(struct task_struct);
	pt_regs_size = bpf_core_type_size(struct pt_regs);
	kver = LINUX_KERNEL_VERSION;
	return 0;
}

/* reads a field that does not exist, unguarded: its only CO-RE relocation is poisoned
 * and the verifier rejects it.  Not loaded unless asked for ("?"). */
SEC("?tp/syscalls/sys_enter_getppid")
int read_missing_field(void *ctx)
{
	struct task_struct___fake *task = (void *)bpf_get_current_task();

	fake_value = BPF_CORE_READ(task, no_such_field);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
