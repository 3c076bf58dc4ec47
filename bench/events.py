#!/usr/bin/env python3
"""Event throughput: records/s consumed through a perf buffer and a ring buffer, and how
many were lost, at a known event rate -- with BCC-style callbacks (callback(cpu, data,
size) + event(data)), with the batch form (read_records(): a decoded list per wake-up),
and, as the C reference, libbpf's perf_buffer the way libbpf-tools use it
(bench/events_libbpf.c on a bpftool skeleton).

A child process calls getppid() in a tight loop (paced to --rate events/s, or as fast as
it can with --rate 0); a tracepoint program emits one 32-byte record per call.

    sudo python3 bench/events.py [--events N] [--rate R[,R...]] [--pages P] [--which perf,ring]
    sudo python3 bench/events.py --guest [--guest-rates 0,50000] [--guest-repeat 3] [--decode-cost]

The host run also prints the cost of consuming a full buffer (us/event, decode
included) and ends with the perf buffer at a paced 100k events/s for --check-seconds
(10 s), with open_perf_buffer's default 8 pages per CPU and with 64: nothing may be lost
there.  --guest boots the Debian 6.1 guest once (tests/guest.py) and runs, on the same
generator and the same measurement window, bcc-core's perf buffer (this file), the
libbpf C consumer and BCC's own (bench/events_bcc.py, BCC 0.26 with /usr/bin/python3),
and prints the ratios to BCC's callback rate (medians with --guest-repeat).

"lost" is what the lost callback reported (ring buffer: the program's drop counter);
"missing" is emitted - consumed, which also counts perf records lost at the very end
(the kernel reports a perf buffer's losses only with its next successful record).
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

CHILD = r'''
import os, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
sys.stdin.readline()                     # wait for "go"
getppid = os.getppid
t0 = time.perf_counter()
if rate <= 0:
    for _ in range(n):
        getppid()
else:
    batch = max(1, int(rate / 1000))     # pace in 1 ms batches
    done = 0
    while done < n:
        k = min(batch, n - done)
        for _ in range(k):
            getppid()
        done += k
        ahead = done / rate - (time.perf_counter() - t0)
        if ahead > 0:
            time.sleep(ahead)
print(time.perf_counter() - t0, flush=True)
'''


def spawn(n, rate, python=None):
    """The load generator (waits for "go" on stdin); the same for bcc-core and BCC."""
    return subprocess.Popen([python or sys.executable, "-c", CHILD, str(n), str(rate)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)     # the consumer: not the generator
    return ru.ru_utime + ru.ru_stime


def measure(child, poll, consume):
    """The measurement window, the same for bcc-core and BCC: from "go" until the generator
    has exited and the buffers are drained.  Returns (elapsed, generator's own time,
    this process's CPU seconds in the window)."""
    c0 = _cpu()
    t0 = time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    while child.poll() is None:
        poll(50)
    consume()
    elapsed = time.perf_counter() - t0
    cpu = _cpu() - c0
    gen_time = float(child.stdout.read().strip() or "nan")
    return elapsed, gen_time, cpu


def result(impl, which, n, rate, pages, emitted, got, lost, elapsed, gen_time, cpu):
    return dict(impl=impl, which=which, target_rate=rate, pages=pages, events=n,
                emitted=emitted, got=got, lost=lost, missing=emitted - got,
                gen_rate=n / gen_time if gen_time else float("nan"),
                consume_rate=got / elapsed, elapsed=elapsed,
                cpu_us=cpu / max(got, 1) * 1e6)


def build():
    clang = shutil.which("clang-19") or shutil.which("clang")
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not clang:
        sys.exit("clang-19 is needed to build bench/events.bpf.c")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "bcc-core", "bench")
    os.makedirs(cache, exist_ok=True)
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        key = hashlib.sha1(f.read()).hexdigest()[:12]
    vdir = os.path.join(cache, "vmlinux-" + key)
    if not os.path.exists(os.path.join(vdir, "vmlinux.h")):
        os.makedirs(vdir, exist_ok=True)
        out = subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                              "format", "c"], check=True, capture_output=True).stdout
        with open(os.path.join(vdir, "vmlinux.h"), "wb") as f:
            f.write(out)
    src = os.path.join(HERE, "events.bpf.c")
    with open(src, "rb") as f:
        h = hashlib.sha1(f.read() + key.encode()).hexdigest()[:12]
    obj = os.path.join(cache, "events-%s.bpf.o" % h)
    if not os.path.exists(obj):
        subprocess.run([clang, "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86", "-I",
                        vdir, "-I/usr/include/x86_64-linux-gnu", "-c", src, "-o", obj],
                       check=True)
    return obj


