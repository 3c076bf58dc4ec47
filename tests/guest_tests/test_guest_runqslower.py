"""Real BCC on the guest kernel: BCC's runqslower-bpfcc and bcc-core's runqslower over
one CPU-contention workload (two hogs pinned to one CPU).  Both trace the same scheduler
events, so the hogs' high-latency events must match: same pids and comms, latencies within
tolerance (each tool reads the clock at its own moment)."""
import os
import sys

import pytest

import bcc_compare
import guestlib

pytestmark = guestlib.only_in_guest
GUEST_COST = "bcc"          # guestlib runs this module after the cheap ones

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIN_US = 1000
TOOLS = {"bcc": ["/usr/sbin/runqslower-bpfcc", str(MIN_US)],
         "bcc-core": [sys.executable, os.path.join(REPO, "tools", "runqslower.py"),
                      str(MIN_US)]}


# In two of about ten full guest sessions (both fresh-clone CI runs) this comparison
# never finished and took the session's time with it; alone it passes (6 of 6 in a row).
# Until that is understood it runs when asked: BCC_CORE_GUEST_RUNQSLOWER=1.
OPT_IN = "BCC_CORE_GUEST_RUNQSLOWER"


@pytest.fixture(scope="module")
def run():
    if os.environ.get(OPT_IN) != "1":
        pytest.skip("runs with %s=1 (it hung the guest session intermittently, under "
                    "investigation: see docs/guest.md)" % OPT_IN)
    if not os.path.exists(TOOLS["bcc"][0]):
        pytest.skip("runqslower-bpfcc is not installed (apt-get install bpfcc-tools)")
    wait = guestlib.wait_budget(400, after=90)
    try:
        c = bcc_compare.compare(TOOLS, "runqslower", header_timeout=wait, workload_argv=[
            sys.executable, bcc_compare.__file__, "contention"])
    except bcc_compare.HeaderTimeout as e:
        if wait < 400 and not e.exited:
            guestlib.skip_for_budget("runqslower-bpfcc's start", wait)
        raise
    print("\n" + c.report())
    guestlib.write_result("runqslower", {"report": c.report(), "events": c.events})
    return c


def _clear(events, factor=3):
    """Events well above the threshold: both tools must report those."""
    return [e for e in events if e["lat_us"] > factor * MIN_US]


def test_runqslower_matches_bcc(run):
    hogs = {ch["pid"] for ch in run.workload["children"]}
    for tool in TOOLS:
        assert [e for e in run.events[tool] if e["pid"] in hogs], (tool, run.output[tool][-20:])
        assert all(e["lat_us"] > MIN_US for e in run.events[tool])
    # every clearly-slow event of one tool has its twin in the other
    for a, b in (("bcc", "bcc-core"), ("bcc-core", "bcc")):
        pool = [dict(e) for e in run.events[b]]
        missing = []
        for e in _clear(run.events[a]):
            twin = [o for o in pool if (o["pid"], o["comm"]) == (e["pid"], e["comm"]) and
                    abs(o["lat_us"] - e["lat_us"]) <= max(500, 0.3 * e["lat_us"])]
            if twin:
                pool.remove(twin[0])
            else:
                missing.append(e)
        assert len(missing) <= max(1, len(_clear(run.events[a])) // 10), \
            "%s events without a twin in %s: %r" % (a, b, missing[:10])
