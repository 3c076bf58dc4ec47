#!/usr/bin/env python3
"""Start-up cost of ``BPF(text=...)``: a BCC tool's own C text compiled by bcc-core
(translate + clang, then cached), beside loading the cached object directly and, in the
Debian 6.1 guest, beside BCC compiling the same text.

    python3 bench/text.py [-n RUNS]            (root; on the host)
    python3 bench/text.py --guest [-n RUNS]    (boots the 6.1 guest: adds BCC's compile;
                                                files as installed, then in memory)

The program is the C text of BCC's ``softirqs -d`` (``softirqs-bpfcc -d --ebpf``): two
TRACEPOINT_PROBEs (irq:softirq_entry/exit), a BPF_HASH and a BPF_HISTOGRAM, and
``#include <uapi/linux/ptrace.h>``.  Each figure is one fresh process started from this
script, measured with ``os.wait4`` (user+sys CPU, the process and the children it waited
for, i.e. clang; peak RSS of the process itself and of its largest child):

* ``vmlinux.h``: generating the header from the kernel's BTF (once per kernel; BPF(text=)
  does it on its very first start), on its own line;
* (a) ``BPF(text=PROGRAM)``, first run: an empty cache directory ($BCC_CORE_CACHE)
  holding only that pre-generated vmlinux.h: translate, clang, load, attach;
* (a') then a second program (the same C plus a comment) in that cache: translate and
  clang, with the prelude's precompiled header that (a) built (compat/pch.py);
* (b) the same script again: the object and the loader's caches are there, no clang;
* (c) ``BPF(src_file=<(a)'s cached .bpf.o>)``: the object route, caches warm;
* BCC (guest only): ``from bcc import BPF; BPF(text=PROGRAM)`` with Debian's
  /usr/bin/python3 and python3-bpfcc (LLVM in-process, the kernel's headers);
* the interpreters' own start (``-c pass``), the floor under every row.

Ratios: (b)/(c), (a)/(b) and (a')/(b); in the guest, against BCC's compile too.

Bytecode: the children run without PYTHONDONTWRITEBYTECODE (removed from their
environment when set) and bcc_core, compat and bench are byte-compiled first
(compileall, into ``__pycache__`` beside the sources, as ``pip install`` leaves an
installed package); a warm-up run of (a) writes the rest (pycparser).  Neither a
first nor a cached run is charged for compiling Python.  PYTHONPYCACHEPREFIX is removed
as well.  BCC's Python and the standard library use their installed bytecode.

bcc-core runs under this interpreter (its editable install provides ``bcc_core.compat``;
``--python`` picks another one that has bcc-core installed).  Medians over RUNS: (a)
and BCC take min(RUNS, 2) runs in the guest, where each is tens of seconds.
"""
import argparse
import compileall
import glob
import importlib.util
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BCC_PYTHON = "/usr/bin/python3"

# softirqs-bpfcc -d --ebpf (BCC 0.26), verbatim
PROGRAM = r"""
#include <uapi/linux/ptrace.h>

typedef struct entry_key {
    u32 pid;
    u32 cpu;
} entry_key_t;

typedef struct irq_key {
    u32 vec;
    u64 slot;
} irq_key_t;

typedef struct account_val {
    u64 ts;
    u32 vec;
} account_val_t;

BPF_HASH(start, entry_key_t, account_val_t);
BPF_HISTOGRAM(dist, irq_key_t);

TRACEPOINT_PROBE(irq, softirq_entry)
{
    account_val_t val = {};
    entry_key_t key = {};
    u32 cpu = bpf_get_smp_processor_id();



    key.pid = bpf_get_current_pid_tgid();
    key.cpu = cpu;
    val.ts = bpf_ktime_get_ns();
    val.vec = args->vec;

    start.update(&key, &val);

    return 0;
}

TRACEPOINT_PROBE(irq, softirq_exit)
{
    u64 delta;
    u32 vec;
    account_val_t *valp;
    irq_key_t key = {0};
    entry_key_t entry_key = {};
    u32 cpu = bpf_get_smp_processor_id();



    entry_key.pid = bpf_get_current_pid_tgid();
    entry_key.cpu = cpu;

    // fetch timestamp and calculate delta
    valp = start.lookup(&entry_key);
    if (valp == 0) {
        return 0;   // missed start
    }
    delta = bpf_ktime_get_ns() - valp->ts;
    vec = valp->vec;

    // store as sum or histogram
    key.vec = vec; key.slot = bpf_log2l(delta / 1000); dist.atomic_increment(key);

    start.delete(&entry_key);
    return 0;
}
"""

