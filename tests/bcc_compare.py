"""Run tracing tools side by side over one deterministic workload and compare what they
report: BCC's tools (``opensnoop-bpfcc``...) against another implementation of the same
tool (libbpf-tools, or bcc-core's port).  Tools are plain command lines, so any
implementation can be swapped in.

    python tests/bcc_compare.py opensnoop \\
        --tool bcc=/usr/sbin/opensnoop-bpfcc \\
        --tool libbpf="stdbuf -oL /usr/sbin/opensnoop" \\
        --tool bcc-core="python3 tools/opensnoop.py"
    python tests/bcc_compare.py workload OUT.json     # the workload alone
    python tests/bcc_compare.py execsnoop --tool bcc="/usr/sbin/execsnoop-bpfcc -P {pid}" \
        --tool bcc-core="python3 /tmp/execsnoop -P {pid}"  # imports changed (bcc_sweep)

BCC's snoop-style tools (execsnoop, killsnoop, tcpconnect... :data:`TABLE_PARSERS`)
are compared over :func:`tools_workload`, which does one known thing for each of them;
:class:`TableParser` reads their columns and leaves timestamps and latencies out of the
comparison (tests/guest_tests/test_guest_bcc_tools.py runs them all at once).

Each tool is started (PYTHONUNBUFFERED=1: BCC is Python), the helper waits for every
tool's header line (BCC compiles C first: ~40 s under emulation), runs the workload
(opens known files, some failing; spawns known processes; sleeps known times), waits a
moment, stops the tools with SIGINT and parses their output.  Events are restricted to
the workload's process and its children, then compared as multisets; the workload's own
record of its opens (fds, errnos) is checked against every tool.

The workload is started first and the tools only once it is armed (``--armed``: it says
so, then reads one line from stdin before doing anything), so its interpreter's own
start-up is over before any tool runs.  A tool's command line may contain ``{pid}``: the
workload's pid (``runqslower -p {pid}``).  Tools that see only the workload cannot see
each other: tools that trace everything feed back (see :func:`contention_threads`).  The workload is released ``ready`` seconds after the
last header: BCC's tools print their header before they open their perf buffer, which
takes a while under emulation, and events before that are lost to them.
"""
import argparse
import collections
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

# -- the workload -------------------------------------------------------------------------

SLEEP = 0.2


