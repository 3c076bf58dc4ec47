"""The ported tools as a user runs them: subprocesses on the real kernel, a deterministic
workload, and checks of every line the tool prints for the workload's processes."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import need_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")


def test_shipped_objects_match_sources():
    """Every shipped .bpf.o was built from the checked-in source (recorded hash) and is
    the recorded object."""
    sys.path.insert(0, TOOLS)
    try:
        import build
    finally:
        sys.path.remove(TOOLS)
    with open(os.path.join(TOOLS, "objects.json")) as f:
        manifest = json.load(f)
    assert set(manifest) == set(build.sources()) == {"opensnoop", "runqslower"}
    for name, rec in manifest.items():
        assert build.source_hash(name) == rec["source_sha256"], \
            "%s.bpf.c changed: run python tools/build.py" % name
        assert build.object_hash(name) == rec["object_sha256"], \
            "%s.bpf.o is not the object built from its source" % name


class Tool:
    """A tool subprocess; lines are collected until stop()."""

    def __init__(self, name, *args, pyflags=()):
        need_root()
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen([sys.executable, *pyflags, "-m", "bcc_core.tools." + name,
                                   *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  cwd=ROOT, text=True)
        self.lines = []
        self._buf = ""

    def wait_for(self, pattern, timeout=20):
        """Read stdout (unbuffered, so select() sees everything) until a line matches."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while time.monotonic() < deadline:
            while "\n" in self._buf:
                line, self._buf = self._buf.split("\n", 1)
                self.lines.append(line)
                if re.search(pattern, line):
                    return line
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._buf += chunk.decode("utf-8", "replace")
            elif self.p.poll() is not None:
                break
        raise AssertionError("no %r from the tool; stdout %r stderr %r"
                             % (pattern, self.lines, self.p.stderr.read()
                                if self.p.poll() is not None else ""))

    def stop(self, sig=signal.SIGINT, timeout=10):
        time.sleep(0.3)
        if self.p.poll() is None:
            self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=timeout)
        self.lines.extend((self._buf + out).splitlines())
        self._buf = ""
        self.err = err
        return self.p.returncode


def workload_opens(d, names):
    """A child process that opens known paths (some missing); returns its pid."""
    code = ("import os,sys\n"
            "for p in sys.argv[1:]:\n"
            "    try: os.close(os.open(p, os.O_RDONLY))\n"
            "    except OSError: pass\n"
            "os.close(os.open(sys.argv[1], os.O_WRONLY))\n")
    p = subprocess.run([sys.executable, "-S", "-c", code] + [os.path.join(d, n) for n in names])
    return p


def opener(paths):
    """A child process that opens each path in turn (missing ones fail): a Popen."""
    return subprocess.Popen([sys.executable, "-S", "-c",
                             "import os,sys\n"
                             "for p in sys.argv[1:]:\n"
                             "    try: os.close(os.open(p, os.O_RDONLY))\n"
                             "    except OSError: pass\n"] + list(paths))


@pytest.fixture
def files():
    d = tempfile.mkdtemp(prefix="osn", dir="/tmp")
    for n in ("a", "b", "c"):
        open(os.path.join(d, n), "w").close()
    yield d
    import shutil
    shutil.rmtree(d)


def _events(lines, d):
    return [l for l in lines if d in l]


def _imported(err):
    """Module names a ``-X importtime`` run printed to stderr."""
    return {l.rsplit("|", 1)[1].strip() for l in err.splitlines()
            if l.startswith("import time:") and "|" in l}


def test_opensnoop_reports_workload(files):
    # -X importtime: events are decoded without ctypes (bcc_core.events.struct_view), so a
    # tool that only reads events never imports it (a tenth of its start-up)
    t = Tool("opensnoop", pyflags=("-X", "importtime"))
    hdr = t.wait_for("PATH")
    assert hdr.split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    names = ["a", "b", "missing1", "c", "missing2"]
    wl = opener([os.path.join(files, n) for n in names])
    wl.wait()
    assert t.stop() == 0
    assert "Traceback" not in t.err, t.err
    ev = _events(t.lines, files)
    assert [l.split()[-1] for l in ev] == [os.path.join(files, n) for n in names]
    mods = _imported(t.err)
    assert "bcc_core.events.struct_view" in mods and "ctypes" not in mods
    for l, n in zip(ev, names):
        pid, comm, fd, err, path = l.split()
        assert int(pid) == wl.pid
        assert comm.startswith("python")
        if n.startswith("missing"):
            assert (fd, err) == ("-1", "2")            # ENOENT
        else:
            assert int(fd) >= 3 and err == "0"
        # BCC's column format
        assert re.match(r"^\d+\s+\S+\s+-?\d+\s+\d+ /", l)
        assert l == "%-6d %-16s %4d %3d %s" % (int(pid), comm, int(fd), int(err), path)