# The children.  Each reads the program text from argv[1], builds BPF() (which loads and
# attaches the tracepoints), and prints what it can only know from inside: its own peak
# RSS and its children's (clang's).
_TAIL = r"""
import json, os, resource
if os.environ.get("BENCH_TEXT_FILES"):     # what it imported (the guest's memory pass)
    import importlib.util
    with open(os.environ["BENCH_TEXT_FILES"], "w") as f:
        for m in list(sys.modules.values()):
            p = getattr(m, "__file__", None)
            if p and os.path.isfile(p):
                f.write(p + "\n")
                if p.endswith(".py"):
                    f.write(importlib.util.cache_from_source(p) + "\n")
s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"self_rss_kib": s.ru_maxrss, "child_rss_kib": c.ru_maxrss,
                  "child_cpu_s": c.ru_utime + c.ru_stime, "modules": len(sys.modules)}))
"""
TEXT = "import sys\nfrom bcc_core import BPF\nb = BPF(text=open(sys.argv[1]).read())\n" + _TAIL
SRC_FILE = "import sys\nfrom bcc_core import BPF\nb = BPF(src_file=sys.argv[1])\n" + _TAIL
BCC = "import sys\nfrom bcc import BPF\nb = BPF(text=open(sys.argv[1]).read())\n" + _TAIL
VMLINUX = ("import sys\nfrom bcc_core.compat import build\nprint(build.include_dir(), "
           "file=sys.stderr)\n" + _TAIL)
FLOOR = "import sys\n" + _TAIL


def child_env(cache):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["BCC_CORE_CACHE"] = cache
    return env


