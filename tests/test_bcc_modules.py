"""bcc_core.syscall, .tcp, .perf, .containers and print_json_hist against BCC 0.26's own
modules (Debian's python3-bpfcc), which run in a subprocess as in test_hist.py.  Skips
when BCC is not installed."""
import argparse
import json
import os
import subprocess
import sys

import pytest

DIST = "/usr/lib/python3/dist-packages"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bcc(script, stdin=None):
    """Run ``script`` with BCC importable; returns what it printed, parsed as JSON."""
    if not os.path.exists(os.path.join(DIST, "bcc", "__init__.py")):
        pytest.skip("python3-bpfcc (BCC's reference modules) is not installed")
    code = "import json, sys\nsys.path.insert(0, %r)\n" % DIST + script
    p = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True,
                       text=True)
    if p.returncode:
        pytest.skip("BCC's modules cannot be run here: %s" % p.stderr.strip()[-300:])
    return json.loads(p.stdout.splitlines()[-1])   # BCC may print warnings first


# --- syscall --------------------------------------------------------------------------

def test_syscall_table_matches_bcc():
    from bcc_core import syscall as ours
    bcc = _bcc(r'''
import shutil
from bcc.syscall import syscalls, syscall_name
json.dump({"table": {n: v.decode() for n, v in syscalls.items()},
           "names": {n: syscall_name(n).decode() for n in range(-5, 1100)},
           "ausyscall": bool(shutil.which("ausyscall"))}, sys.stdout)
''')
    theirs = {int(n): v.encode() for n, v in bcc["table"].items()}
    # Every number BCC knows has the same name here.
    assert {n: ours.syscalls.get(n) for n in theirs} == theirs
    extra = sorted(set(ours.syscalls) - set(theirs))
    if not bcc["ausyscall"]:
        # Without ausyscall BCC falls back to its built-in x86_64 table, copied from strace
        # years ago: it ends at 334 (rseq).  Ours is generated from the uapi header
        # (Linux 6.1), so it also has the syscalls added since, numbered from 424
        # (pidfd_send_signal); 335..423 are unused on x86_64.  Those are the only
        # differences: for them BCC says b"[unknown: N]", we give the name.
        assert max(theirs) == 334
        assert extra and min(extra) == 424
    for n in range(-5, 1100):
        if n not in extra:
            assert ours.syscall_name(n) == bcc["names"][str(n)].encode(), n
    assert ours.syscall_name(424) == b"pidfd_send_signal"
    assert ours.syscall_name(999) == b"[unknown: 999]"
    with pytest.raises(TypeError):
        ours.syscall_name("read")      # as BCC: the unknown text is formatted first


def test_syscall_table_is_what_the_generator_makes():
    """The stored block is exactly what `python -m bcc_core.syscall` writes for the
    installed header (when it is the same header the block came from)."""
    from bcc_core import syscall as ours
    if not os.path.exists(ours.DEFAULT_HEADER):
        pytest.skip("%s is not installed" % ours.DEFAULT_HEADER)
    with open(ours.DEFAULT_HEADER) as f:
        parsed = ours.parse_unistd_header(f.read())
    if max(parsed) != max(ours.syscalls):
        pytest.skip("the installed header is not the one the table was generated from")
    assert {n: v.encode() for n, v in parsed.items()} == ours.syscalls
    with open(ours.__file__) as f:
        src = f.read()
    assert ours._runs_source(parsed) in src
    ns = {}
    exec(ours._runs_source(parsed), ns)
    assert ours._expand(ns["_RUNS"]) == ours.syscalls


# --- tcp ------------------------------------------------------------------------------

def test_tcp_matches_bcc():
    from bcc_core import tcp as ours
    bcc = _bcc(r'''
import bcc.tcp as t
json.dump({"state": t.tcpstate,
           "consts": {k: getattr(t, k) for k in dir(t) if k.startswith("TCPHDR_")},
           "flags": [t.flags2str(f) for f in range(0, 512)]}, sys.stdout)
''')
    assert ours.tcpstate == {int(k): v for k, v in bcc["state"].items()}
    assert {k: getattr(ours, k) for k in dir(ours) if k.startswith("TCPHDR_")} \
        == bcc["consts"]
    assert [ours.flags2str(f) for f in range(0, 512)] == bcc["flags"]


