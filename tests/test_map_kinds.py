"""BCC's map kinds beyond plain tables, translated to BTF-defined maps and used on the
real kernel: maps of maps filled from Python with inner map fds and looked through by a
tracepoint program, LPM tries, tables shared between two BPF objects (public/extern,
pinned), batch calls' keys, build-id stack maps; and the translation of every map
kind of BCC's helpers.h."""
import ctypes as ct
import os
import re

import pytest

from conftest import CLANG, need_root

pytest.importorskip("pycparser")
from bcc_core import BPF  # noqa: E402
from bcc_core.compat.tnodes import TranslateError  # noqa: E402
from bcc_core.compat.translate import translate  # noqa: E402
from bcc_core.errors import LoadError  # noqa: E402
from bcc_core.load import map as _map  # noqa: E402

pytestmark = pytest.mark.skipif(CLANG is None, reason="needs clang to compile BCC C")


@pytest.fixture(autouse=True)
def _root():
    need_root()


def map_defs(text):
    """{map name: its BTF definition} of the translation of BCC C ``text``."""
    out = translate(text, filename="<text>")
    return {m.group(2): m.group(1) for m in re.finditer(
        r"struct \{ (.*?) \} (\w+) SEC\(\"\.maps\"\)", out)}


# -- maps of maps --------------------------------------------------------------------------
COUNT_THROUGH_OUTER = r"""
BPF_ARRAY(sel, int, 1);
BPF_TABLE("%(inner)s", int, u64, first, 4);
BPF_TABLE("%(inner)s", int, u64, second, 4);
%(outer)s;

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    int zero = 0, *which;
    u64 one = 1, *n;
    void *inner;
    if ((bpf_get_current_pid_tgid() >> 32) != TGID)
        return 0;
    which = sel.lookup(&zero);
    if (!which)
        return 0;
    inner = outer.lookup(which);
    if (!inner)
        return 0;
    n = bpf_map_lookup_elem(inner, &zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(inner, &zero, &one, BPF_NOEXIST);
    return 0;
}
"""


@pytest.mark.parametrize("inner,outer", [
    ("hash", 'BPF_HASH_OF_MAPS(outer, int, "first", 8)'),
    ("array", 'BPF_ARRAY_OF_MAPS(outer, "first", 8)'),
])
def test_map_in_map_counts_into_the_selected_inner_map(inner, outer):
    text = COUNT_THROUGH_OUTER % {"inner": inner, "outer": outer}
    with BPF(text=text, cflags=["-DTGID=%d" % os.getpid()]) as b:
        sel, first, second, out = b["sel"], b["first"], b["second"], b["outer"]
        assert out.map.type == (_map.HASH_OF_MAPS if inner == "hash" else _map.ARRAY_OF_MAPS)
        out[ct.c_int(3)] = ct.c_int(first.get_fd())
        out[ct.c_int(5)] = ct.c_int(second.get_fd())
        sel[0] = ct.c_int(3)
        for _ in range(3):
            os.getppid()
        sel[0] = ct.c_int(5)
        os.getppid()
        sel[0] = ct.c_int(7)            # no inner map in that slot: nothing counted
        os.getppid()
        assert first[ct.c_int(0)].value == 3
        assert second[ct.c_int(0)].value == 1
        if inner == "hash":
            assert sorted(k.value for k in out.keys()) == [3, 5]
            del out[ct.c_int(3)]
            assert [k.value for k in out.keys()] == [5]


def test_map_in_map_template_is_the_named_map():
    defs = map_defs('BPF_HASH(ex, u32, u64, 16);\n'
                    'BPF_HASH_OF_MAPS(outer, u64, "ex", 4);\n')
    assert "__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS)" in defs["outer"]
    assert "__type(key, u64)" in defs["outer"]
    assert "__array(values, struct { %s })" % defs["ex"] in defs["outer"]


def test_hash_of_maps_struct_key():
    text = ('struct k { int a; int b; };\nBPF_TABLE("hash", int, int, ex, 8);\n'
            'BPF_HASH_OF_MAPS(outer, struct k, "ex", 4);\n')
    with BPF(text=text) as b:
        out = b["outer"]
        assert ct.sizeof(out.Key) == 8 and [f[0] for f in out.Key._fields_] == ["a", "b"]
        out[out.Key(1, 2)] = ct.c_int(b["ex"].get_fd())
        assert [(k.a, k.b) for k in out.keys()] == [(1, 2)]


@pytest.mark.parametrize("text,says", [
    ('BPF_HASH_OF_MAPS(outer, int, "nope", 4);', 'no map "nope" declared before it'),
    ('BPF_HASH(ex);\nBPF_ARRAY_OF_MAPS(o1, "ex", 2);\nBPF_ARRAY_OF_MAPS(o2, "o1", 2);',
     "itself a map of maps"),
    ('BPF_TABLE("bogus", int, int, t, 4);', 'BPF_TABLE type "bogus" is not supported'),
])
def test_map_declaration_errors(text, says):
    with pytest.raises(TranslateError, match=re.escape(says)):
        translate(text, filename="<text>")