def test_opensnoop_reports_lost_events(files):
    """A flood of opens into a one-page buffer: the tool says how many events it lost
    (as libbpf-tools do), and what it printed plus what it lost is every open.  The
    kernel reports a loss with the next record it can write *on the same CPU*, so the
    workload stays on one CPU and opens once more after a pause; the tool (-d) drains
    its buffer before it exits."""
    import threading
    n = 30000
    t = Tool("opensnoop", "-b", "1", "-x", "-d", "8")     # long enough on a busy machine
    t.wait_for("PATH")
    got = {}
    reader = threading.Thread(target=lambda: got.update(zip(("out", "err"),
                                                            t.p.communicate(timeout=30))))
    reader.start()          # stdout is read while the tool runs: it never blocks on it
    wl = subprocess.Popen([sys.executable, "-S", "-c",
                           "import os,sys,time\n"
                           "os.sched_setaffinity(0, {0})\n"     # one CPU's ring: see above
                           "def op():\n"
                           "    try: os.open(sys.argv[1], os.O_RDONLY)\n"
                           "    except OSError: pass\n"
                           "for _ in range(%d): op()\n"
                           "time.sleep(1.0)\n"
                           "op()\n" % n, os.path.join(files, "missing")])
    wl.wait()
    reader.join(timeout=40)
    assert t.p.returncode == 0, got
    assert "Traceback" not in got["err"], got["err"]
    lost = [l for l in got["err"].splitlines() if re.match(r"^lost \d+ events$", l)]
    assert len(lost) == 1, got["err"]
    lost = int(lost[0].split()[1])
    lines = (t._buf + got["out"]).splitlines()
    rows = [l for l in lines if l.split()[:1] == [str(wl.pid)]]
    flood = [l for l in rows if l.endswith(os.path.join(files, "missing"))]
    assert lost > 0 and len(flood) < n + 1
    # every open of the flood was printed or lost; the lost ones may include a few of
    # other processes' opens (the tool traces them all, -x filters in user space)
    assert n + 1 <= len(flood) + lost <= n + 1 + 300, (len(rows), len(flood), lost)


def test_opensnoop_options(files):
    a = os.path.join(files, "a")
    # -x: failed only, -T timestamps, -U uid, -e flags, -p pid filter (of a known process)
    t = Tool("opensnoop", "-x", "-T", "-U", "-e")
    hdr = t.wait_for("PATH")
    assert hdr.split() == ["TIME(s)", "UID", "PID", "COMM", "FD", "ERR", "FLAGS", "PATH"]
    workload_opens(files, ["a", "nope"])
    t.stop()
    ev = _events(t.lines, files)
    assert len(ev) == 1 and ev[0].endswith("/nope")
    f = ev[0].split()
    assert re.match(r"^\d+\.\d{9}$", f[0]) and f[1] == str(os.getuid())
    assert f[6] == "%08o" % (os.O_RDONLY | os.O_CLOEXEC) and f[5] == "2"   # Python adds O_CLOEXEC

    # -f O_WRONLY: only the write open; -n: comm filter that matches nothing
    t = Tool("opensnoop", "-f", "O_WRONLY")
    t.wait_for("PATH")
    workload_opens(files, ["b", "c"])
    t.stop()
    ev = _events(t.lines, files)
    assert [l.split()[-1] for l in ev] == [os.path.join(files, "b")]

    t = Tool("opensnoop", "-n", "no-such-comm")
    t.wait_for("PATH")
    workload_opens(files, ["a"])
    t.stop()
    assert _events(t.lines, files) == []

    # -p / -t: a pid that is not the workload's filters it out
    t = Tool("opensnoop", "-p", "1")
    t.wait_for("PATH")
    workload_opens(files, ["a"])
    t.stop()
    assert _events(t.lines, files) == []

    # -u: uid filter
    t = Tool("opensnoop", "-u", str(os.getuid()))
    t.wait_for("PATH")
    workload_opens(files, ["a"])
    t.stop()
    assert len(_events(t.lines, files)) == 2      # the read open and the write open


def test_opensnoop_full_path(files):
    t = Tool("opensnoop", "-F")
    t.wait_for("PATH")
    subprocess.run([sys.executable, "-S", "-c", "import os; os.close(os.open('a', os.O_RDONLY))"],
                   cwd=files)
    t.stop()
    ev = [l for l in t.lines if l.endswith(os.path.join(files, "a").lstrip("/"))
          or l.endswith(os.path.join(files, "a"))]
    assert ev, t.lines[-10:]
    assert ev[0].split()[-1].endswith(os.path.join(os.path.basename(files), "a"))


