/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "bcc_compat.h"
# 1 "raw_tp.c"





const volatile u32 targ_tgid = 0;
const volatile long targ_nr = 110;

struct info_t {
    u32 pid;
    u32 tgid_read_into;
    int stack_id;
    u64 arg0;
    u64 reset_on_fork;
    char comm[16];
    char comm2[16];
};

struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, u64); } calls SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, int); __type(value, u64); } hist SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } hist_hash SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 128); __type(key, u32); __type(value, struct info_t); } last SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 16); __type(key, u32); __type(value, u64); } percpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, u32); __type(value, u64); } scratch SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, u32); __type(value, u64); } table SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, u32); __type(value, u64); __uint(map_flags, BPF_F_NO_PREALLOC); } ftable SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, 128); __uint(key_size, sizeof(u32)); __uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(u64)); } stacks SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 4); __uint(key_size, sizeof(u32)); __uint(value_size, sizeof(u32)); } progs SEC(".maps");

static __always_inline u32 current_tgid(void)
{
    return bpf_get_current_pid_tgid() >> 32;
}

SEC("raw_tp/sys_enter") int raw_tracepoint__sys_enter(struct bpf_raw_tracepoint_args *ctx) 
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
    __bcc_map_increment_percpu(&calls, zero, 1);
    __bcc_map_increment(&hist, bpf_log2l(nr), 1);
    __bcc_map_increment(&hist_hash, 7, 2);
    info.pid = BPF_CORE_READ(task, pid);
    info.arg0 = BPF_CORE_READ(regs, di);
    BPF_CORE_READ_INTO(&info.tgid_read_into, task, tgid);
    BPF_CORE_READ_STR_INTO(&info.comm, task, comm);
    bpf_probe_read_kernel(info.comm2, 4, &BPF_CORE_READ(task, group_leader)->comm);
    info.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork) + 1;
    info.stack_id = bpf_get_stackid(ctx, &stacks, 0);
    bpf_map_update_elem(&last, &tgid, &info, BPF_ANY);

    u64 *p = __bcc_lookup_or_try_init(&percpu, &zero, &init);
    if (p)
        *p += 3;
    bpf_map_update_elem(&scratch, &zero, &one, BPF_NOEXIST);
    bpf_map_update_elem(&scratch, &zero, &init, BPF_NOEXIST);
    u64 *s = bpf_map_lookup_elem(&scratch, &zero);
    if (s)
        bpf_map_update_elem(&table, &zero, s, BPF_ANY);
    one = 2;
    bpf_map_update_elem(&scratch, &zero, &one, BPF_ANY);
    bpf_map_update_elem(&ftable, &tgid, &one, BPF_ANY);
    zero = 1;
    bpf_map_update_elem(&scratch, &zero, &one, BPF_ANY);
    bpf_map_delete_elem(&scratch, &zero);
    return 0;
}






char _license[] __attribute__((section("license"), used)) = "GPL";
