"""BCC's own tools, run twice over one workload in the 6.1 guest: unmodified (Debian's
``/usr/sbin/<tool>-bpfcc``: /usr/bin/python3, python3-bpfcc, LLVM and the kernel's
headers) and with **only their import lines changed** (``tests/bcc_sweep.py``'s sed:
``from bcc`` -> ``from bcc_core``), so that ``BPF(text=...)`` goes through bcc-core's
translator, clang and CO-RE loader.  Their outputs must match.

The tools of :data:`CASES` start in waves of :data:`WAVE`, both implementations at once
(BCC compiles C for 30-50 s of CPU apiece under emulation, bcc-core translates and runs
clang for 15-25 s; all of it shares one emulated CPU), with the pid of the wave's
workload (``bcc_compare.tools_workload``, started first and armed) in the command lines
that take ``-p``.  Once every header is printed the workload does one known thing per
tool (opens, statfs, execs, kills, sync, mount, loopback TCP/UDP, SysV shm, a thread,
fd passing, a short-lived file, getppid x 1000).  Then every tool gets SIGINT.  A wave
that the guest's time budget would not cover is skipped saying so.

Per tool: the header line is identical; the rows of the workload (its pid and its
children's, ``bcc_compare.TableParser``) are the same multiset once the columns that are
timestamps or latencies are left out; the workload's own record (fds, errnos, ports,
ids, exit codes) is found in both; syscount's count of getppid() is exact in both.

    python tests/guest.py -- "$(python -c 'import sys; print(sys.executable)')" \
        tests/guest_tests/test_guest_bcc_tools.py --no-bcc [--tools a,b]
        # bcc-core's side alone, no assertions: what each converted tool prints (the
        # interpreter must have bcc-core installed: the guest's PATH has Debian's)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

if __name__ == "__main__":      # run as a script: the paths pytest's conftest gives
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
import guestlib  # noqa: E402
import bcc_compare  # noqa: E402
from bcc_compare import TABLES, Tool  # noqa: E402

pytestmark = guestlib.only_in_guest
GUEST_COST = "bcc-tools"    # guestlib runs this module last: a dozen BCC compiles

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
SBIN = "/usr/sbin"
BCC_WAIT = 1200             # seconds for every header (all tools compile at once)
SETTLE = 15.0               # seconds from the workload's end to the tools' SIGINT

# tool -> its arguments ({pid}: the workload's pid); the ones without -p trace every
# process and the comparison keeps the rows of the workload and its children
CASES = {
    "execsnoop": ["-P", "{pid}"],
    "exitsnoop": [],              # -p: that pid's own exit only, not its children's
    "killsnoop": ["-p", "{pid}"],
    "mountsnoop": [],
    "shmsnoop": ["-p", "{pid}"],
    "syscount": ["-p", "{pid}"],
    "tcpconnect": ["-p", "{pid}"],
    "tcplife": ["-p", "{pid}"],
    "bindsnoop": ["-p", "{pid}"],
    "threadsnoop": [],
    "opensnoop": ["-p", "{pid}"],
    "capable": ["-p", "{pid}"],
    # only with BCC_CORE_GUEST_BCC_TOOLS=all: each pair costs 50-65 s of emulated CPU
    # (BCC 30-50 s, bcc-core's translate + clang 15-25 s)
    "statsnoop": ["-p", "{pid}"],
    "tcpaccept": ["-p", "{pid}"],
    "tcpconnlat": ["-p", "{pid}"],
    "solisten": ["-p", "{pid}"],
    "syncsnoop": [],
    "filelife": ["-p", "{pid}"],
}
WAVE = 4        # pairs started together; the waves run one after the other
# run by default: one wave (about 4 minutes under TCG).  opensnoop and syscount (and
# softirqs, hardirqs, runqlat, bitesize, tcpstates) are compared with their
# imports-changed copies in test_guest_bcc.py and test_guest_migrated.py, which share
# the BCC start those modules make anyway.  BCC_CORE_GUEST_BCC_TOOLS=more adds a second
# wave (killsnoop, mountsnoop, bindsnoop, shmsnoop); =all runs every tool of CASES.
DEFAULT = ("execsnoop", "exitsnoop", "tcplife", "capable")
MORE = DEFAULT + ("killsnoop", "mountsnoop", "bindsnoop", "shmsnoop")
# Not compared: sofdsnoop (BCC 0.26's own C does not compile against 6.1's headers:
# min() in linux/minmax.h is a BUILD_BUG_ON there), and the tools that need what the
# workload cannot give deterministically (biosnoop, cachestat, vfsstat...).


def selected():
    """$BCC_CORE_GUEST_BCC_TOOLS: "0" none, "more" :data:`MORE`, "all" every tool of
    CASES, or a comma-separated list; default :data:`DEFAULT` (set it on the host:
    tests/guest.py exports BCC_CORE_GUEST_* into the guest)."""
    sel = os.environ.get("BCC_CORE_GUEST_BCC_TOOLS", "")
    if sel == "0":
        return []
    if sel == "all":
        return list(CASES)
    if sel == "more":
        return list(MORE)
    if sel:
        return [t for t in sel.split(",") if t in CASES]
    return list(DEFAULT)


# syscount prints its table on Ctrl-C: its "header" is the line it prints at start
START_LINE = {"syscount": re.compile(r"^Tracing syscalls")}


class _Start(bcc_compare.Parser):
    """What Tool waits for: the table's header, or START_LINE."""

    def __init__(self, tool):
        self.header = START_LINE.get(tool) or TABLES[tool].header


