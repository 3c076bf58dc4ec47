// RAW_TRACEPOINT_PROBE, pt_regs through a raw pointer, the other map kinds and methods,
// explicit bpf_probe_read* of kernel fields, bit-fields, histograms, stack traces.
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

const volatile u32 targ_tgid = 0;
const volatile long targ_nr = 110;   /* __NR_getppid on x86_64 */

struct info_t {
    u32 pid;
    u32 tgid_read_into;
    int stack_id;
    u64 arg0;
    u64 reset_on_fork;
    char comm[TASK_COMM_LEN];
    char comm2[TASK_COMM_LEN];
};

BPF_PERCPU_ARRAY(calls, u64, 1);
BPF_HISTOGRAM(hist, int, 64);
BPF_HISTOGRAM(hist_hash, u32, 64);
BPF_LRU_HASH(last, u32, struct info_t, 128);
BPF_PERCPU_HASH(percpu, u32, u64, 16);
BPF_HASH(scratch, u32, u64, 16);
BPF_TABLE("hash", u32, u64, table, 16);
BPF_F_TABLE("hash", u32, u64, ftable, 16, BPF_F_NO_PREALLOC);
BPF_STACK_TRACE(stacks, 128);
BPF_PROG_ARRAY(progs, 4);

static __always_inline u32 current_tgid(void)
{
    return bpf_get_current_pid_tgid() >> 32;
}

RAW_TRACEPOINT_PROBE(sys_enter)
{
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    long nr = ctx->args[1];
    u32 tgid = current_tgid();
    u32 zero = 0;
    u64 one = 1, init = 0;
    struct info_t info = {};
    struct task_struct *task;

    if (nr != targ_nr || tgid != targ_tgid)
        return 0;
    task = (struct task_struct *)bpf_get_current_task();
    calls.increment(zero);
    hist.increment(bpf_log2l(nr));
    hist_hash.atomic_increment(7, 2);
    info.pid = task->pid;
    info.arg0 = regs->di;
    bpf_probe_read_kernel(&info.tgid_read_into, sizeof(info.tgid_read_into), &task->tgid);
    bpf_probe_read_kernel_str(&info.comm, sizeof(info.comm), &task->comm);
    bpf_probe_read_kernel(info.comm2, 4, task->group_leader->comm);
    info.reset_on_fork = task->sched_reset_on_fork + 1;
    info.stack_id = stacks.get_stackid(ctx, 0);
    last.update(&tgid, &info);

    u64 *p = percpu.lookup_or_try_init(&zero, &init);
    if (p)
        *p += 3;
    scratch.insert(&zero, &one);
    scratch.insert(&zero, &init);      /* exists: no effect */
    u64 *s = scratch.lookup(&zero);
    if (s)
        table.update(&zero, s);
    one = 2;
    scratch.update(&zero, &one);
    ftable.update(&tgid, &one);
    zero = 1;
    scratch.update(&zero, &one);
    scratch.delete(&zero);
    return 0;
}
