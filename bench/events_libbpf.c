// The C reference for bench/events.py: bench/events.bpf.c's perf buffer consumed the way
// libbpf-tools consume theirs (a bpftool skeleton, perf_buffer__new with a sample and a
// lost callback, perf_buffer__poll in a loop), on the same generator and window.
//
//   events_libbpf TARGET_PID PAGES     (built and run by bench/events.py)
//
// Prints "ready" once attached, polls until SIGUSR1 (the generator has exited), drains
// what is left and prints "emitted consumed lost".
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
typedef __u32 u32;              /* the skeleton names the BPF side's vmlinux.h types */
typedef __u64 u64;
#include "events.skel.h"

struct event {
	__u64 ts;
	__u32 pid;
	__u32 seq;
	char comm[16];
};

static volatile sig_atomic_t stop;
static unsigned long long got, lost;
static volatile __u32 last;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	const struct event *e = data;

	(void)ctx, (void)cpu, (void)size;
	last = e->seq;                  /* what a tool reads of its event */
	got++;
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	(void)ctx, (void)cpu;
	lost += n;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct perf_buffer *pb = NULL;
	struct events_bpf *skel;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: %s TARGET_PID PAGES\n", argv[0]);
		return 2;
	}
	sigaction(SIGUSR1, &sa, NULL);
	skel = events_bpf__open();
	if (!skel) {
		fprintf(stderr, "open: %d\n", errno);
		return 1;
	}
	skel->rodata->target_tgid = atoi(argv[1]);
	skel->rodata->mode = 1;
	err = events_bpf__load(skel);
	if (!err)
		err = events_bpf__attach(skel);
	if (!err) {
		pb = perf_buffer__new(bpf_map__fd(skel->maps.events), atoi(argv[2]), on_sample,
				      on_lost, NULL, NULL);
		err = pb ? 0 : -errno;
	}
	if (err) {
		fprintf(stderr, "load/attach/perf buffer: %d\n", err);
		events_bpf__destroy(skel);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		err = perf_buffer__poll(pb, 50);
		if (err < 0 && err != -EINTR)
			break;
	}
	perf_buffer__consume(pb);
	printf("%u %llu %llu\n", skel->bss->seq, got, lost);
	perf_buffer__free(pb);
	events_bpf__destroy(skel);
	return 0;
}
