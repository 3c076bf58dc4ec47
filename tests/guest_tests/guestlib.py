"""Shared by the tests that run inside the guest (tests/guest_tests): detect the guest,
read the manifest tests/test_guest.py wrote before booting (host-built BPF objects and
host-side CO-RE results), and write results back to the shared directory in /tmp.

It is also the guest session's pytest plugin (``-p guestlib``): it orders the cheap tests
before the ones that start BCC (which compiles C for tens of seconds under emulation),
prints each test's start and duration against the guest's clock, and keeps the session
inside its time budget ($BCC_CORE_GUEST_BUDGET seconds since the guest booted, set by the
host so that the guest always finishes and reports): a test that cannot start within
the budget is skipped saying so, and one that is still running when the budget ends is
interrupted with its traceback."""
import json
import os
import signal
import sys

import pytest

GUEST_RELEASE_PREFIX = os.environ.get("BCC_CORE_GUEST_RELEASE", "6.1.")
WORKDIR = os.environ.get("BCC_CORE_GUEST_DIR", "")
MANIFEST = os.path.join(WORKDIR, "manifest.json") if WORKDIR else ""


def in_guest():
    return os.uname().release.startswith(GUEST_RELEASE_PREFIX) and bool(MANIFEST) and \
        os.path.exists(MANIFEST)


def _why_not():
    rel = os.uname().release
    if not rel.startswith(GUEST_RELEASE_PREFIX):
        return ("runs only inside the %s* guest kernel booted by tests/test_guest.py "
                "(this kernel is %s)" % (GUEST_RELEASE_PREFIX, rel))
    return ("no manifest from tests/test_guest.py (BCC_CORE_GUEST_DIR=%r): run these "
            "through `pytest -m guest tests/test_guest.py`" % WORKDIR)


# every module here: `pytestmark = guestlib.only_in_guest`
only_in_guest = [pytest.mark.guest,
                 pytest.mark.skipif(not in_guest(), reason=_why_not() if not in_guest()
                                    else "")]


def manifest():
    with open(MANIFEST) as f:
        return json.load(f)


def obj_path(name):
    """Path of the host-built object tests/progs/<name>.bpf.c."""
    m = manifest()
    p = m["objects"].get(name)
    if p is None:
        pytest.fail("object %s was not built on the host: %s" % (
            name, m.get("build_errors", {}).get(name, "not in the manifest")))
    return p


def write_result(name, data):
    """Leave a JSON result for the host side (printed in the session summary)."""
    with open(os.path.join(WORKDIR, "result-%s.json" % name), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)


# -- fixtures (imported by the test modules: no conftest.py here, its module name would
# -- shadow tests/conftest.py's on sys.path)


@pytest.fixture
def guest_obj():
    """guest_obj("guest_kprobe") -> path of the host-built object (in the guest only)."""
    return obj_path


@pytest.fixture
def open_paths():
    """open_paths(paths) opens each path read-only from this thread, closes the fds after
    all opens (so every successful open gets a distinct fd) and returns what user space
    got: the fd, or -errno."""
    def run(paths, flags=os.O_RDONLY):
        got, fds = [], []
        try:
            for p in paths:
                try:
                    fd = os.open(p, flags)
                except OSError as e:
                    got.append(-e.errno)
                else:
                    fds.append(fd)
                    got.append(fd)
        finally:
            for fd in fds:
                os.close(fd)
        return got
    return run


# -- BCC's own tools with only their imports changed ----------------------------------------

SBIN = "/usr/sbin"
_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(_TESTS)
_text_cache = {}


def imports_changed(tool, tmpdir):
    """Debian's ``/usr/sbin/<tool>-bpfcc`` copied to ``tmpdir/<tool>`` through the sweep's
    sed (tests/bcc_sweep.py: only ``from bcc``/``import bcc`` lines change, asserted);
    returns the copy's path.  Run it with :func:`text_env`'s environment."""
    sys.path.insert(0, _TESTS)
    try:
        from bcc_sweep import convert
    finally:
        sys.path.pop(0)
    dst = os.path.join(tmpdir, tool)
    convert(os.path.join(SBIN, tool + "-bpfcc"), dst)
    return dst


