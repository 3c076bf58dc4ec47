"""Real BCC on the guest kernel: BCC's opensnoop-bpfcc and other implementations of
opensnoop run side by side over one deterministic workload (tests/bcc_compare.py) and
must report the same events.  BCC compiles C at start-up (~40 s under emulation), so all
tools share one run.  One of them is BCC's own script with only its import lines changed
(``from bcc`` -> ``from bcc_core``): its ``BPF(text=...)`` is translated and compiled by
bcc-core in the guest."""
import os
import shutil
import sys
import tempfile

import pytest

import guestlib
import bcc_compare

pytestmark = guestlib.only_in_guest
GUEST_COST = "bcc"          # guestlib runs this module after the cheap ones

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BCC = ["/usr/sbin/opensnoop-bpfcc"]
# The implementation compared with BCC's.  Swap in bcc-core's port with one line:
#   OTHER = ("bcc-core", [sys.executable, os.path.join(REPO, "tools", "opensnoop.py")])
OTHER = ("libbpf-tools", ["stdbuf", "-oL", "/usr/sbin/opensnoop"])
# bcc-core's port also joins the same run once its facade imports (no extra BCC start-up)
BCC_CORE = ("bcc-core", [sys.executable, os.path.join(REPO, "tools", "opensnoop.py")])
TEXT = "bcc-core-text"      # opensnoop-bpfcc with only its imports changed


def text_tool():
    """argv of opensnoop-bpfcc with its imports changed, run by bcc-core (guestlib)."""
    script = guestlib.imports_changed("opensnoop", tempfile.mkdtemp(prefix="bcc-core-os-"))
    env = guestlib.text_env({})
    return ["env"] + ["%s=%s" % (k, env[k]) for k in ("PYTHONPATH", "BCC_CORE_CACHE")] + \
        [sys.executable, script]


def _facade_missing():
    if not os.path.exists(BCC_CORE[1][1]):
        return "tools/opensnoop.py does not exist yet"
    try:
        from bcc_core import BPF  # noqa: F401
    except ImportError as e:
        return "the BCC facade is not there yet (from bcc_core import BPF: %s)" % e
    return None


@pytest.fixture(scope="module")
def opensnoop_run():
    missing = [t[0] for t in (BCC, OTHER[1]) if not (shutil.which(t[0]) or os.path.exists(t[0]))]
    if missing:
        pytest.skip("not installed: %s (apt-get install bpfcc-tools libbpf-tools)" % missing)
    tools = {"bcc": BCC, OTHER[0]: OTHER[1]}
    if _facade_missing() is None and OTHER[0] != BCC_CORE[0]:
        tools[BCC_CORE[0]] = BCC_CORE[1]
        tools[TEXT] = text_tool()
    wait = guestlib.wait_budget(400, after=90)
    try:
        c = bcc_compare.compare(tools, "opensnoop", header_timeout=wait,
                                optional=[BCC_CORE[0], TEXT] if OTHER[0] != BCC_CORE[0] else [])
    except bcc_compare.HeaderTimeout as e:
        if wait < 400 and not e.exited:
            guestlib.skip_for_budget("opensnoop-bpfcc's start", wait)
        raise
    print("\n" + c.report())
    guestlib.write_result("opensnoop", {"report": c.report(), "events": c.events,
                                        "workload": c.workload,
                                        "header_seconds": c.header_seconds})
    return c


def test_bcc_opensnoop_agrees_with_other_implementation(opensnoop_run):
    c = opensnoop_run
    for tool in c.events:
        assert not c.missing_workload_opens(tool), (tool, c.missing_workload_opens(tool),
                                                    c.output[tool][-20:])
    assert c.diff("bcc", OTHER[0]) == []
    assert len(c.events["bcc"]) >= len(c.workload["opens"]) + len(c.workload["children"])


def test_bcc_opensnoop_agrees_with_bcc_core(opensnoop_run):
    why = _facade_missing()
    if why:
        pytest.skip(why)
    c = opensnoop_run
    name = BCC_CORE[0]
    assert c.header_seconds[name] is not None, c.output[name][-30:]
    assert not c.missing_workload_opens(name), c.missing_workload_opens(name)
    assert c.diff("bcc", name) == []


def test_bcc_opensnoop_agrees_with_its_imports_changed_copy(opensnoop_run):
    """opensnoop-bpfcc itself, ``from bcc`` -> ``from bcc_core``: BPF(text=) through the
    translator, clang and the CO-RE loader (BCC's KRETFUNC_PROBE text on this kernel)."""
    why = _facade_missing()
    if why:
        pytest.skip(why)
    c = opensnoop_run
    assert c.header_seconds[TEXT] is not None, c.output[TEXT][-30:]
    assert not c.missing_workload_opens(TEXT), (c.missing_workload_opens(TEXT),
                                                c.output[TEXT][-30:])
    assert c.diff("bcc", TEXT) == []
