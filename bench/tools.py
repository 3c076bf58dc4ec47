#!/usr/bin/env python3
"""Start-up cost of the ported tools: CPU time and peak RSS from exec to "header
printed", beside Debian's libbpf-tools (C, CO-RE) measured in the same run.

    python3 bench/tools.py [-n RUNS] [--python PY]  (root; on the host)
    python3 bench/tools.py --guest [-n RUNS]        (boots the Debian 6.1 guest, adds BCC;
                                                     files as installed, then in memory)

--python picks the interpreter that runs bcc-core's tools (default: this one).  In the
guest it defaults to Debian's /usr/bin/python3 (with python3-cffi-backend and
python3-pyelftools), the interpreter a Debian user has; the "(floor)" row is that
interpreter starting and printing a line, the cost every Python tool pays, BCC's too.

For each tool the process is started, its stdout read until the header line, and then
/proc/PID/stat (utime+stime) and /proc/PID/status (VmHWM) are read before it is stopped.
Medians over RUNS; ratios are bcc-core / libbpf-tools.  BCC itself cannot run on this
kernel (no headers): `--guest` runs this script in the 6.1 guest (tests/guest.py, TCG
emulation, so every figure there is slower) with BCC's *-bpfcc tools added; ratios there
are bcc-core / BCC as well.
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

# bcc-core's tools started as the installed opensnoop-core/runqslower-core scripts do:
# a few lines importing the tool's module, whose bytecode is cached (a script's is not)
_RUN = "import sys; from tools.%s import main; sys.exit(main())"
TOOLS = {
    "opensnoop": (["-c", _RUN % "opensnoop"], "/usr/sbin/opensnoop", "PATH"),
    "runqslower": (["-c", _RUN % "runqslower"], "/usr/sbin/runqslower", "LAT"),
}
# the interpreter's own start: print the header line and stay alive until measured (a
# process that has exited has no /proc/PID/status to read); time is built in, no import
FLOOR = "import time; print('HDR', flush=True); time.sleep(60)"
BCC = {"opensnoop": "/usr/sbin/opensnoop-bpfcc", "runqslower": "/usr/sbin/runqslower-bpfcc"}


def _cpu_seconds(pid):
    """CPU time of a live process in ns resolution (/proc/PID/schedstat; clock ticks of
    /proc/PID/stat are 10 ms here, too coarse for a C tool's start), threads included."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def measure(cmd, header):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    import tempfile
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                p.wait()
                err.seek(0)
                raise SystemExit("%s exited before its header:\n%s" % (
                    cmd, err.read().decode("utf-8", "replace")[-2000:]))
            if header.encode() in line:
                break
        cpu = _cpu_seconds(p.pid)
        with open("/proc/%d/status" % p.pid) as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
        return cpu * 1e3, hwm / 1024
    finally:
        err.close()
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# Guest sh: copy files into a tmpfs and bind-mount them over their 9p copies (the guest's
# root is the host's tree over 9p with no page cache, so every start re-reads every file
# it opens through the emulated virtio transport)
_MEM_FNS = r"""
M=/run/bench-mem; mkdir -p $M && mount -t tmpfs tmpfs $M
memfile() { for f; do r=$(readlink -f "$f") || continue; [ -f "$r" ] || continue
  [ -e "$M$r" ] && continue; mkdir -p "$M$(dirname "$r")"; cp "$r" "$M$r"
  mount --bind "$M$r" "$r"; done; }
memlibs() { for f; do memfile "$f" $(ldd "$f" 2>/dev/null | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); done; }
memdir() { for d; do [ -d "$d" ] || continue; mkdir -p "$M$d"; cp -a "$d/." "$M$d/"
  mount --bind "$M$d" "$d"; done; }
"""


def in_guest(runs, python):
    """Two passes in one guest boot.  "as installed": every file is read from the guest's
    9p root, BCC's kernel headers included.  "in memory": the interpreter, its library
    directories, BCC's libraries (libbcc, LLVM, clang), its kernel headers, the tools'
    binaries and bcc-core are first copied into a tmpfs, as a warm page cache would hold
    them on a real machine.  Both tools get the same conditions in each pass."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import guest
    why = guest.unavailable_reason()
    if why:
        raise SystemExit("cannot boot the guest: %s" % why)
    compileall.compile_dir(os.path.join(ROOT, "bcc_core"), quiet=1)
    compileall.compile_dir(os.path.join(ROOT, "tools"), quiet=1)
    compileall.compile_dir(os.path.join(ROOT, "bench"), quiet=1)
    workdir = guest.make_workdir("bcc-core-bench-")
    tar, hdirs = guest.headers_tar(guest.kernel_release(guest.find_kernel()), workdir)
    bench = "%s %%s/bench/tools.py --bcc -n %d --python %s" % (sys.executable, runs, python)
    pyver = "python%d.%d" % sys.version_info[:2]
    script = [
        "echo '== files as installed (read through 9p at every start)'",
        "BCC_CORE_CACHE=%s " % os.path.join(workdir, "cache") + bench % ROOT,
        _MEM_FNS,
        "memdir /usr/lib/%s /usr/lib/python3/dist-packages /usr/local/lib/%s/dist-packages"
        % (pyver, pyver),
        "memlibs %s /usr/sbin/opensnoop /usr/sbin/runqslower %s"
        % (python, " ".join("/usr/lib/python3/dist-packages/%s" % n for n in
                            ("_cffi_backend*.so",))),
        "memlibs /usr/lib/x86_64-linux-gnu/libbcc.so.0 /usr/lib/x86_64-linux-gnu/libbcc_bpf.so.0",
        "memfile /usr/sbin/opensnoop-bpfcc /usr/sbin/runqslower-bpfcc",
        guest.headers_in_memory(tar, hdirs) if tar else "true",
        "mkdir -p $M/repo && cp -a %s $M/repo/" % " ".join(
            os.path.join(ROOT, d) for d in ("bcc_core", "tools", "bench")),
        "echo '== files in memory (tmpfs copies: what a page cache gives on a real machine)'",
        # from the copy's directory: "python3 -c" puts the working directory first on
        # sys.path, and the tools are found there before PYTHONPATH
        "cd $M/repo && BCC_CORE_CACHE=$M/cache " + bench % "$M/repo",
    ]
    try:
        # one vCPU: with two (run round-robin on one host thread, see tests/guest.py)
        # a process is charged for the other vCPU's turns too
        r = guest.run("\n".join(script), workdir=workdir, bcc_headers=False, timeout=2400,
                      cpus=1)
    finally:
        if tar and os.path.exists(tar):
            os.unlink(tar)
    print(r.output)
    return 0 if r.returncode == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--guest", action="store_true", help="run in the Debian 6.1 guest")
    ap.add_argument("--bcc", action="store_true", help="also measure BCC's *-bpfcc tools")
    ap.add_argument("--python", help="interpreter for bcc-core's tools (default: this "
                    "one; in the guest: /usr/bin/python3)")
    a = ap.parse_args()
    if a.guest:
        return in_guest(a.runs, a.python or "/usr/bin/python3")
    py = a.python or sys.executable
    compileall.compile_dir(os.path.join(ROOT, "bcc_core"), quiet=1)
    compileall.compile_dir(os.path.join(ROOT, "tools"), quiet=1)
    print("kernel %s, bcc-core's tools run by %s" % (os.uname().release, py))
    print("%-12s %-14s %10s %12s" % ("tool", "implementation", "CPU ms", "peak RSS MiB"))
    floor = [measure([py, "-c", FLOOR], "HDR") for _ in range(a.runs)]
    print("%-12s %-14s %10.1f %12.1f" % ("(floor)", "python3 start", statistics.median(
        x[0] for x in floor), statistics.median(x[1] for x in floor)))
    for name, (script, theirs, header) in TOOLS.items():
        ours = [py] + script
        measure(ours, header)   # warm the caches (object spec, CO-RE decisions)
        impls = [("bcc-core", ours, a.runs),
                 # C stdio block-buffers a pipe: stdbuf makes the header come at once
                 ("libbpf-tools", ["stdbuf", "-oL", theirs], a.runs)]
        if a.bcc:
            impls.append(("bcc", [BCC[name]], min(a.runs, 2)))
        rows = {}
        for label, cmd, n in impls:
            if label != "bcc-core" and not shutil.which(cmd[-1]):
                continue
            r = [measure(cmd, header) for _ in range(n)]
            rows[label] = (statistics.median(x[0] for x in r),
                           statistics.median(x[1] for x in r))
            print("%-12s %-14s %10.1f %12.1f" % (name, label, *rows[label]))
            sys.stdout.flush()
        for other in ("libbpf-tools", "bcc"):
            if other in rows:
                cpu = rows["bcc-core"][0] / max(rows[other][0], 0.1)
                rss = rows["bcc-core"][1] / rows[other][1]
                if cpu < 0.1:   # a fraction of BCC's: "1/N" reads better than 0.02x
                    print("%-12s %-14s %10s %11.2fx" % (name, "vs " + other,
                                                        "1/%.1f" % (1 / cpu), rss))
                else:
                    print("%-12s %-14s %9.2fx %11.2fx" % (name, "vs " + other, cpu, rss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