def text_env(env=None):
    """The environment of an imports-changed BCC script in the guest: bcc-core from the
    repo, and one object cache for the session (in guest memory, /run) whose vmlinux.h
    and kernel BTF index are made once, before the first tool starts (each tool would
    otherwise make them itself, all at the same time).  Its BPF(text=) translates and
    runs clang *in the guest*: nothing is built on the host."""
    import subprocess
    import tempfile
    import time
    if "dir" not in _text_cache:
        base = "/run" if os.access("/run", os.W_OK) else "/tmp"
        d = tempfile.mkdtemp(prefix="bcc-core-text-cache-", dir=base)
        e = dict(os.environ, PYTHONPATH=REPO, BCC_CORE_CACHE=d)
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "from bcc_core.compat import build\n"
                        "from bcc_core import btf\nbuild.include_dir()\nbtf.kernel_btf()\n"],
                       env=e, check=True)
        print("\n[guest] bcc-core's text cache (vmlinux.h, BTF index) made in %.1f s"
              % (time.monotonic() - t0))
        _text_cache["dir"] = d
    out = dict(env if env is not None else os.environ)
    out.update(PYTHONUNBUFFERED="1", PYTHONPATH=REPO, BCC_CORE_CACHE=_text_cache["dir"])
    return out


# -- time budget and the session plugin ----------------------------------------------------

BUDGET = float(os.environ.get("BCC_CORE_GUEST_BUDGET", "0") or 0)   # 0: no budget
RESERVE = 20.0          # seconds kept for stopping tools and writing results


def uptime():
    """Seconds since the guest booted (the budget's clock)."""
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def remaining():
    """Seconds left in the budget (a large number when there is none)."""
    return BUDGET - uptime() if BUDGET else 1e9


def wait_budget(wanted, after=60):
    """How long a test may wait for a slow start (BCC compiling): ``wanted`` seconds, or
    less when the budget says so, keeping ``after`` seconds for what the test does once
    the wait is over (at the same slowness)."""
    return max(0.0, min(wanted, remaining() - RESERVE - after))


def skip_for_budget(what, waited):
    """Skip (not fail) when ``what`` did not finish because the session ran out of time:
    the emulated guest is slower on this machine than the budget allows."""
    pytest.skip("guest time budget: %s did not finish within %.0f s (%.0f s since boot, "
                "budget %.0f s): the emulated guest is too slow here for this test"
                % (what, waited, uptime(), BUDGET))


class BudgetExceeded(Exception):
    pass


def _alarm(signum, frame):
    raise BudgetExceeded("the guest session's time budget (%.0f s since boot) ran out "
                         "during this test" % BUDGET)


def pytest_collection_modifyitems(session, config, items):
    """Cheap tests first; then modules that start one BCC tool (``GUEST_COST = "bcc"``);
    then the one that starts three to six at once (``"bcc-many"``); last BCC's own tools beside
    their imports-changed copies (``"bcc-tools"``, a dozen BCC compiles), which takes
    what is left of the budget (BCC compiles for 40-170 s of CPU per tool, depending
    on the machine)."""
    rank = {"bcc": 1, "bcc-many": 2, "bcc-tools": 3}
    items.sort(key=lambda it: rank.get(getattr(it.module, "GUEST_COST", ""), 0))


def pytest_runtest_setup(item):
    if BUDGET and in_guest():
        left = remaining()
        if left < RESERVE + 5:
            pytest.skip("guest time budget: %.0f s since boot, budget %.0f s: no time "
                        "left for this test" % (uptime(), BUDGET))
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(max(1, int(left - RESERVE / 2)))


def pytest_runtest_teardown(item):
    signal.alarm(0)


def pytest_runtest_logstart(nodeid, location):
    if in_guest():
        _say("[guest %6.1f s] start %s" % (uptime(), nodeid))


def pytest_runtest_logreport(report):
    if in_guest() and (report.when == "call" or report.outcome != "passed"):
        _say("[guest %6.1f s] %s %s: %s in %.1f s" % (
            uptime(), report.nodeid, report.when, report.outcome, report.duration))


def _say(text):
    sys.__stdout__.write("\n" + text + "\n")
    sys.__stdout__.flush()
