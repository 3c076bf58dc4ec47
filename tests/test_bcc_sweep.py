"""BCC's own tools (Debian's bpfcc-tools) run under bcc-core with only their import lines
changed (tests/bcc_sweep.py): a handful on every run, the whole sweep under ``slow``."""
import os

import pytest

import bcc_sweep

# tracepoints, raw tracepoints, block tracepoints, uprobes: one tool each kind
FAST = ("syscount", "runqlat", "softirqs", "bitesize", "funclatency")


def _need_tools():
    if not bcc_sweep.scripts()[0]:
        pytest.skip("Debian's bpfcc-tools is not installed (no /usr/sbin/*-bpfcc scripts)")


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the tools load BPF programs")


def _report(results):
    return "\n".join("%-22s %-9s %s" % (r["label"], r["result"], r["note"])
                     for r in results)


def test_imports_only_change():
    """The sed changes import lines only, and every changed line imports from bcc_core."""
    _need_tools()
    import tempfile
    lines = set()
    with tempfile.TemporaryDirectory() as d:
        for name, path in bcc_sweep.scripts()[0].items():
            changed = bcc_sweep.convert(path, os.path.join(d, name))
            assert changed, "%s: no import line changed" % name
            lines.update(new for _, new in changed)
    assert all("bcc_core" in line for line in lines)
    for line in sorted(lines):
        exec(compile(line, "<import>", "exec"), {})      # the names exist in bcc_core


def test_classify():
    base = {"label": "t", "tool": "t", "hung": None, "sigint": True, "no_header": False,
            "static_ok": None, "static_lacks": None, "lacks": None, "rc": 0,
            "stderr_lines": []}

    def cls(**kw):
        return bcc_sweep.classify(dict(base, **kw))

    ok = cls(stdout_lines=["Tracing... Hit Ctrl-C to end.", "", "read 12"])
    assert ok["result"] == "PASS"
    quiet = cls(stdout_lines=["Tracing... Hit Ctrl-C to end.", "[12:00:01]", "Detaching..."])
    assert quiet["result"] == "NO_EVENTS"
    tb = ["Traceback (most recent call last):", '  File "/x/t", line 3, in <module>',
          "    b.attach_kprobe(event='f')",
          "bcc_core.errors.NotSupportedError: cannot attach f to kprobe 'f': kprobes are "
          "not available on this kernel (CONFIG_KPROBES is off)"]
    assert cls(stdout_lines=[], stderr_lines=tb, rc=1)["result"] == "NA_HOST"
    # the script has a tracepoint path, so taking the kprobe one is a failure
    assert cls(stdout_lines=[], stderr_lines=tb, rc=1, static_ok=True)["result"] == "FAIL"
    other = tb[:-1] + ["AttributeError: 'x' object has no attribute 'y'"]
    r = cls(stdout_lines=["HDR"], stderr_lines=other, rc=1)
    assert r["result"] == "FAIL" and r["reason"] == other[-1]
    # a kprobe-only script that stops earlier is still a tool this host cannot run
    r = cls(stdout_lines=[], stderr_lines=other, rc=1, static_ok=False, static_lacks="kprobe")
    assert r["result"] == "NA_HOST" and "no attribute" in r["note"]
    gave_up = cls(stdout_lines=["ERROR: no foo in /proc/kallsyms. Exiting."], sigint=False)
    assert gave_up["result"] == "NA_HOST"
    amd = tb[:-1] + ["Exception: Failed to do precondition check, due to: Currently we "
                     "only support Intel architecture, please do expansion if needs more.."]
    r = cls(stdout_lines=[], stderr_lines=amd, rc=1)
    assert r["result"] == "NA_HOST" and "Intel CPU" in r["note"]
    assert cls(stdout_lines=["HDR", "1 2 3"], hung="did not exit")["result"] == "FAIL"
    # BCC's trace exits 1 on Ctrl-C, without a traceback: clean; before Ctrl-C it is not
    assert cls(stdout_lines=["HDR", "1 2 3"], rc=1)["result"] == "PASS"
    assert cls(stdout_lines=["HDR", "1 2 3"], rc=1, sigint=False)["result"] == "FAIL"
    assert cls(stdout_lines=["HDR", "1 2 3"], rc=-2)["result"] == "FAIL"