# --- perf -----------------------------------------------------------------------------

ATTR_PROBE = r'''
import ctypes as ct
A = Perf.perf_event_attr
layout = {}
for name in %s:
    d = getattr(A, name)
    layout[name] = [d.offset, d.size]
a = A()
vals = {"type": 2, "config": 0x1234, "sample_freq": 99, "sample_type": 1024,
        "freq": 1, "precise_ip": 3, "text_poke": 1, "cgroup": 1, "mmap2": 1,
        "wakeup_watermark": 7, "bp_type": 3, "kprobe_func": 0xdead, "probe_offset": 17,
        "branch_sample_type": 5, "clockid": -2, "sample_max_stack": 127,
        "aux_sample_size": 4096}
for k, v in vals.items():
    setattr(a, k, v)
consts = {k: getattr(Perf, k) for k in dir(Perf) if k.isupper() and k[0] != "_"}
out = {"size": ct.sizeof(A), "size_field": A().size, "layout": layout,
       "bytes": bytes(a).hex(), "consts": consts}
'''


def _perf_names():
    # the fields BCC's perf_event_attr declares plus the names inside its unions
    return _bcc(r'''
from bcc.perf import Perf
a = Perf.perf_event_attr()
json.dump([n for n in a.ctype_fields if not n.startswith("_") or n.startswith("__")],
          sys.stdout)
''')


def test_perf_event_attr_layout_and_constants_match_bcc():
    from bcc_core.perf import Perf
    names = _perf_names()
    assert len(names) > 50
    theirs = _bcc("from bcc.perf import Perf\n" + ATTR_PROBE % (names,)
                  + "json.dump(out, sys.stdout)\n")
    ns = {"Perf": Perf}
    exec(ATTR_PROBE % (names,), ns)
    ours = json.loads(json.dumps(ns["out"]))
    assert ours == theirs
    assert ours["size"] == 120


def test_perf_event_attr_warns_on_unknown_field(capsys):
    from bcc_core.perf import Perf
    a = Perf.perf_event_attr()
    a.sample_period = 5
    a.exclude_kernel = 1
    assert capsys.readouterr().out == ""
    a.pid = 3                       # not part of the structure: said on stdout, as BCC
    assert "pid" in capsys.readouterr().out
    assert a.pid == 3


PERF_OPEN = r'''
import os
tp = int(open("/sys/kernel/tracing/events/syscalls/sys_enter_getpid/id").read())

def perf_fds():
    found = set()
    for f in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + f) == "anon_inode:[perf_event]":
                found.add(f)
        except OSError:         # the descriptor listdir itself used, now closed
            pass
    return found

def attempt(*args, **kw):
    before = perf_fds()
    try:
        Perf.perf_event_open(*args, **kw)
        err = None
    except OSError as e:
        err = e.errno
    return {"err": err, "fds": len(perf_fds() - before)}

print(json.dumps({
    "software": attempt(0, ptype=Perf.PERF_TYPE_SOFTWARE, freq=10),   # cpu-clock, 10 Hz
    "software_each": attempt(2, ptype=Perf.PERF_TYPE_SOFTWARE),       # page faults
    "bad_type": attempt(0, ptype=1000),
    "tracepoint": attempt(tp),
}))
'''


def test_perf_event_open_matches_bcc():
    """Both open one enabled event per online CPU per call, keep the descriptors open and
    fail alike; except on tracepoints, where BCC 0.26 is broken on Python 3."""
    if os.geteuid() != 0 or not os.path.exists(
            "/sys/kernel/tracing/events/syscalls/sys_enter_getpid/id"):
        pytest.skip("needs root and the syscalls tracepoints")
    theirs = _bcc("from bcc.perf import Perf\n" + PERF_OPEN)
    code = "import json\nfrom bcc_core.perf import Perf\n" + PERF_OPEN
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    ours = json.loads(r.stdout.splitlines()[-1])
    from bcc_core.utils import get_online_cpus
    ncpu = len(get_online_cpus())
    assert ours["software"] == {"err": None, "fds": ncpu}
    assert ours["bad_type"]["err"] is not None
    for case in ("software", "software_each", "bad_type"):
        assert ours[case] == theirs[case], case
    # Tracepoints: BCC hands the "match nothing" filter to libc's ioctl() as a Python
    # str, which ctypes passes as a wchar_t string; the kernel reads the filter "c" and
    # answers EINVAL after the first CPU's descriptor is open.  We pass the bytes the
    # kernel expects, so the call works, as it was meant to.
    assert ours["tracepoint"] == {"err": None, "fds": ncpu}
    assert theirs["tracepoint"]["err"] == 22    # EINVAL (if this fails, BCC got fixed)


