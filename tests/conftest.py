"""Shared fixtures: build the test BPF programs from C in tests/progs (clang-19), skip
with a printed reason where the machine cannot run a test (never fake it)."""
import hashlib
import os
import shutil
import signal
import subprocess

import pytest

# Tests stop the tools they start with SIGINT, as a user's Ctrl-C does.  A shell that
# starts the run in the background (`bash .ci/run &`, nohup) leaves SIGINT ignored, and
# an ignored disposition is inherited across exec: the tools would never see it and the
# tests would wait forever.  A handled SIGINT is reset to the default in every child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The fuzz tests (hypothesis) draw the same examples on every run, so that a run's result
# depends on the code alone; BCC_CORE_FUZZ=random explores new examples instead.
try:
    from hypothesis import settings as _hsettings
except ImportError:
    pass
else:
    _hsettings.register_profile("fixed", derandomize=True, database=None)
    _hsettings.register_profile("random")
    _hsettings.load_profile("random" if os.environ.get("BCC_CORE_FUZZ") == "random"
                            else "fixed")

HERE = os.path.dirname(os.path.abspath(__file__))
PROGS = os.path.join(HERE, "progs")
BUILD = os.environ.get("BCC_CORE_TEST_BUILD") or os.path.join(HERE, ".build")
CLANG = shutil.which("clang-19") or shutil.which("clang")
BPFTOOL = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool")
                                      else None)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (bpf() as root)")


def _vmlinux_h():
    """vmlinux.h for the running kernel, generated from its BTF, cached by BTF hash."""
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        key = hashlib.sha1(f.read()).hexdigest()[:16]
    d = os.path.join(BUILD, "vmlinux-" + key)
    path = os.path.join(d, "vmlinux.h")
    if not os.path.exists(path):
        if BPFTOOL is None:
            pytest.skip("bpftool is needed to generate vmlinux.h")
        os.makedirs(d, exist_ok=True)
        out = subprocess.run([BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                              "format", "c"], check=True, capture_output=True).stdout
        with open(path + ".tmp", "wb") as f:
            f.write(out)
        os.replace(path + ".tmp", path)
    return d


def build_bpf(name, extra_flags=(), src_dir=PROGS):
    """Compile tests/progs/<name>.bpf.c; the object is keyed by the hash of its inputs,
    so it is never stale."""
    if CLANG is None:
        pytest.skip("clang-19 is not installed")
    src = os.path.join(src_dir, name + ".bpf.c")
    inc = _vmlinux_h()
    h = hashlib.sha1()
    for p in [src] + sorted(os.path.join(src_dir, f) for f in os.listdir(src_dir)
                            if f.endswith(".h")):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(repr((CLANG, extra_flags, inc)).encode())
    out = os.path.join(BUILD, "%s-%s.bpf.o" % (name, h.hexdigest()[:12]))
    if not os.path.exists(out):
        os.makedirs(BUILD, exist_ok=True)
        cmd = [CLANG, "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86",
               "-I", inc, "-I", src_dir, "-I/usr/include/x86_64-linux-gnu",
               *extra_flags, "-c", src, "-o", out + ".tmp"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("clang failed for %s:\n%s" % (src, r.stderr))
        os.replace(out + ".tmp", out)
    return out


@pytest.fixture(scope="session")
def bpf_obj():
    need_root()
    return build_bpf


def open_fds():
    return set(os.listdir("/proc/self/fd"))


# tests/guest_tests run inside the 6.1 guest (tests/test_guest.py boots it and runs them
# there); on any other kernel they are not collected at all.
collect_ignore = [] if os.uname().release.startswith("6.1.") else ["guest_tests"]