FAKE_OK = """#!/usr/bin/python3
from bcc import BPF  # noqa: F401 (rewritten to bcc_core by the sweep's sed)
import time
print("Tracing... Hit Ctrl-C to end.")
try:
    time.sleep(60)
except KeyboardInterrupt:
    print("event 1")
"""
FAKE_STUCK = """#!/usr/bin/python3
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("Tracing... Hit Ctrl-C to end.")
time.sleep(60)
"""


def test_harness_runs_and_stops_tools(tmp_path, monkeypatch):
    """Header, workload, SIGINT, classification; a tool ignoring SIGINT is killed."""
    paths = {}
    for name, text in (("fakeok", FAKE_OK), ("fakestuck", FAKE_STUCK)):
        paths[name] = str(tmp_path / (name + bcc_sweep.SUFFIX))
        with open(paths[name], "w") as f:
            f.write(text)
    monkeypatch.setattr(bcc_sweep, "scripts", lambda: (paths, {}))
    work = tmp_path / "work"
    ok = bcc_sweep.run_tool("fakeok", "fakeok", str(work), workload_secs=0.5)
    assert ok["result"] == "PASS", ok
    assert ok["sigint"] and ok["rc"] == 0 and ok["header_s"] is not None
    assert ok["imports_changed"] == ["from bcc_core import BPF  # noqa: F401 (rewritten "
                                     "to bcc_core by the sweep's sed)"]
    stuck = bcc_sweep.run_tool("fakestuck", "fakestuck", str(work), workload_secs=0.5,
                               exit_timeout=1)
    assert stuck["result"] == "FAIL" and "killed" in stuck["hung"], stuck


def test_fast_handful():
    """A handful of tools, each with the workload: header, events, clean Ctrl-C."""
    _need_tools()
    _need_root()
    results = bcc_sweep.run_sweep(list(FAST), jobs=2, workload_secs=3)
    print("\n" + _report(results))
    assert [r["label"] for r in results] == sorted(FAST, key=[
        label for label, _ in bcc_sweep.runs()].index)
    bad = [r for r in results if r["result"] != "PASS"]
    assert not bad, _report(bad)


@pytest.mark.slow
def test_whole_sweep():
    """Every bpfcc-tools script whose attach points exist here prints its header and
    events or a summary, and exits on Ctrl-C without a traceback; the exceptions are
    failures of the tool itself (bcc_sweep.KNOWN), what bcc-core does not do yet
    (bcc_sweep.GAPS: USDT) and tools whose events the workload cannot cause here
    (bcc_sweep.QUIET), each listed in the table with why."""
    _need_tools()
    _need_root()
    results = bcc_sweep.run_sweep(jobs=2)
    print("\n" + bcc_sweep.markdown_table(results, bcc_sweep.skipped_notes()))
    c = bcc_sweep.counts(results)
    target = [r for r in results if r["result"] != "NA_HOST"]
    assert len(target) > 20, c
    hung = [r for r in results if r.get("hung")]
    assert not hung, _report(hung)
    bad = [r for r in target if r["result"] != "PASS" and not r.get("known") and
           not r.get("gap") and not (
               r["result"] == "NO_EVENTS" and r["label"] in bcc_sweep.QUIET)]
    assert not bad, "%s\n%s" % (c, _report(bad))
    gaps = [r["label"] for r in results if r.get("gap")]
    if gaps:
        print("not in bcc-core yet (bcc_sweep.GAPS, listed in the table): %s"
              % ", ".join(gaps))
