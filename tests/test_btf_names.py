"""Name lookups over a large BTF (the running kernel's): the one-pass forms agree with a
type-by-type walk (pure logic, no bpf())."""
import os

import pytest

from bcc_core import btf as B

if not os.path.exists(B.VMLINUX):
    pytest.skip("no %s" % B.VMLINUX, allow_module_level=True)


@pytest.fixture(scope="module")
def kb():
    return B.load_file(B.VMLINUX, cache=False)


def _walk(b, pred):
    return [t for t in range(b.start_id, b.nr_types) if pred(b.type(t))]


@pytest.mark.parametrize("prefix,kind", [("trace_event_raw_", B.KIND_STRUCT),
                                         ("task_", None), ("bpf_map", B.KIND_STRUCT),
                                         ("no_such_prefix_zz", None)])
def test_find_prefix_is_the_walk(kb, prefix, kind):
    want = _walk(kb, lambda t: t.name.startswith(prefix) and
                 (kind is None or t.kind == kind))
    assert kb.find_prefix(prefix, kind) == want


def test_few_and_many_offsets_agree(kb):
    offs = kb._string_offsets("trace_event_raw_", prefix=True)
    assert len(offs) > 4
    many = kb._ids_with_name_offs(offs)
    few = sorted(t for o in offs for t in kb._ids_with_name_offs([o]))
    assert many == few and many


def test_vlen_of(kb):
    for tid in list(range(1, 2000)) + kb.find_prefix("trace_event_raw_"):
        assert kb.vlen_of(tid) == kb.type(tid).vlen
    assert kb.vlen_of(0) == 0


def test_split_btf_find_prefix_includes_base(kb):
    """A split BTF (a module's) with one struct of its own: find_prefix gives the base's
    ids and its own."""
    import struct
    name = b"trace_event_raw_zz_module\0"
    strs = b"\0" + name
    # STRUCT, vlen 0, size 8; its name at offset 1 past the base's strings
    types = struct.pack("<III", kb.str_len + 1, B.KIND_STRUCT << 24, 8)
    hdr = struct.pack("<HBBIIIII", B.MAGIC, 1, 0, 24, 0, len(types), len(types),
                      len(strs))
    split = B.BTF(hdr + types + strs, base=kb)
    got = split.find_prefix("trace_event_raw_", B.KIND_STRUCT)
    assert got == kb.find_prefix("trace_event_raw_", B.KIND_STRUCT) + [kb.nr_types]
    assert split.vlen_of(kb.nr_types) == 0


def test_compat_name_indexes_are_the_walk(kb):
    pytest.importorskip("pycparser")
    from compat import typemodel
    typedefs, enums = typemodel._scan_names(kb)
    want_t, want_e = {}, {}
    for t in range(kb.start_id, kb.nr_types):
        bt = kb.type(t)
        if bt.kind == B.KIND_TYPEDEF:
            want_t.setdefault(bt.name, t)
        elif bt.kind in (B.KIND_ENUM, B.KIND_ENUM64):
            for n, v in bt.values:
                want_e.setdefault(n, v)
    assert typedefs == want_t and enums == want_e
    assert "pid_t" in typedefs and "TASK_COMM_LEN" in enums
