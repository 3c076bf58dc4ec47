"""Kernel matrix: what this host cannot run (kprobes, fentry/fexit, real BCC) runs in a
qemu guest booted with Debian's 6.1 kernel (tests/guest.py, virtme-ng, no KVM).

One boot per pytest session: the BPF objects for tests/guest_tests are compiled here
(tests/progs/guest_*.bpf.c), the host's CO-RE decisions for them are recorded, both go
to a manifest in /tmp, and pytest runs tests/guest_tests inside the guest with this
interpreter.  Each guest test then shows up here as ``test_in_guest[<file>::<test>]`` with
the guest's outcome (passed / failed with the guest's report / skipped with its reason).
When the guest cannot boot (no virtme-ng, qemu or kernel image) they are skipped with
the reason, never passed.

    python -m pytest -m guest tests/test_guest.py -s

The tests without the ``guest`` mark check on the host that the same objects fail here
with a clear NotSupportedError (this host has neither kprobes nor trampolines).
"""
import ast
import collections
import glob
import json
import os
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import guest
from conftest import PROGS, build_bpf, need_root
from bcc_core.attach.auto import attach_auto
from bcc_core.errors import NotSupportedError
from bcc_core.load import features
from bcc_core.load.loader import Object

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_TESTS = os.path.join(HERE, "guest_tests")
# The guest's wall-clock cap.  The guest session gets a budget a minute shorter, so it
# always finishes and reports: a test that would not fit is skipped saying so (TCG speed
# differs between machines; each guest test prints its start and duration).
GUEST_TIMEOUT = int(os.environ.get("BCC_CORE_GUEST_TIMEOUT", "1200"))   # 20 min cap
GUEST_BUDGET = GUEST_TIMEOUT - 60
# BCC_CORE_GUEST_TESTS=test_guest_compat.py,test_guest_core.py runs only those files
CORE_FIELDS = ("tgid", "pid", "real_parent", "comm")
# the variants tests/guest_tests/test_guest_migrated.py runs (tool, cflags)
MIGRATED_VARIANTS = [("syscount", []), ("softirqs", ["-DEVENTS"]), ("hardirqs", ["-DCOUNT"]),
                     ("runqlat", ["-DSTATE_FIELD=__state"]), ("bitesize", []),
                     ("tcpstates", [])]


def _guest_cases():
    """file::function for every test function in tests/guest_tests (parsed, not imported:
    the list must not depend on the machine)."""
    out = []
    for path in sorted(glob.glob(os.path.join(GUEST_TESTS, "test_*.py"))):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                out.append("%s::%s" % (os.path.basename(path), node.name))
    return out


GUEST_CASES = _guest_cases()


def core_offsets(obj):
    """{field: target byte offset} of the task_struct fields guest_core.bpf.c reads."""
    out = {}
    for d in obj.core_decisions:
        spec = str(d.spec)
        for f in CORE_FIELDS:
            if spec.endswith("task_struct." + f) and d.kind_name == "byte_off":
                out[f] = d.target_value
    return out


def _read_core(path):
    """Load guest_core on this kernel, trigger it, return (offsets, values)."""
    with Object(path, rodata={"target_tgid": os.getpid()}) as o:
        with attach_auto(o.program("on_getppid")):
            os.getppid()
        vals = {k: o.bss[k] for k in ("hits", "core_tgid", "core_pid", "core_ppid",
                                      "helper_pid_tgid")}
        vals["core_comm"] = o.bss["core_comm"].split(b"\0", 1)[0].decode()
        return core_offsets(o), vals


def _junit_results(path):
    """{file::function: (outcome, message)} from the guest's junit xml; parametrized
    cases fold into their function (any failure wins, then any pass)."""
    res = {}
    rank = {"failed": 3, "error": 3, "passed": 2, "skipped": 1}
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        mod = tc.get("classname", "").split(".")[-1]
        name = tc.get("name", "").split("[", 1)[0]
        key = "%s.py::%s" % (mod, name)
        outcome, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                msg = (child.get("message") or "") + "\n" + (child.text or "")
                break
            if child.tag == "skipped":
                outcome, msg = "skipped", child.get("message") or ""
        prev = res.get(key)
        if prev is None or rank[outcome] > rank[prev[0]]:
            res[key] = (outcome, msg.strip())
    return res


_TIMING = re.compile(r"^\[guest +([\d.]+) s\] (?:start (\S+)|(\S+) (setup|call|teardown): "
                     r"(\w+) in)")


