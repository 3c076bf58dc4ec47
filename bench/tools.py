#!/usr/bin/env python3
"""Start-up cost of the ported tools: CPU time and peak RSS from exec to "header
printed", beside Debian's libbpf-tools (C, CO-RE) measured in the same run.

    python3 bench/tools.py [-n RUNS]          (root)

For each tool the process is started, its stdout read until the header line, and then
/proc/PID/stat (utime+stime) and /proc/PID/status (VmHWM) are read before it is stopped.
Medians over RUNS; ratios are bcc-core / libbpf-tools.  BCC itself cannot run on this
kernel (no headers): its figures come from the 6.1 guest (tests/guest.py).
"""
import argparse
import compileall
import os
import shutil
import signal
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")

TOOLS = {
    "opensnoop": ([sys.executable, "-m", "bcc_core.tools.opensnoop"], "/usr/sbin/opensnoop",
                  "PATH"),
    "runqslower": ([sys.executable, "-m", "bcc_core.tools.runqslower"],
                   "/usr/sbin/runqslower", "LAT"),
}


def measure(cmd, header):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                raise SystemExit("%s exited before its header" % cmd)
            if header.encode() in line:
                break
        with open("/proc/%d/stat" % p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        with open("/proc/%d/status" % p.pid) as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
        return cpu * 1e3, hwm / 1024
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    a = ap.parse_args()
    compileall.compile_dir(os.path.join(ROOT, "bcc_core"), quiet=1)
    compileall.compile_dir(os.path.join(ROOT, "tools"), quiet=1)
    print("%-12s %-14s %10s %12s" % ("tool", "implementation", "CPU ms", "peak RSS MiB"))
    for name, (ours, theirs, header) in TOOLS.items():
        measure(ours, header)   # warm the caches (object spec, CO-RE decisions)
        rows = {}
        for label, cmd in (("bcc-core", ours), ("libbpf-tools", [theirs])):
            if label == "libbpf-tools" and not shutil.which(theirs):
                continue
            r = [measure(cmd, header) for _ in range(a.runs)]
            rows[label] = (statistics.median(x[0] for x in r),
                           statistics.median(x[1] for x in r))
            print("%-12s %-14s %10.1f %12.1f" % (name, label, *rows[label]))
        if len(rows) == 2:
            print("%-12s %-14s %9.1fx %11.1fx" % (
                name, "ratio", rows["bcc-core"][0] / max(rows["libbpf-tools"][0], 0.1),
                rows["bcc-core"][1] / rows["libbpf-tools"][1]))


if __name__ == "__main__":
    main()
