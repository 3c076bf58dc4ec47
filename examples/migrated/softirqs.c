/* softirqs: BCC's tools/softirqs.py BPF program (Copyright (c) 2015 Brendan Gregg;
 * Apache License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration
 * example.  FILTER_CPU and STORE, spliced into the text by softirqs.py, are read-only
 * globals; the choice between the event-count and the time programs (-C), which
 * define the same tracepoint handler differently, is the build flag -DEVENTS. */
#include <uapi/linux/ptrace.h>

typedef struct entry_key {
    u32 pid;
    u32 cpu;
} entry_key_t;

typedef struct irq_key {
    u32 vec;
    u64 slot;
} irq_key_t;

typedef struct account_val {
    u64 ts;
    u32 vec;
} account_val_t;

BPF_HASH(start, entry_key_t, account_val_t);
BPF_HISTOGRAM(dist, irq_key_t);

const volatile int filter_cpu = -1;     /* FILTER_CPU, -1: all CPUs */
const volatile bool dist_mode = 0;      /* STORE: histogram (-d) or sum */
const volatile u64 factor = 1000;       /* STORE: delta / factor */

#ifdef EVENTS
TRACEPOINT_PROBE(irq, softirq_entry)
{
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    irq_key_t key = { .slot = 0 /* ignore */ };
    key.vec = args->vec;

    dist.atomic_increment(key);

    return 0;
}
#else
TRACEPOINT_PROBE(irq, softirq_entry)
{
    account_val_t val = {};
    entry_key_t key = {};
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    key.pid = bpf_get_current_pid_tgid();
    key.cpu = cpu;
    val.ts = bpf_ktime_get_ns();
    val.vec = args->vec;

    start.update(&key, &val);

    return 0;
}

TRACEPOINT_PROBE(irq, softirq_exit)
{
    u64 delta;
    u32 vec;
    account_val_t *valp;
    irq_key_t key = {0};
    entry_key_t entry_key = {};
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    entry_key.pid = bpf_get_current_pid_tgid();
    entry_key.cpu = cpu;

    // fetch timestamp and calculate delta
    valp = start.lookup(&entry_key);
    if (valp == 0) {
        return 0;   // missed start
    }
    delta = bpf_ktime_get_ns() - valp->ts;
    vec = valp->vec;

    // store as sum or histogram
    if (dist_mode) {
        key.vec = vec; key.slot = bpf_log2l(delta / factor); dist.atomic_increment(key);
    } else {
        key.vec = valp->vec; dist.atomic_increment(key, delta);
    }

    start.delete(&entry_key);
    return 0;
}
#endif
