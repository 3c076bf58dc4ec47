/* hardirqs: BCC's tools/hardirqs.py BPF program (Copyright (c) 2015 Brendan Gregg;
 * Apache License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration
 * example.  FILTER_CPU and STORE, spliced into the text by hardirqs.py, are read-only
 * globals; the choice between the event-count and the time programs (-C), which
 * define the same tracepoint handlers differently, is the build flag -DCOUNT. */
#include <uapi/linux/ptrace.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/interrupt.h>

// Add cpu_id as part of key for irq entry event to handle the case which irq
// is triggered while idle thread(swapper/x, tid=0) for each cpu core.
// Please see more detail at pull request #2804, #3733.
typedef struct entry_key {
    u32 tid;
    u32 cpu_id;
} entry_key_t;

typedef struct irq_key {
    char name[32];
    u64 slot;
} irq_key_t;

typedef struct irq_name {
    char name[32];
} irq_name_t;

BPF_HASH(start, entry_key_t);
BPF_HASH(irqnames, entry_key_t, irq_name_t);
BPF_HISTOGRAM(dist, irq_key_t);

const volatile int filter_cpu = -1;     /* FILTER_CPU, -1: all CPUs */
const volatile bool dist_mode = 0;      /* STORE: histogram (-d) or sum */
const volatile u64 factor = 1000;       /* STORE: delta / factor */

#ifdef COUNT
TRACEPOINT_PROBE(irq, irq_handler_entry)
{
    struct entry_key key = {};
    irq_name_t name = {};
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    key.tid = bpf_get_current_pid_tgid();
    key.cpu_id = cpu;

    TP_DATA_LOC_READ_STR(&name.name, name, sizeof(name));
    irqnames.update(&key, &name);
    return 0;
}

TRACEPOINT_PROBE(irq, irq_handler_exit)
{
    struct entry_key key = {};
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    key.tid = bpf_get_current_pid_tgid();
    key.cpu_id = cpu;

    // check ret value of irq handler is not IRQ_NONE to make sure
    // the current event belong to this irq handler
    if (args->ret != IRQ_NONE) {
        irq_name_t *namep;

        namep = irqnames.lookup(&key);
        if (namep == 0) {
            return 0; // missed irq name
        }
        char *name = (char *)namep->name;
        irq_key_t key = {.slot = 0 /* ignore */};

        bpf_probe_read_kernel(&key.name, sizeof(key.name), name);
        dist.atomic_increment(key);
    }

    irqnames.delete(&key);
    return 0;
}
#else
TRACEPOINT_PROBE(irq, irq_handler_entry)
{
    u64 ts = bpf_ktime_get_ns();
    irq_name_t name = {};
    struct entry_key key = {};
    u32 cpu = bpf_get_smp_processor_id();

    if (filter_cpu >= 0 && cpu != filter_cpu) { return 0; }

    key.tid = bpf_get_current_pid_tgid();
    key.cpu_id = cpu;

    TP_DATA_LOC_READ_STR(&name.name, name, sizeof(name));
    irqnames.update(&key, &name);
    start.update(&key, &ts);
    return 0;
}

TRACEPOINT_PROBE(irq, irq_handler_exit)
{
    u64 *tsp, delta;
    irq_name_t *namep;
    struct entry_key key = {};
    u32 cpu = bpf_get_smp_processor_id();

    key.tid = bpf_get_current_pid_tgid();
    key.cpu_id = cpu;

    // check ret value of irq handler is not IRQ_NONE to make sure
    // the current event belong to this irq handler
    if (args->ret != IRQ_NONE) {
        // fetch timestamp and calculate delta
        tsp = start.lookup(&key);
        namep = irqnames.lookup(&key);
        if (tsp == 0 || namep == 0) {
            return 0;   // missed start
        }

        char *name = (char *)namep->name;
        delta = bpf_ktime_get_ns() - *tsp;

        // store as sum or histogram
        if (dist_mode) {
            irq_key_t key = {.slot = bpf_log2l(delta / factor)};bpf_probe_read_kernel(&key.name, sizeof(key.name), name);dist.atomic_increment(key);
        } else {
            irq_key_t key = {.slot = 0 /* ignore */};bpf_probe_read_kernel(&key.name, sizeof(key.name), name);dist.atomic_increment(key, delta);
        }
    }

    start.delete(&key);
    irqnames.delete(&key);
    return 0;
}
#endif
