#!/usr/bin/env python3
"""BCC's own perf buffer on the workload of bench/events.py, for comparison (run with the
interpreter that has BCC, e.g. /usr/bin/python3 in the guest): the same generator, the
same measurement window, a BCC C text equivalent to bench/events.bpf.c (mode 1) on the
same tracepoint, open_perf_buffer(cb, page_cnt=64) and a callback doing
b["events"].event(data).  bench/events.py --guest runs both and prints the ratio.

    sudo /usr/bin/python3 bench/events_bcc.py [--events N] [--rate R] [--pages P] [--json]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from events import measure, result, spawn  # noqa: E402  (generator and window shared)

TEXT = r"""
struct event {
	u64 ts;
	u32 pid;
	u32 seq;
	char comm[16];
};

BPF_PERF_OUTPUT(events);
BPF_ARRAY(counter, u32, 1);	/* events.bpf.c's global "seq" */

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	struct event e;
	int zero = 0;
	u32 *seq;

	if ((bpf_get_current_pid_tgid() >> 32) != TARGET_TGID)
		return 0;
	seq = counter.lookup(&zero);
	if (!seq)
		return 0;
	e.ts = bpf_ktime_get_ns();
	e.pid = TARGET_TGID;
	e.seq = (*seq)++;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	events.perf_submit(args, &e, sizeof(e));
	return 0;
}
"""


def run(n, rate, pages, gen_python=None):
    from bcc import BPF
    child = spawn(n, rate, gen_python)
    b = None
    try:
        b = BPF(text=TEXT, cflags=["-DTARGET_TGID=%d" % child.pid])
        got = [0]
        lost = [0]
        last = [0]
        def cb(cpu, data, size):
            e = b["events"].event(data)          # as a BCC tool does
            last[0] = e.seq
            got[0] += 1

        def lost_cb(c):
            lost[0] += c

        b["events"].open_perf_buffer(cb, page_cnt=pages, lost_cb=lost_cb)
        elapsed, gen_time, cpu = measure(child, b.perf_buffer_poll, b.perf_buffer_consume)
        emitted = b["counter"][b["counter"].Key(0)].value
    finally:
        if b is not None:
            b.cleanup()
        if child.poll() is None:
            child.kill()
        child.wait()
    return result("bcc", "perf", n, rate, pages, emitted, got[0], lost[0], elapsed,
                  gen_time, cpu)


def decode_cost(n=100000, gen_python=None):
    """Microseconds per event for BCC to consume and decode a full buffer (callback +
    event(data); the generator has finished: nothing else runs)."""
    import time
    from bcc import BPF
    child = spawn(n, 0, gen_python)
    b = None
    try:
        b = BPF(text=TEXT, cflags=["-DTARGET_TGID=%d" % child.pid])
        got = [0]

        def cb(cpu, data, size):
            got[0] += 1
            return b["events"].event(data).seq

        b["events"].open_perf_buffer(cb, page_cnt=4096)
        child.stdin.write("go\n")
        child.stdin.flush()
        child.wait()
        t0 = time.perf_counter()
        b.perf_buffer_consume()
        dt = time.perf_counter() - t0
    finally:
        if b is not None:
            b.cleanup()
        if child.poll() is None:
            child.kill()
        child.wait()
    return dict(impl="bcc", api="callback", us_per_event=dt / max(got[0], 1) * 1e6,
                events=got[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300000)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--pages", type=int, default=64)
    ap.add_argument("--gen-python", default=sys.executable)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--decode-cost", action="store_true",
                    help="print the cost of consuming a full buffer, in us/event")
    args = ap.parse_args()
    if args.decode_cost:
        c = decode_cost(gen_python=args.gen_python)
        print("COST " + json.dumps(c) if args.json else
              "BCC perf buffer, full, consumed and decoded: %.2f us/event (%d)"
              % (c["us_per_event"], c["events"]), flush=True)
        return
    r = run(args.events, args.rate, args.pages, args.gen_python)
    if args.json:
        print("RESULT " + json.dumps(r), flush=True)
    else:
        print("BCC perf buffer, %d pages: emitted %d, consumed %d at %.0f/s, lost %d, "
              "missing %d, generated %.0f/s" % (r["pages"], r["emitted"], r["got"],
                                                 r["consume_rate"], r["lost"], r["missing"],
                                                 r["gen_rate"]))


if __name__ == "__main__":
    main()
