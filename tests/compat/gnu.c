#include <linux/sched.h>
#define MIN(a, b) ({ typeof(a) _a = (a); typeof(b) _b = (b); _a < _b ? _a : _b; })
#define PARENT_TGID(t) ({ struct task_struct *__p = (t)->real_parent; __p->tgid; })

struct val_t {
    u32 pid;
    u32 ppid;
    u64 small;
    int arr[4];
} __attribute__((packed));

BPF_HASH(vals, u32, struct val_t);
BPF_ARRAY(counts, u64, 8);

static __always_inline __attribute__((unused)) u32 pick(u32 a, u32 b)
{
    return MIN(a, b);
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct val_t v = { .arr = { [0 ... 3] = 7 } };
    __typeof__(v.pid) pid = bpf_get_current_pid_tgid() >> 32;
    typeof(task) t2 = task;
    int idx = 0;

    v.pid = pid;
    v.ppid = PARENT_TGID(t2);
    v.small = MIN(args->child_pid, 100u);
    asm volatile("" ::: "memory");
    switch (pid & 7) {
    case 0 ... 3: idx = 1; break;
    default: idx = 2;
    }
    __extension__ unsigned long long z = pick(idx, 5);
    counts.increment(z);
    vals.update(&pid, &v);
    return 0;
}