def build_c(obj):
    """bench/events_libbpf.c against a bpftool skeleton of ``obj``: the path of the
    binary, or None (with the reason on stderr) when gcc or libbpf-dev is missing."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not gcc or not os.path.exists("/usr/include/bpf/libbpf.h") or \
            not os.path.exists(bpftool):
        print("no libbpf C consumer: it needs gcc, bpftool and libbpf-dev", file=sys.stderr)
        return None
    src = os.path.join(HERE, "events_libbpf.c")
    with open(src, "rb") as f, open(obj, "rb") as g:
        h = hashlib.sha1(f.read() + g.read()).hexdigest()[:12]
    d = os.path.join(os.path.dirname(obj), "libbpf-" + h)
    exe = os.path.join(d, "events_libbpf")
    if not os.path.exists(exe):
        os.makedirs(d, exist_ok=True)
        skel = subprocess.run([bpftool, "gen", "skeleton", obj, "name", "events_bpf"],
                              check=True, capture_output=True).stdout
        with open(os.path.join(d, "events.skel.h"), "wb") as f:
            f.write(skel)
        subprocess.run([gcc, "-O2", "-I", d, src, "-o", exe + ".tmp", "-lbpf", "-lelf", "-lz"],
                       check=True)
        os.rename(exe + ".tmp", exe)
    return exe


def run_c(exe, n, rate, pages, gen_python=None):
    """The libbpf C consumer (build_c) on the same generator and window as run()."""
    import signal
    child = spawn(n, rate, gen_python)
    c = subprocess.Popen([exe, str(child.pid), str(pages)], stdout=subprocess.PIPE, text=True)
    try:
        if c.stdout.readline().strip() != "ready":
            raise RuntimeError("the libbpf consumer failed to start")
        t0 = time.perf_counter()
        child.stdin.write("go\n")
        child.stdin.flush()
        child.wait()
        c.send_signal(signal.SIGUSR1)
        emitted, got, lost = (int(x) for x in c.stdout.readline().split())
        elapsed = time.perf_counter() - t0
        gen_time = float(child.stdout.read().strip() or "nan")
        _, _, ru = os.wait4(c.pid, 0)       # its whole life: load and attach included
        c.returncode = 0
        cpu = ru.ru_utime + ru.ru_stime
    finally:
        for p in (c, child):
            if p.poll() is None:
                p.kill()
            p.wait()
    return result("libbpf", "perf", n, rate, pages, emitted, got, lost, elapsed, gen_time,
                  cpu)


def run(obj, which, n, rate, pages, gen_python=None, api="callback", coalesce_ms=None):
    from bcc_core import BPF
    from bcc_core.events._reader import EpollReader
    if coalesce_ms is not None:
        EpollReader.coalesce_ms = coalesce_ms
    child = spawn(n, rate, gen_python)
    b = BPF(src_file=obj, rodata={"target_tgid": child.pid,
                                  "mode": 1 if which == "perf" else 2})
    got = [0]
    lost = [0]
    last = [0]
    try:
        if api == "records":        # the batch form: a list of decoded events per wake-up
            t = b["events" if which == "perf" else "ring"]
            kw = {"page_cnt": pages, "lost_cb": lambda c: lost.__setitem__(0, lost[0] + c)} \
                if which == "perf" else {}

            def poll(ms):
                for e in t.read_records(ms, **kw):
                    last[0] = e.seq
                    got[0] += 1

            def consume():
                poll(0)
            t.read_records(0, **kw)     # opens the buffer before the generator starts
        elif which == "perf":
            t = b["events"]

            def cb(cpu, data, size):
                e = b["events"].event(data)      # as a BCC tool does
                last[0] = e.seq
                got[0] += 1

            t.open_perf_buffer(cb, page_cnt=pages, lost_cb=lambda c: lost.__setitem__(
                0, lost[0] + c))
            poll, consume = b.perf_buffer_poll, b.perf_buffer_consume
        else:
            t = b["ring"]

            def cb(ctx, data, size):
                e = b["ring"].event(data)
                last[0] = e.seq
                got[0] += 1

            t.open_ring_buffer(cb)
            poll, consume = b.ring_buffer_poll, b.ring_buffer_consume
        elapsed, gen_time, cpu = measure(child, poll, consume)
        if which == "ring":
            lost[0] = b.module.bss["ring_drops"]
        emitted = b.module.bss["seq"]
    finally:
        b.cleanup()
        if child.poll() is None:
            child.kill()
        child.wait()
    return result("bcc-core" if api == "callback" else "records", which, n, rate, pages,
                  emitted, got[0], lost[0], elapsed, gen_time, cpu)


def decode_cost(obj, which, n=100000, gen_python=None):
    """Microseconds per event to consume and decode a full buffer (the generator has
    finished: nothing else runs), with callbacks + event(data) and with read_records()."""
    from bcc_core import BPF
    out = {}
    for api in ("callback", "records"):
        child = spawn(n, 0, gen_python)
        b = BPF(src_file=obj, rodata={"target_tgid": child.pid,
                                      "mode": 1 if which == "perf" else 2})
        got = [0]
        try:
            t = b["events" if which == "perf" else "ring"]
            if api == "callback":
                def cb(*a):
                    got[0] += 1
                    return t.event(a[1]).seq
                if which == "perf":
                    t.open_perf_buffer(lambda cpu, data, size: cb(cpu, data),
                                       page_cnt=4096)
                    drain = b.perf_buffer_consume
                else:
                    t.open_ring_buffer(lambda ctx, data, size: cb(ctx, data) and 0)
                    drain = b.ring_buffer_consume
            else:
                def drain():
                    for e in t.read_records(0, **({"page_cnt": 4096} if which == "perf"
                                                  else {})):
                        got[0] += 1
                        e.seq
                drain()
            child.stdin.write("go\n")
            child.stdin.flush()
            child.wait()
            t0 = time.perf_counter()
            drain()
            dt = time.perf_counter() - t0
        finally:
            b.cleanup()
        out[api] = (dt / max(got[0], 1) * 1e6, got[0])
    return out


HEADER = "%-8s %-5s %6s %9s %9s %9s %9s %9s %12s %12s %9s" % (
    "impl", "buf", "pages", "target/s", "emitted", "consumed", "lost", "missing",
    "generated/s", "consumed/s", "cpu us/ev")


def row(r):
    return "%-8s %-5s %6d %9s %9d %9d %9d %9d %12.0f %12.0f %9.2f" % (
        r["impl"], r["which"], r["pages"],
        "%.0f" % r["target_rate"] if r["target_rate"] > 0 else "unpaced",
        r["emitted"], r["got"], r["lost"], r["missing"], r["gen_rate"], r["consume_rate"],
        r.get("cpu_us", float("nan")))


def rates_arg(text):
    return [float(x) for x in text.split(",") if x.strip()]


def host(args):
    obj = args.obj or build()
    results = []
    if not args.json:
        print(HEADER)
    apis = args.api.split(",")
    exe = (args.c_exe or build_c(obj)) if "libbpf" in apis else None
    for rate in args.rate:
        for which in args.which.split(","):
            for api in apis:
                if api == "libbpf":
                    if which != "perf" or exe is None:
                        continue
                    r = run_c(exe, args.events, rate, args.pages, args.gen_python)
                else:
                    r = run(obj, which, args.events, rate, args.pages, args.gen_python, api,
                            args.coalesce_ms)
                results.append(r)
                print("RESULT " + json.dumps(r) if args.json else row(r), flush=True)
    if args.decode_cost or not args.json:
        for which in args.which.split(","):
            c = decode_cost(obj, which, gen_python=args.gen_python)
            if args.json:
                for api, (us, n) in sorted(c.items()):
                    print("COST " + json.dumps(dict(impl="bcc-core", which=which, api=api,
                                                    us_per_event=us, events=n)))
                continue
            print("%s buffer, full, consumed and decoded: callback + event() %.2f us/event "
                  "(%d), read_records() %.2f us/event (%d): %.2fx"
                  % (which, c["callback"][0], c["callback"][1], c["records"][0],
                     c["records"][1], c["callback"][0] / c["records"][0]))
    if args.json:
        return
    # nothing lost at 100k events/s for --check-seconds, with open_perf_buffer's default
    # buffer (BCC's: 8 pages per CPU) and with the 64 pages BCC's tools ask for
    if not args.check_seconds:
        return
    n = int(100000 * args.check_seconds)
    print()
    how = {"callback": "callbacks", "records": "read_records()", "libbpf": "libbpf (C)"}
    for pages in (8, 64):
        for api in ("callback", "records", "libbpf"):
            if api == "libbpf":
                if exe is None:
                    continue
                r = run_c(exe, n, 100000, pages, args.gen_python)
            else:
                r = run(obj, "perf", n, 100000, pages, args.gen_python, api,
                        args.coalesce_ms)
            print("perf buffer, %d pages/CPU, %s, generator paced at 100000 events/s for "
                  "%.0f s (achieved %.0f/s): consumed %d of %d emitted at %.0f/s, lost %d "
                  "(reported by lost_cb), missing %d; consumer CPU %.2f us/event" % (
                      pages, how[api], args.check_seconds, r["gen_rate"], r["got"],
                      r["emitted"], r["consume_rate"], r["lost"], r["missing"],
                      r["cpu_us"]), flush=True)


def median_run(runs):
    """The run of median consumed/s (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r["consume_rate"])[(len(runs) - 1) // 2]


def guest_mode(args):
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    import guest
    import shlex
    import compileall
    obj = args.obj or build()
    exe = build_c(obj)                  # the guest cannot write the cache
    # nor the byte code: compile it here, as an installed package has it
    compileall.compile_dir(os.path.join(os.path.dirname(HERE), "bcc_core"), quiet=1)
    gen = "/usr/bin/python3"            # one generator interpreter for both sides
    q = shlex.quote
    lines = ["echo guest kernel $(uname -r), $(nproc) CPUs",
             "/usr/bin/python3 -c 'import bcc; print(\"BCC\", bcc.__version__)' 2>&1 | tail -1"]
    if args.decode_cost:
        lines.append("%s %s --obj %s --which perf --rate '' --decode-cost --json "
                     "--gen-python %s" % (q(sys.executable), q(os.path.join(HERE, "events.py")),
                                          q(obj), gen))
        lines.append("%s %s --decode-cost --json --gen-python %s" % (
            gen, q(os.path.join(HERE, "events_bcc.py")), gen))
    for rate in [r for r in args.guest_rates for _ in range(args.guest_repeat)]:
        n = int(rate * args.guest_seconds) if rate else args.guest_events
        common = "--events %d --rate %s --pages 64 --gen-python %s --json" % (n, rate, gen)
        mine = "" if args.coalesce_ms is None else "--coalesce-ms %s " % args.coalesce_ms
        lines.append("%s %s --obj %s --which %s --api callback,records%s %s%s" % (
            q(sys.executable), q(os.path.join(HERE, "events.py")), q(obj),
            args.guest_which, ",libbpf --c-exe " + q(exe) if exe else "", mine, common))
        lines.append("%s %s %s" % (gen, q(os.path.join(HERE, "events_bcc.py")), common))
    script = "\n".join(lines)
    print("booting the guest: rates %s (%d events unpaced, %g s of events paced)..." % (
        ", ".join("%.0f/s" % r if r else "unpaced" for r in args.guest_rates),
        args.guest_events, args.guest_seconds), flush=True)
    res = guest.run(script, timeout=args.guest_timeout)
    results, costs = [], []
    for line in res.output.splitlines():
        if line.startswith("RESULT "):
            results.append(json.loads(line[7:]))
        elif line.startswith("COST "):
            costs.append(json.loads(line[5:]))
        else:
            print("guest: " + line)
    for c in costs:
        print("guest perf buffer, full, consumed and decoded: %s %s %.2f us/event (%d)" % (
            c["impl"], {"callback": "callback + event()", "records": "read_records()"}[
                c["api"]], c["us_per_event"], c["events"]))
    print(HEADER)
    for r in results:
        print(row(r))
    print()
    for rate in args.guest_rates:
        theirs = [r for r in results if r["impl"] == "bcc" and r["target_rate"] == rate]
        for impl, how in (("bcc-core", "callbacks"), ("records", "read_records()"),
                          ("libbpf", "libbpf-tools-style C")):
            mine = [r for r in results if r["impl"] == impl and r["which"] == "perf"
                    and r["target_rate"] == rate]
            if mine and theirs:
                m, t = median_run(mine), median_run(theirs)
                print("perf buffer, 64 pages, %s%s: bcc-core (%s) %.0f events/s (lost %d, "
                      "missing %d), BCC %.0f events/s (lost %d, missing %d): ratio "
                      "bcc-core/BCC %.2f" % (
                          "unpaced" if not rate else "paced at %.0f/s" % rate,
                          ", median of %d" % len(mine) if len(mine) > 1 else "", how,
                          m["consume_rate"], m["lost"], m["missing"], t["consume_rate"],
                          t["lost"], t["missing"], m["consume_rate"] / t["consume_rate"]))
            else:
                print("rate %s: missing a result (bcc-core %s %s, BCC %s)" % (
                    rate, how, bool(mine), bool(theirs)))
    if not res.ok:
        print(res.describe(), file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300000)
    ap.add_argument("--rate", type=rates_arg, default=[0, 100000],
                    help="comma-separated events/s the generator aims at (0: as fast as "
                         "it can)")
    ap.add_argument("--pages", type=int, default=64, help="perf buffer pages per CPU")
    ap.add_argument("--check-seconds", type=float, default=10,
                    help="length of the closing 100k events/s runs (0: none)")
    ap.add_argument("--which", default="perf,ring")
    ap.add_argument("--api", default="callback,records,libbpf",
                    help="callback (BCC's: callback + event(data)), records "
                    "(read_records(): a decoded batch per wake-up), libbpf (the C "
                    "reference, bench/events_libbpf.c; perf buffer only)")
    ap.add_argument("--c-exe", help="a prebuilt bench/events_libbpf.c")
    ap.add_argument("--coalesce-ms", type=float,
                    help="bcc-core's wake-up coalescing (default: the readers' 1 ms; 0: off)")
    ap.add_argument("--gen-python", default=sys.executable,
                    help="interpreter running the load generator")
    ap.add_argument("--obj", help="prebuilt events.bpf.o (skips the build)")
    ap.add_argument("--json", action="store_true", help="print RESULT <json> lines")
    ap.add_argument("--decode-cost", action="store_true",
                    help="also measure the cost of consuming a full buffer (us/event; "
                    "--guest: bcc-core's and BCC's)")
    ap.add_argument("--guest", action="store_true",
                    help="compare with BCC's perf buffer in the 6.1 guest")
    ap.add_argument("--guest-events", type=int, default=300000,
                    help="events of the unpaced guest runs")
    ap.add_argument("--guest-seconds", type=float, default=5,
                    help="length of the paced guest runs (events = rate x seconds)")
    ap.add_argument("--guest-rates", type=rates_arg, default=[0, 20000, 50000])
    ap.add_argument("--guest-which", default="perf,ring")
    ap.add_argument("--guest-repeat", type=int, default=1,
                    help="runs of each rate (the summary gives the median)")
    ap.add_argument("--guest-timeout", type=int, default=1200)
    args = ap.parse_args()
    if args.guest:
        guest_mode(args)
    else:
        host(args)


if __name__ == "__main__":
    main()
