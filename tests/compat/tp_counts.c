// TRACEPOINT_PROBE + BPF_HASH + map methods + kernel pointer chains
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

struct key_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
};

BPF_HASH(counts, struct key_t, u64);
BPF_ARRAY(parent, u32, 4);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    struct key_t key = {};
    u32 zero = 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();

    key.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);
    u32 ppid = task->real_parent->tgid;
    parent.update(&zero, &ppid);
    return 0;
}