# -- LPM trie ------------------------------------------------------------------------------
class Key4(ct.Structure):
    _fields_ = [("prefixlen", ct.c_uint32), ("addr", ct.c_ubyte * 4)]


def test_lpm_trie_longest_prefix():
    text = "struct k4 { u32 prefixlen; u8 addr[4]; };\nBPF_LPM_TRIE(trie, struct k4, u32, 32);"
    assert "__uint(map_flags, BPF_F_NO_PREALLOC)" in map_defs(text)["trie"]
    with BPF(text=text) as b:
        t = b["trie"]
        assert t.map.type == _map.LPM_TRIE
        t[Key4(8, (10, 0, 0, 0))] = ct.c_uint32(8)
        t[Key4(16, (10, 1, 0, 0))] = ct.c_uint32(16)
        t[Key4(24, (10, 1, 2, 0))] = ct.c_uint32(24)
        assert t[Key4(32, (10, 1, 2, 3))].value == 24
        assert t[Key4(32, (10, 1, 9, 9))].value == 16
        assert t[Key4(32, (10, 200, 0, 1))].value == 8
        with pytest.raises(KeyError):
            t[Key4(32, (11, 1, 2, 3))]


def test_lpm_trie_short_ctypes_key_is_zero_filled():
    # BCC hands the kernel a pointer to the ctypes key, of which the trie reads the
    # first prefixlen bits: a key struct shorter than the trie's still works
    with BPF(text="struct k { u32 prefixlen; u32 data[4]; };\n"
                  "BPF_F_TABLE(\"lpm_trie\", struct k, int, trie, 8, BPF_F_NO_PREALLOC);") as b:
        t = b["trie"]
        t[Key4(16, (192, 168, 0, 0))] = ct.c_int(16)
        assert t[Key4(32, (192, 168, 7, 7))].value == 16


# -- shared tables -------------------------------------------------------------------------
def test_public_table_shared_with_an_extern_table():
    writer = BPF(text='BPF_TABLE_PUBLIC("hash", u32, u64, shared_counts, 16);')
    try:
        with BPF(text='BPF_TABLE("extern", u32, u64, shared_counts, 16);') as reader:
            t = reader["shared_counts"]
            assert t.map.type == _map.HASH       # the public table's, not the placeholder
            t[ct.c_uint32(4)] = ct.c_uint64(44)
        w = writer["shared_counts"]
        assert w[ct.c_uint32(4)].value == 44
        w[ct.c_uint32(5)] = ct.c_uint64(55)
        with BPF(text='BPF_TABLE("extern", u32, u64, shared_counts, 16);') as reader2:
            assert reader2["shared_counts"][ct.c_uint32(5)].value == 55
    finally:
        writer.cleanup()
    with pytest.raises(LoadError, match="no public table 'shared_counts'"):
        BPF(text='BPF_TABLE("extern", u32, u64, shared_counts, 16);')


def test_program_writes_a_table_another_object_reads():
    reader = BPF(text='BPF_TABLE_SHARED("array", int, u64, seen, 1);')
    try:
        prog = r"""
BPF_TABLE("extern", int, u64, seen, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    int zero = 0;
    u64 *n;
    if ((bpf_get_current_pid_tgid() >> 32) != TGID)
        return 0;
    n = seen.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}"""
        with BPF(text=prog, cflags=["-DTGID=%d" % os.getpid()]):
            os.getppid()
            os.getppid()
        assert reader["seen"][0].value == 2
    finally:
        reader.cleanup()


def test_pinned_table_outlives_its_object():
    path = "/sys/fs/bpf/bcc_core_test_map_kinds_%d" % os.getpid()
    text = 'BPF_TABLE_PINNED("hash", u32, u64, pinned_t, 8, "%s");' % path
    try:
        with BPF(text=text) as b:
            b["pinned_t"][ct.c_uint32(1)] = ct.c_uint64(11)
        assert os.path.exists(path)
        with BPF(text=text) as b:
            assert b["pinned_t"][ct.c_uint32(1)].value == 11
    finally:
        if os.path.exists(path):
            os.unlink(path)


# -- batch calls ---------------------------------------------------------------------------
def test_batch_keys_are_ints_as_in_bcc():
    with BPF(text="BPF_HASH(h, int, int, 64);") as b:
        h = b["h"]
        for i in (5, 3, 9, 1):
            h[ct.c_int(i)] = ct.c_int(i * 10)
        items = sorted(h.items_lookup_batch())
        assert items == [(1, 10), (3, 30), (5, 50), (9, 90)]
        assert all(type(k) is int and type(v) is int for k, v in items)
        keys = (h.Key * 2)(1, 9)
        h.items_delete_batch(keys)
        assert sorted(h.items_lookup_and_delete_batch()) == [(3, 30), (5, 50)]
        assert len(h) == 0


