/* bitesize: BCC's tools/bitesize.py BPF program (Copyright (c) 2016 Allan McAleavy;
 * Apache License 2.0), extracted verbatim from BCC 0.26 for the bcc-core migration
 * example.  bitesize splices nothing into its text, so nothing else changed. */
#include <uapi/linux/ptrace.h>
#include <linux/blkdev.h>

struct proc_key_t {
    char name[TASK_COMM_LEN];
    u64 slot;
};

BPF_HISTOGRAM(dist, struct proc_key_t);

TRACEPOINT_PROBE(block, block_rq_issue)
{
    struct proc_key_t key = {.slot = bpf_log2l(args->bytes / 1024)};
    bpf_probe_read_kernel(&key.name, sizeof(key.name), args->comm);
    dist.atomic_increment(key);
    return 0;
}
