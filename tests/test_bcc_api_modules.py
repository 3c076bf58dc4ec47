"""bcc_core.disassembler, bcc_core.libbcc, _get_num_open_probes and free_bcc_memory on
programs loaded into the running kernel (tracepoint and uprobe programs: no kprobes)."""
import ctypes as ct
import os

import pytest

from bcc_core import BPF, _get_num_open_probes, disassembler
from bcc_core.errors import NotSupportedError
from bcc_core.libbcc import lib

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

PROG = b"""
struct pair { int a; short b; struct { int lo:4; int hi:8; } bits; } __attribute__((packed));
BPF_HASH(counts, struct pair, u32, 16);
int on_enter(void *ctx) { return 7; }
"""


@pytest.fixture
def b():
    bpf = BPF(text=PROG, autoattach=False)
    yield bpf
    bpf.cleanup()


def test_disassemble_func_reads_the_loaded_instructions(b):
    assert b.disassemble_func(b"on_enter").split(os.linesep) == [
        "Disassemble of BPF program b'on_enter':", "   0: (b7) r0 = 7", "   1: (95) exit"]


def test_instruction_text():
    def one(opcode, regs, off, imm):
        return disassembler.disassemble_str(bytes([opcode, regs]) + off.to_bytes(
            2, "little", signed=True) + imm.to_bytes(4, "little", signed=True))
    assert one(0x07, 0x01, 0, -4) == ["   0: (07) r1 += -4"]
    assert one(0x57, 0x02, 0, -1) == ["   0: (57) r2 &= 0xffffffff"]
    assert one(0x61, 0x21, 8, 0) == ["   0: (61) r1 = *(u32*)(r2 +8)"]
    assert one(0x2d, 0x32, 3, 0) == ["   0: (2d) if r2 > r3 goto pc+3 <4>"]
    assert one(0x85, 0x00, 0, 6) == ["   0: (85) call bpf_trace_printk#6"]
    assert one(0xff, 0x00, 0, 0) == ["   0: (ff) unknown <0xff>"]
    lddw = bytes([0x18, 0x01, 0, 0]) + (5).to_bytes(4, "little") + bytes(4) + \
        (1).to_bytes(4, "little")
    assert disassembler.disassemble_str(lddw) == [
        "   0: (18) r1 = 0x100000005", "   1:      (64-bit upper word)"]


def test_decode_table_from_the_maps_btf(b):
    text = b.decode_table(b"counts").split(os.linesep)
    assert text[0].startswith("Layout of BPF map b'counts' (type HASH, FD %d, ID "
                              % b[b"counts"].map_fd)
    assert text[1:] == ["  struct {", "    int a;", "    short b;", "    struct {",
                        "      int lo:4;", "      int hi:8;", "    } bits;", "  } key;",
                        "  unsigned int value;"]
    sized = b.decode_table(b"counts", sizeinfo=True).split(os.linesep)
    assert "    [0 +4] int a;" in sized and "    [4 +2] short b;" in sized
    assert "      [6,4 +8 bit]int hi:8;" in sized


def test_libbcc_answers(b):
    m = b.module
    assert lib.bpf_module_rw_engine_enabled() == 0
    assert lib.bpf_num_functions(m) == 1
    assert lib.bpf_function_name(m, 0) == b"on_enter"
    size = lib.bpf_function_size(m, b"on_enter")
    assert ct.string_at(lib.bpf_function_start(m, b"on_enter"), size) == \
        b.dump_func(b"on_enter")
    tid = lib.bpf_table_id(m, b"counts")
    assert lib.bpf_table_fd(m, b"counts") == b[b"counts"].map_fd
    assert (lib.bpf_table_type_id(m, tid), lib.bpf_table_max_entries_id(m, tid)) == (1, 16)
    assert lib.kernel_struct_has_field(b"task_struct", b"pid") == 1
    assert lib.kernel_struct_has_field(b"task_struct", b"no_such") == 0
    t = b[b"counts"]
    k, v = t.Key(a=1), ct.c_uint(0)
    fd = t.map_fd
    assert lib.bpf_lookup_elem(fd, ct.byref(k), ct.byref(v)) < 0
    v.value = 9
    assert lib.bpf_update_elem(fd, ct.byref(k), ct.byref(v), 0) == 0
    assert t[k].value == 9
    first = t.Key()
    assert lib.bpf_get_first_key(fd, ct.byref(first), ct.sizeof(first)) == 0
    assert first.a == 1
    assert lib.bpf_delete_elem(fd, ct.byref(k)) == 0 and len(t) == 0
    with pytest.raises(NotSupportedError, match="bcc_usdt_new_frompid.*USDT"):
        lib.bcc_usdt_new_frompid


def test_probe_count_counts_uprobes_not_tracepoints():
    b = BPF(text=b"int on_call(struct pt_regs *ctx) { return 0; }", autoattach=False)
    try:
        before = _get_num_open_probes()
        b.attach_tracepoint(tp=b"syscalls:sys_enter_getpid", fn_name=b"on_call")
        assert _get_num_open_probes() == before
        b.attach_uprobe(name=b"c", sym=b"getpid", fn_name=b"on_call")
        assert _get_num_open_probes() == before + 1 and b.num_open_uprobes() == 1
        b.detach_uprobe(name=b"c", sym=b"getpid")
        assert _get_num_open_probes() == before
        b.attach_uprobe(name=b"c", sym=b"getpid", fn_name=b"on_call")
    finally:
        b.cleanup()
    assert _get_num_open_probes() == before
    with pytest.raises(NotSupportedError):
        BPF(text=b"int f(struct pt_regs *ctx) { return 0; }",
            autoattach=False).attach_kprobe(event=b"vfs_read", fn_name=b"f")


def test_free_bcc_memory(b):
    assert b.free_bcc_memory() == 0
    assert b.disassemble_func(b"on_enter")      # the object stays usable
