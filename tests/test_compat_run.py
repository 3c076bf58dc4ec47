"""compat end to end: the BCC-dialect corpus translates, compiles, loads with
bcc_core.load.loader.Object, and the tracepoint/raw_tp programs run and count what the test
does."""
import os
import struct
import subprocess

import pytest

from bcc_core import btf as B
from bcc_core.attach.auto import attach_auto
from bcc_core.errors import LoadError, NotSupportedError
from bcc_core.load.loader import Object
from conftest import CLANG, HERE, need_root

pytest.importorskip("pycparser")
from bcc_core.compat import build as cbuild  # noqa: E402

CORPUS = os.path.join(HERE, "compat")
pytestmark = [pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF"),
              pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("compat")

    def get(name):
        out = str(d / (name + ".bpf.o"))
        if not os.path.exists(out):
            cbuild.build(os.path.join(CORPUS, name + ".c"), out)
        return out
    return get


@pytest.mark.parametrize("name", sorted(f[:-2] for f in os.listdir(CORPUS) if f.endswith(".c")))
def test_corpus_compiles(built, name):
    assert os.path.getsize(built(name)) > 0


def test_tracepoint_counts_and_core_chain(built):
    need_root()
    with Object(built("tp_counts")) as o:
        with attach_auto(o.program("tracepoint__syscalls__sys_enter_getppid")):
            for _ in range(5):
                os.getppid()
        got = {}
        for k, v in o.map("counts").items():
            pid = struct.unpack_from("<I", k)[0]
            got[pid] = (k[4:].rstrip(b"\0"), struct.unpack("<Q", v)[0])
        assert got[os.getpid()][1] == 5
        ppid = struct.unpack("<I", o.map("parent").lookup(b"\0" * 4))[0]
        assert ppid == os.getppid()          # task->real_parent->tgid


def test_raw_tracepoint_maps_and_reads(built):
    need_root()
    me = os.getpid()
    with Object(built("raw_tp"), rodata={"targ_tgid": me}) as o:
        with attach_auto(o.program("raw_tracepoint__sys_enter")):
            for _ in range(3):
                os.getppid()
        raw = o.map("calls").lookup(b"\0" * 4)
        assert sum(struct.unpack("<%dQ" % (len(raw) // 8), raw)) == 3
        hist = dict(o.map("hist").items())
        assert struct.unpack("<Q", hist[struct.pack("<I", 7)])[0] == 3   # log2l(110)+1
        assert struct.unpack("<Q", o.map("hist_hash").lookup(struct.pack("<I", 7)))[0] == 6
        info = o.map("last").lookup(struct.pack("<I", me))
        pid, tgid, stack_id, arg0, reset = struct.unpack_from("<IIi4xQQ", info, 0)
        comm, comm2 = info[32:48], info[48:64]
        assert pid == me and tgid == me          # BPF_CORE_READ / BPF_CORE_READ_INTO
        assert reset == 1                         # bit-field read (0) + 1
        mycomm = open("/proc/self/comm", "rb").read().strip()[:15]
        assert comm.rstrip(b"\0") == mycomm       # BPF_CORE_READ_STR_INTO
        assert comm2[:4] == mycomm[:4]            # group_leader->comm, 4 bytes
        praw = o.map("percpu").lookup(b"\0" * 4)
        assert sum(struct.unpack("<%dQ" % (len(praw) // 8), praw)) == 9
        assert struct.unpack("<Q", o.map("scratch").lookup(b"\0" * 4))[0] == 2
        assert o.map("scratch").lookup(struct.pack("<I", 1)) is None    # deleted
        # 1st call copies 1, later calls copy the 2 stored by the 1st
        assert struct.unpack("<Q", o.map("table").lookup(b"\0" * 4))[0] == 2
        assert struct.unpack("<Q", o.map("ftable").lookup(struct.pack("<I", me)))[0] == 2


def test_tracepoint_perf_and_ring_buffers(built):
    need_root()
    from bcc_core.events.perf_buffer import PerfBuffer
    from bcc_core.events.ringbuf import RingBuffer
    forks, execs = [], []
    with Object(built("tp_sched"), rodata={"targ_tgid": os.getpid()}) as o:
        pb = PerfBuffer(o.map("forks"), lambda cpu, d: forks.append(bytes(d)))
        rb = RingBuffer().add(o.map("execs"), lambda d: execs.append(("execs", bytes(d))))
        rb.add(o.map("execs2"), lambda d: execs.append(("execs2", bytes(d))))
        with attach_auto(o.program("tracepoint__sched__sched_process_fork")), \
                attach_auto(o.program("tracepoint__sched__sched_process_exec")):
            child = subprocess.Popen(["/bin/true"])
            child.wait()
        pb.poll(200)
        rb.poll(200)
        pb.close()
        rb.close()
    mine = [struct.unpack_from("<III", f) for f in forks]
    assert (os.getpid(), child.pid, os.getppid()) in mine
    by = dict(execs)
    pid, = struct.unpack_from("<I", by["execs"])
    assert pid == child.pid
    assert by["execs"][4:].split(b"\0")[0] == b"/bin/true"        # __data_loc string
    assert struct.unpack_from("<I", by["execs2"])[0] == child.pid   # old_pid


def test_kprobe_programs_load(built):
    """kprobes load here (only attaching needs kprobe support)."""
    need_root()
    with Object(built("kprobes")) as o:
        names = set(o.programs)
        assert {"kprobe__do_sys_openat2", "kretprobe__do_sys_openat2",
                "kprobe__tcp_v4_connect", "kprobe__vfs_write", "syscall__execve",
                "trace_readline_ret", "trace_entry_args"} <= names
        assert all(p.fd >= 0 for p in o.programs.values())
        assert o.programs["kprobe__vfs_write"].spec.section == "kprobe/vfs_write"


def test_kfunc_programs_load_where_supported(built):
    need_root()
    try:
        with Object(built("kfuncs")) as o:
            assert all(p.fd >= 0 for p in o.programs.values())
    except (LoadError, NotSupportedError, OSError) as e:
        pytest.skip("fentry/fexit/LSM programs do not load on this kernel: %s"
                    % str(e).splitlines()[0])


def test_compile_text_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path))
    text = open(os.path.join(CORPUS, "tp_counts.c")).read()
    p1 = cbuild.compile_text(text)
    m1 = os.path.getmtime(p1)
    p2 = cbuild.compile_text(text)
    assert p1 == p2 and os.path.getmtime(p2) == m1
    assert p1.startswith(str(tmp_path))
    p3 = cbuild.compile_text(text + "\n// changed\n")
    assert p3 != p1


def test_missing_clang_is_a_clear_error(monkeypatch, tmp_path):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(cbuild.ToolMissingError) as ei:
        cbuild.build(os.path.join(CORPUS, "tp_counts.c"), str(tmp_path / "x.o"))
    assert "clang" in str(ei.value)


def test_cli(tmp_path, capsys):
    from bcc_core.compat import cli
    assert cli.main(["translate", os.path.join(CORPUS, "kfuncs.c")]) == 0
    assert 'SEC("fentry/do_unlinkat")' in capsys.readouterr().out
    out = tmp_path / "k.bpf.o"
    assert cli.main(["build", os.path.join(CORPUS, "kfuncs.c"), "-o", str(out)]) == 0
    assert out.exists()
    bad = tmp_path / "bad.c"
    bad.write_text("int kprobe__f(struct pt_regs *ctx) { return NOPE; }\n")
    assert cli.main(["build", str(bad)]) == 1
    assert "%s:1: error: use of undeclared identifier 'NOPE'" % bad in capsys.readouterr().err
