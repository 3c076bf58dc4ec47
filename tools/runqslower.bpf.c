// SPDX-License-Identifier: Apache-2.0
// runqslower: trace run queue latency above a threshold.  Two program sets: tp_btf
// (BTF-typed arguments) where the kernel allows it, raw_tp otherwise; the front end
// loads one set.  task_struct fields are read through CO-RE, `__state` vs `state`
// through a flavor, so one object runs on kernels before and after 5.14.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16
#define TASK_RUNNING 0

/* same layout as BCC's struct data_t */
struct data_t {
	u32 pid;
	u32 prev_pid;
	char task[TASK_COMM_LEN];
	char prev_task[TASK_COMM_LEN];
	u64 delta_us;
};

/* keeps struct data_t in the object's BTF for the front end's event() */
struct data_t *unused_data_t __attribute__((unused));

const volatile u64 min_us = 10000;
const volatile pid_t targ_pid = 0;   /* -p: tgid */
const volatile pid_t targ_tid = 0;   /* -t: tid */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

/* kernels before 5.14 call the field `state` */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline bool filtered(u32 tgid, u32 pid)
{
	return (targ_tid && pid != targ_tid) || (targ_pid && tgid != targ_pid) || pid == 0;
}

static __always_inline int trace_enqueue(struct task_struct *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid), pid = BPF_CORE_READ(p, pid);
	u64 ts;

	if (filtered(tgid, pid))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int handle_switch(void *ctx, struct task_struct *prev,
					 struct task_struct *next)
{
	u32 prev_pid = BPF_CORE_READ(prev, pid), pid;
	u64 *tsp, delta_us, ts;
	struct data_t data = {};

	/* involuntary context switch: the previous task is still runnable, queue it */
	if (task_state(prev) == TASK_RUNNING) {
		u32 tgid = BPF_CORE_READ(prev, tgid);
		if (!filtered(tgid, prev_pid)) {
			ts = bpf_ktime_get_ns();
			bpf_map_update_elem(&start, &prev_pid, &ts, BPF_ANY);
		}
	}
	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp || *tsp == 0)
		return 0;   /* missed enqueue */
	delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &pid);
	if (min_us && delta_us <= min_us)
		return 0;
	data.pid = pid;
	data.prev_pid = prev_pid;
	data.delta_us = delta_us;
	bpf_probe_read_kernel_str(data.task, sizeof(data.task), BPF_CORE_READ(next, comm));
	bpf_probe_read_kernel_str(data.prev_task, sizeof(data.prev_task),
				  BPF_CORE_READ(prev, comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data));
	return 0;
}

/* the same three handlers twice: as tp_btf (BTF-typed arguments) and as raw_tp
 * (for kernels without BTF-enabled raw tracepoints); the front end loads one set */
#define RUNQSLOWER_PROGS(kind)							\
SEC("?" #kind "/sched_wakeup")							\
int BPF_PROG(kind##_sched_wakeup, struct task_struct *p)			\
{										\
	return trace_enqueue(p);						\
}										\
SEC("?" #kind "/sched_wakeup_new")						\
int BPF_PROG(kind##_sched_wakeup_new, struct task_struct *p)			\
{										\
	return trace_enqueue(p);						\
}										\
SEC("?" #kind "/sched_switch")							\
int BPF_PROG(kind##_sched_switch, bool preempt, struct task_struct *prev,	\
	     struct task_struct *next)						\
{										\
	return handle_switch(ctx, prev, next);					\
}

RUNQSLOWER_PROGS(tp_btf)
RUNQSLOWER_PROGS(raw_tp)

char LICENSE[] SEC("license") = "GPL";
