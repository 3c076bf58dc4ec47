"""JSON output: the ported tools' ``--json`` (one object per event, fields from the
event's BTF, the same events and filters as the text output of the same run) and the
library calls behind it, ``table.event_dict(data)`` and ``table.items_dicts()``
(:mod:`bcc_core.btf.values`), on the real kernel."""
import json
import os
import select
import time

from conftest import need_root
from test_tools import Tool, _contention, files, opener  # noqa: F401  (fixture)


def _json_lines(t):
    out = []
    for line in t.lines:
        if line.strip():
            out.append(json.loads(line))
    return out


def _wait_json(t, path, timeout=30):
    """Try to open ``path`` (missing) until the --json tool reports it (it prints no
    header)."""
    deadline = time.monotonic() + timeout
    fd = t.p.stdout.fileno()
    while time.monotonic() < deadline:
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError:
            pass
        r, _, _ = select.select([fd], [], [], 0.3)
        if r:
            t._buf += os.read(fd, 65536).decode()
            if path in t._buf:
                return
    raise AssertionError("no JSON event for %s: %r" % (path, t._buf[-2000:]))


def test_opensnoop_json_is_the_text_output_as_objects(files):  # noqa: F811
    """Two opensnoop-core runs over one workload, text and --json: the same events (pid,
    comm, fd, err, path), in the same order, each JSON object with the event's BTF
    fields (enumerators by name) and the text columns' values."""
    text, js = Tool("opensnoop"), Tool("opensnoop", "--json", "-x")
    text2 = Tool("opensnoop", "-x")
    text.wait_for("PATH")
    text2.wait_for("PATH")
    _wait_json(js, os.path.join(files, "ready-missing"))
    js._buf = ""
    names = ["a", "b", "missing1", "c", "missing2"]
    wl = opener([os.path.join(files, n) for n in names])
    wl.wait()
    for t in (text, js, text2):
        assert t.stop() == 0 and "Traceback" not in t.err, t.err
    def rows(t):
        return [(int(p), c, int(fd), int(e), path) for p, c, fd, e, path in
                (l.split() for l in t.lines[1:] if l.split()[:1] == [str(wl.pid)])]
    objs = [o for o in _json_lines(js) if o["pid"] == wl.pid]
    # the -x text run and the -x JSON run: the same events, in the same order
    assert [(o["pid"], o["comm"], o["fd"], o["err"], o["path"]) for o in objs] == \
        rows(text2), (text2.lines[:30], text2.err)
    # and the workload's own opens among them, as the run without -x shows them
    ours = [r for r in rows(text) if r[4].startswith(files)]
    assert [r[4] for r in ours] == [os.path.join(files, n) for n in names]
    assert [r for r in rows(text2) if r[4].startswith(files)] == [r for r in ours if r[3]]
    o = next(o for o in objs if o["path"].startswith(files))
    assert set(o) >= {"id", "ts", "uid", "ret", "comm", "type", "name", "flags", "pid",
                      "tid", "fd", "err", "path", "time_s"}
    assert o["type"] == "EVENT_ENTRY" and o["ret"] == -2 and o["uid"] == os.getuid()
    assert o["id"] >> 32 == o["pid"] and o["name"] == o["path"]


def test_runqslower_json():
    t = Tool("runqslower", "--json", "1000")
    time.sleep(3)      # no header: let it attach (a slow start reports less, not wrong)
    hogs = _contention(2.5)
    for h in hogs:
        h.wait()
    t.stop()
    assert "Traceback" not in t.err, t.err
    objs = _json_lines(t)
    pids = {h.pid for h in hogs}
    mine = [o for o in objs if o["pid"] in pids]
    assert mine, objs[-5:]
    for o in mine:
        assert set(o) == {"pid", "prev_pid", "task", "prev_task", "delta_us", "time"}
        assert o["task"].startswith("python") and o["delta_us"] > 1000


PROG = r"""
#include <linux/in6.h>
enum color { RED = 1, GREEN = 2 };
struct ev {
    u32 pid; char comm[16]; enum color c; struct in6_addr a6; __be32 saddr;
    u8 flags:3; s8 neg:4; u64 arr[3]; struct { u16 x; } inner; union { u32 w; u8 b[4]; } u;
};
BPF_PERF_OUTPUT(events);
struct k { u32 pid; enum color c; };
BPF_HASH(counts, struct k, u64);
BPF_PERCPU_ARRAY(pc, u64, 2);
int f(void *ctx) {
    struct ev e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.c = GREEN;
    e.a6.in6_u.u6_addr8[15] = 1;
    e.saddr = bpf_htonl(0x7f000001);
    e.flags = 5;
    e.neg = -3;
    e.arr[1] = 7;
    e.inner.x = 9;
    e.u.w = 0x01020304;
    events.perf_submit(ctx, &e, sizeof(e));
    struct k key = {.pid = e.pid, .c = RED};
    u64 one = 1, *v = counts.lookup(&key);
    if (v) *v += 1; else counts.update(&key, &one);
    int z = 1;
    u64 *p = pc.lookup(&z);
    if (p) *p += 1;
    return 0;
}
"""


def test_event_and_map_entries_as_dicts():
    need_root()
    from bcc_core import BPF
    b = BPF(text=PROG)
    try:
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="f")
        got = []
        b["events"].open_perf_buffer(lambda cpu, data, size:
                                     got.append(b["events"].event_dict(data)))
        os.getppid()
        b.perf_buffer_poll(1000)
        cpus = len(b["pc"][0])
        counts, pc = b["counts"].items_dicts(), b["pc"].items_dicts()
    finally:
        b.cleanup()
    me = os.getpid()
    assert got == [{"pid": me, "comm": got[0]["comm"], "c": "GREEN", "a6": "::1",
                    "saddr": "127.0.0.1", "flags": 5, "neg": -3, "arr": [0, 7, 0],
                    "inner": {"x": 9}, "u": {"w": 0x01020304, "b": [4, 3, 2, 1]}}]
    assert got[0]["comm"] and isinstance(got[0]["comm"], str)
    assert json.loads(json.dumps(got)) == got
    assert {"key": {"pid": me, "c": "RED"}, "value": 1} in counts
    assert pc[1]["key"] == 1 and sum(pc[1]["value"]) == 1 and len(pc[1]["value"]) == cpus
