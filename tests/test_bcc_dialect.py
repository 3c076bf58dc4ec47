"""BCC C dialect items the translator gives BCC's meaning (issue 21), on the real kernel:
programs in the style of BCC's own test programs (tracepoints, since this host has no
kprobes), checked by what the kernel counted; plus BCC's compile-time errors and
bpf_trace_printk format warnings (pure logic: :func:`printk_format_warning`)."""
import ctypes as ct
import os
import socket
import struct

import pytest

from bcc_core import BPF
from bcc_core import btf as B
from bcc_core.errors import BccCoreError
from conftest import CLANG, need_root

pytest.importorskip("pycparser")
from bcc_core.compat.calls import printk_format_warning  # noqa: E402

_no_btf = pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF")
_no_clang = pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")


def kernel(f):
    """A test that compiles a program with clang against this kernel's BTF."""
    return _no_btf(_no_clang(f))


def getpid_n(n):
    for _ in range(n):
        os.getpid()     # glibc does not cache getpid(): one syscall each


@kernel
def test_lookup_or_init_result_used_unchecked():
    """BCC programs dereference lookup_or_init()'s result with no NULL check (BCC returns
    0 from the program when it cannot get the element): it must load and count."""
    need_root()
    b = BPF(text=b"""
BPF_HASH(calls, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 zero = 0, *val = calls.lookup_or_init(&pid, &zero);
    (*val) += 2;
    return 0;
}
""")
    try:
        getpid_n(25)
        got = {k.value: v.value for k, v in b["calls"].items()}
        assert got.get(os.getpid()) == 50
    finally:
        b.cleanup()


@kernel
def test_struct_key_histogram_memset_and_cpu_identifier():
    """A BPF_HISTOGRAM keyed by a struct given as a compound literal, a memset() of a
    stack record, and CUR_CPU_IDENTIFIER for perf output: counted and received."""
    need_root()
    b = BPF(text=b"""
typedef struct { u64 pid; u64 slot; } Key;   /* no padding: the key is its bytes */
struct rec { u32 pid; char pad[20]; u64 one; };
BPF_HISTOGRAM(hist, Key, 1024);
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    hist.increment((Key){pid, bpf_log2l(1000)});
    struct rec r;
    memset(&r, 0, sizeof(r));
    r.pid = pid;
    r.one = 1;
    bpf_perf_event_output(args, &events, CUR_CPU_IDENTIFIER, &r, sizeof(r));
    return 0;
}
""")
    seen = []
    try:
        b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(
            bytes(ct.string_at(data, size))))
        getpid_n(10)
        b.perf_buffer_poll(timeout=200)
        mine = {(k.pid, k.slot): v.value for k, v in b["hist"].items()
                if k.pid == os.getpid()}
        assert mine == {(os.getpid(), 10): 10}
        recs = [struct.unpack_from("<I20xQ", s) for s in seen]
        assert recs.count((os.getpid(), 1)) == 10
        assert all(s[4:24] == bytes(20) for s in seen)     # memset cleared the pad
    finally:
        b.cleanup()


@kernel
def test_int128_keys_and_values_keep_16_bytes():
    need_root()
    b = BPF(text=b"BPF_HASH(t, unsigned __int128, __int128);")
    try:
        t = b["t"]
        assert ct.sizeof(t.Key) == ct.sizeof(t.Leaf) == 16
        addr = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
        t[t.Key.from_buffer_copy(addr)] = t.Leaf.from_buffer_copy(struct.pack("<qq", -3, 9))
        [(k, v)] = list(t.items())
        assert bytes(k) == addr and struct.unpack("<qq", bytes(v)) == (-3, 9)
    finally:
        b.cleanup()


@pytest.mark.parametrize("text,why", [
    (b"BPF_HASH(drops, struct key_t);\nstruct key_t { u64 location; };\n",
     "its key type struct key_t is incomplete"),
    (b"int bar(void) { return 0; }\nint foo(struct pt_regs *ctx) { return bar(); }\n",
     "cannot call non-static helper function 'bar'"),
])
@kernel
def test_bcc_compile_errors(text, why):
    """What BCC's front end refuses, refused with the user's line."""
    with pytest.raises(BccCoreError) as e:
        BPF(text=text)
    assert why in str(e.value)


@kernel
def test_own_struct_sock_keeps_its_members():
    """A program's own struct sock (no net header) is not renamed by the kernel's sk_*
    aliases; it loads as a kprobe-type program (loading needs no kprobe support)."""
    need_root()
    b = BPF(text=b"""
struct sock { u32 *sk_daddr; };
int test(struct pt_regs *ctx, struct sock *skp) { return *(skp->sk_daddr); }
""")
    try:
        assert b.load_func(b"test", BPF.KPROBE).fd >= 0
    finally:
        b.cleanup()


@kernel
def test_printk_warnings_printed_on_every_start(capfd):
    need_root()
    text = b"""TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    bpf_trace_printk("%0.2f\\n", 1);
    return 0;
}
"""
    for _ in range(2):          # the second start is a cache hit: warned again, as BCC
        BPF(text=text).cleanup()
        err = capfd.readouterr().err
        assert "warning: only %d %u %x %ld %lu %lx %lld %llu %llx %p %s conversion " \
            "specifiers allowed" in err


@pytest.mark.parametrize("fmt,warning", [
    (r"%d %u %x\n", None),
    (r"%ld %lu %llx", None),
    (r"%lx %lld %llu", None),
    (r"%p %s\n", None),
    (r"pid %d", None),
    (r"%s", None),
    (r"%s %s\n", "cannot use several %s conversion specifiers"),
    (r"%0.2f\n", "only"),
    (r"%lf\n", "only"),
    (r"%d %d %d %d", "cannot use more than 3 conversion specifiers"),
    (r"%sx", "only"),
    (r"%", "only"),
    ("caf\u00e9 %d", "unrecognized character"),
])
def test_printk_format_rules(fmt, warning):
    got = printk_format_warning(fmt)
    if warning is None:
        assert got is None
    else:
        assert got is not None and got.startswith(warning)


def test_parse_prelude_rewritten_after_the_cache_lost_it():
    """The cache's pruning may remove the parse prelude while a process that already
    used it runs on: the next translation writes it again."""
    import shutil
    from bcc_core.compat import prelude
    d = prelude.prelude_dir()
    shutil.rmtree(d)
    again = prelude.prelude_dir()
    assert os.path.isfile(os.path.join(again, "bcc_parse_prelude.h"))
