"""CO-RE relocation engine (bcc_core.core.relo) against compiler-made objects.

Each tests/relo/X.c is compiled twice with clang-19: as a BPF program whose CO-RE
relocations are under test (the "local" object), and with -DTARGET, where the same file
defines the target variants of the types (a made-up kernel) and, in .rodata, the expected
values computed by the compiler (offsetof/sizeof/enum constants); see tests/relo/core_test.h.
"""
import io
import os
import shutil
import struct
import subprocess

import pytest

from bcc_core import btf as B
from bcc_core.core import relo
from bcc_core.obj import elf
from bcc_core.errors import RelocationError

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "relo")
CLANG = shutil.which("clang-19")
U64 = (1 << 64) - 1
EXPECT_POISON = -0x7ead0001
EXPECT_SEMANTIC = -0x7ead0002
EXPECT_LOCAL_ID = -0x7ead0003

if CLANG is None:
    print("test_relo: clang-19 not found, skipping the CO-RE relocation tests")
pytestmark = pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")

FILES = ["flavors", "arrays", "primitives", "bitfields", "sizes", "enumval", "existence",
         "errors", "kernel"]
NO_TARGET = {"kernel"}


def _cc(src, out, target):
    cmd = [CLANG, "-target", "bpf", "-g", "-O2", "-I/usr/include/x86_64-linux-gnu",
           "-Wno-unused-value", "-c", src, "-o", out]
    if target:
        cmd.insert(1, "-DTARGET")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise AssertionError("%s failed:\n%s" % (" ".join(cmd), r.stderr))


class Obj:
    """A compiled test: local spec/BTF/relocations; target BTF, expectations, symbols."""

    def __init__(self, name, local_o, target_o):
        with open(local_o, "rb") as f:
            self.spec = elf.parse(f.read(), local_o)
        self.local = B.BTF(self.spec.btf, where=local_o)
        self.relos = [(sec, r) for sec, rs in self.spec.btf_ext.core_relos.items()
                      for r in rs]
        self.expect = {}
        self.values = {}
        self.data = {}
        self.target = None
        self.target_relos = {}
        if target_o:
            from elftools.elf.elffile import ELFFile
            with open(target_o, "rb") as f:
                tdata = f.read()
            e = ELFFile(io.BytesIO(tdata))
            self.target = B.BTF(e.get_section_by_name(".BTF").data(), where=target_o)
            for s in e.get_section_by_name(".symtab").iter_symbols():
                if s["st_shndx"] in ("SHN_UNDEF", "SHN_ABS") or not s.name:
                    continue
                sec = e.get_section(s["st_shndx"])
                if sec.name.startswith("kprobe") or sec["sh_type"] == "SHT_NOBITS":
                    continue
                raw = sec.data()[s["st_value"]:s["st_value"] + s["st_size"]]
                if s.name.startswith("expect_"):
                    self.expect[s.name[7:]] = struct.unpack("<q", raw)[0]
                elif s.name.startswith("value_"):
                    self.values[s.name[6:]] = struct.unpack("<q", raw)[0]
                else:
                    self.data[s.name] = raw
            tspec = elf.parse(tdata, target_o)
            if tspec.btf_ext is not None:
                for sec, rs in tspec.btf_ext.core_relos.items():
                    self.target_relos[sec] = rs

    def by_section(self, decisions):
        out = {}
        for d in decisions:
            out.setdefault(d.section.split("/", 1)[1], []).append(d)
        return out

    def relos_of(self, name):
        return [(s, r) for s, r in self.relos if s == "kprobe/" + name]

    def one(self, name, target=None, cache=None):
        ds = relo.compute(self.local, self.relos_of(name), target or self.target, cache)
        assert len(ds) == 1, ds
        return ds[0]


@pytest.fixture(scope="session")
def objs(tmp_path_factory):
    out = tmp_path_factory.mktemp("relo-build")
    res = {}
    for name in FILES:
        src = os.path.join(SRC, name + ".c")
        lo = str(out / (name + ".o"))
        _cc(src, lo, False)
        to = None
        if name not in NO_TARGET:
            to = str(out / (name + ".target.o"))
            _cc(src, to, True)
        res[name] = Obj(name, lo, to)
    return res


