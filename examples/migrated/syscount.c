/* syscount: BCC's tools/syscount.py BPF program (Copyright 2017, Sasha Goldshtein;
 * Apache License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration
 * example.  The #define FILTER_* values that syscount.py spliced into the text are
 * read-only globals (set from Python with rodata=); LATENCY, which changes the map
 * value type, stays a build flag (-DLATENCY). */
#include <linux/sched.h>

const volatile u32 filter_pid = 0;           /* FILTER_PID, 0: off */
const volatile u32 filter_tid = 0;           /* FILTER_TID */
const volatile u32 filter_ppid = 0;          /* FILTER_PPID */
const volatile int filter_syscall_nr = -1;   /* FILTER_SYSCALL_NR, -1: off */
const volatile bool filter_failed = 0;       /* FILTER_FAILED */
const volatile int filter_errno = 0;         /* FILTER_ERRNO */
const volatile bool by_process = 0;          /* BY_PROCESS */

#ifdef LATENCY
struct data_t {
    u64 count;
    u64 total_ns;
};

BPF_HASH(start, u64, u64);
BPF_HASH(data, u32, struct data_t);
#else
BPF_HASH(data, u32, u64);
#endif

#ifdef LATENCY
TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 pid = pid_tgid >> 32;
    u32 tid = (u32)pid_tgid;

    if (filter_syscall_nr >= 0 && args->id != filter_syscall_nr)
        return 0;

    if (filter_pid && pid != filter_pid)
        return 0;

    if (filter_tid && tid != filter_tid)
        return 0;

    if (filter_ppid) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        u32 ppid = task->real_parent->tgid;
        if (ppid != filter_ppid)
            return 0;
    }

    u64 t = bpf_ktime_get_ns();
    start.update(&pid_tgid, &t);
    return 0;
}
#endif

TRACEPOINT_PROBE(raw_syscalls, sys_exit) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 pid = pid_tgid >> 32;
    u32 tid = (u32)pid_tgid;

    if (filter_syscall_nr >= 0 && args->id != filter_syscall_nr)
        return 0;

    if (filter_pid && pid != filter_pid)
        return 0;

    if (filter_tid && tid != filter_tid)
        return 0;

    if (filter_ppid) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        u32 ppid = task->real_parent->tgid;
        if (ppid != filter_ppid)
            return 0;
    }

    if (filter_failed && args->ret >= 0)
        return 0;

    if (filter_errno && args->ret != -filter_errno)
        return 0;

    u32 key = by_process ? pid_tgid >> 32 : args->id;

#ifdef LATENCY
    struct data_t *val, zero = {};
    u64 *start_ns = start.lookup(&pid_tgid);
    if (!start_ns)
        return 0;

    val = data.lookup_or_try_init(&key, &zero);
    if (val) {
        lock_xadd(&val->count, 1);
        lock_xadd(&val->total_ns, bpf_ktime_get_ns() - *start_ns);
    }
#else
    u64 *val, zero = 0;
    val = data.lookup_or_try_init(&key, &zero);
    if (val) {
        lock_xadd(val, 1);
    }
#endif
    return 0;
}
