"""BCC's kprobe API on the guest kernel (the host has no kprobes), through bcc-core's
BPF(text=), translated and compiled in the guest: the kprobe items of BCC's API test
programs (tests/python/test_trace_maxactive.py, test_probe_count.py, test_trace2.py).

- ``attach_kretprobe(event_re=..., maxactive=N)``: BCC writes an ``rN:`` kprobe_events
  entry (the perf PMU cannot carry maxactive); the entry is there while attached and gone
  after cleanup().
- ``m.lookup_or_init(&k, &zero)`` dereferenced without a NULL check in kprobe programs
  (BCC's semantics: the call returns 0 from the program when there is no element), and a
  ``kprobe__``-named function attached by its name.
- ``attach_kprobe(event_re=)`` and ``_get_num_open_probes()`` / ``num_open_kprobes()``.

Counts are exact: the programs filter on this process's pid, and this process makes a
known number of getppid() calls while attached."""
import ctypes
import os

import pytest

import guestlib

pytestmark = guestlib.only_in_guest
GUEST_COST = "bcc"          # after the cheap ones: one BPF(text=) compile in the guest

# one program (one compile under emulation) for every check
TEXT = b"""
typedef struct { int idx; } Key;
typedef struct { u64 val; } Val;
BPF_HASH(stats, Key, Val, 8);

static int count(int idx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TGID)
        return 0;
    Val *v = stats.lookup_or_init(&(Key){idx}, &(Val){0});
    v->val++;
    return 0;
}
int enter(void *ctx) { return count(1); }
int leave(void *ctx) { return count(2); }
int kprobe__SYSCALL(struct pt_regs *ctx) { return count(3); }
"""
CALLS = 25


def _kprobe_events():
    for tf in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        p = os.path.join(tf, "kprobe_events")
        if os.path.exists(p):
            with open(p) as f:
                return f.read()
    return ""


@pytest.fixture(scope="module")
def run():
    os.environ.update({k: v for k, v in guestlib.text_env({}).items()
                       if k == "BCC_CORE_CACHE"})
    from bcc_core import BPF, _get_num_open_probes
    fn = BPF(text=b"").get_syscall_fnname(b"getppid")     # as BCC scripts get it
    text = TEXT.replace(b"TGID", b"%d" % os.getpid()).replace(b"SYSCALL", fn)
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    b = BPF(text=text)
    try:
        out["auto_probes"] = b.num_open_kprobes()
        b.attach_kprobe(event_re=b"^" + fn + b"$", fn_name=b"enter")
        b.attach_kretprobe(event_re=b"^" + fn + b"$", fn_name=b"leave", maxactive=16)
        out["open_probes"] = _get_num_open_probes()
        out["events_attached"] = _kprobe_events()
        for _ in range(CALLS):
            libc.getppid()
        st = b[b"stats"]
        out["counts"] = {k.idx: v.val for k, v in st.items()}
    finally:
        b.cleanup()
    out["events_after"] = _kprobe_events()
    out["open_after"] = _get_num_open_probes()
    guestlib.write_result("bcc_kprobes", {k: v if not isinstance(v, dict) else
                                          {str(a): c for a, c in v.items()}
                                          for k, v in out.items()})
    print("bcc kprobes: %s" % out)
    return out


def test_lookup_or_init_unchecked_counts_every_call(run):
    # enter (kprobe via event_re), leave (kretprobe), kprobe__ auto-attached
    assert run["counts"] == {1: CALLS, 2: CALLS, 3: CALLS}


def test_kretprobe_maxactive_is_a_tracefs_entry(run):
    lines = [l for l in run["events_attached"].splitlines() if l.startswith("r16:")]
    assert lines, "no r16: entry in kprobe_events:\n%s" % run["events_attached"]
    names = [l.split(":", 1)[1].split()[0] for l in lines]     # group/event
    assert not [n for n in names if n in run["events_after"]], \
        "entry left after cleanup:\n%s" % run["events_after"]


def test_open_probe_counts(run):
    assert run["auto_probes"] == 1
    assert run["open_probes"] == 3
    assert run["open_after"] == 0
