"""Shared by the tests that run inside the guest (tests/guest_tests): detect the guest,
read the manifest tests/test_guest.py wrote before booting (host-built BPF objects and
host-side CO-RE results), and write results back to the shared directory in /tmp."""
import json
import os

import pytest

GUEST_RELEASE_PREFIX = os.environ.get("BCC_CORE_GUEST_RELEASE", "6.1.")
WORKDIR = os.environ.get("BCC_CORE_GUEST_DIR", "")
MANIFEST = os.path.join(WORKDIR, "manifest.json") if WORKDIR else ""


def in_guest():
    return os.uname().release.startswith(GUEST_RELEASE_PREFIX) and bool(MANIFEST) and \
        os.path.exists(MANIFEST)


def _why_not():
    rel = os.uname().release
    if not rel.startswith(GUEST_RELEASE_PREFIX):
        return ("runs only inside the %s* guest kernel booted by tests/test_guest.py "
                "(this kernel is %s)" % (GUEST_RELEASE_PREFIX, rel))
    return ("no manifest from tests/test_guest.py (BCC_CORE_GUEST_DIR=%r): run these "
            "through `pytest -m guest tests/test_guest.py`" % WORKDIR)


# every module here: `pytestmark = guestlib.only_in_guest`
only_in_guest = [pytest.mark.guest,
                 pytest.mark.skipif(not in_guest(), reason=_why_not() if not in_guest()
                                    else "")]


def manifest():
    with open(MANIFEST) as f:
        return json.load(f)


def obj_path(name):
    """Path of the host-built object tests/progs/<name>.bpf.c."""
    m = manifest()
    p = m["objects"].get(name)
    if p is None:
        pytest.fail("object %s was not built on the host: %s" % (
            name, m.get("build_errors", {}).get(name, "not in the manifest")))
    return p


def write_result(name, data):
    """Leave a JSON result for the host side (printed in the session summary)."""
    with open(os.path.join(WORKDIR, "result-%s.json" % name), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)


# -- fixtures (imported by the test modules: no conftest.py here, its module name would
# -- shadow tests/conftest.py's on sys.path)


@pytest.fixture
def guest_obj():
    """guest_obj("guest_kprobe") -> path of the host-built object (in the guest only)."""
    return obj_path


@pytest.fixture
def open_paths():
    """open_paths(paths) opens each path read-only from this thread, closes the fds after
    all opens (so every successful open gets a distinct fd) and returns what user space
    got: the fd, or -errno."""
    def run(paths, flags=os.O_RDONLY):
        got, fds = [], []
        try:
            for p in paths:
                try:
                    fd = os.open(p, flags)
                except OSError as e:
                    got.append(-e.errno)
                else:
                    fds.append(fd)
                    got.append(fd)
        finally:
            for fd in fds:
                os.close(fd)
        return got
    return run