# -- what the workload must show in each tool ---------------------------------------------

def expected(tool, rec):
    """[(description, predicate over a TableParser row)]: each must match a row."""
    pid, comm = str(rec["pid"]), rec["comm"]
    tcp = rec["tcp"]
    lo = "127.0.0.1"

    def eq(what, **want):
        want = {k: str(v) for k, v in want.items()}
        return ("%s %r" % (what, want), lambda ev: all(ev[k] == v for k, v in want.items()))
    if tool == "opensnoop":
        return [eq("open", PID=pid, COMM=comm, FD=o["fd"], ERR=o["err"], PATH=o["path"])
                for o in rec["opens"]]
    if tool == "statsnoop":
        # BCC 0.26's statsnoop reads the path from the wrong register on kernels with
        # syscall wrappers (stat_entry() is not a syscall__ function): PATH is empty
        # there, in BCC's output and so in bcc-core's
        return [eq("statfs", PID=pid, COMM=comm, FD=s["ret"], ERR=s["err"])
                for s in rec["stats"]]
    if tool == "execsnoop":
        return [eq("exec", PCOMM=c["comm"], PID=c["pid"], PPID=pid, RET=0,
                   ARGS=" ".join(c["argv"])) for c in rec["children"]]
    if tool == "exitsnoop":
        def code(st):
            return "0" if st == 0 else "code %d" % st if st > 0 else \
                "signal %d (%s)" % (-st, {15: "TERM"}.get(-st, "?"))
        return [eq("exit", PCOMM=c["comm"], PID=c["pid"], PPID=pid, TID=c["pid"],
                   EXIT_CODE=code(c["status"])) for c in rec["children"]]
    if tool == "killsnoop":
        return [eq("kill", PID=pid, COMM=comm, SIG=k["sig"], TPID=k["tpid"],
                   RESULT=k["ret"]) for k in rec["kills"]]
    if tool == "syncsnoop":
        return [("sync()", lambda ev: ev["CALL"] == "sync()")]
    if tool == "mountsnoop":
        m, u = rec["mount"], rec["umount"]
        return [("mount of %s" % m["target"], lambda ev: ev["PID"] == pid and
                 ev["TID"] == pid and ev["COMM"] == comm and ev["CALL"].startswith(
                     'mount("%s", "%s", "%s", ' % (m["source"], m["target"], m["fstype"]))
                 and ev["CALL"].endswith(" = 0")),
                ("umount of %s" % u["target"], lambda ev: ev["PID"] == pid and
                 ev["CALL"].startswith('umount("%s", ' % u["target"]) and
                 ev["CALL"].endswith(" = 0"))]
    if tool == "tcpconnect":
        return [eq("connect", PID=pid, COMM=comm[:12], IP=4, SADDR=lo, DADDR=lo,
                   DPORT=tcp["port"])]
    if tool == "tcpaccept":
        return [eq("accept", PID=pid, COMM=comm[:12], IP=4, RADDR=lo, RPORT=tcp["cport"],
                   LADDR=lo, LPORT=tcp["port"])]
    if tool == "tcpconnlat":
        return [eq("connect", PID=pid, COMM=comm[:12], IP=4, SADDR=lo, DADDR=lo,
                   DPORT=tcp["port"])]
    if tool == "tcplife":
        sent, back = tcp["sent"] // 1024, tcp["back"] // 1024
        return [eq("client", PID=pid, LADDR=lo, LPORT=tcp["cport"], RADDR=lo,
                   RPORT=tcp["port"], TX_KB=sent, RX_KB=back),
                eq("server", PID=pid, LADDR=lo, LPORT=tcp["port"], RADDR=lo,
                   RPORT=tcp["cport"], TX_KB=back, RX_KB=sent)]
    if tool == "bindsnoop":
        return [eq("tcp bind", PID=pid, PROT="TCP", ADDR=lo, PORT=tcp["port"]),
                eq("udp bind", PID=pid, PROT="UDP", ADDR=lo, PORT=rec["udp_port"])]
    if tool == "solisten":
        return [eq("listen", PID=pid, PROTO="TCPv4", BACKLOG=tcp["backlog"],
                   PORT=tcp["port"], ADDR=lo)]
    if tool == "capable":
        return [eq("mount's capability", PID=pid, COMM=comm, CAP=21, NAME="CAP_SYS_ADMIN")]
    if tool == "shmsnoop":
        shm = rec["shm"]
        return [eq("shmget", PID=pid, SYS="SHMGET", RET="%x" % shm["id"]),
                eq("shmat", PID=pid, SYS="SHMAT", RET="%x" % shm["addr"]),
                eq("shmdt", PID=pid, SYS="SHMDT", RET=0),
                eq("shmctl", PID=pid, SYS="SHMCTL", RET=0)]
    if tool == "threadsnoop":
        return [("pthread_create by pid %s" % pid, lambda ev: ev["PID"] == pid and
                 ev["FUNC"] != "")]
    if tool == "filelife":
        return [eq("file", PID=pid, COMM=comm, FILE=rec["filelife"])]
    raise KeyError(tool)


