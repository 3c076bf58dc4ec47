"""BCC's own tools migrated to bcc-core (examples/migrated/): each runs as a subprocess on
this host, with a workload that triggers its events, and its output must have the tool's
header and rows that match the workload.  The BPF objects are built from
examples/migrated/<tool>.c by bcc_core.compat (cached by the hash of the source)."""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import need_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATED = os.path.join(ROOT, "examples", "migrated")

pytestmark = [
    pytest.mark.skipif(shutil.which("clang-19") is None,
                       reason="clang-19 is missing: cannot build examples/migrated/*.c"),
    pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no kernel BTF"),
]
pytest.importorskip("pycparser")

# (tool, cflags) variants the tests run, built once up front
VARIANTS = [("syscount", []), ("syscount", ["-DLATENCY"]), ("softirqs", []),
            ("softirqs", ["-DEVENTS"]), ("hardirqs", ["-DCOUNT"]), ("bitesize", []),
            ("tcpstates", [])]


@pytest.fixture(scope="module")
def objects():
    need_root()
    sys.path.insert(0, MIGRATED)
    try:
        from _migrated import bpf_object
        from bcc_core import BPF
        state = ["-DSTATE_FIELD=__state" if BPF.kernel_struct_has_field(
            b"task_struct", b"__state") == 1 else "-DSTATE_FIELD=state"]
        for tool, cflags in VARIANTS + [("runqlat", state)]:
            assert os.path.getsize(bpf_object(tool, cflags)) > 0
    finally:
        sys.path.remove(MIGRATED)