def test_opensnoop_duration_exits_on_time():
    t0 = time.monotonic()
    t = Tool("opensnoop", "-d", "2")
    t.wait_for("PATH")
    _, err = t.p.communicate(timeout=15)     # keep draining: a full pipe would block it
    took = time.monotonic() - t0
    assert t.p.returncode == 0 and took < 12
    assert "Traceback" not in err


def test_opensnoop_sigint_leaves_nothing_attached():
    t = Tool("opensnoop")
    t.wait_for("PATH")
    kinds = []
    for f in os.listdir("/proc/%d/fd" % t.p.pid):
        try:
            kinds.append(os.readlink("/proc/%d/fd/%s" % (t.p.pid, f)))
        except OSError:
            pass
    assert any("bpf-link" in k or "perf_event" in k for k in kinds)
    assert t.stop(signal.SIGINT) == 0
    assert "Traceback" not in t.err and "KeyboardInterrupt" not in t.err


def _contention(seconds=1.5):
    """Two CPU hogs pinned to one CPU: each waits for the other in the run queue."""
    code = ("import os,time\nos.sched_setaffinity(0,{0})\nend=time.time()+%f\n"
            "while time.time()<end: pass\n" % seconds)
    return [subprocess.Popen([sys.executable, "-S", "-c", code]) for _ in range(2)]


def test_runqslower_reports_contention():
    t = Tool("runqslower", "1000", pyflags=("-X", "importtime"))
    t.wait_for("LAT")
    assert t.lines[0] == "Tracing run queue latency higher than 1000 us"
    assert t.lines[1].split() == ["TIME", "COMM", "TID", "LAT(us)"]
    hogs = _contention()
    for h in hogs:
        h.wait()
    t.stop()
    pids = {h.pid for h in hogs}
    ev = [l.split() for l in t.lines[2:] if l.strip()]
    mine = [e for e in ev if int(e[2]) in pids]
    assert mine, t.lines[-20:]
    mods = _imported(t.err)
    assert "bcc_core.events.struct_view" in mods and "ctypes" not in mods
    for e in mine:
        assert re.match(r"^\d\d:\d\d:\d\d$", e[0])
        assert e[1].startswith("python")
        assert int(e[3]) > 1000


def test_runqslower_previous_and_pid_filter():
    hogs = None
    t = Tool("runqslower", "-P", "1000")
    t.wait_for("PREV TID")
    assert t.lines[1].split() == ["TIME", "COMM", "TID", "LAT(us)", "PREV", "COMM", "PREV",
                                  "TID"]
    hogs = _contention()
    for h in hogs:
        h.wait()
    t.stop()
    pids = {h.pid for h in hogs}
    mine = [l.split() for l in t.lines[2:] if l.strip() and int(l.split()[2]) in pids]
    assert mine and all(len(e) == 6 for e in mine)
    # -p with a pid that is not the hogs': none of their lines
    t = Tool("runqslower", "-p", "1", "1000")
    t.wait_for("LAT")
    hogs = _contention(1.0)
    for h in hogs:
        h.wait()
    t.stop()
    assert not [l for l in t.lines[2:] if l.strip() and int(l.split()[2]) in
                {h.pid for h in hogs}]


@pytest.mark.parametrize("name", ["opensnoop", "runqslower"])
def test_without_privileges_one_line(name):
    """Without CAP_BPF/CAP_SYS_ADMIN (a root process with every capability dropped, as
    in a container), the tool prints one line that says what failed and what to do."""
    import shutil
    need_root()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("no setpriv (util-linux) to drop capabilities")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("BCC_CORE_DEBUG", None)
    r = subprocess.run([setpriv, "--bounding-set=-all", "--inh-caps=-all", sys.executable,
                        "-m", "bcc_core.tools." + name, "-d", "1"] if name == "opensnoop" else
                       [setpriv, "--bounding-set=-all", "--inh-caps=-all", sys.executable,
                        "-m", "bcc_core.tools." + name], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(name + ": "), r.stderr
    assert "Operation not permitted" in lines[0] and "run it as root" in lines[0]
    r = subprocess.run([setpriv, "--bounding-set=-all", "--inh-caps=-all", sys.executable,
                        "-m", "bcc_core.tools." + name], capture_output=True, text=True,
                       env=dict(env, BCC_CORE_DEBUG="1"), cwd=ROOT, timeout=30)
    assert r.returncode == 1 and "Traceback" in r.stderr       # the debug switch


def test_verifier_rejection_is_one_line():
    from bcc_core.errors import VerifierError
    from bcc_core.tools._run import one_line
    e = VerifierError("handle_exit", 13, "0: (b7) r0 = 0\nR1 invalid mem access 'scalar'\n",
                      source_line="opensnoop.bpf.c:42:   x = *p;")
    msg = one_line(e)
    assert "\n" not in msg and "handle_exit" in msg and "opensnoop.bpf.c:42" in msg
    assert "BCC_CORE_DEBUG=1" in msg