def measure(python, code, args=(), env=None, cwd=None):
    """One fresh process, reaped here with wait4: {cpu_ms (it and its children: clang),
    rss_mib (its own peak), child_rss_mib (its largest child's peak, 0 without),
    child_cpu_ms, modules}."""
    p = subprocess.Popen([python, "-c", code, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=cwd)
    # read both pipes to EOF before reaping (communicate() would reap it itself)
    import threading
    bufs = {}

    def drain(name, f):
        bufs[name] = f.read()
    ts = [threading.Thread(target=drain, args=(n, f)) for n, f in
          (("out", p.stdout), ("err", p.stderr))]
    for t in ts:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    for t in ts:
        t.join()
    p.returncode = status      # reaped here: keep Popen from waiting again
    if status:
        raise SystemExit("benchmark process failed (%s, status %d):\n%s" % (
            python, status, bufs["err"].decode("utf-8", "replace")[-3000:]))
    res = json.loads(bufs["out"].decode().strip().splitlines()[-1])
    res["cpu_ms"] = (ru.ru_utime + ru.ru_stime) * 1e3
    res["rss_mib"] = res.pop("self_rss_kib") / 1024
    res["child_rss_mib"] = res.pop("child_rss_kib") / 1024
    res["child_cpu_ms"] = res.pop("child_cpu_s") * 1e3
    return res


def objects(cache):
    return sorted(glob.glob(os.path.join(cache, "compat", "obj", "*.bpf.o")))


def median_row(rows):
    keys = ("cpu_ms", "rss_mib", "child_rss_mib", "child_cpu_ms")
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def fmt(label, r, note=""):
    clang = ""
    if r.get("child_cpu_ms"):
        clang = "(clang %.0f ms, %.1f MiB)" % (r["child_cpu_ms"], r["child_rss_mib"])
    return "%-46s %10.1f %10.1f  %s%s" % (label, r["cpu_ms"], r["rss_mib"], clang,
                                          ("  " + note) if note else "")


def ratio(a, b):
    q = a / max(b, 0.1)
    return "1/%.1f" % (1 / q) if q < 0.1 else "%.2fx" % q


def bench(runs, python, bcc, workdir, runs_first=None):
    """Measure everything once in this kernel; print the table; return the rows."""
    runs_first = runs_first or runs
    prog = os.path.join(workdir, "softirqs_d.c")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    # (a'): another program (the same C and a comment: a new key) after (a)
    prog2 = os.path.join(workdir, "softirqs_d2.c")
    with open(prog2, "w") as f:
        f.write(PROGRAM + "\n/* a second program */\n")
    cwd = workdir        # BPF(text=) keys its local cache by the working directory too
    print("kernel %s; bcc-core: %s; program: softirqs -d's C (%d lines); bytecode: "
          "PYTHONDONTWRITEBYTECODE unset for the children, sources byte-compiled"
          % (os.uname().release, python, PROGRAM.count("\n")))
    print("%-46s %10s %10s" % ("start", "CPU ms", "RSS MiB"))
    rows = {}
    rows["floor"] = median_row([measure(python, FLOOR, env=child_env(workdir), cwd=cwd)
                                for _ in range(runs)])
    print(fmt("python -c pass (bcc-core's interpreter)", rows["floor"]))
    if bcc:
        rows["bcc_floor"] = median_row([measure(BCC_PYTHON, FLOOR, cwd=cwd)
                                        for _ in range(runs)])
        print(fmt("%s -c pass (BCC's interpreter)" % BCC_PYTHON, rows["bcc_floor"]))
    sys.stdout.flush()

    # the vmlinux.h template: one cache directory with only compat/include-*/ in it
    template = os.path.join(workdir, "vmlinux-only")
    vm = []
    for i in range(max(1, min(runs_first, 2))):
        shutil.rmtree(template, ignore_errors=True)
        os.makedirs(template)
        vm.append(measure(python, VMLINUX, env=child_env(template), cwd=cwd))
    rows["vmlinux"] = median_row(vm)
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(
        template, "compat", "include-*", "vmlinux.h")))
    print(fmt("vmlinux.h from kernel BTF (once per kernel)", rows["vmlinux"],
              "%.1f MiB of C" % (size / 2**20)))
    sys.stdout.flush()

    def fresh_cache(name):
        d = os.path.join(workdir, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "compat"))
        for inc in glob.glob(os.path.join(template, "compat", "include-*")):
            shutil.copytree(inc, os.path.join(d, "compat", os.path.basename(inc)))
        return d

    # warm-up: writes the bytecode a first run imports (pycparser, the translator)
    measure(python, TEXT, [prog], env=child_env(fresh_cache("warmup")), cwd=cwd)
    first, second = [], []
    for i in range(runs_first):
        cache = fresh_cache("cache")
        first.append(measure(python, TEXT, [prog], env=child_env(cache), cwd=cwd))
        built = objects(cache)
        if len(built) != 1:
            raise SystemExit("(a) left %d objects in %s" % (len(built), cache))
        obj = built[0]
        second.append(measure(python, TEXT, [prog2], env=child_env(cache), cwd=cwd))
        built = objects(cache)
        if len(built) != 2:
            raise SystemExit("(a') left %d objects in %s" % (len(built), cache))
    rows["first"] = median_row(first)
    print(fmt("(a) BPF(text=) first run: translate + clang", rows["first"]))
    rows["second"] = median_row(second)
    print(fmt("(a') first run of a second program", rows["second"]))
    sys.stdout.flush()
    cached = []
    for i in range(runs):
        cached.append(measure(python, TEXT, [prog], env=child_env(cache), cwd=cwd))
        if objects(cache) != built:    # a new key: the translator changed under us
            raise SystemExit("(b) compiled again (%s): was bcc_core/compat edited during "
                             "the run? run the benchmark again" % objects(cache))
    rows["cached"] = median_row(cached)
    print(fmt("(b) BPF(text=) second run: cached object", rows["cached"]))
    measure(python, SRC_FILE, [obj], env=child_env(cache), cwd=cwd)     # warm its caches
    rows["src_file"] = median_row([measure(python, SRC_FILE, [obj], env=child_env(cache),
                                           cwd=cwd) for _ in range(runs)])
    print(fmt("(c) BPF(src_file=that .bpf.o)", rows["src_file"]))
    sys.stdout.flush()
    if bcc:
        rows["bcc"] = median_row([measure(BCC_PYTHON, BCC, [prog], cwd=cwd)
                                  for _ in range(runs_first)])
        print(fmt("BCC: BPF(text=) (LLVM in-process, kernel headers)", rows["bcc"]))
    print("ratios: (b)/(c) %s   (a)/(b) %s   (a')/(b) %s   clang's share of (a): %.0f%%, "
          "of (a'): %.0f%%" % (
              ratio(rows["cached"]["cpu_ms"], rows["src_file"]["cpu_ms"]),
              ratio(rows["first"]["cpu_ms"], rows["cached"]["cpu_ms"]),
              ratio(rows["second"]["cpu_ms"], rows["cached"]["cpu_ms"]),
              100 * rows["first"]["child_cpu_ms"] / rows["first"]["cpu_ms"],
              100 * rows["second"]["child_cpu_ms"] / rows["second"]["cpu_ms"]))
    if bcc:
        print("        (a)/BCC %s   (a')/BCC %s   (b)/BCC %s   RSS (b)/BCC %s" % (
            ratio(rows["first"]["cpu_ms"], rows["bcc"]["cpu_ms"]),
            ratio(rows["second"]["cpu_ms"], rows["bcc"]["cpu_ms"]),
            ratio(rows["cached"]["cpu_ms"], rows["bcc"]["cpu_ms"]),
            ratio(rows["cached"]["rss_mib"], rows["bcc"]["rss_mib"])))
    print("JSON " + json.dumps({k: {kk: round(vv, 1) for kk, vv in v.items()}
                               for k, v in rows.items()}))
    sys.stdout.flush()
    return rows


