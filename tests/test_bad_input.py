"""Bad input gets a typed bcc-core error that says what and where, never a traceback from
inside the parser.  Includes a property-based test mutating real objects."""
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcc_core.obj import elf
from bcc_core.errors import (BccCoreError, BTFError, ConfigError, ELFError,
                             MapDefinitionError)
from bcc_core.load.loader import Object
from conftest import build_bpf


def _section_offset(data, name):
    import io
    from elftools.elf.elffile import ELFFile
    s = ELFFile(io.BytesIO(data)).get_section_by_name(name)
    return s["sh_offset"], s["sh_size"]


@pytest.fixture(scope="module")
def basic():
    with open(build_bpf("basic"), "rb") as f:
        return f.read()


def test_not_elf():
    with pytest.raises(ELFError, match="not an ELF"):
        elf.parse(b"hello world", "x.o")


def test_non_bpf_elf():
    with open("/bin/true", "rb") as f:
        data = f.read()
    with pytest.raises(ELFError, match="not a BPF object"):
        elf.parse(data, "/bin/true")


@pytest.mark.parametrize("cut", [10, 63, 64, 200, 1000, -100, -1])
def test_truncated(basic, cut):
    with pytest.raises(BccCoreError) as ei:
        elf.parse(basic[:cut], "basic.bpf.o")
    assert "basic.bpf.o" in str(ei.value)


def test_corrupt_btf_magic(basic):
    off, size = _section_offset(basic, ".BTF")
    bad = bytearray(basic)
    bad[off:off + 2] = b"\x00\x00"
    with pytest.raises(BTFError, match="bad BTF magic"):
        elf.parse(bytes(bad), "basic.bpf.o")


def test_corrupt_btf_lengths(basic):
    off, size = _section_offset(basic, ".BTF")
    bad = bytearray(basic)
    struct.pack_into("<I", bad, off + 12, 0xFFFFFF)   # type_len
    with pytest.raises(BTFError, match="exceed"):
        elf.parse(bytes(bad), "basic.bpf.o")


def test_corrupt_btf_kind(basic):
    off, size = _section_offset(basic, ".BTF")
    hdr_len, type_off = struct.unpack_from("<II", basic, off + 4)
    bad = bytearray(basic)
    # first type's info: kind 31 does not exist
    struct.pack_into("<I", bad, off + hdr_len + type_off + 4, 31 << 24)
    with pytest.raises(BTFError, match="unknown BTF kind"):
        elf.parse(bytes(bad), "basic.bpf.o")


def test_corrupt_btf_ext(basic):
    off, size = _section_offset(basic, ".BTF.ext")
    bad = bytearray(basic)
    struct.pack_into("<I", bad, off + 8, 0xFFFF)   # func_info_off out of range
    with pytest.raises(BTFError, match="BTF.ext"):
        elf.parse(bytes(bad), "basic.bpf.o")


def test_unknown_section():
    with pytest.raises(ELFError, match="unknown program section 'no_such_kind/whatever'"):
        elf.parse(open(build_bpf("bad", ("-DUNKNOWN_SEC",)), "rb").read(), "bad.bpf.o")


def test_missing_license():
    with pytest.raises(ELFError, match="missing 'license'"):
        elf.parse(open(build_bpf("bad", ("-DNO_LICENSE",)), "rb").read(), "bad.bpf.o")


def test_map_with_unknown_field():
    with pytest.raises(MapDefinitionError, match="map 'weird': unknown field 'bogus_field'"):
        elf.parse(open(build_bpf("bad", ("-DBAD_MAP",)), "rb").read(), "bad.bpf.o")


def test_unknown_rodata_name(basic):
    with pytest.raises(ConfigError) as ei:
        Object(data=basic, rodata={"no_such_knob": 1}, load=False)
    assert "no_such_knob" in str(ei.value) and "target_tgid" in str(ei.value)


def test_rodata_value_too_big(basic):
    with pytest.raises(ConfigError, match="does not fit"):
        Object(data=basic, rodata={"multiplier": 1 << 40}, load=False)


class _Hang(Exception):
    pass


def _exercise(data, seconds=10):
    """Everything user-space does with an object before the kernel sees it; a mutated
    object that keeps it busy for ``seconds`` fails the test (no hang)."""
    import signal

    def hung(signum, frame):
        raise _Hang("parsing a mutated object took over %d s" % seconds)
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        _exercise_once(data)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _exercise_once(data):
    spec = elf.parse(data, "fuzz.bpf.o")
    o = Object(data=data, spec=spec, load=False)
    if o.btf is not None:
        for t in o.btf.types():
            o.btf.type_str(t.id)
        assert spec.kernel_btf is not None   # the BTF fix-up for the kernel ran
    for m in o._data_specs.values():
        o._datasec_vars(m)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_objects_raise_only_typed_errors(basic, data):
    buf = bytearray(basic)
    n = data.draw(st.integers(1, 8))
    for _ in range(n):
        op = data.draw(st.sampled_from(["byte", "word", "truncate"]))
        if op == "truncate":
            buf = buf[:data.draw(st.integers(0, len(buf)))]
            if not buf:
                break
        else:
            i = data.draw(st.integers(0, len(buf) - 1))
            if op == "byte":
                buf[i] = data.draw(st.integers(0, 255))
            else:
                v = data.draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
                buf[i:i + 4] = v.to_bytes(4, "little")[:len(buf) - i]
    try:
        _exercise(bytes(buf))
    except BccCoreError:
        pass


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_btf_section_raises_only_typed_errors(basic, data):
    """Mutations aimed at .BTF and .BTF.ext, where a random byte flip elsewhere rarely
    lands."""
    sec = data.draw(st.sampled_from([".BTF", ".BTF.ext"]))
    off, size = _section_offset(basic, sec)
    buf = bytearray(basic)
    for _ in range(data.draw(st.integers(1, 6))):
        i = off + data.draw(st.integers(0, size - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        _exercise(bytes(buf))
    except BccCoreError:
        pass


def test_src_file_errors_are_typed(tmp_path, basic):
    """BPF(src_file=...): a missing path or a directory is a SourceFileError (an OSError
    with errno and filename); an empty, truncated or non-ELF object is the ELF parser's
    ELFError, not a C translation error."""
    import errno
    from bcc_core import BPF
    from bcc_core.errors import SourceFileError
    with pytest.raises(SourceFileError, match="no such file") as e:
        BPF(src_file=str(tmp_path / "missing.bpf.o"))
    assert e.value.errno == errno.ENOENT and isinstance(e.value, OSError)
    with pytest.raises(SourceFileError, match="a directory") as e:
        BPF(src_file=str(tmp_path))
    assert e.value.errno == errno.EISDIR
    (tmp_path / "empty.bpf.o").write_bytes(b"")
    (tmp_path / "junk.bin").write_bytes(b"\0\1 not an object" * 64)
    (tmp_path / "cut.bpf.o").write_bytes(basic[:512])
    for name in ("empty.bpf.o", "junk.bin", "cut.bpf.o"):
        with pytest.raises(ELFError):
            BPF(src_file=str(tmp_path / name))
