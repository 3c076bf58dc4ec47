// libbpf-style USDT programs (<bpf/usdt.bpf.h>: BPF_USDT, bpf_usdt_arg,
// bpf_usdt_cookie) on tests/usdt/usdt_app.c's probes.  USDT_LIB is the path of its
// shared library (-DUSDT_LIB='"/path"'): SEC("usdt/PATH:PROVIDER:NAME") is attached by
// the loader; the SEC("usdt") ones by the test (attach_usdt, with a cookie).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#ifndef USDT_LIB
#define USDT_LIB "/nonexistent"
#endif

struct tick {
	int n;
	int arg_cnt;
	long neg;
	u64 cookie;
	char name[8];
	char c;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ticks SEC(".maps");

u64 args_seen = 0, args_bad = 0, args_cookie = 0, fires_seen = 0, fires_bad = 0;

/* "tick" reads its string through a scaled index (8@0(%r13,%rax,8)): libbpf's
 * usdt.bpf.h before 1.5 cannot, and attaching it says so */
SEC("usdt")
int BPF_USDT(on_tick, int n, long neg, const char *name, char c)
{
	struct tick *t = bpf_ringbuf_reserve(&ticks, sizeof(*t), 0);

	if (!t)
		return 0;
	t->n = n;
	t->neg = neg;
	t->c = c;
	t->cookie = bpf_usdt_cookie(ctx);
	t->arg_cnt = bpf_usdt_arg_cnt(ctx);
	bpf_probe_read_user_str(t->name, sizeof(t->name), name);
	bpf_ringbuf_submit(t, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_args, unsigned short lo, long long hi)
{
	__sync_fetch_and_add(&args_seen, 1);
	args_cookie = bpf_usdt_cookie(ctx);
	if ((hi >> 33 & 0xffff) != lo)
		__sync_fetch_and_add(&args_bad, 1);
	return 0;
}

/* the shared library's probe, by the library's path */
SEC("usdt/" USDT_LIB ":mylib:fire")
int BPF_USDT(on_fire, int x, int y)
{
	__sync_fetch_and_add(&fires_seen, 1);
	if (y != 2 * x)
		__sync_fetch_and_add(&fires_bad, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