class Tool:
    """examples/migrated/<tool>.py as a subprocess, with its output collected."""

    def __init__(self, tool, *args):
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen([sys.executable, os.path.join(MIGRATED, tool + ".py"),
                                   *map(str, args)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, text=True)
        self.out = ""

    def wait_for(self, pattern, timeout=15):
        """Read output until pattern shows up (the tool has attached its programs)."""
        deadline = time.time() + timeout
        while not re.search(pattern, self.out):
            left = deadline - time.time()
            if left <= 0 or self.p.poll() is not None and not select.select(
                    [self.p.stdout], [], [], 0)[0]:
                self.stop()
                pytest.fail("no %r in the output of %s:\n%s" % (pattern, self.p.args, self.out))
            if select.select([self.p.stdout], [], [], left)[0]:
                line = self.p.stdout.readline()
                if not line and self.p.poll() is not None:
                    continue
                self.out += line

    # the system calls a tool waits in once it is ready for Ctrl-C (its sleep(), its
    # perf buffer poll): clock_nanosleep, epoll_wait, epoll_pwait, poll, select, pselect6
    _WAITING = {230, 232, 281, 7, 23, 270}

    def wait_ready(self, timeout=15):
        """Wait until the tool blocks in its wait loop, as a user sees it sit there:
        between its header and that loop, Ctrl-C would interrupt code (BCC's own
        scripts as well) that does not handle it yet."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.p.poll() is None:
            try:
                with open("/proc/%d/syscall" % self.p.pid) as f:
                    nr = f.read().split()[0]
            except (OSError, IndexError):
                nr = ""
            if nr.isdigit() and int(nr) in self._WAITING:
                return
            time.sleep(0.02)

    def finish(self, timeout=15, interrupt=False):
        if interrupt:
            self.wait_ready()
            self.p.send_signal(signal.SIGINT)
        try:
            rest, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail("%s did not exit; output:\n%s" % (self.p.args, self.out))
        self.out += rest
        return self.out

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        rest = self.p.communicate()[0]
        self.out += rest or ""


def rows(out, pattern):
    return [m.groups() for m in re.finditer(pattern, out, re.M)]


@pytest.mark.parametrize("latency", [False, True], ids=["count", "latency"])
def test_syscount_pid_filter_counts_getppid(objects, latency):
    t = Tool("syscount", "-p", os.getpid(), "-d", 2, *(["-L"] if latency else []))
    t.wait_for(r"Tracing syscalls")
    for _ in range(1000):
        os.getppid()
    out = t.finish()
    assert re.search(r"^SYSCALL\s+COUNT" + (r"\s+TIME \(us\)" if latency else r"\s*$"),
                     out, re.M), out
    got = dict((name, int(n)) for name, n in rows(out, r"^(\w+)\s+(\d+)"))
    # only this process is counted (filter_pid), and it made exactly these getppid calls
    assert got.get("getppid") == 1000, out


def test_syscount_syscall_filter(objects):
    t = Tool("syscount", "--syscall", "getppid", "-d", 2)
    t.wait_for(r"Tracing syscall 'getppid'")
    for _ in range(500):
        os.getppid()
    out = t.finish()
    names = [name for name, _ in rows(out, r"^(\w+)\s+(\d+)\s*$")]
    assert names == ["getppid"], out
    assert int(rows(out, r"^getppid\s+(\d+)")[0][0]) >= 500


def _tcp_traffic(n=20):
    srv = socket.create_server(("127.0.0.1", 0))
    for _ in range(n):
        c = socket.create_connection(srv.getsockname())
        a, _ = srv.accept()
        c.sendall(b"x" * 65536)
        a.recv(65536)
        c.close()
        a.close()
    srv.close()


@pytest.mark.parametrize("events", [False, True], ids=["time", "count"])
def test_softirqs(objects, events):
    t = Tool("softirqs", *(["-C"] if events else []), 1, 1)
    t.wait_for(r"Tracing soft irq")
    _tcp_traffic()
    out = t.finish()
    assert re.search(r"^SOFTIRQ\s+TOTAL_%s" % ("count" if events else "usecs"), out, re.M), out
    got = dict((name, int(n)) for name, n in rows(out, r"^(\w+)\s+(\d+)\s*$"))
    known = {"hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
             "hrtimer", "rcu"}
    assert got and set(got) <= known, out
    assert sum(got.values()) > 0


def test_hardirqs_count_disk_io(objects, tmp_path):
    t = Tool("hardirqs", "-C", 1, 1)
    t.wait_for(r"Tracing hard irq")
    with open(tmp_path / "f", "wb") as f:        # block I/O completes with interrupts
        for _ in range(20):
            f.write(os.urandom(4096))
            f.flush()
            os.fsync(f.fileno())
    out = t.finish()
    assert re.search(r"^HARDIRQ\s+TOTAL_count", out, re.M), out
    got = rows(out, r"^(\S+)\s+(\d+)\s*$")
    assert got and all(int(n) > 0 for _, n in got), out


def test_runqlat_pid_filter(objects):
    # a process that sleeps and wakes up until killed: each wake-up is a run queue visit
    # (for as long as the tool needs to start, however loaded the machine is)
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nwhile True: time.sleep(0.001)"])
    try:
        t = Tool("runqlat", "-p", child.pid, "-P", 1, 1)
        t.wait_for(r"Tracing run queue latency")
        out = t.finish()
    finally:
        child.kill()
        child.wait()
    pids = [int(p) for (p,) in rows(out, r"^pid = (\d+)")]
    assert pids == [child.pid], out              # filter_tgid kept only the child
    counts = [int(n) for (n,) in rows(out, r"^\s+\d+ -> \d+\s+: (\d+)")]
    assert re.search(r"usecs\s+: count\s+distribution", out) and sum(counts) >= 10, out


def test_bitesize_dd(objects, tmp_path):
    t = Tool("bitesize")
    t.wait_for(r"Tracing block I/O")
    subprocess.run(["dd", "if=/dev/zero", "of=%s" % (tmp_path / "f"), "bs=64k", "count=40",
                    "oflag=direct"], check=True, capture_output=True)
    out = t.finish(interrupt=True)
    m = re.search(r"^Process Name = dd\n\s+Kbytes\s+: count\s+distribution\n(.*?)(\n\n|\Z)",
                  out, re.M | re.S)
    assert m, out
    hist = dict((int(lo), int(n)) for lo, n in rows(m.group(1), r"^\s+(\d+) -> \d+\s+: (\d+)"))
    assert hist.get(64, 0) >= 40, out            # 64 KiB direct writes: the 64->127 slot


def test_tcpstates_localhost_connect(objects):
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    try:
        t = Tool("tcpstates", "-4", "-L", port)
        t.wait_for(r"SKADDR\s+C-PID")
        time.sleep(1.0)   # like BCC's, the tool prints its header before opening its buffers
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.close()
        a.close()
        time.sleep(0.5)
        out = t.finish(interrupt=True)
    finally:
        srv.close()
    got = rows(out, r"^[0-9a-f]+\s+\d+\s+\S+\s+127\.0\.0\.1\s+(\d+)\s+127\.0\.0\.1\s+\d+\s+"
                    r"(\w+)\s+->\s+(\w+)")
    assert got and all(int(lport) == port for lport, _, _ in got), out   # filter_lports
    assert ("SYN_RECV", "ESTABLISHED") in [(o, n) for _, o, n in got], out
