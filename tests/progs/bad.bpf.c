// Deliberately malformed objects, selected with -D: UNKNOWN_SEC, NO_LICENSE, BAD_MAP.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#ifdef BAD_MAP
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(bogus_field, 1);
	__type(key, u32);
	__type(value, u32);
} weird SEC(".maps");
#endif

#ifdef UNKNOWN_SEC
SEC("no_such_kind/whatever")
#else
SEC("tp/syscalls/sys_enter_getppid")
#endif
int prog(void *ctx)
{
#ifdef BAD_MAP
	u32 k = 0;
	bpf_map_lookup_elem(&weird, &k);
#endif
	return 0;
}

#ifndef NO_LICENSE
char LICENSE[] SEC("license") = "GPL";
#endif
