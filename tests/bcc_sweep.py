"""Run every tool of Debian's bpfcc-tools (``/usr/sbin/*-bpfcc``, BCC 0.26) under bcc-core
with only its import lines changed, and classify what each one does on this host.

    python3 tests/bcc_sweep.py                       # all tools, a summary on stdout
    python3 tests/bcc_sweep.py --tools syscount,runqlat -v
    python3 tests/bcc_sweep.py --table --json sweep.json   # docs/migration.md table + JSON
    python3 tests/bcc_sweep.py --workload 5          # the workload alone

Each script is copied to a temporary directory through :data:`SED` (``sed -E`` over the
lines that start with ``from bcc`` / ``import bcc``; the copy is checked to differ from the
original in those lines only) and started with this Python (``PYTHONUNBUFFERED=1``) and
the arguments of :data:`ARGS`.  The harness waits for the tool's first stdout line (its
header), runs :func:`workload` (files with fsync, execs, forks, signals, TCP/UDP on
loopback, pipes, page faults, threads, getaddrinfo, TLS, an interactive bash...) for a few
seconds, sends SIGINT as Ctrl-C does and waits for the tool to exit (SIGINT again, then
SIGKILL, if it does not).  Results (:func:`classify`):

* ``PASS``: a header, then at least one event or summary line (a line with a digit that
  is not boilerplate such as ``Detaching...`` or a bare timestamp), and an exit without a
  traceback;
* ``NO_EVENTS``: ran and exited cleanly but printed nothing after its header (the
  workload does not reach what it traces, e.g. KVM exits or direct reclaim);
* ``NA_HOST``: the tool's attach points do not exist on this host: the run stopped on
  bcc-core's NotSupportedError for kprobes, BPF trampolines (fentry/fexit/lsm) or USDT,
  or on a missing tracepoint or PMU, or the script needs them unconditionally
  (:func:`static_attach` reads the script; the note then says where today's run stopped);
* ``FAIL``: anything else, with the exception's last line as the reason.

The attach points column comes from the script's text (``attach_kprobe``,
``TRACEPOINT_PROBE``, ``kprobe__*``...), with the choices a script makes at run time
(``BPF.support_raw_tracepoint()``, ``BPF.tracepoint_exists()``...) spelled out in
:data:`CHOICES`.
"""
import argparse
import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SBIN = "/usr/sbin"
SUFFIX = "-bpfcc"
HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "docs", "migration.md")
BEGIN, END = "<!-- sweep:begin -->", "<!-- sweep:end -->"

# The only change made to a tool: its import lines, bcc -> bcc_core.  `from bcc import X`
# and `from bcc.utils import X` keep their form; `import bcc.utils as utils` keeps its
# alias; a plain `import bcc` (or `import bcc.x`) binds bcc_core under the name `bcc`, so
# `bcc.BPF` and `bcc.utils` (submodules load on first use) resolve in bcc_core.
SED_EXPRS = (
    r"s/^from bcc([. ])/from bcc_core\1/",
    r"s/^import bcc(\.[A-Za-z0-9_.]+)? as /import bcc_core\1 as /",
    r"s/^import bcc(\.[A-Za-z0-9_.]+)?[[:space:]]*(#.*)?$/import bcc_core as bcc/",
)
SED = "sed -E " + " ".join("-e '%s'" % e for e in SED_EXPRS)
IMPORT_LINE = re.compile(r"^(from|import) bcc")

WORKLOAD_SECS = 4.0
HEADER_TIMEOUT = 60.0       # BPF(text=) compiles with clang on a first start
EXIT_TIMEOUT = 15.0         # after SIGINT: tools print their summary (stacks: symbols)
SETTLE = 0.5                # after the header: tools print it just before polling

# `{pid}` in a tool's arguments: a process of Debian's own Python (built with USDT probes,
# unlike a pyenv one) calling functions, allocating, collecting and starting threads
TARGET = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
WANT_TARGET = ("ustat",)
TARGET_CODE = """
import gc, threading, time
def work(n):
    return [dict(i=i) for i in range(n)]
while True:
    work(200)
    gc.collect()
    t = threading.Thread(target=work, args=(10,))
    t.start()
    t.join()
    time.sleep(0.01)
"""

