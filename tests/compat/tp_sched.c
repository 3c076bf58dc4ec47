// TRACEPOINT_PROBE on kernel trace_event_raw_* types, __data_loc strings, perf and ring
// buffer output, read-only global filter (migrated from a spliced "FILTER" string)
#include <linux/sched.h>

const volatile u32 targ_tgid = 0;

struct fork_event {
    u32 parent_pid;
    u32 child_pid;
    u32 ppid_of_parent;
    char comm[TASK_COMM_LEN];
};

struct exec_event {
    u32 pid;
    char filename[64];
};

BPF_PERF_OUTPUT(forks);
BPF_RINGBUF_OUTPUT(execs, 8);
BPF_RINGBUF_OUTPUT(execs2, 8);

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    struct fork_event ev = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();

    if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
        return 0;
    ev.parent_pid = args->parent_pid;
    ev.child_pid = args->child_pid;
    ev.ppid_of_parent = task->real_parent->tgid;
    bpf_probe_read_kernel_str(ev.comm, sizeof(ev.comm), task->comm);
    forks.perf_submit(args, &ev, sizeof(ev));
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    struct exec_event *ev;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();

    if (targ_tgid && task->real_parent->tgid != targ_tgid)
        return 0;
    ev = execs.ringbuf_reserve(sizeof(struct exec_event));
    if (!ev)
        return 0;
    ev->pid = args->pid;
    TP_DATA_LOC_READ_STR(ev->filename, filename, sizeof(ev->filename));
    execs.ringbuf_submit(ev, 0);

    struct exec_event copy = {};
    copy.pid = args->old_pid;
    execs2.ringbuf_output(&copy, sizeof(copy), 0);
    return 0;
}
