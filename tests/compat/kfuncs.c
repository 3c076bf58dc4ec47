// KFUNC_PROBE / KRETFUNC_PROBE / LSM_PROBE (need fentry/LSM support to load)
#include <linux/fs.h>

BPF_HASH(counts, u32, u64);

KFUNC_PROBE(do_unlinkat, int dfd, struct filename *name)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = name->name[0];
    counts.update(&pid, &one);
    return 0;
}

KRETFUNC_PROBE(do_unlinkat, int dfd, struct filename *name, long ret)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 v = ret;
    counts.update(&pid, &v);
    return 0;
}

LSM_PROBE(bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
    u32 key = cmd;
    counts.increment(key);
    return 0;
}