# Arguments per run.  A label with a " (...)" suffix is a second run of the same script.
# Generic tools get a tracepoint and a uprobe spec; positional arguments of tools that
# need one (a device, a pid) are the host's; tools that print only on an interval get 1 s.
ARGS = {
    "argdist": ["-i", "1", "-C", "t:syscalls:sys_enter_write():u64:args->count"],
    "argdist (uprobe)": ["-i", "1", "-H",
                         "p:c:write(int fd, const void *buf, size_t count):size_t:count"],
    "biolatpcts": ["-i", "1", "vda"],
    # handles Ctrl-C only in its sleep(), not in perf_buffer_poll(): given a count too
    "cpuunclaimed": ["1", "3"],
    "dbslower": ["mysql"],
    "dbstat": ["mysql"],
    "deadlock": ["1"],
    "dirtop": ["-d", "/tmp"],
    "funccount": ["t:syscalls:sys_enter_open*"],
    "funccount (uprobe)": ["c:*sync"],
    "funcinterval": ["t:sched:sched_process_fork"],
    "funcinterval (uprobe)": ["c:fsync"],
    "funclatency": ["c:read"],
    "funcslower": ["c:clock_nanosleep"],
    "inject": ["kmalloc", "should_failslab()"],
    # memleak catches Ctrl-C only in its sleep(); its print takes ~0.4 s of each 1.4 s
    # cycle here (seconds when the machine is busy), so a SIGINT lands outside the
    # handler one time in three (BCC's race too): it is given a count and SELF_EXIT
    "memleak": ["1", "2"],
    "mysqld_qslower": ["1"],
    "netqtop": ["-n", "lo", "-i", "1"],
    "runqslower": ["100"],
    "stackcount": ["t:sched:sched_process_fork"],
    "stackcount (uprobe)": ["-U", "c:fsync"],
    "tplist": ["sched:sched_process_*"],
    "trace": ['t:syscalls:sys_enter_openat "%s", args->filename'],
    "ucalls": ["-l", "none", "-S", "{pid}"],
    "ucalls (python)": ["-l", "python", "{pid}"],
    "uflow": ["-l", "python", "{pid}"],
    "ugc": ["-l", "python", "{pid}"],
    "uobjnew": ["-l", "c", "{pid}"],
    "ustat": ["-l", "python"],
    "uthreads": ["-l", "none", "{pid}"],
    "trace (uprobe)": ['p:c:open "%s", arg1'],
    "ttysnoop": ["/dev/console"],
}

# tools given a count: seconds to wait for them to end by themselves after the workload,
# before Ctrl-C
SELF_EXIT = {"memleak": 30, "cpuunclaimed": 30}

# What a script attaches, where its text alone is ambiguous: a tool that picks a
# tracepoint when the kernel has one, or attaches what its arguments say.
# (attach points, needed on this host or None when the tool can run here)
CHOICES = {
    "argdist": ("tracepoint (the spec)", None),
    "argdist (uprobe)": ("uprobe (the spec)", None),
    "bpflist": ("none (reads /proc)", None),
    "compactsnoop": ("raw_tp (kretprobe only with -e)", None),
    "cpudist": ("kprobe finish_task_switch", "kprobe"),
    "criticalstat": ("tracepoint preemptirq:* (CONFIG_PREEMPTIRQ_TRACEPOINTS)",
                     "tracepoint"),
    "dbslower": ("USDT or uprobe in mysqld/postgres", "usdt"),
    "dbstat": ("USDT in mysqld/postgres", "usdt"),
    "deadlock": ("uprobe + kretprobe clone", "kprobe"),
    "funccount": ("tracepoint (the spec)", None),
    "funccount (uprobe)": ("uprobe (the spec)", None),
    "funcinterval": ("tracepoint (the spec)", None),
    "funcinterval (uprobe)": ("uprobe (the spec)", None),
    "funclatency": ("uprobe + uretprobe (the spec)", None),
    "funcslower": ("uprobe + uretprobe (the spec)", None),
    "klockstat": ("fentry, else kprobe", "kprobe"),
    "kvmexit": ("raw_tp kvm_exit, else tracepoint", None),
    "llcstat": ("perf_event (hardware cache)", "hwpmu"),
    "memleak": ("tracepoint kmem:* (uprobes with -p/-c)", None),
    "mysqld_qslower": ("USDT in mysqld", "usdt"),
    "netqtop": ("tracepoint net:* (netqtop.c)", None),
    "nfsslower": ("kprobe + raw_tp", "kprobe"),
    "opensnoop": ("fentry, else kprobe", "kprobe"),
    "ppchcalls": ("raw_tp hcall_entry/exit (powerpc)", "tracepoint"),
    "readahead": ("fentry, else kprobe", "kprobe"),
    "runqlat": ("raw_tp (kprobe without raw_tp)", None),
    "runqslower": ("raw_tp (kprobe without raw_tp)", None),
    "stackcount": ("tracepoint (the spec)", None),
    "stackcount (uprobe)": ("uprobe (the spec)", None),
    "tcpcong": ("tracepoint tcp:tcp_cong_state_set, else fentry/kprobe", None),
    "tcpdrop": ("tracepoint skb:kfree_skb, plus kprobe tcp_drop if "
                "get_kprobe_functions(b'tcp_drop') matches", None),
    "tcplife": ("tracepoint sock:inet_sock_set_state, else kprobe", None),
    "tcpretrans": ("tracepoint tcp:tcp_retransmit_skb (kprobe with -l)", None),
    "tcpstates": ("tracepoint sock:inet_sock_set_state, else kprobe", None),
    "tplist": ("none (reads tracefs)", None),
    "trace": ("tracepoint (the spec)", None),
    "trace (uprobe)": ("uprobe (the spec)", None),
    "ttysnoop": ("fentry, else kprobe", "kprobe"),
    "ucalls": ("tracepoint raw_syscalls:* (-S; -l none: no USDT)", None),
    "ucalls (python)": ("USDT in Debian's python3 (it has them)", None),
    "uflow": ("USDT in Debian's python3 (it has them)", None),
    "ugc": ("USDT in Debian's python3 (it has them)", None),
    "uobjnew": ("uprobe malloc (-l c), an empty USDT context", None),
    "ustat": ("USDT in python processes", None),
    "uthreads": ("USDT libc:pthread_start (-l none)", None),
    "vfsstat": ("fentry, else kprobe", "kprobe"),
    "wakeuptime": ("raw_tp (kprobe without raw_tp)", None),
}

