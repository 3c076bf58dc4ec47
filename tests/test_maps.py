"""Map operations from user space and a raw tracepoint filling maps on the real kernel."""
import ctypes
import os
import struct

import pytest

from bcc_core.attach.auto import attach_auto
from bcc_core.load.loader import Object
from bcc_core.load.map import NOEXIST, EXIST, nr_possible_cpus

libc = ctypes.CDLL(None, use_errno=True)
SYS_getppid = 110
SYS_getuid = 102


@pytest.fixture
def obj(bpf_obj):
    with Object(bpf_obj("maps"), rodata={"target_tgid": os.getpid()}) as o:
        yield o


def test_hash_ops(obj):
    h = obj.map("hash")
    assert (h.key_size, h.value_size, h.max_entries) == (8, 16, 64)
    b = h.btf
    assert b.type_str(h.key_type_id) == "struct tkey"
    key = struct.pack("<IHH", 7, 1, 2)
    assert h.lookup(key) is None
    h.update(key, struct.pack("<Q8s", 99, b"abc"))
    assert struct.unpack("<Q8s", h.lookup(key)) == (99, b"abc" + bytes(5))
    with pytest.raises(OSError):
        h.update(key, bytes(16), NOEXIST)
    h.update(key, struct.pack("<Q8s", 100, b"x"), EXIST)
    assert h.lookup(key)[:8] == struct.pack("<Q", 100)
    keys = [struct.pack("<IHH", i, 0, 0) for i in range(20)]
    for i, k in enumerate(keys):
        h.update(k, struct.pack("<Q8s", i, b""))
    assert sorted(h.keys()) == sorted(keys + [key])
    assert len(dict(h.items())) == 21
    h.delete(key)
    with pytest.raises(KeyError):
        h.delete(key)
    batch = dict(h.lookup_batch(chunk=7))
    assert batch == dict(h.items()) and len(batch) == 20
    with pytest.raises(ValueError, match="key is 3 bytes"):
        h.lookup(b"abc")


def test_array_and_batch_update(obj):
    a = obj.map("array")
    assert a.lookup(3) == bytes(8)       # arrays are preallocated
    a.update_batch([(i.to_bytes(4, "little"), (i * 10).to_bytes(8, "little"))
                    for i in range(8)])
    assert [int.from_bytes(a.lookup(i), "little") for i in range(8)] == \
        [i * 10 for i in range(8)]
    with pytest.raises(OSError):
        a.update(8, bytes(8))             # out of range


def test_lru_evicts(obj):
    m = obj.map("lru")
    for i in range(64):
        m.update(i, i)
    assert 0 < len(list(m.keys())) <= 8 + nr_possible_cpus() * 2


def test_raw_tracepoint_counts_syscalls(obj):
    ncpu = nr_possible_cpus()
    pc = obj.map("pcpu")
    assert pc.vbuf_size == 8 * ncpu
    with attach_auto(obj.program("count_syscalls")) as l:
        assert l.kind == "raw_tracepoint"
        for _ in range(13):
            libc.syscall(SYS_getppid)
        for _ in range(4):
            libc.syscall(SYS_getuid)
    sc = {int.from_bytes(k, "little"): int.from_bytes(v, "little")
          for k, v in obj.map("syscalls").items()}
    assert sc.get(SYS_getppid) == 13
    assert sc.get(SYS_getuid) == 4
    per_cpu = [int.from_bytes(v, "little") for v in pc.percpu_values(pc.lookup(0))]
    assert len(per_cpu) == ncpu
    assert sum(per_cpu) == sum(sc.values())


def test_map_in_map_values_and_pinning(bpf_obj):
    from bcc_core.obj.cache import load_spec
    path = bpf_obj("mapinmap")
    spec = load_spec(path)
    outer = spec.map("outer")
    assert outer.inner is not None and outer.init_slots == {0: "inner_a", 2: "inner_b"}
    pin = "/sys/fs/bpf/bcc_core_test_pinned"
    if os.path.exists(pin):
        os.unlink(pin)
    try:
        with Object(path) as o:
            assert os.path.exists(pin)       # pinned by name on first load
            o.map("bcc_core_test_pinned").update(1, 77)
            with attach_auto(o.program("via_outer")):
                os.getppid()
                os.getppid()
            assert int.from_bytes(o.map("inner_b").lookup(0), "little") == 2
            assert int.from_bytes(o.map("inner_a").lookup(0), "little") == 0
            assert o.bss["seen"] == 2
        with Object(path) as o2:             # the pinned map is reused, contents kept
            assert int.from_bytes(o2.map("bcc_core_test_pinned").lookup(1), "little") == 77
    finally:
        if os.path.exists(pin):
            os.unlink(pin)


def test_strong_kconfig_extern_missing_fails_clearly():
    from conftest import build_bpf
    from bcc_core.errors import ExternError
    path = build_bpf("mapinmap", ("-DSTRONG_MISSING",))
    with pytest.raises(ExternError, match="CONFIG_BCC_CORE_NO_SUCH_OPTION.*not __weak"):
        Object(path)
