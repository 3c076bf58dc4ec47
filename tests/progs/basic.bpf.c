// Basic loader test: tracepoint + hash map + .bss/.data/.rodata + subprogram + kconfig.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_tgid = 0;   /* filter knob, set before load */
const volatile int multiplier = 1;
int hits = 0;                          /* .bss */
int data_var = 42;                     /* .data */
__u64 last_ns = 0;
extern u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern int CONFIG_BCC_CORE_DOES_NOT_EXIST __kconfig __weak;
u32 kver = 0;
int hz = 0;
int missing = -1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

static __noinline int bump(u32 tgid, int by)
{
	u64 *v, init = by;

	v = bpf_map_lookup_elem(&counts, &tgid);
	if (v)
		__sync_fetch_and_add(v, by);
	else
		bpf_map_update_elem(&counts, &tgid, &init, BPF_ANY);
	return by;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	hits += bump(tgid, multiplier);
	last_ns = bpf_ktime_get_ns();
	kver = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	missing = CONFIG_BCC_CORE_DOES_NOT_EXIST;
	data_var += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
