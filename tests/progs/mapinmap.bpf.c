// Map-in-map with initial `values`, a program array, a pinned map, and kconfig externs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bcc_core_test_pinned SEC(".maps");

#ifdef STRONG_MISSING
extern int CONFIG_BCC_CORE_NO_SUCH_OPTION __kconfig;
#endif

u64 seen = 0;

SEC("tp/syscalls/sys_enter_getppid")
int via_outer(void *ctx)
{
	u32 slot = 2, zero = 0;
	u64 *v;
	void *in = bpf_map_lookup_elem(&outer, &slot);

	if (!in)
		return 0;
	v = bpf_map_lookup_elem(in, &zero);
	if (v) {
		__sync_fetch_and_add(v, 1);
		seen = *v;
	}
#ifdef STRONG_MISSING
	seen += CONFIG_BCC_CORE_NO_SUCH_OPTION;
#endif
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
