"""bcc_core.events.struct_view (event() records) against bcc_core.btf.ctypes_btf
(BCC's ctypes mapping): over every struct and union of the running kernel's BTF, filled
with random bytes, each field must read the same through both.  Pure logic, no BPF."""
import ctypes as ct
import math
import random
import struct

import pytest

from bcc_core import btf as B
from bcc_core.btf.ctypes_btf import ctype_for
from bcc_core.events.struct_view import Record, record_for


def _norm(v):
    """A value as plain Python data: ctypes objects and records field by field."""
    if isinstance(v, Record):
        return {n: _norm(getattr(v, n)) for n in v._rec_fields}
    if isinstance(v, (ct.Structure, ct.Union)):
        return {n: _norm(getattr(v, n)) for n in _flat(type(v))}
    if isinstance(v, ct.Array):
        if v._type_ is ct.c_char:
            return v.value
        return [_norm(x) for x in v]
    if isinstance(v, memoryview):
        return [_norm(x) for x in v.tolist()]
    if isinstance(v, (tuple, list)):
        return [_norm(x) for x in v]
    if isinstance(v, float):
        return struct.pack("d", v) if math.isnan(v) else v
    if v is None:           # a NULL pointer in an array: ctypes None, a record 0
        return 0
    return v


def _same(rec, cty):
    """Record value ``rec`` reads as ctypes value ``cty`` (a record may have fields a
    packed ctypes layout keeps as raw bytes: only ctypes' fields are compared)."""
    if isinstance(rec, dict) and isinstance(cty, dict):
        return all(k in rec and _same(rec[k], v) for k, v in cty.items())
    if isinstance(rec, list) and isinstance(cty, list):
        return len(rec) == len(cty) and all(_same(a, b) for a, b in zip(rec, cty))
    return rec == cty


def _flat(cls_ct):
    """ctypes field names, anonymous members' fields included (as _anonymous_ does)."""
    out = []
    anon = set(getattr(cls_ct, "_anonymous_", ()))
    for f in cls_ct._fields_:
        if f[0] in anon:
            out += _flat(f[1])
        elif not f[0].startswith(("__pad_", "__bits_")):   # ctypes_btf's padding
            out.append(f[0])
    return out


@pytest.fixture(scope="module")
def kbtf():
    return B.kernel_btf()


def test_records_read_as_ctypes_over_kernel_structs(kbtf):
    rnd = random.Random(1)
    checked = fields = 0
    for t in kbtf.types():
        if t.kind not in (B.KIND_STRUCT, B.KIND_UNION) or not t.size or t.size > 4096:
            continue
        try:
            c = ctype_for(kbtf, t.id)
        except TypeError:
            continue
        if ct.sizeof(c) != t.size:
            continue
        r = record_for(kbtf, t.id)
        raw = bytes(rnd.getrandbits(8) for _ in range(t.size))
        a, b = c.from_buffer_copy(raw), r(raw)
        assert bytes(b) == raw
        for name in _flat(c):
            fields += 1
            assert _same(_norm(getattr(b, name)), _norm(getattr(a, name))), \
                "struct %s (id %d) field %s" % (t.name, t.id, name)
        checked += 1
    print("\n[struct_view] %d kernel structs, %d fields read alike" % (checked, fields))
    assert checked > 1000


def test_record_values(kbtf):
    """The BCC-visible shapes: char arrays are bytes up to NUL, int arrays index and
    export a buffer, pointers are None when NULL, records are copies."""
    names = {t.name: t.id for t in kbtf.types() if t.kind == B.KIND_STRUCT and t.name}
    task = record_for(kbtf, names["task_struct"])
    raw = bytearray(task._rec_size)
    comm_off = [m for m in kbtf.type(names["task_struct"]).members
                if m.name == "comm"][0].bit_offset // 8
    raw[comm_off:comm_off + 6] = b"hello\0"
    ev = task.from_buffer_copy(raw)
    assert ev.comm == b"hello"
    assert ev.real_parent is None
    assert ev == task(bytes(raw)) and repr(ev).startswith("task_struct(")
    from bcc_core import _sys       # what a callback gets: the record's address
    mem = _sys.ffi.new("char[]", bytes(raw))
    assert task.from_address(int(_sys.ffi.cast("uintptr_t", mem))) == ev
    in6 = record_for(kbtf, names["in6_addr"])
    a = in6(bytes(range(16)))
    import socket
    assert socket.inet_ntop(socket.AF_INET6, a.in6_u.u6_addr32) == \
        socket.inet_ntop(socket.AF_INET6, bytes(range(16)))
    assert a.in6_u.u6_addr16[1] == 0x0302 and len(a.in6_u.u6_addr8) == 16


def test_record_scalars_decoded_at_once(kbtf):
    """Scalar fields come from one Struct when the record is made and read through
    itemgetter (no Python call per read); a union's overlapping members and short input
    still read right."""
    from operator import itemgetter
    names = {t.name: t.id for t in kbtf.types()
             if t.kind in (B.KIND_STRUCT, B.KIND_UNION) and t.name}
    task = record_for(kbtf, names["task_struct"])
    assert isinstance(task.__dict__["pid"].fget, itemgetter)
    assert isinstance(task.__dict__["tgid"].fget, itemgetter)
    short = task(b"\x01\x02")                   # the rest reads as zeros
    assert len(bytes(short)) == task._rec_size and short.pid == 0
    # union bpf_attr: map_type and prog_type share offset 0; both read the same u32
    attr = record_for(kbtf, names["bpf_attr"])
    raw = struct.pack("<I", 0x11223344) + bytes(attr._rec_size - 4)
    r = attr(raw)
    assert r.map_type == r.prog_type == 0x11223344