# failures whose cause lies in the tool itself, not in the front end (checked by hand;
# applied only while the run fails with the message given)
KNOWN = {
    "uthreads": (r"Failed to enable USDT probe pthread_start",
                 "-l none traces libc's pthread_start USDT probe, and Debian's libc has "
                 "no USDT notes"),
    "compactsnoop": (r"raw tracepoint 'mm_compaction_begin': Invalid argument",
                     "BCC 0.26's program reads ctx->args[4] of raw tracepoint "
                     "mm_compaction_begin, which has 4 arguments on this kernel "
                     "(btf_trace_mm_compaction_begin): the kernel refuses it whatever "
                     "loads it"),
    "memleak": (r"KeyboardInterrupt",
                "memleak handles Ctrl-C only during its sleep(), not while it prints"),
    "cpuunclaimed": (r"KeyboardInterrupt",
                     "cpuunclaimed handles Ctrl-C only during its sleep(), not in "
                     "perf_buffer_poll()"),
    "funccount": (r"'str' object has no attribute 'decode'",
                  "BCC 0.26's funccount calls .decode() on the names BPF.get_tracepoints() "
                  "returns, which are str in BCC 0.26 itself: its t: probes fail the same "
                  "way under BCC"),
}

# what bcc-core does not do yet: runs that fail for it, listed with the issue that adds
# it (the slow test lets them through only while they fail for that reason)
GAPS = {}

# tools whose events the workload cannot cause on this host
QUIET = {
    "ucalls (python)": "counts python:function__entry, which did not fire for the "
                       "workload's calls here (function__return does: uflow and "
                       "tests/test_usdt.py see it)",
    "kvmexit": "needs a KVM guest running",
    "tcpcong": "needs TCP congestion-state changes (packet loss)",
}

_KINDS = (
    ("kprobe", r"\battach_k(?:ret)?probe\(|\bk(?:ret)?probe__\w+\s*\(|\bsyscall__\w+\s*\("),
    ("fentry", r"\bK(?:RET)?FUNC_PROBE\(|\bk(?:ret)?func__\w+\s*\("),
    ("lsm", r"\bLSM_PROBE\(|\blsm__\w+\s*\("),
    ("usdt", r"\bUSDT\((?!\))"),
    ("uprobe", r"\battach_u(?:ret)?probe\("),
    ("tracepoint", r"(?<!RAW_)TRACEPOINT_PROBE\(|\battach_tracepoint\("),
    ("raw_tp", r"\bRAW_TRACEPOINT_PROBE\(|\battach_raw_tracepoint\("),
    ("perf_event", r"\battach_perf_event\("),
)
HOST_KINDS = ("uprobe", "tracepoint", "raw_tp", "perf_event")
_ATTACH_KINDS = ("kprobe", "fentry", "lsm", "usdt")

# bcc-core's messages (and the tools') for what this kernel does not have
_NA_PATTERNS = (
    ("kprobe", r"kprobes are not available|CONFIG_KPROBES"),
    ("fentry", r"BPF trampolines|fentry/fexit|trampoline"),
    ("usdt", r"USDT (probes|contexts) are not supported"),
    ("tracepoint", r"tracepoint .*(does not exist|not found)|no such tracepoint|"
                   r"required tracing events are not available"),
    ("hwpmu", r"hardware (perf )?events? .*not (available|supported)|"
              r"attach to a hardware event"),
    ("kallsyms_all", r"in /proc/kallsyms|CONFIG_KALLSYMS_ALL"),
    ("debugfs", r"/sys/kernel/debug/tracing"),
    ("intel_cpu", r"only support Intel architecture"),
)
NA_WHY = {
    "kprobe": "kprobes (CONFIG_KPROBES off)",
    "fentry": "BPF trampolines (fentry/fexit/lsm)",
    "lsm": "BPF trampolines (lsm)",
    "usdt": "USDT in a process that is not running here",
    "tracepoint": "tracepoints this kernel does not have",
    "hwpmu": "hardware PMU events (none in this VM)",
    "kallsyms_all": "kernel data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL is off)",
    "debugfs": "debugfs at /sys/kernel/debug (not mounted here; the script hard-codes "
               "/sys/kernel/debug/tracing)",
    "intel_cpu": "an Intel CPU (the tool decodes VMX exit reasons and checks the vendor "
                 "first; BCC refuses the same way on an AMD host)",
}
# what a tool that stops by itself prints when it gives up (BCC's tools often print an
# error on stdout and exit with status 0)
_GAVE_UP = re.compile(r"^(ERROR|Error|error)\b|^Failed|cannot attach|\[Errno \d+\]|"
                      r"does not exist|not supported|Exiting\.")
# what Python's exceptions say, printed by a tool that catches them (funccount, trace...)
_PRINTED_EXC = re.compile(r"object has no attribute|is not defined$|not subscriptable|"
                          r"unsupported operand|positional argument|object is not |"
                          r"invalid literal for|can't concat|a bytes-like object is required")
# today's stop for every BPF(text=) tool, until bcc-core compiles BCC C text
TEXT_PATH_MISSING = "is BCC C source: bcc-core loads compiled BPF CO-RE objects"

