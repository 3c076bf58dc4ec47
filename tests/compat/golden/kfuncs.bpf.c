/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "bcc_compat.h"
# 1 "kfuncs.c"



struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } counts SEC(".maps");

SEC("fentry/do_unlinkat") int BPF_PROG(kfunc__do_unlinkat, int dfd, struct filename *name) 
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = __bcc_read(&BPF_CORE_READ(name, name)[0]);
    bpf_map_update_elem(&counts, &pid, &one, BPF_ANY);
    return 0;
}

SEC("fexit/do_unlinkat") int BPF_PROG(kretfunc__do_unlinkat, int dfd, struct filename *name, long ret) 
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 v = ret;
    bpf_map_update_elem(&counts, &pid, &v, BPF_ANY);
    return 0;
}

SEC("lsm/bpf") int BPF_PROG(lsm__bpf, int cmd, union bpf_attr *attr, unsigned int size) 
{
    u32 key = cmd;
    __bcc_map_increment(&counts, key, 1);
    return 0;
}






char _license[] __attribute__((section("license"), used)) = "GPL";
