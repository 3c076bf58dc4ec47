"""Objects compiled by someone else: every program of Debian's libbpf-tools that libbpf
itself loads on this kernel loads with bcc-core too (and nothing libbpf rejects loads)."""
import pytest

from bcc_core.load.loader import Object
from bcc_core.obj.cache import load_spec
from conftest import need_root, open_fds
from libbpf_tools import extract_objects, libbpf_loadable


def test_libbpf_tools_objects_load_like_libbpf():
    need_root()
    objs = extract_objects()
    assert len(objs) > 40
    agree = []
    mismatches = []
    before = open_fds()
    for tool, path in sorted(objs.items()):
        expected = libbpf_loadable(path)
        assert expected, "oracle printed nothing for %s" % tool
        spec = load_spec(path)
        for prog, lib_ok in expected.items():
            try:
                with Object(path, autoload={p.name: p.name == prog for p in spec.programs}):
                    pass
                ours, why = True, ""
            except Exception as e:   # noqa: BLE001 - we record every outcome
                ours, why = False, "%s: %s" % (type(e).__name__, str(e).splitlines()[0])
            if ours == lib_ok:
                agree.append((tool, prog, ours))
            else:
                mismatches.append((tool, prog, "libbpf " + ("ok" if lib_ok else "fails"),
                                   "bcc-core " + ("ok" if ours else why)))
    n_ok = sum(1 for a in agree if a[2])
    print("\nlibbpf-tools: %d objects, %d programs agree (%d load, %d rejected by both), "
          "%d differ" % (len(objs), len(agree), n_ok, len(agree) - n_ok, len(mismatches)))
    assert not mismatches, "\n".join(map(str, mismatches))
    assert n_ok > 200
    assert open_fds() == before