def _patched_value(insns, d):
    """The value the patched instruction carries (imm, off or imm64)."""
    off = 8 * d.insn_idx
    code = insns[off]
    cls = code & 7
    if code == 0x18:
        lo, hi = struct.unpack_from("<II", insns, off + 4)[0], \
            struct.unpack_from("<I", insns, off + 12)[0]
        return lo | (hi << 32)
    if cls in (1, 2, 3):
        return struct.unpack_from("<h", insns, off + 2)[0] & U64
    return struct.unpack_from("<i", insns, off + 4)[0] & U64


def _check_patch(obj, d):
    insns = bytearray(obj.spec.sections[d.section].insns)
    before = bytes(insns)
    relo.patch(insns, d)
    if d.poisoned:
        assert insns[8 * d.insn_idx] == 0x85
        assert struct.unpack_from("<i", insns, 8 * d.insn_idx + 4)[0] == relo.POISON_IMM
        return
    code = before[8 * d.insn_idx]
    got = _patched_value(insns, d)
    want = d.target_value
    if code & 7 in (0, 4):      # 32-bit ALU imm: truncated like libbpf
        want = d.target_value & 0xFFFFFFFF
        got &= 0xFFFFFFFF
    assert got == want, d


CHECKED = ["flavors", "arrays", "primitives", "sizes", "enumval", "existence"]


@pytest.mark.parametrize("name", CHECKED)
def test_expected_values(objs, name):
    """Every relocation resolves to the value the compiler computed for the target types,
    and patching writes it into the instruction."""
    o = objs[name]
    decisions = relo.compute(o.local, o.relos, o.target, {})
    secs = o.by_section(decisions)
    expected = dict(o.expect)
    for sec, rs in o.target_relos.items():      # target type ids, from CHECK_TYPE_ID
        if sec.startswith("kprobe/tid_"):
            expected[sec[len("kprobe/tid_"):]] = rs[0].type_id
    assert secs, "no relocations found"
    missing = set(secs) - set(expected)
    assert not missing, "no expectation for %s" % sorted(missing)
    problems = []
    for sec, ds in sorted(secs.items()):
        assert len(ds) == 1, (sec, ds)
        d = ds[0]
        exp = expected[sec]
        if exp == EXPECT_POISON:
            ok = d.poisoned and d.reason
        elif exp == EXPECT_LOCAL_ID:
            ok = (not d.poisoned and d.target_value == d.local_value == d.type_id
                  and not d.validate)
        else:
            ok = not d.poisoned and d.target_value == exp & U64
        if not ok:
            problems.append("%s: expected %s, got %r" % (sec, exp, d))
        _check_patch(o, d)
    assert not problems, "\n".join(problems)


def test_whole_object_matches_single_records(objs):
    """One compute() over the whole object (shared candidate cache) gives the same values
    as one record at a time."""
    o = objs["arrays"]
    together = relo.compute(o.local, o.relos, o.target)
    alone = [relo.compute(o.local, [r], o.target)[0] for r in o.relos]
    assert [(d.poisoned, d.target_value) for d in together] == \
        [(d.poisoned, d.target_value) for d in alone]


def test_reasons(objs):
    o = objs["existence"]
    assert "field 'missing' not found" in o.one("off_missing").reason
    d = o.one("off_wrong_a")
    assert d.poisoned and "incompatible" in d.reason and "struct" in d.reason
    d = o.one("ex_missing")
    assert not d.poisoned and d.target_value == 0 and d.local_value == 1
    assert "not found" in d.reason
    a = objs["arrays"].one("a_oob")
    assert a.poisoned and "out of range" in a.reason
    f = objs["flavors"].one("flav_double")
    assert f.reason == "no candidate for struct core_reloc_flavors___x___y in target BTF"


