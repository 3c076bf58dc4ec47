"""USDT as BCC offers it, on the real kernel: the probes of Debian's python3 (built with
dtrace probes, semaphores included) read by a BCC-style script through
BPF(text=..., usdt_contexts=[USDT(pid=...)]) and bpf_usdt_readarg()."""
import os
import subprocess
import textwrap
import time

import pytest

from conftest import CLANG, need_root

PY = "/usr/bin/python3"
pytestmark = pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")


def _has_probes():
    try:
        out = subprocess.run(["readelf", "-n", os.path.realpath(PY)], capture_output=True,
                             text=True).stdout
    except OSError:
        return False
    return "function__return" in out


def test_notes_are_read():
    if not _has_probes():
        pytest.skip("%s has no USDT notes (needs Debian's python3, built with dtrace)" % PY)
    from bcc_core.usdt import read_probes
    probes = {p.name: p for p in read_probes(os.path.realpath(PY))}
    p = probes[b"function__return"]
    assert p.provider == b"python" and p.num_locations >= 1 and p.num_arguments == 3
    loc = p.locations[0]
    assert loc.semaphore and loc.semaphore_offset and loc.file_offset
    assert [a.size for a in loc.arguments] == [8, 8, 4] and loc.arguments[2].signed


def test_python_function_returns(tmp_path, monkeypatch):
    """Each return of a Python function called from C (sorted's key) fires the probe,
    the semaphore is counted by the kernel, and the arguments (file name, function
    name, line) read as the interpreter passed them."""
    need_root()
    if not _has_probes():
        pytest.skip("%s has no USDT notes (needs Debian's python3, built with dtrace)" % PY)
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    from bcc_core import BPF, USDT
    work = subprocess.Popen([PY, "-c", textwrap.dedent("""
        import time
        def by_minus(x):
            return -x
        end = time.time() + 20
        while time.time() < end:
            sorted(range(50), key=by_minus)
        """)])
    try:
        time.sleep(0.3)
        u = USDT(pid=work.pid)
        u.enable_probe(probe="function__return", fn_name="on_return")
        text = r"""
        struct key_t { char func[16]; int line; };
        BPF_HASH(calls, struct key_t, u64);
        int on_return(struct pt_regs *ctx) {
            struct key_t k = {};
            u64 name = 0;
            int line = 0;
            bpf_usdt_readarg(2, ctx, &name);
            bpf_usdt_readarg(3, ctx, &line);
            bpf_probe_read_user_str(&k.func, sizeof(k.func), (void *)name);
            k.line = line;
            calls.increment(k);
            return 0;
        }
        """
        with BPF(text=textwrap.dedent(text), usdt_contexts=[u]) as b:
            time.sleep(0.5)
            seen = {(k.func, k.line): v.value for k, v in b["calls"].items()}
            assert seen.get((b"by_minus", 4), 0) > 50, seen
    finally:
        work.kill()
        work.wait()


def test_unknown_probe_is_a_clear_error():
    if not _has_probes():
        pytest.skip("%s has no USDT notes" % PY)
    from bcc_core import USDT, USDTException
    u = USDT(path=os.path.realpath(PY))
    with pytest.raises(USDTException, match="no_such_probe"):
        u.enable_probe("no_such_probe", "fn")
