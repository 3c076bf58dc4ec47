/* runqlat: BCC's tools/runqlat.py BPF program (Copyright 2016 Netflix, Inc.; Apache
 * License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration example
 * (the raw tracepoint variant; the kprobe fallback for kernels without raw tracepoints
 * is not included).  FILTER and FACTOR, spliced into the text by runqlat.py, are
 * read-only globals; STORAGE/STORE, which change the histogram's key type, are the
 * build flags -DSTORE_PID / -DSTORE_PIDNS; STATE_FIELD (task_struct's state field,
 * renamed __state in 5.14) is -DSTATE_FIELD=... chosen from the kernel's BTF. */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/init_task.h>

typedef struct pid_key {
    u32 id;
    u64 slot;
} pid_key_t;

typedef struct pidns_key {
    u32 id;
    u64 slot;
} pidns_key_t;

BPF_HASH(start, u32);
#if defined(STORE_PID)
BPF_HISTOGRAM(dist, pid_key_t);
#elif defined(STORE_PIDNS)
BPF_HISTOGRAM(dist, pidns_key_t);
#else
BPF_HISTOGRAM(dist);
#endif

const volatile u32 filter_tgid = 0;     /* FILTER (-p), 0: off */
const volatile u64 factor = 1000;       /* FACTOR: usecs, or msecs (-m) */
const volatile bool store_tid = 0;      /* STORE: key by tid (-L) instead of tgid (-P) */

// record enqueue timestamp
static int trace_enqueue(u32 tgid, u32 pid)
{
    if ((filter_tgid && tgid != filter_tgid) || pid == 0)
        return 0;
    u64 ts = bpf_ktime_get_ns();
    start.update(&pid, &ts);
    return 0;
}

static __always_inline unsigned int pid_namespace(struct task_struct *task)
{

/* pids[] was removed from task_struct since commit 2c4704756cab7cfa031ada4dab361562f0e357c0
 * Using the macro INIT_PID_LINK as a conditional judgment.
 */
#ifdef INIT_PID_LINK
    struct pid_link pids;
    unsigned int level;
    struct upid upid;
    struct ns_common ns;

    /*  get the pid namespace by following task_active_pid_ns(),
     *  pid->numbers[pid->level].ns
     */
    bpf_probe_read_kernel(&pids, sizeof(pids), &task->pids[PIDTYPE_PID]);
    bpf_probe_read_kernel(&level, sizeof(level), &pids.pid->level);
    bpf_probe_read_kernel(&upid, sizeof(upid), &pids.pid->numbers[level]);
    bpf_probe_read_kernel(&ns, sizeof(ns), &upid.ns->ns);

    return ns.inum;
#else
    struct pid *pid;
    unsigned int level;
    struct upid upid;
    struct ns_common ns;

    /*  get the pid namespace by following task_active_pid_ns(),
     *  pid->numbers[pid->level].ns
     */
    bpf_probe_read_kernel(&pid, sizeof(pid), &task->thread_pid);
    bpf_probe_read_kernel(&level, sizeof(level), &pid->level);
    bpf_probe_read_kernel(&upid, sizeof(upid), &pid->numbers[level]);
    bpf_probe_read_kernel(&ns, sizeof(ns), &upid.ns->ns);

    return ns.inum;
#endif
}

RAW_TRACEPOINT_PROBE(sched_wakeup)
{
    // TP_PROTO(struct task_struct *p)
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    return trace_enqueue(p->tgid, p->pid);
}

RAW_TRACEPOINT_PROBE(sched_wakeup_new)
{
    // TP_PROTO(struct task_struct *p)
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    return trace_enqueue(p->tgid, p->pid);
}

RAW_TRACEPOINT_PROBE(sched_switch)
{
    // TP_PROTO(bool preempt, struct task_struct *prev, struct task_struct *next)
    struct task_struct *prev = (struct task_struct *)ctx->args[1];
    struct task_struct *next = (struct task_struct *)ctx->args[2];
    u32 pid, tgid;

    // ivcsw: treat like an enqueue event and store timestamp
    if (prev->STATE_FIELD == TASK_RUNNING) {
        tgid = prev->tgid;
        pid = prev->pid;
        if (!((filter_tgid && tgid != filter_tgid) || pid == 0)) {
            u64 ts = bpf_ktime_get_ns();
            start.update(&pid, &ts);
        }
    }

    tgid = next->tgid;
    pid = next->pid;
    if ((filter_tgid && tgid != filter_tgid) || pid == 0)
        return 0;
    u64 *tsp, delta;

    // fetch timestamp and calculate delta
    tsp = start.lookup(&pid);
    if (tsp == 0) {
        return 0;   // missed enqueue
    }
    delta = bpf_ktime_get_ns() - *tsp;
    delta /= factor;

    // store as histogram
#if defined(STORE_PID)
    pid_key_t key = {.id = store_tid ? pid : tgid, .slot = bpf_log2l(delta)}; dist.increment(key);
#elif defined(STORE_PIDNS)
    pidns_key_t key = {.id = pid_namespace(prev), .slot = bpf_log2l(delta)}; dist.atomic_increment(key);
#else
    dist.atomic_increment(bpf_log2l(delta));
#endif

    start.delete(&pid);
    return 0;
}
