#!/usr/bin/env python3
"""Start-up figures of the bcc-core loader, each measured in fresh processes.

    python3 bench/startup.py [OBJECT.bpf.o] [-n RUNS]

Prints medians of: indexing the kernel BTF (no cache / on-disk index), open+relocate+load
of an object (cold: no caches at all; warm: spec, kernel-BTF index and CO-RE decisions
cached), and each process's CPU time and peak RSS, next to `python3 -c pass` as the
interpreter's own floor.  Run as root.  Byte-compile first (pip install does; an editable
install under PYTHONDONTWRITEBYTECODE=1 does not): this script does it for you.
"""
import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

INDEX = r"""
import time, json
t0 = time.perf_counter()
from bcc_core import btf
b = btf.kernel_btf()
t1 = time.perf_counter()
print(json.dumps({"index_ms": (t1 - t0) * 1e3, "types": b.nr_types}))
"""

LOAD = r"""
import time, json, sys
t0 = time.perf_counter()
from bcc_core.load.loader import Object
t1 = time.perf_counter()
o = Object(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3,
                  "programs": len(o.programs), "maps": len(o.maps)}))
"""


def run(code, args=(), env=None):
    """Run python code in a fresh process: (json output, cpu seconds, peak RSS KiB)."""
    p = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                         env=env, cwd=ROOT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.stdout.close()
    if status:
        raise SystemExit("benchmark process failed: %r" % out)
    res = json.loads(out) if out.strip() else {}
    res["cpu_ms"] = (ru.ru_utime + ru.ru_stime) * 1e3
    res["rss_mib"] = ru.ru_maxrss / 1024
    return res


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("obj", nargs="?", default=os.path.join(ROOT, "tools", "opensnoop.bpf.o"))
    ap.add_argument("-n", "--runs", type=int, default=7)
    a = ap.parse_args()
    compileall.compile_dir(os.path.join(ROOT, "bcc_core"), quiet=1)
    base_env = dict(os.environ, PYTHONPATH=ROOT)
    floor = [run("pass") for _ in range(a.runs)]
    print("python3 -c pass:            cpu %6.1f ms   peak RSS %5.1f MiB"
          % (median(floor, "cpu_ms"), median(floor, "rss_mib")))
    with tempfile.TemporaryDirectory() as warm_cache:
        env_warm = dict(base_env, BCC_CORE_CACHE=warm_cache)
        rows_cold, rows_cached = [], []
        for _ in range(a.runs):
            with tempfile.TemporaryDirectory() as cold:
                rows_cold.append(run(INDEX, env=dict(base_env, BCC_CORE_CACHE=cold)))
            rows_cached.append(run(INDEX, env=env_warm))
        print("kernel BTF index (%d types):" % rows_cold[0]["types"])
        for label, rows in (("no cache", rows_cold), ("cached index", rows_cached[1:])):
            print("  %-14s %7.1f ms   cpu %6.1f ms   peak RSS %5.1f MiB"
                  % (label, median(rows, "index_ms"), median(rows, "cpu_ms"),
                     median(rows, "rss_mib")))
        cold_rows = []
        for _ in range(a.runs):
            with tempfile.TemporaryDirectory() as cold:
                cold_rows.append(run(LOAD, [a.obj], env=dict(base_env, BCC_CORE_CACHE=cold)))
        run(LOAD, [a.obj], env=env_warm)
        warm_rows = [run(LOAD, [a.obj], env=env_warm) for _ in range(a.runs)]
        print("open+relocate+load %s (%d programs, %d maps):"
              % (os.path.basename(a.obj), warm_rows[0]["programs"], warm_rows[0]["maps"]))
        for label, rows in (("cold", cold_rows), ("warm", warm_rows)):
            print("  %-5s import %5.1f ms  load %6.1f ms   process cpu %6.1f ms   "
                  "peak RSS %5.1f MiB" % (label, median(rows, "import_ms"),
                                          median(rows, "load_ms"), median(rows, "cpu_ms"),
                                          median(rows, "rss_mib")))


if __name__ == "__main__":
    main()
