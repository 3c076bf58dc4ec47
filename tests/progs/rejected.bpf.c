// A program the verifier must reject: it dereferences a map value without a NULL check.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} arr SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int good(void *ctx)
{
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int bad_deref(void *ctx)
{
	u32 key = 0;
	u64 *v = bpf_map_lookup_elem(&arr, &key);
	*v += 1;   /* BAD_LINE: no NULL check */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