def test_batch_struct_keys_stay_structs():
    with BPF(text="struct k { u32 a; u32 b; };\nBPF_HASH(h, struct k, u64, 8);") as b:
        h = b["h"]
        h[h.Key(1, 2)] = ct.c_uint64(3)
        (k, v), = h.items_lookup_batch()
        assert (k.a, k.b, v) == (1, 2, 3)


# -- stack maps ----------------------------------------------------------------------------
def test_build_id_stack_map():
    text = "BPF_STACK_TRACE_BUILDID(stacks, 100);"
    assert "PERF_MAX_STACK_DEPTH * sizeof(struct bpf_stack_build_id)" in map_defs(text)["stacks"]
    with BPF(text=text) as b:
        st = b["stacks"]
        assert st.map.type == _map.STACK_TRACE
        assert st.flags & st.BPF_F_STACK_BUILD_ID
        assert st.map.value_size == 127 * 32
        assert ct.sizeof(st.Leaf) == 127 * 32 and st.Leaf._fields_[0][0] == "trace"


def test_build_id_stack_of_a_uprobe_resolves_with_add_module():
    libc = next(line.split()[-1] for line in open("/proc/self/maps")
                if re.search(r"/libc[.-]", line))
    text = r"""
BPF_STACK_TRACE_BUILDID(stacks, 64);
BPF_ARRAY(last, int, 1);
int on_getuid(struct pt_regs *ctx) {
    int zero = 0, id = stacks.get_stackid(ctx, BPF_F_USER_STACK);
    if (id >= 0)
        last.update(&zero, &id);
    return 0;
}"""
    with BPF(text=text) as b:
        b.attach_uprobe(name=libc, sym="getuid", fn_name="on_getuid", pid=os.getpid())
        b.add_module(libc)
        b["last"][0] = ct.c_int(-1)
        os.getuid()
        sid = b["last"][0].value
        assert sid >= 0
        frame = b["stacks"][sid].trace[0]
        if frame.status != 1:
            pytest.skip("the kernel gave no build id for libc's frame (status %d)"
                        % frame.status)
        assert b"getuid" in b.sym(frame, -1)
        assert b"getuid" in next(iter(b["stacks"].walk(sid, lambda f: b.sym(f, -1))))


# -- every map kind of BCC's helpers.h -----------------------------------------------------
@pytest.mark.parametrize("decl,mtype", [
    ("BPF_QUEUE(q, u32, 8)", "QUEUE"), ("BPF_STACK(s, u32, 8, 0)", "STACK"),
    ("BPF_SK_STORAGE(sks, u64)", "SK_STORAGE"),
    ("BPF_INODE_STORAGE(iks, u64)", "INODE_STORAGE"),
    ("BPF_TASK_STORAGE(tks, u64)", "TASK_STORAGE"),
    ("BPF_CGROUP_STORAGE(cgs, u64)", "CGROUP_STORAGE"),
    ("BPF_PERCPU_CGROUP_STORAGE(pcgs, u64)", "PERCPU_CGROUP_STORAGE"),
    ("BPF_DEVMAP(dm, 4)", "DEVMAP"), ("BPF_CPUMAP(cm, 4)", "CPUMAP"),
    ("BPF_XSKMAP(xm, 4)", "XSKMAP"), ("BPF_SOCKMAP(sm, 4)", "SOCKMAP"),
    ("BPF_SOCKHASH(sh, u64, 4)", "SOCKHASH"), ("BPF_ARRAY_OF_MAPS(aom, \"a\", 2)", "ARRAY_OF_MAPS"),
    ("BPF_PROG_ARRAY(pa, 4)", "PROG_ARRAY"), ("BPF_LPM_TRIE(lpm)", "LPM_TRIE"),
])
def test_every_helpers_h_map_kind_is_created(decl, mtype):
    with BPF(text="BPF_ARRAY(a, u32, 2);\n%s;" % decl) as b:
        name = re.match(r"\w+\((\w+)", decl).group(1)
        assert b._obj.maps[name].type == getattr(_map, mtype)


def test_storage_methods_become_helper_calls():
    text = r"""
struct val { u64 n; };
BPF_TASK_STORAGE(ts, struct val);
BPF_SK_STORAGE(ss, struct val);
BPF_DEVMAP(dm, 4);
RAW_TRACEPOINT_PROBE(sys_enter) {
    struct val *v = ts.task_storage_get(bpf_get_current_task_btf(), 0,
                                        BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (v)
        v->n++;
    return 0;
}"""
    out = translate(text, filename="<text>")
    assert "bpf_task_storage_get(&ts, bpf_get_current_task_btf(), 0, " \
           "BPF_LOCAL_STORAGE_GET_F_CREATE)" in out
    with BPF(text=text) as b:
        assert b._obj.maps["ts"].type == _map.TASK_STORAGE
