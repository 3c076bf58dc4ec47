"""Run BCC's own Python API test programs (``tests/python/`` of a BCC source tree, 0.26)
under BCC or under bcc-core (imports changed, nothing else) and tabulate the results.

    python3 tests/bcc_api.py --src BCC_SRC                  # bcc-core, every program
    python3 tests/bcc_api.py --src BCC_SRC --only test_array,test_lru -v
    /usr/bin/python3 tests/bcc_api.py --src BCC_SRC --bcc   # BCC itself (python3-bpfcc)
    python3 tests/bcc_api.py --src BCC_SRC --json out.json  # one record per test method

The programs are not part of this repository (they are BCC's): point ``--src`` at a BCC
checkout.  They are copied to a temporary directory; for bcc-core the lines that import
``bcc`` go through the sweep's :data:`tests.bcc_sweep.SED_EXPRS` (the same ``sed`` the
README gives users).  Each file runs as ``python3 FILE [ARGS]`` (through :data:`RUNNER`) in the copy, with
the arguments BCC's CMakeLists.txt gives it (the
programs import their ``utils.py`` and compile helper binaries beside themselves), with a
time limit; its unittest result is recorded per test: ``ok``, ``FAIL``, ``ERROR``,
``skip`` or ``xfail``, with the exception's last line.  A file that does not import or
that runs out of time counts as one ``<file>`` ``ERROR`` with the last line of its output.
Tests BCC marks ``@mayFail`` pass whatever happens: their logs say what did.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bcc_sweep import SED_EXPRS  # noqa: E402

TIMEOUT = 300
# Files CMakeLists.txt runs with "namespace" (a netns wrapper) need pyroute2; the rest
# "sudo".  These are the programs the table covers: every py_* test of BCC 0.26.
# test_tools_smoke/test_tools_memleak start BCC's installed tools (/usr/share/bcc/tools),
# whatever the import lines say: the tool sweep (tests/bcc_sweep.py) covers those.
NOT_API = ("test_tools_smoke", "test_tools_memleak")
WRAPPED = re.compile(r"COMMAND \$\{TEST_WRAPPER\} \w+ (\w+) \$\{CMAKE_CURRENT_SOURCE_DIR\}/"
                     r"(test_\w+)\.py([^)\n]*)\)")


def programs(tmp):
    """{file stem: (wrapper kind, extra argv)}: every test_*.py (a few are not in
    CMakeLists.txt: test_lru, test_flags, test_shared_table), with CMakeLists.txt's
    arguments where it gives some."""
    with open(os.path.join(tmp, "CMakeLists.txt")) as f:
        text = f.read()
    given = {m.group(2): (m.group(1), m.group(3).split()) for m in WRAPPED.finditer(text)}
    return {n[:-3]: given.get(n[:-3], ("sudo", [])) for n in os.listdir(tmp)
            if n.startswith("test_") and n.endswith(".py") and n[:-3] not in NOT_API}


def rewrite(path):
    """The user's change: the import lines, bcc -> bcc_core."""
    subprocess.run(["sed", "-E", "-i"] + sum((["-e", e] for e in SED_EXPRS), []) + [path],
                   check=True)


def prepare(src, core):
    tmp = tempfile.mkdtemp(prefix="bcc-api-")
    shutil.copytree(os.path.join(src, "tests", "python"), tmp, dirs_exist_ok=True)
    if core:
        for name in os.listdir(tmp):
            if name.endswith(".py"):
                rewrite(os.path.join(tmp, name))
    return tmp


# Started as `python3 -c RUNNER FILE ARGS -v`: the program runs as __main__ with its own
# argv, and its unittest.main() records each test's verdict into $BCC_API_RESULT (JSON).
RUNNER = r"""
import json, os, runpy, sys, traceback, unittest
out = {}
def why(err):
    lines = traceback.format_exception_only(err[0], err[1])
    return (lines[-1].strip() if lines else "")[:300]
class Recording(unittest.TextTestResult):
    def _put(self, test, verdict, reason=""):
        out[type(test).__name__ + "." + getattr(test, "_testMethodName", str(test))] = \
            [verdict, reason]
    def addSuccess(self, test):
        super().addSuccess(test); self._put(test, "ok")
    def addError(self, test, err):
        super().addError(test, err); self._put(test, "ERROR", why(err))
    def addFailure(self, test, err):
        super().addFailure(test, err); self._put(test, "FAIL", why(err))
    def addSkip(self, test, reason):
        super().addSkip(test, reason); self._put(test, "skip", reason)
    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err); self._put(test, "xfail", why(err))
    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test); self._put(test, "FAIL", "unexpected success")
def save():
    with open(os.environ["BCC_API_RESULT"], "w") as f:
        json.dump(out, f)
def main(*a, **kw):
    kw["testRunner"] = unittest.TextTestRunner(resultclass=Recording, verbosity=2)
    kw["exit"] = False
    try:
        unittest.TestProgram(*a, **kw)
    finally:
        save()
    sys.exit(0)
unittest.main = main
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    raise
except BaseException as e:
    out["<file>"] = ["ERROR", why((type(e), e))]
    save()
    raise
"""


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)


def netns_up(name):
    """BCC's tests/wrapper.sh "namespace" kind: a network namespace whose eth0
    (172.16.1.2/24) is one end of a veth pair, the other end (172.16.1.1/24) here.
    Returns the argv prefix that runs a command in it."""
    ns = "ba_" + name[5:-3][:8]       # veth names: 15 characters at most
    netns_down(ns)
    _ip("netns", "add", ns)
    _ip("link", "add", ns + ".in", "type", "veth", "peer", "name", ns + ".out")
    _ip("link", "set", ns + ".in", "netns", ns)
    _ip("netns", "exec", ns, "ip", "link", "set", ns + ".in", "name", "eth0")
    _ip("netns", "exec", ns, "ip", "addr", "add", "dev", "eth0", "172.16.1.2/24")
    _ip("netns", "exec", ns, "ip", "link", "set", "eth0", "up")
    _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
    if shutil.which("ethtool"):
        subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _ip("addr", "add", "dev", ns + ".out", "172.16.1.1/24")
    _ip("link", "set", ns + ".out", "up")
    return ns, ["ip", "netns", "exec", ns]


