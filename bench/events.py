#!/usr/bin/env python3
"""Event throughput of the BCC facade: records/s consumed through a perf buffer and a
ring buffer with a Python callback (BCC style: callback(cpu, data, size) + event(data)),
and how many were lost, at a known event rate.

A child process calls getppid() in a tight loop (paced to --rate events/s, or as fast as
it can with --rate 0); a tracepoint program emits one 32-byte record per call.

    sudo python3 bench/events.py [--events N] [--rate R] [--pages P] [--which perf,ring]
"""
import argparse
import hashlib
import os
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


def run(obj, which, n, rate, pages):
    from bcc_core import BPF
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(rate)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    b = BPF(src_file=obj, rodata={"target_tgid": child.pid,
                                  "mode": 1 if which == "perf" else 2})
    got = [0]
    lost = [0]
    last = [0]
    try:
        if which == "perf":
            t = b["events"]

            def cb(cpu, data, size):
                e = t.event(data)
                last[0] = e.seq
                got[0] += 1

            t.open_perf_buffer(cb, page_cnt=pages, lost_cb=lambda c: lost.__setitem__(
                0, lost[0] + c))
            poll, consume = b.perf_buffer_poll, b.perf_buffer_consume
        else:
            t = b["ring"]

            def cb(ctx, data, size):
                e = t.event(data)
                last[0] = e.seq
                got[0] += 1

            t.open_ring_buffer(cb)
            poll, consume = b.ring_buffer_poll, b.ring_buffer_consume
        t0 = time.perf_counter()
        child.stdin.write("go\n")
        child.stdin.flush()
        while child.poll() is None:
            poll(50)
        consume()
        elapsed = time.perf_counter() - t0
        gen_time = float(child.stdout.read().strip() or "nan")
        if which == "ring":
            lost[0] = b.module.bss["ring_drops"]
        emitted = b.module.bss["seq"]
    finally:
        b.cleanup()
        if child.poll() is None:
            child.kill()
        child.wait()
    return dict(which=which, emitted=emitted, got=got[0], lost=lost[0],
                gen_rate=n / gen_time if gen_time else float("nan"),
                consume_rate=got[0] / elapsed, elapsed=elapsed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300000)
    ap.add_argument("--rate", type=float, default=0,
                    help="events/s the generator aims at (0: as fast as it can)")
    ap.add_argument("--pages", type=int, default=64, help="perf buffer pages per CPU")
    ap.add_argument("--which", default="perf,ring")
    args = ap.parse_args()
    obj = build()
    print("%-5s %10s %10s %10s %14s %14s" % ("buf", "emitted", "consumed", "lost",
                                          "generated/s", "consumed/s"))
    for which in args.which.split(","):
        r = run(obj, which, args.events, args.rate, args.pages)
        print("%-5s %10d %10d %10d %14.0f %14.0f" % (
            r["which"], r["emitted"], r["got"], r["lost"], r["gen_rate"],
            r["consume_rate"]))


if __name__ == "__main__":
    main()