def _timing_results(output):
    """{file::function: (outcome, message)} from the guest's timing lines (guestlib),
    for when the session never wrote its junit file (the guest timed out): what ended
    keeps its outcome, the test that started and never ended is reported as such."""
    res, started = {}, {}
    for line in output.splitlines():
        m = _TIMING.match(line)
        if not m:
            continue
        node = m.group(2) or m.group(3)
        key = node.split("/")[-1].split("[", 1)[0]
        if m.group(2):
            started[key] = float(m.group(1))
            continue
        started.pop(key, None)
        outcome = {"passed": "passed", "skipped": "skipped"}.get(m.group(5), "failed")
        if res.get(key, ("passed",))[0] == "passed" or outcome == "failed":
            res[key] = (outcome, "(from the guest's timing lines: no junit report)")
    for key, t in started.items():
        res[key] = ("failed", "started %.0f s after the guest booted and never finished: "
                    "the guest timed out or stopped responding (see console.log)" % t)
    return res


class GuestRun:
    def __init__(self, result, junit, manifest):
        self.result, self.manifest = result, manifest
        self.results = _junit_results(junit) if os.path.exists(junit) else \
            _timing_results(result.output)
        self.extra = {}
        for p in glob.glob(os.path.join(result.workdir, "result-*.json")):
            with open(p) as f:
                self.extra[os.path.basename(p)[7:-5]] = json.load(f)

    def summary(self):
        r = self.result
        n = collections.Counter(v[0] for v in self.results.values())
        lines = ["guest kernel matrix: %s in %.1f s (boot + tests), %s; logs in %s"
                 % ("ran" if r.returncode is not None else "FAILED", r.seconds,
                    ", ".join("%d %s" % (c, k) for k, c in sorted(n.items())) or "no results",
                    r.workdir)]
        core = self.extra.get("core")
        if core:
            lines.append("  CO-RE task_struct offsets: host %s %s, guest %s %s"
                         % (core.get("host_release"), core.get("host_offsets"),
                            core.get("guest_release"), core.get("guest_offsets")))
        osn = self.extra.get("opensnoop")
        if osn:
            lines += ["  " + l for l in osn["report"].splitlines()]
        return "\n".join(lines)


def _say(request, text):
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print("\n" + text, flush=True)
    else:
        print(text)


