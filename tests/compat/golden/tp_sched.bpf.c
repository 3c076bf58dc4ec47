/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "bcc_compat.h"
# 1 "tp_sched.c"




const volatile u32 targ_tgid = 0;

struct fork_event {
    u32 parent_pid;
    u32 child_pid;
    u32 ppid_of_parent;
    char comm[16];
};

struct exec_event {
    u32 pid;
    char filename[64];
};

struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, sizeof(u32)); __uint(value_size, sizeof(u32)); } forks SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, (8) * 4096); } execs SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, (8) * 4096); } execs2 SEC(".maps");

SEC("tracepoint/sched/sched_process_fork") int tracepoint__sched__sched_process_fork(struct trace_event_raw_sched_process_fork *args) 
{
    struct fork_event ev = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();

    if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
        return 0;
    ev.parent_pid = BPF_CORE_READ(args, parent_pid);
    ev.child_pid = BPF_CORE_READ(args, child_pid);
    ev.ppid_of_parent = BPF_CORE_READ(task, real_parent, tgid);
    bpf_core_read_str(ev.comm, sizeof(ev.comm), &task->comm);
    bpf_perf_event_output(args, &forks, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
    return 0;
}

SEC("tracepoint/sched/sched_process_exec") int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *args) 
{
    struct exec_event *ev;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();

    if (targ_tgid && BPF_CORE_READ(task, real_parent, tgid) != targ_tgid)
        return 0;
    ev = bpf_ringbuf_reserve(&execs, sizeof(struct exec_event), 0);
    if (!ev)
        return 0;
    ev->pid = BPF_CORE_READ(args, pid);
    TP_DATA_LOC_READ_STR(ev->filename, filename, sizeof(ev->filename));
    bpf_ringbuf_submit(ev, 0);

    struct exec_event copy = {};
    copy.pid = BPF_CORE_READ(args, old_pid);
    bpf_ringbuf_output(&execs2, &copy, sizeof(copy), 0);
    return 0;
}






char _license[] __attribute__((section("license"), used)) = "GPL";

__attribute__((unused)) void __bcc_event__execs(struct exec_event *e) {}
__attribute__((unused)) void __bcc_event__execs2(struct exec_event *e) {}
__attribute__((unused)) void __bcc_event__forks(struct fork_event *e) {}