# --- containers -----------------------------------------------------------------------

def test_filter_by_containers():
    from bcc_core.containers import filter_by_containers
    from bcc_core.errors import NotSupportedError
    text = filter_by_containers(argparse.Namespace(cgroupmap=None, mntnsmap=None))
    assert "container_should_be_filtered" in text and "return 0;" in text
    for kw in ({"cgroupmap": "/sys/fs/bpf/cg"}, {"mntnsmap": "/sys/fs/bpf/ns"}):
        args = argparse.Namespace(**dict({"cgroupmap": None, "mntnsmap": None}, **kw))
        with pytest.raises(NotSupportedError, match="reuse_maps"):
            filter_by_containers(args)
    with pytest.raises(AttributeError):             # as BCC: both options are expected
        filter_by_containers(argparse.Namespace())


# --- print_json_hist ------------------------------------------------------------------

JSON_RENDER = r'''
import contextlib, ctypes as ct, io

class SlotKey(ct.Structure):
    _fields_ = [("bucket", ct.c_uint), ("slot", ct.c_uint)]

def render(mod, case):
    mod.strftime = lambda fmt: "2024-01-02 03:04:05"       # a fixed time stamp
    base = mod.TableBase
    if case["keyed"]:
        items = [(SlotKey(b, s), ct.c_ulonglong(v)) for b, s, v in case["items"]]
        K = SlotKey
    else:
        items = [(ct.c_uint(s), ct.c_ulonglong(v)) for s, v in case["items"]]
        K = ct.c_uint

    class Fake(object):
        Key = K
        Leaf = ct.c_ulonglong
        decode_c_struct = base.decode_c_struct
        print_json_hist = base.print_json_hist

        def items(self):
            return list(items)
    kw = dict(case["kw"])
    if kw.pop("hex", False):
        kw["section_print_fn"] = lambda b: "0x%x" % b
    if kw.pop("sort", False):
        kw["bucket_sort_fn"] = sorted
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            Fake().print_json_hist(**kw)
        except Exception as e:
            print("EXC %s: %s" % (type(e).__name__, e))
    return out.getvalue()
'''

JSON_CASES = [
    {"keyed": False, "items": [], "kw": {}},
    {"keyed": False, "items": [(0, 4)], "kw": {}},
    {"keyed": False, "items": [(1, 1)], "kw": {"val_type": "usecs"}},
    {"keyed": False, "items": [(2, 5), (7, 1), (3, 0)], "kw": {}},
    {"keyed": False, "items": [(64, 9), (1, 2)], "kw": {"val_type": "nsecs"}},
    {"keyed": False, "items": [(70, 1)], "kw": {}},
    {"keyed": True, "items": [], "kw": {}},
    {"keyed": True, "items": [(3, 2, 1), (1, 5, 7), (3, 4, 2)], "kw": {"sort": True}},
    {"keyed": True, "items": [(3, 2, 1), (1, 5, 7)],
     "kw": {"section_header": "disk", "hex": True, "sort": True}},
    {"keyed": True, "items": [(9, 0, 3)], "kw": {"section_header": "ts"}},
]


def test_print_json_hist_matches_bcc():
    theirs = _bcc(JSON_RENDER + r'''
import bcc.table
json.dump([render(bcc.table, c) for c in json.load(sys.stdin)], sys.stdout)
''', stdin=json.dumps(JSON_CASES))
    from bcc_core import table
    ns = {}
    exec(JSON_RENDER, ns)
    saved = table.strftime
    try:
        ours = [ns["render"](table, c) for c in json.loads(json.dumps(JSON_CASES))]
    finally:
        table.strftime = saved
    assert ours == theirs
    assert sum("interval-start" in t for t in theirs) >= 5
