"""The BCC-dialect corpus programs the host cannot run (tests/compat/kprobes.c and
kfuncs.c), translated to CO-RE C and compiled on the host by bcc_core.compat, load AND
RUN on the guest kernel (Debian 6.1: kprobes, fentry/fexit, BPF LSM) and leave in their
maps exactly what the C says for what this test does.

Keys are u32 thread ids (the low half of bpf_get_current_pid_tgid()) except in kfuncs.c's
do_unlinkat probes (``>> 32``: the process id) and its LSM probe (the bpf() command).
Each action runs in a thread of its own whose native id the test knows, so that one
action's entry cannot be mistaken for another's."""
import concurrent.futures
import contextlib
import ctypes
import errno
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading

import pytest

import guestlib
from bcc_core.attach import link
from bcc_core.attach.auto import attach_auto
from bcc_core.attach.syscall_names import syscall_fnname
from bcc_core.load.loader import Object

pytestmark = guestlib.only_in_guest

VAL_T = struct.Struct("<QIHH32s")       # struct val_t {u64 ts; u32 pid; u16 dport; ...}
SO_COOKIE = 57
BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY = 1, 4
RESULTS = {}


def _jsonable(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, dict):
        return {str(_jsonable(k)): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    return v


def _record(section, values):
    """Print what the guest saw (it shows in the guest log) and keep it in the JSON
    result the host side reads."""
    print("compat %s: %s" % (section, values))
    RESULTS[section] = _jsonable(values)
    guestlib.write_result("compat", RESULTS)


def _is_int_enoent(v):
    """do_unlinkat returns int -ENOENT; kfuncs.c stores the fexit's ``long ret`` (the
    whole of rax) in a u64.  x86-64 leaves the upper half of rax unspecified for an int
    return: Debian's 6.1 build zero-extends (0xfffffffe), a sign-extending build would
    give 2**64 - 2; the int itself must be -ENOENT."""
    return v is not None and v & 0xffffffff == (-errno.ENOENT) & 0xffffffff and \
        v >> 32 in (0, 0xffffffff)


def in_thread(fn, *args):
    """Run fn in a new thread: (that thread's native id, fn's result)."""
    out = {}

    def run():
        out["tid"] = threading.get_native_id()
        try:
            out["ret"] = fn(*args)
        except BaseException as e:      # re-raised in the caller
            out["exc"] = e
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "exc" in out:
        raise out["exc"]
    return out["tid"], out.get("ret")


def u32(n):
    return struct.pack("<I", n)


def u64_at(m, key):
    raw = m.lookup(u32(key))
    return None if raw is None else struct.unpack("<Q", raw)[0]


def val_t(m, key):
    raw = m.lookup(u32(key))
    if raw is None:
        return None
    ts, pid, dport, family, name = VAL_T.unpack(raw)
    return {"ts": ts, "pid": pid, "dport": dport, "family": family,
            "name": name.split(b"\0", 1)[0]}


@pytest.fixture
def tmpdir_guest():
    d = tempfile.mkdtemp(prefix="bcc-core-compat-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kprobes():
    with Object(guestlib.obj_path("compat_kprobes")) as o:
        yield o


def _lsm_active():
    try:
        with open("/sys/kernel/security/lsm") as f:
            return "bpf" in f.read().strip().split(",")
    except OSError:
        return False


# -- kprobes.c --------------------------------------------------------------------------

def test_compat_kprobes_attach_write_and_connect(kprobes, tmpdir_guest):
    """All of kprobes.c's attachable programs at once (attach_auto from their SEC()
    names); a write to a named file, a write to a pipe and a TCP connect, each from a
    thread of its own."""
    o = kprobes
    path = os.path.join(tmpdir_guest, "written")
    with open(path, "wb") as f:
        f.write(b"x" * 1000)            # i_size 1000: the probe must report count, not this
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    rfd, wfd = os.pipe()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # cookies come from a global counter: take a few so that the one checked is not 1
    spare = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
    for s in spare:
        s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8)
    csock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        cookie = struct.unpack("<Q", csock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]
        with contextlib.ExitStack() as stack:
            links = {}
            for name, prog in o.programs.items():
                lk = attach_auto(prog)
                if lk is not None:
                    links[name] = stack.enter_context(lk)
            kinds = {n: (lk.kind, lk.target) for n, lk in links.items()}
            assert kinds == {
                "kprobe__do_sys_openat2": ("kprobe", "do_sys_openat2"),
                "kretprobe__do_sys_openat2": ("kretprobe", "do_sys_openat2"),
                "kprobe__tcp_v4_connect": ("kprobe", "tcp_v4_connect"),
                "kprobe__vfs_write": ("kprobe", "vfs_write"),
                "syscall__execve": ("kprobe", syscall_fnname("execve")),
            }, kinds
            # trace_readline_ret / trace_entry_args: SEC("kprobe"), attached from Python
            assert set(o.programs) - set(links) == {"trace_readline_ret", "trace_entry_args"}
            t_file, n = in_thread(os.write, fd, b"y" * 37)
            assert n == 37
            t_pipe, n = in_thread(os.write, wfd, b"z" * 5)
            assert n == 5
            t_conn, _ = in_thread(csock.connect, ("127.0.0.1", port))
        sizes, start = o.map("sizes"), o.map("start")
        got = {"file_write": u64_at(sizes, t_file), "pipe_write": u64_at(sizes, t_pipe),
               "connect": val_t(start, t_conn), "port": port, "cookie": cookie,
               "tids": [t_file, t_pipe, t_conn], "links": kinds}
        _record("kprobes_write_connect", got)
        assert got["file_write"] == 37          # count: the dentry has a name
        assert got["pipe_write"] == 0           # pipes' dentry name is "": d_inode->i_size
        c = got["connect"]
        assert c is not None, "no start entry for the connecting thread %d" % t_conn
        assert c["family"] == socket.AF_INET
        # the kprobe runs at tcp_v4_connect's entry, before it sets inet_dport: 0 here
        assert c["dport"] == 0
        assert c["ts"] == cookie                # skc_cookie, through the sock pointer
        assert c["pid"] == 0 and c["name"] == b""
        for t in (t_file, t_pipe):
            assert start.lookup(u32(t)) is None  # writes touch only sizes
        assert sizes.lookup(u32(t_conn)) is None
    finally:
        for s in [csock, lsock] + spare:
            s.close()
        for f in (fd, rfd, wfd):
            os.close(f)


def test_compat_kprobes_open_entry_then_return(kprobes, tmpdir_guest):
    """kprobe__do_sys_openat2 alone leaves start[tid] (the file's name); with
    kretprobe__do_sys_openat2 attached too, the same thread's next open ends with no
    entry (the return probe deleted it)."""
    o = kprobes
    p1, p2 = os.path.join(tmpdir_guest, "first"), os.path.join(tmpdir_guest, "second")
    for p in (p1, p2):
        open(p, "w").close()

    def open_close(p):
        os.close(os.open(p, os.O_RDONLY))
        return threading.get_native_id()

    start = o.map("start")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
        with attach_auto(o.program("kprobe__do_sys_openat2")):
            tid = ex.submit(open_close, p1).result()
            after_entry = val_t(start, tid)
            with attach_auto(o.program("kretprobe__do_sys_openat2")):
                assert ex.submit(open_close, p2).result() == tid     # the same thread
            after_pair = val_t(start, tid)
        # a thread that never opened anything while attached: no entry either
        other = ex.submit(threading.get_native_id).result()
    got = {"tid": tid, "after_entry": after_entry, "after_pair": after_pair}
    _record("kprobes_open", got)
    assert after_entry is not None, "kprobe__do_sys_openat2 left no entry for %d" % tid
    assert after_entry["name"] == p1.encode()[:31]
    assert after_entry["ts"] > 0 and after_entry["pid"] == 0
    assert after_pair is None, after_pair
    assert other == tid


def test_compat_kprobes_syscall_execve(kprobes):
    """syscall__execve (SEC("ksyscall/execve")) on the syscall's kernel function: the
    child's thread id -> the path it passed to execve."""
    o = kprobes
    fn = syscall_fnname("execve")
    with open("/proc/kallsyms") as f:
        assert any(line.split()[2] == fn for line in f), fn
    with attach_auto(o.program("syscall__execve")) as lk:
        assert (lk.kind, lk.target) == ("kprobe", fn)
        child = subprocess.Popen(["/bin/true"], close_fds=True)
        assert child.wait() == 0
    got = val_t(o.map("start"), child.pid)
    me = val_t(o.map("start"), threading.get_native_id())
    _record("kprobes_execve", {"fnname": fn, "child": child.pid, "entry": got, "self": me})
    assert got is not None, "no start entry for the child %d" % child.pid
    assert got["name"] == b"/bin/true"
    assert got["pid"] == 0 and got["dport"] == 0 and got["family"] == 0
    assert me is None                   # this thread exec'd nothing


# -- kfuncs.c ---------------------------------------------------------------------------

def test_compat_kfuncs_unlinkat(tmpdir_guest):
    """KFUNC_PROBE(do_unlinkat) stores the name's first character under the process id;
    KRETFUNC_PROBE(do_unlinkat) then overwrites it with the return value."""
    me = os.getpid()
    dfd = os.open(tmpdir_guest, os.O_RDONLY | os.O_DIRECTORY)
    existing = os.path.join(tmpdir_guest, "Existing")
    open(existing, "w").close()
    try:
        with Object(guestlib.obj_path("compat_kfuncs"), autoload={"lsm__bpf": False}) as o:
            counts = o.map("counts")
            got = {"pid": me}
            with attach_auto(o.program("kfunc__do_unlinkat")) as fentry:
                assert fentry.kind == "trace"
                with pytest.raises(FileNotFoundError):
                    os.unlink("bcc-core-missing", dir_fd=dfd)
                got["fentry_relative"] = u64_at(counts, me)
                with pytest.raises(FileNotFoundError):
                    os.unlink(os.path.join(tmpdir_guest, "missing"))
                got["fentry_absolute"] = u64_at(counts, me)
                with attach_auto(o.program("kretfunc__do_unlinkat")) as fexit:
                    assert fexit.kind == "trace"
                    with pytest.raises(FileNotFoundError):
                        os.unlink("bcc-core-missing", dir_fd=dfd)
                    got["fexit_missing"] = u64_at(counts, me)
                    os.unlink(existing)
                    got["fexit_existing"] = u64_at(counts, me)
            assert not os.path.exists(existing)
            # detached: another unlink leaves the last value alone
            with pytest.raises(FileNotFoundError):
                os.unlink("Zmissing", dir_fd=dfd)
            got["after_detach"] = u64_at(counts, me)
            _record("kfuncs_unlinkat", got)
    finally:
        os.close(dfd)
    assert got["fentry_relative"] == ord("b")
    assert got["fentry_absolute"] == ord("/")
    assert _is_int_enoent(got["fexit_missing"]), hex(got["fexit_missing"])
    assert got["fexit_existing"] == 0
    assert got["after_detach"] == 0


def test_compat_kfuncs_lsm_bpf():
    """LSM_PROBE(bpf) counts every bpf() command by number: exact deltas of this test's
    own map lookups and key walks (the LSM hook runs before the command, so a lookup
    of the counter sees itself)."""
    if not _lsm_active():
        with open("/sys/kernel/security/lsm") as f:
            pytest.skip("BPF LSM is not active in the guest (/sys/kernel/security/lsm: %s)"
                        % f.read().strip())
    with Object(guestlib.obj_path("compat_kfuncs"),
                autoload={"kfunc__do_unlinkat": False, "kretfunc__do_unlinkat": False}) as o:
        counts = o.map("counts")
        assert u64_at(counts, BPF_MAP_LOOKUP_ELEM) is None        # nothing counted yet
        with attach_auto(o.program("lsm__bpf")) as lk:
            assert lk.kind == "trace"
            first = u64_at(counts, BPF_MAP_LOOKUP_ELEM)            # counts itself
            misses = 10
            for _ in range(misses):
                assert counts.lookup(u32(0xfffffff0)) is None
            second = u64_at(counts, BPF_MAP_LOOKUP_ELEM)
            walk_before = u64_at(counts, BPF_MAP_GET_NEXT_KEY) or 0
            keys = list(counts.keys())                              # len(keys) + 1 calls
            walk_after = u64_at(counts, BPF_MAP_GET_NEXT_KEY)
            lookups_after = u64_at(counts, BPF_MAP_LOOKUP_ELEM)
        detached = u64_at(counts, BPF_MAP_LOOKUP_ELEM)
        again = u64_at(counts, BPF_MAP_LOOKUP_ELEM)
        by_cmd = {struct.unpack("<I", k)[0]: struct.unpack("<Q", v)[0]
                  for k, v in counts.items()}
    got = {"first_lookup": first, "after_misses": second, "misses": misses,
           "next_key_before": walk_before, "next_key_after": walk_after,
           "keys_walked": len(keys), "lookups_after": lookups_after,
           "after_detach": [detached, again], "by_cmd": by_cmd}
    _record("kfuncs_lsm_bpf", got)
    assert first >= 1
    assert second - first == misses + 1
    assert walk_after - walk_before == len(keys) + 1
    # 2 lookups of GET_NEXT_KEY's counter (the first may have missed), then this one
    assert lookups_after - second == 3
    assert detached == again == lookups_after      # detached: no more counting


# -- the BCC facade over the same objects -----------------------------------------------

def test_compat_facade_kfuncs_autoattach(tmpdir_guest):
    """``BPF(src_file=...)`` auto-attaches kfunc__/kretfunc__/lsm__ as BCC does; the
    table API reads what they stored."""
    from bcc_core import BPF
    b = BPF(src_file=guestlib.obj_path("compat_kfuncs"),
            autoload=None if _lsm_active() else {"lsm__bpf": False})
    try:
        counts = b["counts"]
        with pytest.raises(FileNotFoundError):
            os.unlink(os.path.join(tmpdir_guest, "missing"))
        missing = counts[ctypes.c_uint(os.getpid())].value
        got = {"missing": missing, "kfunc": sorted(b.kfunc_entry_fds),
               "kretfunc": sorted(b.kfunc_exit_fds), "lsm": sorted(b.lsm_fds)}
        if _lsm_active():
            got["lookups"] = counts[ctypes.c_uint(BPF_MAP_LOOKUP_ELEM)].value
        _record("facade_kfuncs", {k: (v if not isinstance(v, list) else
                                      [x.decode() for x in v]) for k, v in got.items()})
        assert _is_int_enoent(missing), hex(missing)
        assert got["kfunc"] == [b"kfunc__do_unlinkat"]
        assert got["kretfunc"] == [b"kretfunc__do_unlinkat"]
        if _lsm_active():
            assert got["lsm"] == [b"lsm__bpf"] and got["lookups"] >= 2
    finally:
        b.cleanup()


def test_compat_facade_kprobes_execsnoop_style():
    """BCC's execsnoop pattern over the translated object: ``BPF()``, then an explicit
    ``attach_kprobe(event=b.get_syscall_fnname("execve"), fn_name="syscall__execve")``;
    the child's execve lands in b["start"], and cleanup() leaves nothing attached.
    Like BCC, BPF() does not attach syscall__* functions itself.
    (The open probes are not loaded here: /bin/true's own opens would replace and then
    delete the child's entry.)"""
    from bcc_core import BPF
    live0 = set(link._live)
    b = BPF(src_file=guestlib.obj_path("compat_kprobes"),
            autoload={"kprobe__do_sys_openat2": False, "kretprobe__do_sys_openat2": False})
    try:
        auto = {k: sorted(v) for k, v in b.kprobe_fds.items()}
        fn = b.get_syscall_fnname("execve")
        b.attach_kprobe(event=fn, fn_name="syscall__execve")     # as execsnoop.py does
        b.attach_kprobe(event=fn, fn_name="syscall__execve")     # again: still one probe
        n_open = b.num_open_kprobes()
        live_attached = len(set(link._live) - live0)
        child = subprocess.Popen(["/bin/true"])
        assert child.wait() == 0
        entry = b["start"].get(ctypes.c_uint(child.pid))
        name = entry.name if entry is not None else None
    finally:
        b.cleanup()
    leaked = set(link._live) - live0
    leaked_desc = sorted("%s %s (prog %s, perf fd %d open)" % (lk.kind, lk.target,
                                                              lk.prog.name, lk.perf_fd)
                         for lk in leaked)
    for lk in leaked:           # do not leave a probe behind for the next tests
        lk.close()
    got = {"auto": auto, "fnname": fn, "num_open_kprobes": n_open,
           "links_attached": live_attached, "leaked_after_cleanup": leaked_desc,
           "child": child.pid, "child_name": name}
    _record("facade_execsnoop", got)
    assert fn == syscall_fnname("execve").encode()
    assert b"p_" + fn not in auto, auto        # BCC does not auto-attach syscall__*
    assert name == b"/bin/true"
    assert not leaked, "cleanup() left %s attached" % leaked_desc
    assert live_attached == n_open, (live_attached, n_open)
