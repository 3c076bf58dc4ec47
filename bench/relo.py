#!/usr/bin/env python3
"""How long does CO-RE relocation take?  Pure engine work, no bpf() call, no root.

    python3 bench/relo.py [OBJECT.bpf.o] [--btf FILE] [-n RUNS] [--warm-runs N]

Default object: the libbpf-tools object (extracted from Debian's libbpf-tools binaries by
tests/libbpf_tools.py) with the most CO-RE relocations; default BTF: the running kernel's.
Prints the number of relocations and medians of:

* cold, cached: a fresh process (subprocess) imports bcc-core, reads the object spec and
  the kernel BTF with its on-disk name index (~/.cache/bcc-core, primed first), computes
  every decision and patches the code;
* cold, no cache: the same with BCC_CORE_CACHE pointing at a new empty directory each run
  (the kernel BTF is indexed from scratch, the object parsed from scratch);
* warm: in this process, with spec and BTFs loaded, compute + patch again (fresh
  candidate cache each time, as a new Object would).

"in-process" times run from before the first bcc-core import to the end of patching;
"wall" adds the interpreter's start-up.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

COLD = r"""
import time, json, sys
t0 = time.perf_counter()
from bcc_core import btf
from bcc_core.core import relo
from bcc_core.obj.cache import load_spec
spec = load_spec(sys.argv[1])
local = btf.BTF(spec.btf, where=sys.argv[1])
target = btf.kernel_btf(sys.argv[2])
recs = [(s, r) for s, rs in spec.btf_ext.core_relos.items() for r in rs]
ds = relo.compute(local, recs, target)
code = {n: bytearray(s.insns) for n, s in spec.sections.items()}
for d in ds:
    relo.patch(code[d.section], d)
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1e3, "n": len(ds)}))
"""


def relo_count(path):
    from bcc_core.obj.cache import load_spec
    spec = load_spec(path)
    if not spec.btf_ext:
        return 0
    return sum(len(v) for v in spec.btf_ext.core_relos.values())


def default_object():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import libbpf_tools
    try:
        objs = libbpf_tools.extract_objects()
    except BaseException as e:      # pytest.skip outside pytest
        raise SystemExit("no libbpf-tools objects (apt-get install libbpf-tools): %s" % e)
    return max(objs.values(), key=lambda p: (relo_count(p), os.path.getsize(p)))


def cold(obj, btf_path, env):
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", COLD, obj, btf_path], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    wall = (time.perf_counter() - t0) * 1e3
    if r.returncode:
        raise SystemExit("benchmark process failed:\n" + r.stderr)
    res = json.loads(r.stdout)
    res["wall"] = wall
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("obj", nargs="?")
    ap.add_argument("--btf", default="/sys/kernel/btf/vmlinux")
    ap.add_argument("-n", type=int, default=7, help="cold runs per case (default 7)")
    ap.add_argument("--warm-runs", type=int, default=50)
    a = ap.parse_args()
    obj = a.obj or default_object()
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("BCC_CORE_CACHE", None)

    from bcc_core import btf
    from bcc_core.core import relo
    from bcc_core.obj.cache import load_spec
    n = relo_count(obj)
    print("object: %s (%d bytes), %d CO-RE relocations" % (obj, os.path.getsize(obj), n))
    print("target BTF: %s" % a.btf)

    cold(obj, a.btf, env)                       # prime ~/.cache/bcc-core
    cached = [cold(obj, a.btf, env) for _ in range(a.n)]
    nocache = []
    for _ in range(a.n):
        with tempfile.TemporaryDirectory(prefix="bcc-core-bench-") as d:
            nocache.append(cold(obj, a.btf, dict(env, BCC_CORE_CACHE=d)))

    spec = load_spec(obj)
    local = btf.BTF(spec.btf, where=obj)
    target = btf.kernel_btf(a.btf)
    recs = [(s, r) for s, rs in spec.btf_ext.core_relos.items() for r in rs]
    warm = []
    for _ in range(a.warm_runs):
        t0 = time.perf_counter()
        ds = relo.compute(local, recs, target)
        code = {k: bytearray(s.insns) for k, s in spec.sections.items()}
        for d in ds:
            relo.patch(code[d.section], d)
        warm.append((time.perf_counter() - t0) * 1e3)

    def med(rows, k):
        return statistics.median(r[k] for r in rows)

    print("%-34s %10s %10s" % ("median of %d (warm: %d)" % (a.n, a.warm_runs),
                               "in-process", "wall"))
    print("%-34s %8.1f ms %8.1f ms" % ("cold, on-disk BTF index cache", med(cached, "ms"),
                                        med(cached, "wall")))
    print("%-34s %8.1f ms %8.1f ms" % ("cold, no cache (BCC_CORE_CACHE=tmp)",
                                        med(nocache, "ms"), med(nocache, "wall")))
    print("%-34s %8.2f ms %10s" % ("warm (in-process repeat)", statistics.median(warm),
                                    "-"))
    print("per relocation, warm: %.1f us" % (statistics.median(warm) * 1e3 / max(n, 1)))


if __name__ == "__main__":
    main()