def netns_down(ns):
    _ip("netns", "delete", ns, check=False)      # the veth pair goes with it
    _ip("link", "delete", ns + ".out", check=False)


def run_file(tmp, name, python, timeout=TIMEOUT, args=(), kind="sudo"):
    """Run one program; ({Class.test: [verdict, reason]}, its output).  ``kind``
    "namespace" runs it in a network namespace as BCC's wrapper does."""
    result = os.path.join(tmp, name[:-3] + ".result.json")
    env = dict(os.environ, PYTHONUNBUFFERED="1", BCC_API_RESULT=result)
    ns, prefix = netns_up(name) if kind == "namespace" else (None, [])
    try:
        return _run(tmp, name, python, timeout, args, env, result, prefix)
    finally:
        if ns:
            netns_down(ns)


def _run(tmp, name, python, timeout, args, env, result, prefix):
    try:
        p = subprocess.run(prefix + [python, "-c", RUNNER, name] + list(args), cwd=tmp,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=timeout)
        text = p.stdout
    except subprocess.TimeoutExpired as e:
        text = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        text += "\nTIMEOUT after %ds" % timeout
    try:
        with open(result) as f:
            res = json.load(f)
    except (OSError, ValueError):
        last = [ln for ln in text.splitlines() if ln.strip()]
        res = {"<file>": ["ERROR", (last[-1] if last else "no output")[:300]]}
    return res, text


def table(bcc_paths, core_paths, host_paths=()):
    """Markdown: per program file, BCC's and bcc-core's ok/total (tests BCC skips or
    expects to fail count as passing when they do so under both), then every test whose
    verdicts differ.  Each argument is a list of --json files (later ones override)."""
    def load(paths):
        out = {}
        for p in paths:
            with open(p) as f:
                out.update(json.load(f))
        return out
    bcc, core, host = load(bcc_paths), load(core_paths), load(host_paths)
    good = ("ok", "skip", "xfail")
    files = sorted({k.split(":")[0] for k in set(bcc) | set(core)})
    cols = ["program", "tests", "BCC (6.1 guest)", "bcc-core (6.1 guest)"]
    if host:
        cols.append("bcc-core (6.18 host)")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    diffs = []
    for f in files:
        tests = sorted(k for k in set(bcc) | set(core) if k.split(":")[0] == f and
                       not k.endswith(":<file>"))
        tests = tests or sorted(k for k in set(bcc) | set(core) if k.split(":")[0] == f)
        row = [f, str(len(tests))]
        for res in (bcc, core) + ((host,) if host else ()):
            n = sum(1 for t in tests if res.get(t, res.get(f + ":<file>", ["-"]))[0] in good)
            row.append("%d/%d" % (n, len(tests)))
        lines.append("| " + " | ".join(row) + " |")
        for t in tests:
            b = bcc.get(t, bcc.get(f + ":<file>", ["-", ""]))
            c = core.get(t, core.get(f + ":<file>", ["-", ""]))
            if (b[0] in good) != (c[0] in good):
                diffs.append("| %s | %s | %s %s |" % (t.split(":", 1)[1], b[0], c[0],
                                                      c[1][:90].replace("|", "/")))
    out = "\n".join(lines)
    if diffs:
        out += ("\n\n| test | BCC | bcc-core |\n|---|---|---|\n" + "\n".join(diffs))
    return out


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--table"]:
        # --table BCC.json[,MORE.json] CORE.json[,...] [HOST.json[,...]]
        parts = [a.split(",") for a in sys.argv[2:]]
        print(table(*parts))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="a BCC source tree (0.26)")
    ap.add_argument("--bcc", action="store_true", help="run under BCC, not bcc-core")
    ap.add_argument("--only", help="comma-separated file names (without .py)")
    ap.add_argument("--json", help="write {test: [verdict, reason]} here")
    ap.add_argument("--logs", help="keep each file's output in this directory")
    ap.add_argument("--timeout", type=int, default=TIMEOUT)
    ap.add_argument("-v", action="store_true", help="print each test's verdict")
    a = ap.parse_args(argv)
    tmp = prepare(a.src, core=not a.bcc)
    progs = programs(tmp)
    names = sorted(n + ".py" for n in progs)
    if a.only:
        want = set(a.only.split(","))
        names = [n for n in names if n[:-3] in want]
    results = {}
    for name in names:
        kind, args = progs[name[:-3]]
        res, text = run_file(tmp, name, sys.executable, a.timeout, args, kind)
        if a.logs:
            os.makedirs(a.logs, exist_ok=True)
            with open(os.path.join(a.logs, name[:-3] + ".log"), "w") as f:
                f.write(text)
        for t, (v, why) in sorted(res.items()):
            results[name[:-3] + ":" + t] = [v, why]
            if a.v or v in ("FAIL", "ERROR"):
                print("%-60s %-5s %s" % (name[:-3] + ":" + t, v, why), flush=True)
    counts = {}
    for v, _ in results.values():
        counts[v] = counts.get(v, 0) + 1
    print("== %s: %s" % ("BCC" if a.bcc else "bcc-core",
                        ", ".join("%d %s" % (n, v) for v, n in sorted(counts.items()))))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
