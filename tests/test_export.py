"""The Prometheus exporter (bcc_core.export) on a real program: scraped over loopback
with prometheus_client's own text parser while a workload runs; the histogram's
buckets, count and the counters' labels and values checked against the maps' own
contents read in the same instant's neighbourhood (the workload paused)."""
import os
import threading
import time
import urllib.request

import pytest

from conftest import need_root

PROG = r"""
struct who { u32 pid; char comm[16]; };
struct lat { u64 pid; u64 slot; };      /* no padding: every byte of the key set */
BPF_HASH(calls, struct who, u64);
BPF_HISTOGRAM(dist);
BPF_HISTOGRAM(by_pid, struct lat);
struct stats { u64 count; u64 last; };
BPF_PERCPU_ARRAY(stats, struct stats, 1);

int on_getppid(void *ctx) {
    struct who w = {.pid = bpf_get_current_pid_tgid() >> 32};
    if (w.pid != TARGET)
        return 0;
    bpf_get_current_comm(&w.comm, sizeof(w.comm));
    u64 one = 1, *n = calls.lookup(&w);
    u64 v = 1;
    if (n) { __sync_fetch_and_add(n, 1); v = *n; } else calls.update(&w, &one);
    dist.increment(bpf_log2l(v));
    struct lat k = {.pid = w.pid, .slot = bpf_log2l(v)};
    by_pid.increment(k);
    int z = 0;
    struct stats *s = stats.lookup(&z);
    if (s) { s->count += 1; s->last = v; }
    return 0;
}
"""


def _scrape(port):
    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def test_scrape_while_a_workload_runs():
    need_root()
    pytest.importorskip("prometheus_client")
    from bcc_core import BPF
    from bcc_core.export import serve
    b = BPF(text=PROG, cflags=["-DTARGET=%d" % os.getpid()])
    server = None
    try:
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="on_getppid")
        server, _, _ = serve(b, port=0)
        port = server.server_address[1]
        stop = threading.Event()

        def work():
            while not stop.is_set():
                for _ in range(50):
                    os.getppid()
                time.sleep(0.01)
        t = threading.Thread(target=work)
        t.start()
        time.sleep(0.3)
        during = _scrape(port)                         # while it runs: parses, moves
        assert during["bpf_dist"].type == "histogram"
        stop.set()
        t.join()
        fams = _scrape(port)
        n = b["calls"].items()[0][1].value
        dist = {k.value: v.value for k, v in b["dist"].items() if v.value}
    finally:
        if server is not None:
            server.shutdown()
        b.cleanup()
    # calls: a counter, one label per key field (comm as text)
    calls = fams["bpf_calls"]
    assert calls.type == "counter"
    (s,) = [s for s in calls.samples if s.name == "bpf_calls_total"]
    assert s.labels == {"pid": str(os.getpid()), "comm": s.labels["comm"]} and s.value == n
    # dist: log2 buckets, cumulative, le = 2^i - 1, +Inf = count = the map's total
    h = {s.labels["le"]: s.value for s in fams["bpf_dist"].samples
         if s.name == "bpf_dist_bucket"}
    cum = 0
    for i in range(max(dist) + 1):
        cum += dist.get(i, 0)
        assert h[str((1 << i) - 1)] == cum
    count = [s.value for s in fams["bpf_dist"].samples if s.name == "bpf_dist_count"]
    assert h["+Inf"] == count[0] == sum(dist.values()) == n
    # the struct-keyed histogram: the other key fields are labels
    bp = [s for s in fams["bpf_by_pid"].samples if s.name == "bpf_by_pid_count"]
    assert bp[0].labels == {"pid": str(os.getpid())} and bp[0].value == n
    # per-CPU struct values: one metric per field, summed over CPUs
    assert fams["bpf_stats_count"].type == "counter"
    assert fams["bpf_stats_count"].samples[0].value == n
    assert fams["bpf_stats_last"].type == "gauge"


SCRIPT = r'''
import os, sys, time
from bcc_core import BPF
b = BPF(text="""
BPF_HASH(calls, u32, u64);
int f(void *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != %d) return 0;
    u64 one = 1, *n = calls.lookup(&pid);
    if (n) __sync_fetch_and_add(n, 1); else calls.update(&pid, &one);
    return 0;
}""" % os.getpid())
b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="f")
for _ in range(int(sys.argv[1])):
    os.getppid()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[2] + ".stop"):
    time.sleep(0.05)
'''


def test_export_a_bcc_script(tmp_path):
    """``bcc-core export --port P SCRIPT ARGS``: the script runs as under python3, and
    the maps of the BPF object it makes are served while it runs."""
    import re
    import subprocess
    import sys
    need_root()
    pytest.importorskip("prometheus_client")
    script, ready = tmp_path / "tool.py", tmp_path / "ready"
    script.write_text(SCRIPT)
    p = subprocess.Popen([sys.executable, "-m", "bcc_core.cli", "export", "--port", "0",
                          str(script), "123", str(ready)], stderr=subprocess.PIPE,
                         text=True)
    try:
        line = p.stderr.readline()
        port = int(re.search(r":(\d+)/metrics", line).group(1))
        for _ in range(600):
            if ready.exists() or p.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), p.stderr.read()
        fams = _scrape(port)
        (s,) = fams["bpf_calls"].samples
        assert s.name == "bpf_calls_total" and s.value == 123 and s.labels == {"key": s.labels["key"]}
        (tmp_path / "ready.stop").write_text("")
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
