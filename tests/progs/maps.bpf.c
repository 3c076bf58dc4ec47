// Map kinds for user-space map operations, and a raw tracepoint that fills some of them.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct tkey { u32 a; u16 b; u16 c; };
struct tval { u64 x; char name[8]; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64);
	 __type(key, struct tkey); __type(value, struct tval); } hash SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8);
	 __type(key, u32); __type(value, u64); } array SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4);
	 __type(key, u32); __type(value, u32); } pcpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 8);
	 __type(key, u32); __type(value, u32); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 512);
	 __type(key, u32); __type(value, u64); } syscalls SEC(".maps");

const volatile u32 target_tgid = 0;

/* raw tracepoint: args[1] of sys_enter is the syscall number */
SEC("raw_tp/sys_enter")
int count_syscalls(struct bpf_raw_tracepoint_args *ctx)
{
	u32 nr = ctx->args[1];
	u64 one = 1, *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	v = bpf_map_lookup_elem(&syscalls, &nr);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&syscalls, &nr, &one, BPF_NOEXIST);
	u32 k = 0, *c = bpf_map_lookup_elem(&pcpu, &k);
	if (c)
		(*c)++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