def byte_compile():
    for d in ("bcc_core", "compat", "bench"):
        compileall.compile_dir(os.path.join(ROOT, d), quiet=1)


def _tools_bench():
    """bench/tools.py as a module (its guest helpers), not the repo's tools package."""
    spec = importlib.util.spec_from_file_location("bench_tools", os.path.join(HERE, "tools.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# what a copy of an interpreter's library directory leaves out: tests, the static
# library, GUI and packaging modules (62 of 125 MB are left)
_STDLIB_SKIP = ("site-packages", "test", "config-*", "idlelib", "tkinter", "ensurepip",
                "lib2to3", "turtledemo", "pydoc_data")


def _stdlib_in_memory(python, imported):
    """Guest sh: this interpreter's library directory in the tmpfs, as one bind mount
    (hundreds of single-file bind mounts slow every path lookup in the guest down: a
    `python -c pass` took 5x as long), with only the site-packages entries a run
    imports (and the .pth files that run at every start).  Files imported from
    elsewhere are copied one by one."""
    lib = subprocess.run([python, "-c", "import os; print(os.path.dirname(os.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    site = os.path.join(lib, "site-packages")
    tops = sorted({p[len(site) + 1:].split("/")[0] for p in imported
                   if p.startswith(site + "/")})
    others = [p for p in imported if not p.startswith(lib + "/") and
              not p.startswith(ROOT + "/")]
    q = shlex.quote
    cmds = ["mkdir -p $M%s/site-packages" % q(lib),
            "tar -C %s %s -cf - . | tar -C $M%s -xf -" % (
                q(lib), " ".join("--exclude=./%s" % q(x) for x in _STDLIB_SKIP), q(lib)),
            "cp -a %s %s/*.pth $M%s/" % (
                " ".join(q(os.path.join(site, t)) for t in tops), q(site), q(site)),
            "mount --bind $M%s %s" % (q(lib), q(lib))]
    if others:
        cmds.append("memfile %s" % " ".join(q(p) for p in others))
    return " && ".join(cmds)


def in_guest(runs, python, passes):
    """The same in the 6.1 guest with BCC added.  "as installed": every file is read
    through the guest's 9p root (no page cache), BCC's kernel headers included.  "in
    memory": the interpreters' library directories, bcc-core, pycparser, clang and its
    libraries, libbcc and BCC's headers are first copied into a tmpfs, as a warm page
    cache holds them on a real machine."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import guest
    why = guest.unavailable_reason()
    if why:
        raise SystemExit("cannot boot the guest: %s" % why)
    byte_compile()
    workdir = guest.make_workdir("bcc-core-bench-text-")
    tar, hdirs = guest.headers_tar(guest.kernel_release(guest.find_kernel()), workdir)
    mem = _tools_bench()._MEM_FNS
    me = "%s %%s/bench/text.py --in-guest -n %d --python %s --workdir %%s" % (
        python, runs, python)
    # the files bcc-core's first run imports, listed by running it here once
    files = os.path.join(workdir, "imported.txt")
    with tempfile.TemporaryDirectory(prefix="bcc-core-bench-text-") as d:
        prog = os.path.join(d, "p.c")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        env = dict(child_env(os.path.join(d, "cache")), BENCH_TEXT_FILES=files)
        measure(python, TEXT, [prog], env=env, cwd=d)
    with open(files) as f:
        imported = sorted(set(l.strip() for l in f if l.strip()))
    clang = os.path.realpath(shutil.which("clang-19") or shutil.which("clang"))
    llvm = os.path.dirname(os.path.dirname(clang))
    script = []
    if "9p" in passes:
        script += ["echo '== files as installed (read through 9p at every start)'",
                   me % (ROOT, os.path.join(workdir, "9p"))]
    if "mem" in passes:
        script += [
            mem,
            # Debian's python3 and BCC (its standard library is small)
            "memdir /usr/lib/python3.11 /usr/lib/python3/dist-packages/bcc",
            _stdlib_in_memory(python, imported),
            "memlibs %s %s %s /usr/lib/x86_64-linux-gnu/libbcc.so.0" % (
                os.path.realpath(python), os.path.realpath(BCC_PYTHON), clang),
            # clang's own headers, libbpf's
            "memdir %s/lib/clang /usr/include/bpf" % llvm,
            guest.headers_in_memory(tar, hdirs) if tar else "true",
            # bcc-core itself: its editable install maps bcc_core.compat to ROOT/compat
            "for d in bcc_core compat bench; do mkdir -p $M/repo/$d && cp -a %s/$d/. "
            "$M/repo/$d/ && mount --bind $M/repo/$d %s/$d; done" % (ROOT, ROOT),
            "echo '== files in memory (tmpfs copies: what a page cache gives on a real "
            "machine)'",
            "mkdir -p $M/work && " + me % (ROOT, "$M/work"),
        ]
    try:
        # one vCPU: with two (run round-robin on one host thread, see tests/guest.py) a
        # process is charged for the other vCPU's turns too
        r = guest.run("\n".join(script), workdir=workdir, bcc_headers=False,
                      timeout=2400, cpus=1)
    finally:
        if tar and os.path.exists(tar):
            os.unlink(tar)
    print(r.output)
    if r.returncode is None:
        print(r.describe(), file=sys.stderr)
    return 0 if r.returncode == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--guest", action="store_true", help="run in the Debian 6.1 guest")
    ap.add_argument("--passes", default="9p,mem",
                    help="guest: 9p (files as installed), mem (files in memory)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for bcc-core (default: this one)")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.guest:
        return in_guest(a.runs, a.python, a.passes.split(","))
    if a.in_guest:
        os.makedirs(a.workdir, exist_ok=True)
        bench(a.runs, a.python, os.path.exists(BCC_PYTHON), a.workdir,
              runs_first=min(a.runs, 2))
        return 0
    byte_compile()
    with tempfile.TemporaryDirectory(prefix="bcc-core-bench-text-") as d:
        bench(a.runs, a.python, False, d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