def test_specs(objs):
    a = objs["arrays"]
    d = a.one("c1c")
    assert d.spec == "struct core_reloc_arrays___local.c[1].c"
    assert d.target_spec == "struct core_reloc_arrays.c[1].c"
    assert d.target_type_id == a.target.find("core_reloc_arrays", B.KIND_STRUCT)[0]
    assert a.one("ptr_as_arr").spec == "struct core_reloc_ptr_as_arr[2].a"
    e = objs["enumval"].one("value_named2")
    assert e.spec == "enum named_enum___flavor::NAMED_ENUM_VAL2___flav"
    assert e.target_spec == "enum named_enum::NAMED_ENUM_VAL2"
    assert objs["sizes"].one("size_struct").spec == "struct a_struct"
    assert objs["primitives"].one("td_a").spec == "typedef core_reloc_anon_td.a"
    assert objs["flavors"].one("nest_aaa").access == "0:1:1:1:1"  # via an anonymous struct


def _extract(data, off, sz, lshift, rshift, signed):
    v = int.from_bytes(data[off:off + sz], "little")
    v = (v << lshift) & U64
    if signed:
        if v >> 63:
            v -= 1 << 64
        return v >> rshift
    return v >> rshift


def test_bitfields(objs):
    """Read every field of the compiler-initialised target_data the way
    BPF_CORE_READ_BITFIELD_PROBED does, using only the relocated values."""
    o = objs["bitfields"]
    ds = o.by_section(relo.compute(o.local, o.relos, o.target))
    data = o.data["target_data"]
    assert o.values
    for f, want in o.values.items():
        v = {k: ds["%s_%s" % (f, k)][0] for k in ("off", "sz", "lshift", "rshift", "signed")}
        for d in v.values():
            assert not d.poisoned, d
        got = _extract(data, v["off"].target_value, v["sz"].target_value,
                       v["lshift"].target_value, v["rshift"].target_value,
                       v["signed"].target_value)
        assert got == want, (f, got, want, v)
        assert v["signed"].target_value == o.expect[f + "_signed"]
        # no validation of ambiguous bitfield values, but signedness is always checked
        assert v["signed"].validate and v["rshift"].validate
        for d in v.values():
            _check_patch(o, d)
    probed = ds["probed"]
    assert sorted(d.kind_name for d in probed) == sorted(
        ["byte_off", "byte_sz", "lshift_u64", "signed", "rshift_u64", "rshift_u64"])
    assert all(not d.poisoned for d in probed)
    assert {d.kind_name: d.target_value for d in probed} == {
        k: ds["sb20_" + s][0].target_value for k, s in
        [("byte_off", "off"), ("byte_sz", "sz"), ("lshift_u64", "lshift"),
         ("rshift_u64", "rshift"), ("signed", "signed")]}


def test_bitfield_too_wide(objs):
    with pytest.raises(RelocationError, match="64-bit load"):
        objs["errors"].one("bf_wide")


def test_ambiguous(objs):
    o = objs["errors"]
    with pytest.raises(relo.AmbiguousRelocationError) as ei:
        o.one("amb_field")
    msg = str(ei.value)
    assert "core_reloc_amb___a" in msg and "core_reloc_amb___b" in msg
    assert "kprobe/amb_field" in msg and "byte_off" in msg
    # existence: both say 1, but the offsets differ: still ambiguous for libbpf
    with pytest.raises(relo.AmbiguousRelocationError):
        o.one("amb_exists")
    # type ids differ per candidate
    with pytest.raises(relo.AmbiguousRelocationError, match="core_reloc_dup___2"):
        o.one("dup_tid")
    with pytest.raises(RelocationError):
        o.one("dup_size")


def test_candidates_agree_and_prune(objs):
    o = objs["errors"]
    d = o.one("dup_a")
    assert not d.poisoned and d.target_value == 0 and d.candidates == 2
    # each exists check alone matches one of the two flavors
    assert o.one("dup_x").target_value == 1
    assert o.one("dup_y").target_value == 1
    # libbpf narrows the cached candidate list to those that matched: after x (only in
    # ___1), y is looked up in ___1 only
    cache = {}
    ds = relo.compute(o.local, o.relos_of("dup_x") + o.relos_of("dup_y"), o.target, cache)
    assert [d.target_value for d in ds] == [1, 0]
    assert len(next(iter(cache.values()))) == 1
    ds = relo.compute(o.local, o.relos_of("dup_y") + o.relos_of("dup_x"), o.target)
    assert [d.target_value for d in ds] == [1, 0]