# -- the run ------------------------------------------------------------------------------

def run_tools(tools, env, core_env, with_bcc=True, wait=BCC_WAIT, log=print):
    """Start ``tools`` (names of CASES) as BCC and as bcc-core, run the workload, stop
    them; returns {"rec", "procs": {(impl, tool): Tool}, "not_up": {tool: {impl: why}},
    "seconds"}."""
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bcc-core-tools-", dir="/tmp")
    scripts = {t: guestlib.imports_changed(t, tmp) for t in tools}
    out = os.path.join(tmp, "workload.json")
    wl = subprocess.Popen([sys.executable, os.path.join(TESTS, "bcc_compare.py"), "tools",
                           out, "--armed"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if wl.stdout.readline().strip() != "armed":
        raise RuntimeError("workload did not start: %s" % wl.communicate()[1])
    procs, not_up = {}, {}
    try:
        for t in tools:
            args = [a.replace("{pid}", str(wl.pid)) for a in CASES[t]]
            if with_bcc:
                procs[("bcc", t)] = Tool("%s-bpfcc" % t, [os.path.join(SBIN, t + "-bpfcc")]
                                         + args, _Start(t), env)
            procs[("bcc-core", t)] = Tool("bcc-core %s" % t, [sys.executable, scripts[t]]
                                          + args, _Start(t), core_env)
        for p in procs.values():
            p.header_seen.wait(max(0.0, t0 + wait - time.monotonic()))
        log("headers after %s (%.0f s since the start)" % (
            {p.name: None if p.header_at is None else round(p.header_at, 1)
             for p in procs.values()}, time.monotonic() - t0))
        for (impl, t), p in list(procs.items()):
            if p.header_at is None:
                why = "exited (%s) before its header" % p.proc.poll() \
                    if p.proc.poll() is not None else "no header within %.0f s" % wait
                not_up.setdefault(t, {})[impl] = why
                p.stop(timeout=10)
        time.sleep(2.0)           # BCC opens its perf buffers after printing the header
        _, err = wl.communicate("go\n", timeout=300)
        if wl.returncode:
            raise RuntimeError("workload failed (%d): %s" % (wl.returncode, err))
        # let the tools drain their buffers and print: bcc-core's threadsnoop resolves
        # a symbol in libpython for its event, ~12 s under emulation
        time.sleep(SETTLE if "threadsnoop" in tools else 3.0)
    finally:
        if wl.poll() is None:
            wl.kill()
            wl.wait()
        for p in procs.values():   # SIGINT all at once, then collect
            p.interrupt()
        for p in procs.values():
            p.wait()
    with open(out) as f:
        rec = json.load(f)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"rec": rec, "procs": procs, "not_up": not_up, "seconds": time.monotonic() - t0}


def run_waves(tools, with_bcc=True, wait=BCC_WAIT, left=None, log=print):
    """:func:`run_tools` for ``tools`` in waves of :data:`WAVE` pairs, each over its own
    workload (a slow machine then still compares the first waves).  ``left()``: seconds
    left for the rest (None: no limit); a wave that would not fit, at the cost per pair
    the waves before it took, is not started.  Returns {"procs", "not_up", "recs":
    {tool: the workload record its rows are checked against}, "skipped": {tool: why},
    "waves": [(tools, seconds)]}."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    core_env = guestlib.text_env(env)
    res = {"procs": {}, "not_up": {}, "recs": {}, "skipped": {}, "waves": []}
    per_pair = 0.0
    for i in range(0, len(tools), WAVE):
        wave = tools[i:i + WAVE]
        room = left() if left else None
        if room is not None and (room < per_pair * len(wave) or room < 60):
            for t in wave:
                res["skipped"][t] = (
                    "guest time budget: %.0f s left, the waves before took %.0f s per "
                    "pair of tools" % (room, per_pair))
            continue
        w = run_tools(wave, env, core_env, with_bcc, min(wait, room or wait), log)
        res["waves"].append((wave, w["seconds"]))
        per_pair = max(per_pair, w["seconds"] / len(wave))
        res["procs"].update(w["procs"])
        res["not_up"].update(w["not_up"])
        res["recs"].update({t: w["rec"] for t in wave})
    return res


def _missing():
    gone = [t for t in CASES if not os.path.exists(os.path.join(SBIN, t + "-bpfcc"))]
    if gone:
        return "BCC tools not installed: %s (apt-get install bpfcc-tools)" % gone
    if not os.path.exists("/usr/bin/clang-19") and not shutil.which("clang"):
        return "no clang in the guest (bcc-core's BPF(text=) compiles with it)"
    return None


@pytest.fixture(scope="module")
def run():
    why = _missing()
    if why:
        pytest.skip(why)
    tools = selected()
    if not tools:
        pytest.skip("BCC_CORE_GUEST_BCC_TOOLS=0")
    budgeted = bool(guestlib.BUDGET)
    r = run_waves(tools, wait=guestlib.wait_budget(BCC_WAIT, after=60),
                  left=(lambda: guestlib.wait_budget(BCC_WAIT, after=60)) if budgeted
                  else None)
    r["budgeted"] = budgeted
    guestlib.write_result("bcc_tools", {
        "workloads": r["recs"], "not_up": r["not_up"], "skipped": r["skipped"],
        "waves": r["waves"],
        "output": {"%s %s" % k: p.lines for k, p in r["procs"].items()},
        "header_seconds": {p.name: p.header_at for p in r["procs"].values()}})
    print("\nBCC's tools vs their imports-changed copies: waves %s" % r["waves"])
    return r


def _both(run, tool, n=40):
    return "\n".join(run["procs"][(i, tool)].tail(n) for i in ("bcc", "bcc-core")
                     if (i, tool) in run["procs"])


def _up(run, tool):
    """Fail (bcc-core did not start) or skip (not selected; BCC did not start within
    the guest's time budget, or the budget left no time for the tool's wave)."""
    if tool in run["skipped"]:
        pytest.skip(run["skipped"][tool])
    if ("bcc-core", tool) not in run["procs"]:
        pytest.skip("not selected (BCC_CORE_GUEST_BCC_TOOLS=%s)"
                    % os.environ.get("BCC_CORE_GUEST_BCC_TOOLS"))
    nu = run["not_up"].get(tool, {})
    if "bcc-core" in nu and "bcc" in nu and run["budgeted"] and \
            "exited" not in nu["bcc-core"] + nu["bcc"]:
        # neither started in the wait the budget left (BCC needs 30-50 s of CPU, bcc-core
        # 15-25 s, and the wave shares the guest's CPUs): the machine is too slow for it
        pytest.skip("guest time budget: neither %s started: %s (%.0f s since boot, budget "
                    "%.0f s): the emulated guest is too slow here for this test"
                    % (tool, nu["bcc-core"], guestlib.uptime(), guestlib.BUDGET))
    if "bcc-core" in nu:
        pytest.fail("bcc-core's %s %s:\n%s" % (tool, nu["bcc-core"], _both(run, tool)))
    if "bcc" in nu:
        if run["budgeted"] and "exited" not in nu["bcc"]:
            pytest.skip("guest time budget: %s-bpfcc: %s (%.0f s since boot, budget %.0f "
                        "s): the emulated guest is too slow here for this test"
                        % (tool, nu["bcc"], guestlib.uptime(), guestlib.BUDGET))
        pytest.fail("%s-bpfcc %s:\n%s" % (tool, nu["bcc"], _both(run, tool)))


def compare_table(run, tool):
    _up(run, tool)
    parser = TABLES[tool]
    rec = run["recs"][tool]
    pids = {rec["pid"]} | {c["pid"] for c in rec["children"]}
    lines = {i: run["procs"][(i, tool)].lines for i in ("bcc", "bcc-core")}
    head = {i: parser.header_line(lines[i]) for i in lines}
    assert head["bcc"] is not None, _both(run, tool)
    assert head["bcc-core"] == head["bcc"], _both(run, tool)
    rows = {i: parser.rows(lines[i], pids) for i in lines}
    for what, pred in expected(tool, rec):
        assert any(pred(ev) for ev in rows["bcc"]), \
            ("BCC's %s did not report the workload's %s" % (tool, what), _both(run, tool))
        assert any(pred(ev) for ev in rows["bcc-core"]), \
            ("bcc-core's %s did not report the workload's %s" % (tool, what),
             _both(run, tool))
    import collections
    ms = {i: collections.Counter(parser.key(ev) for ev in rows[i]) for i in rows}
    only_bcc, only_core = ms["bcc"] - ms["bcc-core"], ms["bcc-core"] - ms["bcc"]
    assert not only_bcc and not only_core, (
        "rows of the workload differ: only BCC %s, only bcc-core %s"
        % (sorted(only_bcc.items()), sorted(only_core.items())), _both(run, tool))
    return rows


# one test function per tool (tests/test_guest.py reports each function on the host);
# written out, not generated in a loop: the host finds them by parsing this file

def test_opensnoop_matches_bcc(run):
    compare_table(run, "opensnoop")


def test_statsnoop_matches_bcc(run):
    compare_table(run, "statsnoop")


def test_execsnoop_matches_bcc(run):
    compare_table(run, "execsnoop")


def test_exitsnoop_matches_bcc(run):
    compare_table(run, "exitsnoop")


def test_killsnoop_matches_bcc(run):
    compare_table(run, "killsnoop")


def test_syncsnoop_matches_bcc(run):
    rows = compare_table(run, "syncsnoop")
    n = {i: sum(ev["CALL"] == "sync()" for ev in rows[i]) for i in rows}
    assert n["bcc"] >= bcc_compare.N_SYNC and n["bcc-core"] == n["bcc"], \
        (n, _both(run, "syncsnoop"))


def test_mountsnoop_matches_bcc(run):
    compare_table(run, "mountsnoop")


def test_tcpconnect_matches_bcc(run):
    compare_table(run, "tcpconnect")


def test_tcpaccept_matches_bcc(run):
    compare_table(run, "tcpaccept")


def test_tcpconnlat_matches_bcc(run):
    compare_table(run, "tcpconnlat")


def test_tcplife_matches_bcc(run):
    compare_table(run, "tcplife")


def test_bindsnoop_matches_bcc(run):
    compare_table(run, "bindsnoop")


def test_solisten_matches_bcc(run):
    compare_table(run, "solisten")


def test_capable_matches_bcc(run):
    compare_table(run, "capable")


def test_shmsnoop_matches_bcc(run):
    compare_table(run, "shmsnoop")


def test_threadsnoop_matches_bcc(run):
    compare_table(run, "threadsnoop")


def test_filelife_matches_bcc(run):
    compare_table(run, "filelife")


def _counts(lines, after):
    """syscount's ``NAME  COUNT`` rows after its header line (``after``)."""
    out, on = {}, False
    for line in lines:
        if line.startswith(after):
            on = True
            continue
        m = re.match(r"^(\S+)\s+(\d+)\s*$", line)
        if on and m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def test_syscount_matches_bcc(run):
    _up(run, "syscount")
    got = {i: _counts(run["procs"][(i, "syscount")].lines, "SYSCALL")
           for i in ("bcc", "bcc-core")}
    assert got["bcc"].get("getppid") == bcc_compare.N_GETPPID, _both(run, "syscount")
    assert got["bcc-core"].get("getppid") == bcc_compare.N_GETPPID, _both(run, "syscount")
    a, b = got["bcc"], got["bcc-core"]
    assert {k: b[k] for k in a if k in b} == {k: a[k] for k in a if k in b}, \
        _both(run, "syscount")


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="run the tools outside pytest and print "
                                 "their output (in the guest)")
    ap.add_argument("--no-bcc", action="store_true", help="bcc-core's side only")
    ap.add_argument("--tools", help="comma-separated (default: all of CASES)")
    ap.add_argument("--wait", type=float, default=BCC_WAIT)
    a = ap.parse_args(argv)
    tools = a.tools.split(",") if a.tools else list(CASES)
    r = run_waves(tools, with_bcc=not a.no_bcc, wait=a.wait,
                  log=lambda s: print(s, flush=True))
    print("waves: %s" % r["waves"])
    print("not up: %s" % r["not_up"])
    for (impl, t), p in sorted(r["procs"].items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(p.tail(60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