@pytest.fixture(scope="session")
def guest_run(request):
    why = guest.unavailable_reason()
    if why:
        pytest.skip("guest kernel matrix: %s" % why)
    t0 = time.monotonic()
    workdir = guest.make_workdir()
    objects, errors = {}, {}
    for src in sorted(glob.glob(os.path.join(PROGS, "guest_*.bpf.c"))):
        name = os.path.basename(src)[:-len(".bpf.c")]
        try:
            objects[name] = build_bpf(name)
        except Exception as e:      # reported by the guest test that needs it
            errors[name] = "%s: %s" % (type(e).__name__, e)
    try:   # BCC's tools migrated to bcc-core (examples/migrated), built here once
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples", "migrated"))
        from _migrated import bpf_object, prebuilt_key
        index = {prebuilt_key(t, f): bpf_object(t, f) for t, f in MIGRATED_VARIANTS}
        objects["migrated_index"] = os.path.join(workdir, "migrated-index.json")
        with open(objects["migrated_index"], "w") as f:
            json.dump(index, f, indent=1)
    except Exception as e:
        errors["migrated_index"] = "%s: %s" % (type(e).__name__, e)
    finally:
        sys.path.pop(0)
    for name in ("kprobes", "kfuncs"):    # compat corpus programs the host cannot run
        try:
            from bcc_core.compat import build as cbuild
            out = os.path.join(workdir, "compat_%s.bpf.o" % name)
            cbuild.build(os.path.join(HERE, "compat", name + ".c"), out)
            objects["compat_" + name] = out
        except Exception as e:
            errors["compat_" + name] = "%s: %s" % (type(e).__name__, e)
    host = {"release": os.uname().release}
    try:
        host["core_offsets"], host["core_values"] = _read_core(objects["guest_core"])
    except Exception as e:
        host["core_error"] = "%s: %s" % (type(e).__name__, e)
    manifest = {"objects": objects, "build_errors": errors, "host": host}
    with open(os.path.join(workdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    junit = os.path.join(workdir, "junit.xml")
    build_s = time.monotonic() - t0
    _say(request, "guest kernel matrix: booting %s with %s (TCG, no KVM), objects built "
         "in %.1f s, workdir %s" % (guest.find_kernel(), guest.find_vng(), build_s, workdir))
    only = [os.path.join(GUEST_TESTS, f) for f in
            os.environ.get("BCC_CORE_GUEST_TESTS", "").split(",") if f]
    passed = {k: os.environ[k] for k in ("BCC_CORE_GUEST_RUNQSLOWER",) if k in os.environ}
    r = guest.run(guest.pytest_script(only, junit=junit, budget=GUEST_BUDGET),
                  workdir=workdir, timeout=GUEST_TIMEOUT, env=passed)
    run = GuestRun(r, junit, manifest)
    _say(request, run.summary())
    return run


@pytest.mark.guest
def test_guest_boots_and_runs_the_suite(guest_run):
    r = guest_run.result
    assert r.returncode is not None, r.describe()
    assert guest_run.results, "no junit results from the guest:\n" + r.describe()
    assert r.seconds < GUEST_TIMEOUT


@pytest.mark.guest
@pytest.mark.parametrize("case", GUEST_CASES)
def test_in_guest(guest_run, case):
    res = guest_run.results.get(case)
    only = os.environ.get("BCC_CORE_GUEST_TESTS")
    if res is None and only and case.split("::")[0] not in only.split(","):
        pytest.skip("not selected (BCC_CORE_GUEST_TESTS=%s)" % only)
    if res is None:
        pytest.fail("%s did not run in the guest\n%s" % (case, guest_run.result.describe()),
                    pytrace=False)
    outcome, msg = res
    if outcome == "skipped":
        pytest.skip("in the guest: %s" % msg)
    if outcome != "passed":
        pytest.fail("%s in the guest (%s):\n%s" % (outcome, guest_run.result.workdir, msg),
                    pytrace=False)


# -- host side: the same objects, on a host without kprobes and trampolines ---------------

def test_kprobe_object_fails_clearly_on_host():
    need_root()
    ok, _ = features.kprobes()
    if ok:
        pytest.skip("this host has kprobes (the guest covers them)")
    with Object(build_bpf("guest_kprobe"), rodata={"target_tgid": os.getpid()}) as o:
        for name, kind in (("kprobe_open", "kprobe"), ("kretprobe_open", "kretprobe")):
            with pytest.raises(NotSupportedError) as ei:
                attach_auto(o.program(name))
            msg = str(ei.value)
            assert "kprobes are not available" in msg and "do_sys_openat2" in msg, msg
            assert "%s '%s'" % (kind, "do_sys_openat2") in msg, msg
            assert "tracepoint" in msg          # says what to use instead


def test_fentry_object_fails_clearly_on_host():
    need_root()
    ok, _ = features.trampolines()
    if ok:
        pytest.skip("this host has BPF trampolines (the guest covers them)")
    with pytest.raises(NotSupportedError) as ei:
        Object(build_bpf("guest_fentry"), rodata={"target_tgid": os.getpid()})
    msg = str(ei.value)
    assert "trampolines" in msg and "fentry_open" in msg and "fentry/do_sys_openat2" in msg, msg
    assert "tracepoint" in msg


def test_core_object_reads_right_values_on_host():
    """The object the guest relocates differently: on the host, values are right too."""
    need_root()
    offs, vals = _read_core(build_bpf("guest_core"))
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    assert set(offs) == set(CORE_FIELDS), offs
    assert vals["hits"] >= 1
    assert vals["core_tgid"] == os.getpid() == vals["helper_pid_tgid"] >> 32
    assert vals["core_pid"] == threading.get_native_id()
    assert vals["core_ppid"] == os.getppid()
    assert vals["core_comm"] == comm


def test_guest_cases_are_found():
    assert len(GUEST_CASES) >= 6, GUEST_CASES


def test_harness_skips_without_virtme_ng(monkeypatch):
    monkeypatch.delenv("BCC_CORE_GUEST_VNG", raising=False)
    monkeypatch.delenv("BCC_CORE_GUEST", raising=False)
    if os.geteuid() != 0:
        pytest.skip("unavailable_reason() checks root first")
    assert "virtme-ng" in guest.unavailable_reason(path="/nonexistent")
    monkeypatch.setenv("BCC_CORE_GUEST_VNG", "/nonexistent/vng")
    assert "virtme-ng" in guest.unavailable_reason()
    monkeypatch.setenv("BCC_CORE_GUEST", "0")
    assert "disabled" in guest.unavailable_reason()