def test_missing_type_poisons(objs):
    d = objs["errors"].one("missing_off")
    assert d.poisoned and d.target_value is None and "no candidate" in d.reason


def _sec(o, name):
    return bytearray(o.spec.sections["kprobe/" + name].insns)


def test_patch_memsz(objs):
    o = objs["errors"]
    # u32 -> u64: offset and load size change
    d = o.one("memsz_u")
    assert (d.orig_sz, d.new_sz, d.fail_memsz_adjust) == (4, 8, False)
    insns = _sec(o, "memsz_u")
    assert insns[8 * d.insn_idx] & 0x18 == 0x00          # BPF_W
    relo.patch(insns, d)
    assert insns[8 * d.insn_idx] & 0x18 == 0x18          # BPF_DW
    assert insns[8 * d.insn_idx] & 7 == 1                # still LDX
    # u32 -> u16: narrowing an unsigned load is fine
    d = o.one("memsz_small")
    insns = _sec(o, "memsz_small")
    relo.patch(insns, d)
    assert insns[8 * d.insn_idx] & 0x18 == 0x08          # BPF_H
    assert struct.unpack_from("<h", insns, 8 * d.insn_idx + 2)[0] == d.target_value
    # s32 -> s64: can't be adjusted, the load is poisoned
    d = o.one("memsz_s")
    assert d.fail_memsz_adjust and not d.poisoned
    insns = _sec(o, "memsz_s")
    relo.patch(insns, d)
    assert insns[8 * d.insn_idx] == 0x85
    assert struct.unpack_from("<i", insns, 8 * d.insn_idx + 4)[0] == 0xbad2310
    # pointers keep their size
    d = o.one("memsz_p")
    assert d.orig_sz == d.new_sz == 8


def test_patch_checks_original_value(objs):
    o = objs["flavors"]
    d = o.one("flav_a")
    insns = _sec(o, "flav_a")
    struct.pack_into("<i", insns, 8 * d.insn_idx + 4, d.local_value + 1)
    with pytest.raises(RelocationError, match="unexpected ALU"):
        relo.patch(insns, d)
    d = o.one("anon_ldx_w")
    insns = _sec(o, "anon_ldx_w")
    struct.pack_into("<h", insns, 8 * d.insn_idx + 2, 3)
    with pytest.raises(RelocationError, match="unexpected LDX"):
        relo.patch(insns, d)
    # a target id is never validated
    t = objs["sizes"].one("struct")
    assert not t.validate
    insns = _sec(objs["sizes"], "struct")
    struct.pack_into("<i", insns, 8 * t.insn_idx + 4, 12345)
    relo.patch(insns, t)
    assert _patched_value(insns, t) == t.target_value
    # too big an offset for LDX
    d = o.one("anon_ldx_w")
    d.target_value = 0x8000
    with pytest.raises(RelocationError, match="too big"):
        relo.patch(_sec(o, "anon_ldx_w"), d)


def test_patch_ld_imm64(objs):
    o = objs["enumval"]
    d = o.one("value_e64_3")
    insns = _sec(o, "value_e64_3")
    assert insns[8 * d.insn_idx] == 0x18
    relo.patch(insns, d)
    assert _patched_value(insns, d) == 0x3ffffffff
    # a poisoned ld_imm64 poisons both halves
    d = o.one("value_e64_4")
    assert d.poisoned
    insns = _sec(o, "value_e64_4")
    assert insns[8 * d.insn_idx] == 0x18
    relo.patch(insns, d)
    for i in (d.insn_idx, d.insn_idx + 1):
        assert insns[8 * i:8 * i + 8] == bytes((0x85, 0, 0, 0)) + \
            (0xbad2310).to_bytes(4, "little")