_BOILERPLATE = re.compile(
    r"^\s*$|Detaching|Ctrl[-+]C|Tracing|Exiting|loadavg:|"
    r"^\s*\[?\d\d:\d\d:\d\d(\.\d+)?\]?\s*$",
    re.I)


# -- the tools -----------------------------------------------------------------------------

def _package_files():
    """bpfcc-tools' files in /usr/sbin: dpkg's list (it has ucalls, uflow... without the
    suffix, which the language wrappers run), else /usr/sbin/*-bpfcc."""
    try:
        out = subprocess.run(["dpkg", "-L", "bpfcc-tools"], capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    files = [p for p in out if os.path.dirname(p) == SBIN and os.path.isfile(p)]
    return sorted(files or glob.glob(os.path.join(SBIN, "*" + SUFFIX)))


def _name(path):
    base = os.path.basename(path)
    return base[:-len(SUFFIX)] if base.endswith(SUFFIX) else base


def scripts():
    """(python scripts {name: path}, other files {name: first line}) of bpfcc-tools."""
    py, other = {}, {}
    for path in _package_files():
        name = _name(path)
        try:
            with open(path, "rb") as f:
                first = f.readline().decode("utf-8", "replace").strip()
        except OSError as e:
            other[name] = str(e)
            continue
        if first.startswith("#!") and "python" in first:
            py[name] = path
        else:
            other[name] = first
    return py, other


def runs(names=None):
    """[(label, script name)] in sweep order; ``names`` filters by label or script."""
    py, _ = scripts()
    out = []
    for name in py:
        labels = [name] + sorted(k for k in ARGS if k.startswith(name + " ("))
        out.extend((label, name) for label in labels)
    if names:
        want = set(names)
        unknown = want - {l for l, _ in out} - {n for _, n in out}
        if unknown:
            raise SystemExit("unknown tools: %s" % ", ".join(sorted(unknown)))
        out = [(l, n) for l, n in out if l in want or n in want]
    return out


def convert(src, dst):
    """Copy ``src`` to ``dst`` through :data:`SED`; return the changed lines.  Raises if
    any other line changed."""
    with open(dst, "wb") as out:
        subprocess.run(["sed", "-E"] + [a for e in SED_EXPRS for a in ("-e", e)] + [src],
                       stdout=out, check=True)
    os.chmod(dst, 0o755)
    with open(src, "rb") as f:
        old = f.read().decode("utf-8", "replace").splitlines()
    with open(dst, "rb") as f:
        new = f.read().decode("utf-8", "replace").splitlines()
    assert len(old) == len(new), src
    changed = [(a, b) for a, b in zip(old, new) if a != b]
    for a, b in changed:
        assert IMPORT_LINE.match(a), "sed changed a non-import line of %s: %r" % (src, a)
    return changed


def static_attach(label, text):
    """(attach points, what this host lacks or None, verdict) from the script's text:
    verdict True (can run here), False (needs what the host lacks), None (undecided)."""
    if label in CHOICES:
        what, lack = CHOICES[label]
        if lack == "tracepoint" and label == "criticalstat" and os.path.isdir(
                "/sys/kernel/tracing/events/preemptirq"):
            lack = None
        if lack == "hwpmu" and os.path.isdir("/sys/bus/event_source/devices/cpu"):
            lack = None
        return what, lack, lack is None
    kinds = [k for k, rx in _KINDS if re.search(rx, text)]
    if not kinds:
        return "none found", None, None
    missing = [k for k in kinds if k not in HOST_KINDS]
    if not missing:
        return ", ".join(kinds), None, True
    if len(missing) == len(kinds):
        return ", ".join(kinds), missing[0], False
    return ", ".join(kinds), None, None


# -- one run ---------------------------------------------------------------------------------

class _Reader(threading.Thread):
    def __init__(self, stream, t0):
        threading.Thread.__init__(self, daemon=True)
        self.stream, self.t0 = stream, t0
        self.lines = []
        self.first = threading.Event()
        self.first_t = None

    def run(self):
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.strip() and not self.first.is_set():
                self.first_t = time.monotonic() - self.t0
                self.first.set()
        self.stream.close()


def _exception_line(stderr_lines):
    """The last traceback's exception line (plus an ``at file:line`` that follows)."""
    idx = [i for i, l in enumerate(stderr_lines) if l.startswith("Traceback (most recent")]
    if not idx:
        return None
    rest = stderr_lines[idx[-1] + 1:]
    for i, line in enumerate(rest):
        if line and not line.startswith(" "):
            out = line
            if i + 1 < len(rest) and rest[i + 1].strip().startswith("at "):
                out += " " + rest[i + 1].strip()
            return out
    return rest[-1].strip() if rest else "Traceback"


def event_lines(stdout_lines):
    """The lines after the header that report something (a digit, not boilerplate)."""
    body = [l for l in stdout_lines if l.strip()][1:]
    return [l for l in body if re.search(r"\d", l) and not _BOILERPLATE.search(l)]


def classify(r):
    """Set r["run_result"], r["result"], r["reason"], r["note"] from a finished run."""
    out, err = r["stdout_lines"], r["stderr_lines"]
    tb = _exception_line(err)
    reason = None
    if r["hung"]:
        run = "FAIL"
        reason = r["hung"]
    elif tb is not None or r["rc"] < 0 or (r["rc"] != 0 and not r["sigint"]) or (
            not r["sigint"] and any(_GAVE_UP.search(l) for l in out)) or any(
                _PRINTED_EXC.search(l) for l in out):
        # after Ctrl-C, a status without a traceback is the tool's choice (BCC's trace
        # exits 1); a negative one means a signal killed it
        last = [l.strip() for l in (err or out) if l.strip()]
        gave_up = [l.strip() for l in out if _PRINTED_EXC.search(l)] + [
            l.strip() for l in out if not r["sigint"] and _GAVE_UP.search(l)]
        if tb:
            reason = tb
        elif r["rc"] < 0:
            reason = "killed by signal %d" % -r["rc"]
        else:
            reason = gave_up[0] if gave_up else last[-1] if last else \
                "exit status %s" % r["rc"]
        run = "FAIL"
        for kind, rx in _NA_PATTERNS:
            if re.search(rx, reason):
                run, r["lacks"] = "NA_HOST", kind
                break
    elif event_lines(out):
        run = "PASS"
    else:
        run = "NO_EVENTS"
    if reason and "rejected by the verifier" in reason:
        # the verifier's own words: the last log line before its "processed N insns"
        done = [i for i, l in enumerate(err) if re.match(r"\s*processed \d+ insns", l)]
        if done and done[-1] > 0 and err[done[-1] - 1].strip():
            reason += ": " + err[done[-1] - 1].strip()
    if reason and reason.startswith("KeyboardInterrupt"):
        frames = re.findall(r'File "[^"]*/%s", line (\d+), in (\S+)' % re.escape(r["tool"]),
                            "\n".join(err))
        if frames:
            line, fn = frames[-1]
            reason += " (Ctrl-C outside the tool's handler: %s:%s in %s)" % (
                r["tool"], line, fn)
    r["run_result"], r["reason"] = run, reason
    result, note = run, ""
    if run == "NA_HOST" and r["static_ok"] is True and r["lacks"] in _ATTACH_KINDS:
        # the script has a path that works here, but took the one that does not
        result = "FAIL"
        note = ("the USDT probes exist here but were not used: " if r["lacks"] == "usdt"
                else "takes its %s path here: " % r["lacks"]) + short_reason(reason)
    elif run == "FAIL" and r["static_ok"] is False:
        result, r["lacks"] = "NA_HOST", r["static_lacks"]
        note = "needs %s; the run stops first: %s" % (NA_WHY.get(r["lacks"], r["lacks"]),
                                                      short_reason(reason, 110))
    elif run == "NA_HOST":
        m = re.search(r"to (k(?:ret)?probe '[^']*')", reason)
        note = "needs %s: %s" % (NA_WHY.get(r["lacks"], r["lacks"]),
                                 "attach_%s" % m.group(1) if m else short_reason(reason, 110))
    elif run == "FAIL":
        note = short_reason(reason)
    elif run == "NO_EVENTS":
        body = [l for l in out if l.strip()]
        note = "no events after the header" if body else "printed nothing"
        if r["label"] in QUIET:
            note += " (%s)" % QUIET[r["label"]]
        if r["rc"] == 0 and not r["sigint"]:
            note += " (exited by itself)"
    else:
        note = "%d event/summary lines" % len(event_lines(out))
        if not r["sigint"]:
            note += ", exited by itself"
    if result in ("PASS", "NO_EVENTS") and r["sigint"] and r["rc"]:
        note += "; exit status %d after Ctrl-C, no traceback" % r["rc"]
    known = KNOWN.get(r["label"])
    r["known"] = bool(known and result == "FAIL" and re.search(known[0], reason or ""))
    if r["known"]:
        note = "%s (%s)" % (short_reason(reason, 110), known[1])
    gap = GAPS.get(r["label"])
    r["gap"] = bool(gap and result == "FAIL" and re.search(gap[0], reason or ""))
    if r["gap"]:
        note = gap[1]
    if r.get("no_header") and result in ("PASS", "NO_EVENTS"):
        note += "; no header before the workload"
    r["result"], r["note"] = result, note
    return r


def short_reason(reason, width=160):
    if reason is None:
        return ""
    reason = re.sub(r"^bcc_core\.errors\.", "", reason)
    if TEXT_PATH_MISSING in reason:
        return "BPF(text=/src_file=C) not supported yet (NotSupportedError)"
    return reason if len(reason) <= width else reason[:width - 3] + "..."


def reason_key(reason):
    """A reason with its specifics (names, numbers, paths) masked, for grouping."""
    s = short_reason(reason, 10000)
    s = re.sub(r"^([\w.]+\.)?\w*(Error|Exception|Interrupt)\b: ", "", s)
    s = re.sub(r"\b(tracepoint|kprobe|kretprobe|uprobe) [\w.*]+(?::[\w.*]+)*", r"\1 …", s)
    s = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", s)
    s = re.sub(r"(/[\w.+-]+)+", "/…", s)
    s = re.sub(r"\b0x[0-9a-f]+\b|\b\d+\b", "N", s)
    return s[:140]


def run_tool(label, name, workdir, python=sys.executable, workload_secs=WORKLOAD_SECS,
             header_timeout=HEADER_TIMEOUT, exit_timeout=EXIT_TIMEOUT, log=None, env=None):
    """Run one tool over the workload; the unclassified record (see :func:`classify`)."""
    src = scripts()[0][name]
    d = os.path.join(workdir, label.replace(" ", "_").replace("(", "").replace(")", ""))
    os.makedirs(d, exist_ok=True)
    script = os.path.join(d, name)
    changed = convert(src, script)
    with open(src, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    what, lacks, ok = static_attach(label, text)
    args = ARGS.get(label, [])
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    target = None
    if any("{pid}" in a for a in args) or label in WANT_TARGET:
        # started as "python": ustat finds its targets by that comm
        exe = os.path.join(d, "python")
        if not os.path.exists(exe):
            os.symlink(os.path.realpath(TARGET), exe)
        target = subprocess.Popen([exe, "-c", TARGET_CODE], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)     # past its interpreter's start-up
        args = [a.replace("{pid}", str(target.pid)) for a in args]
    r = {"label": label, "tool": name, "script": src, "args": ARGS.get(label, []),
         "imports_changed": [b for _, b in changed], "attach": what, "static_ok": ok,
         "static_lacks": lacks, "lacks": None, "hung": None, "sigint": False,
         "no_header": False}
    t0 = time.monotonic()
    p = subprocess.Popen([python, script] + args, cwd=d, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    ro, re_ = _Reader(p.stdout, t0), _Reader(p.stderr, t0)
    ro.start()
    re_.start()
    wl = None
    try:
        deadline = t0 + header_timeout
        while not ro.first.is_set() and p.poll() is None and time.monotonic() < deadline:
            ro.first.wait(0.05)
        if p.poll() is None:
            if not ro.first.is_set():
                r["no_header"] = True
            time.sleep(SETTLE)
            wl = subprocess.Popen([python, os.path.abspath(__file__), "--workload",
                                   str(workload_secs)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            end = time.monotonic() + workload_secs + 30
            while wl.poll() is None and time.monotonic() < end:
                if p.poll() is not None and time.monotonic() > t0 + 1:
                    break       # the tool ended early: no need to finish the workload
                time.sleep(0.05)
            if p.poll() is None:
                time.sleep(0.3)     # let the last events reach the tool
            if label in SELF_EXIT:
                try:
                    p.wait(SELF_EXIT[label])
                except subprocess.TimeoutExpired:
                    pass
        if p.poll() is None:
            r["sigint"] = True
            os.kill(p.pid, signal.SIGINT)
            try:
                p.wait(exit_timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGINT)
                try:
                    p.wait(3)
                    r["hung"] = "exited only after a second SIGINT"
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    r["hung"] = ("no header within %ds, then " % header_timeout
                                 if r["no_header"] else "") + \
                        "did not exit %ds after SIGINT (killed)" % exit_timeout
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        if wl is not None:
            if wl.poll() is None:
                wl.kill()
            wl.wait()
            wl_err = wl.stderr.read().decode("utf-8", "replace")
            wl.stderr.close()
            r["workload_errors"] = wl_err.strip().splitlines()[-3:]
        if target is not None:
            target.kill()
            target.wait()
        ro.join(5)
        re_.join(5)
    r["rc"] = p.returncode
    r["seconds"] = round(time.monotonic() - t0, 2)
    r["header_s"] = round(ro.first_t, 2) if ro.first_t is not None else None
    r["stdout_lines"], r["stderr_lines"] = ro.lines, re_.lines
    classify(r)
    if log:
        log("%-24s %-9s %6s  %s" % (label, r["result"],
                                    "%.1fs" % r["header_s"] if r["header_s"] else "-",
                                    r["note"]))
    return r


def run_sweep(names=None, jobs=2, log=None, cold=False, **kw):
    """Run the tools (all, or ``names``), ``jobs`` at a time; records in sweep order.
    ``cold``: an empty object cache (BCC_CORE_CACHE), so that every tool compiles its
    program at start as on a first run."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # an ignored SIGINT would be inherited by the tools (see tests/conftest.py)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    todo = runs(names)
    workdir = tempfile.mkdtemp(prefix="bcc-sweep-")
    if cold:
        kw["env"] = {"BCC_CORE_CACHE": os.path.join(workdir, "cache")}
    results = [None] * len(todo)
    lock = threading.Lock()
    queue = list(enumerate(todo))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                i, (label, name) = queue.pop(0)
            try:
                results[i] = run_tool(label, name, workdir, log=log, **kw)
            except Exception as e:  # noqa: BLE001 - a harness error is a result too
                results[i] = {"label": label, "tool": name, "result": "FAIL",
                              "run_result": "FAIL", "attach": "?", "args": ARGS.get(label, []),
                              "reason": "harness: %r" % e, "note": "harness: %r" % e,
                              "header_s": None, "stdout_lines": [], "stderr_lines": []}
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shutil.rmtree(workdir, ignore_errors=True)
    return results


# -- reports -----------------------------------------------------------------------------------

CLASSES = ("PASS", "NO_EVENTS", "NA_HOST", "FAIL")


def counts(results):
    c = collections.Counter(r["result"] for r in results)
    return {k: c.get(k, 0) for k in CLASSES}


def fail_groups(results):
    """[(reason key, [labels])] of the FAIL results, most common first."""
    g = collections.OrderedDict()
    for r in results:
        if r["result"] == "FAIL":
            g.setdefault(reason_key(r["reason"]), []).append(r["label"])
    return sorted(g.items(), key=lambda kv: -len(kv[1]))


def _md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown_table(results, skipped=None, cold=None):
    c = counts(results)
    target = [r for r in results if r["result"] != "NA_HOST"]
    lines = [
        "%d runs of %d scripts on Linux %s (%s%s): %s.  Target set (attach points exist "
        "here): %d runs, %d PASS." % (
            len(results), len({r["tool"] for r in results}), os.uname().release,
            time.strftime("%Y-%m-%d"),
            {True: "; each tool compiled at start: empty object cache",
             False: "; objects cached by earlier runs", None: ""}[cold],
            ", ".join("%d %s" % (c[k], k) for k in CLASSES), len(target),
            c["PASS"]),
        "",
        "| tool | attach points | result | header | note |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        tool = r["label"].split(" (")[0]
        shown = "`%s%s`" % (tool, "".join(" " + _quote(a) for a in r["args"]))
        hdr = "%.1f s" % r["header_s"] if r.get("header_s") is not None else ""
        lines.append("| %s | %s | %s | %s | %s |" % (
            _md(shown), _md(r["attach"]), r["result"], hdr, _md(r["note"])))
    if skipped:
        lines += ["", "Not Python (not run): " + ", ".join(
            "`%s%s` (%s)" % (n, SUFFIX, why) for n, why in sorted(skipped.items())) + "."]
    return "\n".join(lines) + "\n"


def _quote(a):
    return a if re.match(r"^[\w./:*=,{}-]+$", a) else "'%s'" % a


def skipped_notes():
    _, other = scripts()
    out = {}
    for name, first in other.items():
        try:
            with open(os.path.join(SBIN, name + SUFFIX)) as f:
                body = f.read()
        except OSError:
            body = ""
        m = re.search(r"\$lib/(\w+)([^\n\"]*)", body)
        if m:
            target = os.path.join(SBIN, m.group(1))
            out[name] = "runs `%s%s`%s" % (
                m.group(1), m.group(2).rstrip(), "" if os.path.exists(target)
                else ", which is not installed")
        else:
            out[name] = "shell script, no BPF" if first.startswith("#!") else first
    return out


def update_doc(table, path=DOC):
    with open(path) as f:
        doc = f.read()
    i, j = doc.find(BEGIN), doc.find(END)
    if i < 0 or j < i:
        raise SystemExit("%s has no %s ... %s markers" % (path, BEGIN, END))
    new = doc[:i + len(BEGIN)] + "\n" + table + doc[j:]
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


def to_json(results, tail=40):
    out = []
    for r in results:
        r = dict(r)
        r["stdout_tail"] = r.pop("stdout_lines", [])[-tail:]
        r["stderr_tail"] = r.pop("stderr_lines", [])[-tail:]
        out.append(r)
    return {"kernel": os.uname().release, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "sed": SED, "counts": counts(results),
            "fail_groups": fail_groups(results), "results": out}


# -- the workload --------------------------------------------------------------------------------

def workload(seconds):
    """Generic activity for ``seconds``: what BCC's tools trace, a little of each."""
    import mmap
    import socket
    import ssl
    import select

    errors = collections.Counter()
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    tmp = tempfile.mkdtemp(prefix="bcc-sweep-wl-", dir=base)
    end = time.monotonic() + seconds

    def guard(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - keep going, report at the end
            errors["%s: %s" % (fn.__name__, type(e).__name__)] += 1

    # TCP listener + TLS server (self-signed cert) on loopback
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    tls_ctx = None
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    if shutil.which("openssl") and subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-days",
             "1", "-keyout", key, "-out", cert], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0:
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(cert, key)
    stop = threading.Event()

    def serve():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except OSError:
                continue
            try:
                c.settimeout(2)
                first = c.recv(1, socket.MSG_PEEK)
                if first == b"\x16" and tls_ctx is not None:
                    c = tls_ctx.wrap_socket(c, server_side=True)
                data = c.recv(4096)
                c.sendall(data or b"x")
            except OSError:
                pass
            finally:
                c.close()
    srv = threading.Thread(target=serve, daemon=True)
    srv.start()

    def files():
        p = os.path.join(tmp, "f%d" % os.getpid())
        with open(p, "wb") as f:
            f.write(os.urandom(64 * 1024))
            f.flush()
            os.fsync(f.fileno())
        os.stat(p)
        with open(p, "rb") as f:
            f.read()
        os.rename(p, p + ".2")
        os.unlink(p + ".2")
        os.mkdir(p + ".d")
        os.rmdir(p + ".d")
        try:
            os.open("/nonexistent/bcc-sweep", os.O_RDONLY)
        except OSError:
            pass

    def execs():
        subprocess.run(["/bin/true"])
        subprocess.run(["/bin/sh", "-c", "ls / >/dev/null; exit 3"])

    def forks():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    def signals():
        os.kill(os.getpid(), 0)
        p = subprocess.Popen(["sleep", "10"])
        p.send_signal(signal.SIGTERM)
        p.wait()

    def tcp():
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"ping")
            s.recv(16)
        try:
            socket.create_connection(("127.0.0.1", closed_port), timeout=1).close()
        except OSError:
            pass

    def tls():
        if tls_ctx is None:
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"hello tls")
                s.recv(64)

    def curl():
        """TLS through libssl's SSL_write/SSL_read (Python's ssl calls the _ex forms,
        which BCC 0.26's sslsniff does not trace)."""
        if tls_ctx is not None and shutil.which("curl"):
            subprocess.run(["curl", "-sk", "--max-time", "2", "-o", "/dev/null",
                            "https://127.0.0.1:%d/" % port], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def udp():
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b.bind(("127.0.0.1", 0))
        a.sendto(b"ping", b.getsockname())
        b.settimeout(1)
        b.recvfrom(16)
        a.close()
        b.close()

    def pipes():
        r, w = os.pipe()
        os.write(w, b"x" * 512)
        os.read(r, 512)
        os.close(r)
        os.close(w)

    def faults():
        m = mmap.mmap(-1, 4 << 20)
        for off in range(0, len(m), 4096):
            m[off] = 1
        m.close()

    def names():
        socket.getaddrinfo("localhost", 80)

    def threads():
        t = threading.Thread(target=time.sleep, args=(0.001,))
        t.start()
        t.join()

    def sleeps():
        time.sleep(0.01)

    def bash():
        """An interactive bash reading two lines (bashreadline traces readline())."""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
        try:
            os.write(fd, b"true bcc-sweep\nexit\n")
            t_end = time.monotonic() + 2
            while time.monotonic() < t_end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        if not os.read(fd, 1024):
                            break
                    except OSError:
                        break
                if os.waitpid(pid, os.WNOHANG)[0]:
                    pid = 0
                    break
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)

    def syn_retransmit():
        """A full accept queue drops SYNs: the client retransmits after ~1 s."""
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        clients = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(full.getsockname())
            clients.append(c)
        time.sleep(1.3)
        for c in clients:
            c.close()
        full.close()

    def compact():
        with open("/proc/sys/vm/compact_memory", "w") as f:
            f.write("1")

    once = [syn_retransmit, compact]
    each = [files, execs, forks, signals, tcp, tls, udp, pipes, faults, names, threads,
            sleeps]
    bg = [threading.Thread(target=guard, args=(fn,), daemon=True) for fn in once]
    for t in bg:
        t.start()
    n = 0
    last_slow = 0.0
    while time.monotonic() < end:
        for fn in each:
            guard(fn)
        if time.monotonic() - last_slow > 1.0:
            last_slow = time.monotonic()
            guard(bash)
            guard(curl)
            guard(os.sync)
        n += 1
    for t in bg:
        t.join(3)
    stop.set()
    srv.join(1)
    lsock.close()
    shutil.rmtree(tmp, ignore_errors=True)
    for k, v in sorted(errors.items()):
        sys.stderr.write("workload: %s x%d\n" % (k, v))
    return n


# -- command line ------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", help="comma-separated labels or script names (default: all)")
    ap.add_argument("--jobs", "-j", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=WORKLOAD_SECS, help="workload length")
    ap.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--cold", action="store_true",
                    help="start with an empty object cache: every tool compiles at start")
    ap.add_argument("--table", action="store_true",
                    help="write the table between the markers of docs/migration.md")
    ap.add_argument("--json", metavar="FILE", help="write every record as JSON")
    ap.add_argument("--list", action="store_true", help="list the runs and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per tool as it ends")
    ap.add_argument("--workload", type=float, metavar="SECS", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.workload is not None:
        workload(a.workload)
        return 0
    names = [t.strip() for t in a.tools.split(",") if t.strip()] if a.tools else None
    if a.list:
        for label, name in runs(names):
            print(label, " ".join(ARGS.get(label, [])))
        return 0
    if not scripts()[0]:
        raise SystemExit("no %s/*%s Python scripts: install bpfcc-tools" % (SBIN, SUFFIX))
    if os.geteuid() != 0:
        raise SystemExit("the sweep loads BPF programs: run it as root")
    t0 = time.monotonic()
    lock = threading.Lock()

    def log(msg):
        if a.verbose:
            with lock:
                print(msg, flush=True)
    results = run_sweep(names, jobs=a.jobs, log=log, python=a.python, cold=a.cold,
                        workload_secs=a.seconds, header_timeout=a.header_timeout)
    c = counts(results)
    print("%d runs in %.0f s: %s" % (len(results), time.monotonic() - t0,
                                     ", ".join("%d %s" % (c[k], k) for k in CLASSES)))
    known = {r["label"] for r in results if r.get("known")}
    for key, labels in fail_groups(results):
        print("FAIL x%d: %s\n    %s" % (len(labels), key, ", ".join(
            l + ("*" if l in known else "") for l in labels)))
    if known:
        print("* the tool's own failure (KNOWN), not bcc-core's")
    gaps = [r["label"] for r in results if r.get("gap")]
    if gaps:
        print("not in bcc-core yet (GAPS): %s" % ", ".join(gaps))
    if a.table:
        update_doc(markdown_table(results, None if names else skipped_notes(), a.cold))
        print("table written to", DOC)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(to_json(results), f, indent=1)
        print("records written to", a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