def workload(out_path):
    """Deterministic activity; writes what it did (pid, comm, opens, children) as JSON."""
    pid = os.getpid()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    tmpdir = tempfile.mkdtemp(prefix="bcc-compare-wl-", dir="/tmp")
    created = os.path.join(tmpdir, "created")
    plan = [
        ("/etc/hostname", os.O_RDONLY),
        ("/etc/passwd", os.O_RDONLY),
        ("/nonexistent/bcc-compare/%d" % pid, os.O_RDONLY),      # ENOENT
        ("/tmp", os.O_WRONLY),                                    # EISDIR
        (created, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (created, os.O_RDONLY),
    ]
    opens, children, sleeps = [], [], []
    for path, flags in plan:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as e:
            opens.append({"path": path, "fd": -1, "err": e.errno})
        else:
            opens.append({"path": path, "fd": fd, "err": 0})
            os.close(fd)
        time.sleep(SLEEP / 4)
    for argv in (["/bin/cat", "/etc/hostname"], ["/bin/cat", "/nonexistent/bcc-compare-cat"],
                 ["/bin/true"]):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append({"pid": p.pid, "argv": argv, "comm": os.path.basename(argv[0]),
                         "status": p.wait()})
    for s in (SLEEP, SLEEP / 2):
        t0 = time.monotonic()
        time.sleep(s)
        sleeps.append({"asked": s, "slept": time.monotonic() - t0})
    os.unlink(created)
    os.rmdir(tmpdir)
    rec = {"pid": pid, "comm": comm, "opens": opens, "children": children, "sleeps": sleeps}
    with open(out_path, "w") as f:
        json.dump(rec, f, indent=1)
    return rec


def contention(out_path, seconds=2.0):
    """Two CPU hogs pinned to one CPU, each waiting in the run queue for the other:
    run-queue latencies of several ms for known pids.  Writes pid/children as JSON."""
    code = ("import os,time\nos.sched_setaffinity(0,{0})\nend=time.time()+%f\n"
            "while time.time()<end: pass\n" % seconds)
    hogs = [subprocess.Popen([sys.executable, "-S", "-c", code]) for _ in range(2)]
    children = []
    for h in hogs:
        children.append({"pid": h.pid, "argv": ["hog"], "comm": "", "status": h.wait()})
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    rec = {"pid": os.getpid(), "comm": comm, "opens": [], "children": children,
           "sleeps": []}
    with open(out_path, "w") as f:
        json.dump(rec, f, indent=1)
    return rec


def contention_threads(out_path, seconds=2.0, threads=2):
    """:func:`contention` in one process: ``threads`` hog threads (comms ``hog0``,
    ``hog1``) pinned to one CPU, so that one pid (the tools' ``-p``) covers them.  They
    spin in hashlib, which releases the GIL: both are runnable at once and wait in the
    run queue for each other, as two processes would.  Writes pid/children (the threads'
    tids) as JSON.

    Why one process: runqslower tracing every task at a 1 ms threshold in the emulated
    guest reports mostly the tools themselves (their Python threads, the threads reading
    their output, the kernel threads they wake): about 100 events a second with BCC's
    and bcc-core's side by side, for as long as they run.  BCC's runqslower then spends
    its time in its Python perf-buffer callback, where the one SIGINT that should stop it
    lands: ctypes prints "Exception ignored on calling ctypes callback function ...
    KeyboardInterrupt" and goes on, so the tool never exits and has to be killed after
    60 s, and each comparison took 2-3 minutes instead of 40 s.  With ``-p`` (the
    workload's pid, ``{pid}`` in :func:`compare`) each tool sees the workload only: no
    event outside it, none left when the tools are stopped."""
    import hashlib
    buf = b"\0" * (1 << 16)          # > HASHLIB_GIL_MINSIZE: update() runs without the GIL
    tids = [None] * threads
    ready = threading.Barrier(threads + 1)

    def hog(i):
        tids[i] = threading.get_native_id()
        with open("/proc/self/task/%d/comm" % tids[i], "w") as f:
            f.write("hog%d" % i)
        os.sched_setaffinity(0, {0})    # 0: this thread
        ready.wait()
        h = hashlib.sha256()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            h.update(buf)

    ts = [threading.Thread(target=hog, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    ready.wait()
    for t in ts:
        t.join()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    rec = {"pid": os.getpid(), "comm": comm, "opens": [], "sleeps": [],
           "children": [{"pid": tid, "argv": ["hog"], "comm": "hog%d" % i, "status": 0}
                        for i, tid in enumerate(tids)]}
    with open(out_path, "w") as f:
        json.dump(rec, f, indent=1)
    return rec


TOOLS_COMM = "bcctoolswl"      # the tools workload's comm (<= 12: tcpconnect's %-12.12s)
N_SYNC, N_GETPPID = 3, 1000


def _libc():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmdt.argtypes = [ctypes.c_void_p]
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


def _tools_prepare():
    """Before the tools start (``--armed``): what tools_workload imports and loads, so
    that its interpreter's imports are not among the workload's events."""
    import ctypes  # noqa: F401
    import socket  # noqa: F401
    _libc()
    with open("/proc/self/comm", "w") as f:
        f.write(TOOLS_COMM)


def tools_workload(out_path):
    """One process (comm :data:`TOOLS_COMM`) doing one known thing for each of BCC's
    snoop-style tools, and recording what it did (pids, fds, errnos, ports, ids):

    opens and statfs() of an existing and a missing path (opensnoop, statsnoop); three
    children exec'd (``echo`` with a marker, ``true``, ``sh -c 'exit 7'``: execsnoop,
    exitsnoop); ``kill(sleeper, 0)``, ``kill(sleeper, SIGTERM)`` and ``kill(reaped
    pid, 0)`` = ESRCH (killsnoop); sync() x :data:`N_SYNC` (syncsnoop); mount and umount
    of a tmpfs (mountsnoop; CAP_SYS_ADMIN for capable); a loopback TCP listener, a
    connection with 20000 bytes one way and 5000 back (solisten, tcpconnect, tcpaccept,
    tcpconnlat, tcplife, bindsnoop), a UDP bind (bindsnoop); a SysV shm segment created,
    attached, detached and removed (shmsnoop); a thread (threadsnoop); an fd passed over
    a unix socket (sofdsnoop); a file created and unlinked (filelife); getppid() x
    :data:`N_GETPPID` (syscount); 20 direct 4 KiB writes to /dev/nullb0 when it exists
    (biosnoop)."""
    import socket
    libc = _libc()
    pid = os.getpid()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    base = "/run" if os.access("/run", os.W_OK) else "/tmp"
    tmpdir = tempfile.mkdtemp(prefix="bcc-tools-wl-", dir=base)
    rec = {"pid": pid, "comm": comm, "opens": [], "stats": [], "children": [],
           "kills": [], "sleeps": [], "tmpdir": tmpdir}
    marker = "bcc-tools-%d" % pid
    rec["marker"] = marker
    # first: threadsnoop resolves the thread's start routine while this process lives
    # (bcc-core reads libpython's symbol table for it: ~12 s under emulation)
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    for path in ("/etc/hostname", "/nonexistent/bcc-tools/%d" % pid):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            rec["opens"].append({"path": path, "fd": -1, "err": e.errno})
        else:
            rec["opens"].append({"path": path, "fd": fd, "err": 0})
            os.close(fd)
    for path in ("/etc/passwd", "/nonexistent/bcc-tools-stat/%d" % pid):
        try:        # statfs(): statsnoop traces stat/statx/statfs, not newfstatat
            os.statvfs(path)
        except OSError as e:
            rec["stats"].append({"path": path, "ret": -1, "err": e.errno})
        else:
            rec["stats"].append({"path": path, "ret": 0, "err": 0})

    def child(argv, wait=True):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = {"pid": p.pid, "argv": argv, "comm": os.path.basename(argv[0]), "status": None}
        rec["children"].append(c)
        if wait:
            c["status"] = p.wait()
        return p, c
    child(["/bin/echo", marker])
    child(["/bin/true"])
    child(["/bin/sh", "-c", "exit 7"])
    sleeper, sc = child(["/bin/sleep", "30"], wait=False)
    time.sleep(0.2)                  # it has exec'd sleep
    for sig in (0, signal.SIGTERM):
        os.kill(sleeper.pid, sig)
        rec["kills"].append({"tpid": sleeper.pid, "sig": int(sig), "ret": 0})
    sc["status"] = sleeper.wait()
    gone = rec["children"][0]["pid"]       # reaped: ESRCH
    try:
        os.kill(gone, 0)
        rec["kills"].append({"tpid": gone, "sig": 0, "ret": 0})
    except ProcessLookupError:
        rec["kills"].append({"tpid": gone, "sig": 0, "ret": -3})
    for _ in range(N_SYNC):
        os.sync()
    mnt = os.path.join(tmpdir, "mnt")
    os.mkdir(mnt)
    rec["mount"] = {"source": "bcctools", "target": mnt, "fstype": "tmpfs",
                    "ret": libc.mount(b"bcctools", mnt.encode(), b"tmpfs", 0, b"size=1m")}
    rec["umount"] = {"target": mnt, "ret": libc.umount2(mnt.encode(), 0)}
    os.rmdir(mnt)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    rec["tcp"] = {"port": port, "cport": cli.getsockname()[1], "backlog": 5,
                  "sent": 20000, "back": 5000}
    cli.sendall(b"x" * 20000)
    got = 0
    while got < 20000:
        got += len(conn.recv(65536))
    conn.sendall(b"y" * 5000)
    got = 0
    while got < 5000:
        got += len(cli.recv(65536))
    cli.close()
    conn.close()
    srv.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    rec["udp_port"] = u.getsockname()[1]
    u.close()
    shmid = libc.shmget(0, 4096, 0o1000 | 0o600)      # IPC_PRIVATE, IPC_CREAT | 0600
    addr = libc.shmat(shmid, None, 0)
    libc.shmdt(addr)
    libc.shmctl(shmid, 0, None)                       # IPC_RMID
    rec["shm"] = {"id": shmid, "addr": addr}
    a, b = socket.socketpair()
    fd = os.open("/etc/hostname", os.O_RDONLY)
    socket.send_fds(a, [b"x"], [fd])
    _, fds, _, _ = socket.recv_fds(b, 1, 1)
    rec["scm"] = {"sent_fd": fd, "got_fd": fds[0]}
    for f in fds + [fd]:
        os.close(f)
    a.close()
    b.close()
    life = os.path.join(tmpdir, "bcc-tools-life")
    with open(life, "w") as f:
        f.write("x")
    time.sleep(0.1)
    os.unlink(life)
    rec["filelife"] = os.path.basename(life)
    for _ in range(N_GETPPID):
        libc.syscall(110)                             # getppid
    rec["getppid"] = N_GETPPID
    if os.path.exists("/dev/nullb0"):
        import mmap
        buf = mmap.mmap(-1, 4096)                     # page-aligned, as O_DIRECT wants
        fd = os.open("/dev/nullb0", os.O_WRONLY | os.O_DIRECT)
        for _ in range(20):
            os.write(fd, buf)
        os.close(fd)
        rec["nullb_writes"] = 20
    os.rmdir(tmpdir)
    time.sleep(0.5)     # kretprobes and perf buffers drain while this process exists
    with open(out_path, "w") as f:
        json.dump(rec, f, indent=1)
    return rec


tools_workload.prepare = _tools_prepare


WORKLOADS = {"workload": workload, "contention": contention,
             "contention-threads": contention_threads, "tools": tools_workload}


# -- parsers ------------------------------------------------------------------------------

class Parser:
    name = ""
    header = None         # regex matching the header line

    def parse(self, line):
        """An event dict, or None for lines that are not events."""
        raise NotImplementedError

    def key(self, ev):
        """What must be equal between tools."""
        raise NotImplementedError


class OpensnoopParser(Parser):
    """opensnoop (BCC, libbpf-tools and bcc-core print the same columns):
    ``PID COMM FD ERR PATH``."""
    name = "opensnoop"
    header = re.compile(r"^\s*PID\s+COMM\s+FD\s+ERR\s+PATH\s*$")
    _ev = re.compile(r"^\s*(\d+)\s+(.{1,16}?)\s+(-?\d+)\s+(\d+)\s(.*)$")

    def parse(self, line):
        m = self._ev.match(line)
        if not m:
            return None
        pid, comm, fd, err, path = m.groups()
        return {"pid": int(pid), "comm": comm, "fd": int(fd), "err": int(err), "path": path}

    def key(self, ev):
        return (ev["pid"], ev["comm"], ev["fd"], ev["err"], ev["path"])


class RunqslowerParser(Parser):
    """runqslower: ``TIME COMM TID LAT(us)`` (BCC and libbpf-tools).  Latencies differ
    between tools by measurement noise: compare keys, then latencies by tolerance."""
    name = "runqslower"
    header = re.compile(r"^\s*TIME\s+COMM\s+TID\s+LAT\(us\)")
    _ev = re.compile(r"^(\d\d:\d\d:\d\d)\s+(.{1,16}?)\s+(\d+)\s+(\d+)\s*$")

    def parse(self, line):
        m = self._ev.match(line)
        if not m:
            return None
        t, comm, tid, lat = m.groups()
        return {"time": t, "comm": comm, "pid": int(tid), "lat_us": int(lat)}

    def key(self, ev):
        return (ev["pid"], ev["comm"])


class TableParser(Parser):
    """A tool that prints one event per line under a header of column names (BCC's
    snoop-style tools).  ``columns``: the header's names in order; the last column may
    hold spaces (ARGS, CALL, PATH).  ``pid``: the column with the pid the workload
    filter looks at (None: every row is the workload's, e.g. syncsnoop); ``ignore``:
    columns that differ between runs (timestamps, latencies) and are left out of
    :meth:`key`; ``numeric``: columns that must be numbers in an event row (default
    ``pid``), which keeps a tool's other lines out; ``select(ev)``: rows that count as
    the workload's when no pid says it (biosnoop: the disk)."""

    def __init__(self, name, columns, pid="PID", ignore=(), numeric=None, select=None):
        self.name, self.columns, self.pid_col = name, list(columns), pid
        self.ignore = set(ignore)
        self.numeric = list(numeric if numeric is not None else [pid] if pid else [])
        self.select = select
        self.header = re.compile(r"^\s*" + r"\s+".join(re.escape(c) for c in columns) +
                                 r"\s*$")

    def parse(self, line):
        if self.header.match(line):
            return None
        parts = line.strip().split(None, len(self.columns) - 1)
        if len(parts) == len(self.columns) - 1:
            parts.append("")                # an empty last column (ARGS)
        if len(parts) != len(self.columns):
            return None
        ev = dict(zip(self.columns, parts))
        for c in self.numeric:
            try:
                float(ev[c])
            except ValueError:
                return None
        ev["pid"] = int(ev[self.pid_col]) if self.pid_col else None
        return ev

    def key(self, ev):
        return tuple(ev[c] for c in self.columns if c not in self.ignore)

    def header_line(self, lines):
        """The tool's header line as printed (None without one)."""
        return next((l.rstrip() for l in lines if self.header.match(l)), None)

    def rows(self, lines, pids):
        """The events of the workload (pid in ``pids``, or ``select``), in order."""
        out = []
        for line in lines:
            ev = self.parse(line)
            if ev is None:
                continue
            if self.select is not None:
                if self.select(ev):
                    out.append(ev)
            elif ev["pid"] is None or ev["pid"] in pids:
                out.append(ev)
        return out


# BCC 0.26's tools (/usr/sbin/<name>-bpfcc), default columns
TABLE_PARSERS = [
    TableParser("opensnoop", ["PID", "COMM", "FD", "ERR", "PATH"]),
    TableParser("statsnoop", ["PID", "COMM", "FD", "ERR", "PATH"]),
    TableParser("execsnoop", ["PCOMM", "PID", "PPID", "RET", "ARGS"]),
    TableParser("exitsnoop", ["PCOMM", "PID", "PPID", "TID", "AGE(s)", "EXIT_CODE"],
                ignore=["AGE(s)"]),
    TableParser("killsnoop", ["TIME", "PID", "COMM", "SIG", "TPID", "RESULT"],
                ignore=["TIME"]),
    TableParser("syncsnoop", ["TIME(s)", "CALL"], pid=None, ignore=["TIME(s)"],
                numeric=["TIME(s)"]),
    TableParser("mountsnoop", ["COMM", "PID", "TID", "MNT_NS", "CALL"]),
    TableParser("tcpconnect", ["PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"]),
    TableParser("tcpaccept", ["PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"]),
    TableParser("tcpconnlat", ["PID", "COMM", "IP", "SADDR", "DADDR", "DPORT", "LAT(ms)"],
                ignore=["LAT(ms)"]),
    TableParser("tcplife", ["PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB",
                            "RX_KB", "MS"], ignore=["MS"]),
    TableParser("bindsnoop", ["PID", "COMM", "PROT", "ADDR", "PORT", "OPTS", "IF"]),
    TableParser("solisten", ["PID", "COMM", "PROTO", "BACKLOG", "PORT", "ADDR"]),
    TableParser("capable", ["TIME", "UID", "PID", "COMM", "CAP", "NAME", "AUDIT"],
                ignore=["TIME"]),
    TableParser("shmsnoop", ["PID", "COMM", "SYS", "RET", "ARGs"]),
    # FUNC: the start routine's symbol (pythread_wrapper, a static function of
    # libpython, for CPython's threads), which BCC 0.26 itself printed as [unknown] in
    # some guest runs: compared only for being there
    TableParser("threadsnoop", ["TIME(ms)", "PID", "COMM", "FUNC"],
                ignore=["TIME(ms)", "FUNC"]),
    TableParser("sofdsnoop", ["ACTION", "TID", "COMM", "SOCKET", "FD", "NAME"], pid="TID"),
    TableParser("filelife", ["TIME", "PID", "COMM", "AGE(s)", "FILE"],
                ignore=["TIME", "AGE(s)"]),
    TableParser("biosnoop", ["TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES",
                             "LAT(ms)"], ignore=["TIME(s)", "LAT(ms)"],
                select=lambda ev: ev["DISK"] == "nullb0"),
]

TABLES = {p.name: p for p in TABLE_PARSERS}
PARSERS = {p.name: p for p in (OpensnoopParser(), RunqslowerParser())}


# -- running tools ------------------------------------------------------------------------

class Tool:
    def __init__(self, name, argv, parser, env=None):
        self.name, self.argv, self.parser = name, list(argv), parser
        self.lines = []
        self.header_at = None
        self.started = None
        self.header_seen = threading.Event()
        e = dict(os.environ, PYTHONUNBUFFERED="1")
        e.update(env or {})
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=e, start_new_session=True)
        self.started = time.monotonic()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if not self.header_seen.is_set() and self.parser.header.match(line):
                self.header_at = time.monotonic() - self.started
                self.header_seen.set()
        self.header_seen.set()     # EOF: stop waiting (header_at stays None)

    def interrupt(self):
        """Ctrl-C, once (a second one would cut the summary a tool prints on exit)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def wait(self, timeout=60):
        """Wait for the tool to exit (SIGKILL after ``timeout``), then for its output."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(10)

    def stop(self, timeout=60):
        self.interrupt()
        self.wait(timeout)

    def tail(self, n=30):
        """The tool's command line, exit status and last ``n`` lines, for a report."""
        return "--- %s (%s, exit %s) ---\n%s" % (self.name, " ".join(self.argv),
                                                self.proc.poll(), "\n".join(self.lines[-n:]))

    def events(self):
        out = []
        for line in self.lines:
            if self.parser.header.match(line):
                continue
            ev = self.parser.parse(line)
            if ev is not None:
                out.append(ev)
        return out


class Comparison:
    """Result of :func:`compare`: ``workload`` (its JSON record), per tool ``events``
    (restricted to the workload's pids), ``header_seconds``, ``output`` (raw lines),
    ``returncodes``; :meth:`diff` lists what differs between two tools."""

    def __init__(self, parser, tools, workload_rec, seconds):
        self.parser = parser
        self.workload = workload_rec
        self.seconds = seconds
        pids = {workload_rec["pid"]} | {c["pid"] for c in workload_rec["children"]}
        self.pids = pids
        self.events = {t.name: [e for e in t.events() if e["pid"] in pids] for t in tools}
        self.all_events = {t.name: t.events() for t in tools}
        self.header_seconds = {t.name: t.header_at for t in tools}
        self.output = {t.name: t.lines for t in tools}
        self.returncodes = {t.name: t.proc.returncode for t in tools}

    def multiset(self, tool):
        return collections.Counter(self.parser.key(e) for e in self.events[tool])

    def diff(self, a, b, lat_tolerance_us=None, lat_tolerance_rel=0.5):
        """Human-readable differences between tools a and b (empty when they agree).
        With ``lat_tolerance_us`` (runqslower), matched events must also agree on
        latency within max(lat_tolerance_us, lat_tolerance_rel * latency)."""
        ma, mb = self.multiset(a), self.multiset(b)
        out = ["only %s: %r x%d" % (a, k, n) for k, n in sorted((ma - mb).items())]
        out += ["only %s: %r x%d" % (b, k, n) for k, n in sorted((mb - ma).items())]
        if lat_tolerance_us is not None:
            pool = collections.defaultdict(list)
            for e in self.events[b]:
                pool[self.parser.key(e)].append(e["lat_us"])
            for e in self.events[a]:
                cands = pool.get(self.parser.key(e))
                if not cands:
                    continue
                best = min(cands, key=lambda v: abs(v - e["lat_us"]))
                cands.remove(best)
                tol = max(lat_tolerance_us, lat_tolerance_rel * e["lat_us"])
                if abs(best - e["lat_us"]) > tol:
                    out.append("latency of %r: %s %dus vs %s %dus (tolerance %dus)"
                               % (self.parser.key(e), a, e["lat_us"], b, best, tol))
        return out

    def missing_workload_opens(self, tool):
        """opensnoop: the workload's own opens that ``tool`` did not report exactly."""
        wl = self.workload
        have = self.multiset(tool)
        miss = []
        for o in wl["opens"]:
            k = (wl["pid"], wl["comm"], o["fd"], o["err"], o["path"])
            if not have.get(k):
                miss.append(k)
        for c in wl["children"]:
            if not any(k[0] == c["pid"] and k[1] == c["comm"] for k in have):
                miss.append((c["pid"], c["comm"], "any open"))
        return miss

    def report(self):
        lines = ["%s comparison over %.1f s; workload pid %d (%s), children %s"
                 % (self.parser.name, self.seconds, self.workload["pid"],
                    self.workload["comm"], [c["pid"] for c in self.workload["children"]])]
        for t in self.events:
            lines.append("  %-10s header after %s, %d workload events (%d in all), exit %s"
                         % (t, "%.1f s" % self.header_seconds[t]
                            if self.header_seconds[t] is not None else "NEVER",
                            len(self.events[t]), len(self.all_events[t]),
                            self.returncodes[t]))
        return "\n".join(lines)


class HeaderTimeout(RuntimeError):
    """A tool did not print its header in time (``exited``: those that had exited)."""

    def __init__(self, msg, exited=()):
        super().__init__(msg)
        self.exited = list(exited)


def compare(tools, parser="opensnoop", workload_argv=None, header_timeout=400, settle=3.0,
            env=None, optional=(), ready=2.0):
    """Run ``tools`` ({name: argv}) side by side over the workload; return a
    :class:`Comparison`.  Raises RuntimeError (with each tool's output) when a tool does
    not print its header within ``header_timeout`` seconds, unless its name is in
    ``optional`` (then it is stopped and reports no events; header_seconds is None).
    ``{pid}`` in a tool's argv: the workload's pid (it is started first, ``--armed``, and
    released ``ready`` seconds after the last header)."""
    parser = PARSERS[parser] if isinstance(parser, str) else parser
    t0 = time.monotonic()
    running = []
    wl_proc = None
    fd, out = tempfile.mkstemp(prefix="bcc-compare-", suffix=".json", dir="/tmp")
    os.close(fd)
    wl = list(workload_argv or [sys.executable, os.path.abspath(__file__), "workload"])
    try:
        wl_proc = subprocess.Popen(wl + [out, "--armed"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        if wl_proc.stdout.readline().strip() != "armed":    # start-up done: no tool sees it
            raise RuntimeError("workload did not start: %s" % wl_proc.communicate()[1])
        tools = {name: [a.replace("{pid}", str(wl_proc.pid)) for a in argv]
                 for name, argv in tools.items()}
        for name, argv in tools.items():
            running.append(Tool(name, argv, parser, env))
        deadline = time.monotonic() + header_timeout
        for t in running:
            t.header_seen.wait(max(0, deadline - time.monotonic()))
        late = [t for t in running if t.header_at is None and t.name not in optional]
        for t in running:
            if t.header_at is None and t.name in optional:
                t.stop()
        if late:
            exited = [t.name for t in late if t.proc.poll() is not None]
            for t in running:
                t.stop()
            raise HeaderTimeout("no header line from %s within %d s:\n%s" % (
                ", ".join(t.name for t in late), header_timeout,
                "\n".join(t.tail() for t in late)), exited)
        time.sleep(ready)
        _, err = wl_proc.communicate("go\n", timeout=300)
        rc = wl_proc.returncode
        if rc:
            raise RuntimeError("workload failed (%d): %s" % (rc, err))
        with open(out) as f:
            rec = json.load(f)
        time.sleep(settle)           # let the tools drain their buffers
    finally:
        if wl_proc is not None and wl_proc.poll() is None:
            wl_proc.kill()
            wl_proc.wait()
        for t in running:
            t.stop()
        if os.path.exists(out):
            os.unlink(out)
    return Comparison(parser, running, rec, time.monotonic() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", help="opensnoop | runqslower | one of BCC's tools over the "
                    "tools workload (%s) | a workload (%s)" % (
                        ", ".join(t for t in TABLES if t not in PARSERS),
                        ", ".join(WORKLOADS)))
    ap.add_argument("out", nargs="?", help="workload: where to write its JSON record")
    ap.add_argument("--armed", action="store_true",
                    help="workload: wait for a line on stdin before starting")
    ap.add_argument("--tool", action="append", default=[], metavar="NAME=CMDLINE")
    ap.add_argument("--header-timeout", type=float, default=400)
    ap.add_argument("--lat-tolerance-us", type=int, default=None)
    a = ap.parse_args(argv)
    if a.what in WORKLOADS:
        prepare = getattr(WORKLOADS[a.what], "prepare", None)
        if prepare:
            prepare()
        if a.armed:
            print("armed", flush=True)      # the interpreter's own start is over
            sys.stdin.readline()
        print(json.dumps(WORKLOADS[a.what](a.out or "/dev/stdout")))
        return 0
    tools = {}
    for spec in a.tool:
        name, _, cmd = spec.partition("=")
        tools[name] = shlex.split(cmd)
    if len(tools) < 2:
        ap.error("give at least two --tool NAME=CMDLINE")
    if a.what in PARSERS:
        c = compare(tools, a.what, header_timeout=a.header_timeout)
    elif a.what in TABLES:      # e.g. execsnoop -P {pid}: the tools workload's rows
        c = compare(tools, TABLES[a.what], header_timeout=a.header_timeout,
                    workload_argv=[sys.executable, os.path.abspath(__file__), "tools"])
    else:
        ap.error("no parser for %r" % a.what)
    print(c.report())
    names = list(tools)
    bad = 0
    for other in names[1:]:
        d = c.diff(names[0], other, lat_tolerance_us=a.lat_tolerance_us)
        print("%s vs %s: %s" % (names[0], other, "agree" if not d else "%d differences"
                                % len(d)))
        for line in d:
            print("  " + line)
        bad += bool(d)
    if a.what == "opensnoop":
        for t in names:
            m = c.missing_workload_opens(t)
            if m:
                print("%s missed workload opens: %s" % (t, m))
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