class _R:
    def __init__(self, insn_off, type_id, access, kind):
        self.insn_off, self.type_id, self.access, self.kind = insn_off, type_id, access, kind


def test_malformed_records(objs):
    o = objs["flavors"]
    sec, good = o.relos_of("flav_a")[0]
    tid = good.type_id
    bad = [
        (_R(0, tid, "", 0), "access"),
        (_R(0, tid, ":0", 0), "access"),
        (_R(0, tid, "0:", 0), "access"),
        (_R(0, tid, "0::1", 0), "access"),
        (_R(0, tid, "0:x", 0), "access"),
        (_R(0, tid, "0:-1", 0), "access"),
        (_R(0, tid, "0:99", 0), "out of range"),
        (_R(0, tid, "0:1", 8), "'0'"),              # type relo needs "0"
        (_R(0, tid, "0", 10), "not an enum"),       # enum relo on a struct
        (_R(0, 10 ** 6, "0:0", 0), "out of range"),
        (_R(0, tid, "0:0", 13), "unknown"),
        (_R(4, tid, "0:0", 0), "multiple of 8"),
        (_R(0, tid, ":".join(["0"] * 65), 0), "too long"),
    ]
    for r, msg in bad:
        with pytest.raises(RelocationError, match=msg):
            relo.compute(o.local, [(sec, r)], o.target)
    # sscanf-style parsing: white space and '+' are accepted, like libbpf
    d = relo.compute(o.local, [(sec, _R(0, tid, "0: +2", 0))], o.target)[0]
    assert d.target_value == relo.compute(o.local, [(sec, _R(0, tid, "0:2", 0))],
                                          o.target)[0].target_value
    # local type id relocations need no target at all
    d = relo.compute(o.local, [(sec, _R(0, tid, "0", 6))], None)[0]
    assert d.target_value == d.local_value == tid and not d.validate


def test_essential_name():
    assert relo.essential_name("task_struct___old") == "task_struct"
    assert relo.essential_name("a___b___c") == "a___b"
    assert relo.essential_name("a____b") == "a____b"
    assert relo.essential_name("___x") == "___x"
    assert relo.essential_name("x___") == "x___"
    assert relo.essential_name("plain") == "plain"


@pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no /sys/kernel/btf/vmlinux")
def test_kernel_btf(objs):
    o = objs["kernel"]
    k = B.kernel_btf()
    ts = k.find("task_struct", B.KIND_STRUCT)
    assert len(ts) == 1
    t = k.type(ts[0])

    def member(name, tid=ts[0], base=0):
        for m in k.type(k.skip_mods(tid)).members:
            if m.name == name:
                return base + m.bit_offset // 8, m
            if not m.name and k.kind_of(k.skip_mods(m.type)) in (B.KIND_STRUCT,
                                                                 B.KIND_UNION):
                r = member(name, m.type, base + m.bit_offset // 8)
                if r:
                    return r
        return None

    ds = o.by_section(relo.compute(o.local, o.relos, k, {}))
    d = {name: v[0] for name, v in ds.items()}
    assert d["tgid_off"].target_value == member("tgid")[0]
    assert d["pid_ldx"].target_value == member("pid")[0]
    comm_off, comm = member("comm")
    assert d["comm_sz"].target_value == k.resolve_size(comm.type)
    assert d["comm_3"].target_value == comm_off + 3
    assert d["parent_off"].target_value == member("real_parent")[0]
    has_new = member("__state") is not None
    has_old = member("state") is not None
    assert d["new_state_exists"].target_value == int(has_new)
    assert d["old_state_exists"].target_value == int(has_old)
    if has_new:
        assert d["new_state_off"].target_value == member("__state")[0]
    else:
        assert d["new_state_off"].poisoned
    if not has_old:
        assert d["old_state_off"].poisoned
        assert "field 'state' not found" in d["old_state_off"].reason
    assert d["task_exists"].target_value == 1
    assert d["task_size"].target_value == t.size
    assert d["task_id"].target_value == ts[0]
    for v in d.values():
        _check_patch(o, v)
