"""Symbols of stripped binaries from separate debug files (build-id, .gnu_debuglink,
BCC_SYMFS, MiniDebugInfo) and pid-scoped paths through the process's mount namespace:
a C++ program built here with g++, probed with real uprobes."""
import lzma
import os
import shutil
import subprocess

import pytest

from conftest import need_root

SRC = r"""
#include <cstdio>
#include <cstdlib>
namespace probe_me {
static __attribute__((noinline)) int hit(int x) { volatile int y = x * 3; return y; }
}
int main() {
    std::printf("%p\n", (void *)&probe_me::hit);
    std::fflush(stdout);
    char line[64];
    while (std::fgets(line, sizeof line, stdin)) {
        int n = std::atoi(line), s = 0;
        for (int i = 0; i < n; i++)
            s += probe_me::hit(i);
        std::printf("done %d\n", s);
        std::fflush(stdout);
    }
    return 0;
}
"""
DEMANGLED = b"probe_me::hit(int)"
COUNTER = b"""
BPF_ARRAY(hits, u64, 1);
int on_hit(struct pt_regs *ctx) {
    int k = 0;
    u64 *v = hits.lookup(&k);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
"""

pytestmark = pytest.mark.skipif(not (shutil.which("g++") and shutil.which("objcopy")),
                                reason="needs g++ and binutils")


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True).stdout


def build(d, build_id=None):
    """d/prog (stripped), d/prog.full (with symbols), the mangled name of hit()."""
    src = os.path.join(d, "prog.cc")
    with open(src, "w") as f:
        f.write(SRC)
    full = os.path.join(d, "prog.full")
    extra = ["-Wl,--build-id=0x" + build_id] if build_id else []
    run("g++", "-O1", "-o", full, src, *extra)
    mangled = next(ln.split()[2] for ln in run("nm", full).splitlines()
                   if b"hit" in ln and b"probe_me" in ln)
    prog = os.path.join(d, "prog")
    run("objcopy", "--strip-all", full, prog)
    return prog, full, mangled


def keep_debug(full, out):
    run("objcopy", "--only-keep-debug", full, out)


def start(path, cwd=None, argv=None):
    p = subprocess.Popen(argv or [path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         cwd=cwd)
    return p, int(p.stdout.readline(), 16)


def stop(p):
    p.kill()
    p.wait()
    p.stdout.close()
    p.stdin.close()


def calls(p, n):
    p.stdin.write(b"%d\n" % n)
    p.stdin.flush()
    assert p.stdout.readline().startswith(b"done")


def check_symbols(prog, mangled, argv=None, module=None):
    """sym()/SymbolCache of the running program resolve hit(); resolve_name finds it."""
    from bcc_core import BPF, SymbolCache
    p, addr = start(prog, argv=argv)
    try:
        cache = SymbolCache(p.pid)
        name, off, mod = cache.resolve(addr, False)
        assert (name, off) == (mangled, 0)
        assert mod == (module or prog).encode()
        assert cache.resolve(addr, True)[0] == DEMANGLED
        assert BPF.sym(addr, p.pid, show_offset=True, show_module=True) == \
            DEMANGLED + b"+0x0 [prog]"
        assert BPF.sym(addr, p.pid, demangle=False) == mangled
        assert cache.resolve_name(module or prog, mangled) == addr
        assert cache.resolve_name(module or prog, b"no_such_symbol") == -1
    finally:
        stop(p)


def check_uprobe(prog, mangled, argv=None, module=None):
    """A uprobe on hit() by name, scoped to the process: every call counted."""
    need_root()
    from bcc_core import BPF
    p, _addr = start(prog, argv=argv)
    try:
        with BPF(text=COUNTER) as b:
            b.attach_uprobe(name=module or prog, sym=mangled, fn_name="on_hit", pid=p.pid)
            calls(p, 7)
            assert b["hits"][0].value == 7
            b.detach_uprobe(name=module or prog, sym=mangled, pid=p.pid)
            calls(p, 3)
            assert b["hits"][0].value == 7
    finally:
        stop(p)


def test_stripped_binary_has_no_symbol(tmp_path):
    from bcc_core.symbols import elf_symbols
    prog, _full, mangled = build(str(tmp_path))
    e = elf_symbols(prog)
    assert e.address(mangled) is None and e.debug_file_tried
    full = elf_symbols(str(tmp_path / "prog.full"))
    assert full.address(mangled) and not full.debug_file_tried    # lazy: not needed


def test_build_id(tmp_path, monkeypatch):
    bid = os.urandom(20).hex()
    prog, full, mangled = build(str(tmp_path), bid)
    root = tmp_path / "debugroot"
    (root / ".build-id" / bid[:2]).mkdir(parents=True)
    keep_debug(full, str(root / ".build-id" / bid[:2] / (bid[2:] + ".debug")))
    monkeypatch.setenv("BCC_DEBUGINFO_ROOT", str(root))
    check_symbols(prog, mangled)
    check_uprobe(prog, mangled)


@pytest.mark.parametrize("where", ["beside", ".debug"])
def test_debuglink(tmp_path, where):
    prog, full, mangled = build(str(tmp_path))
    ddir = tmp_path if where == "beside" else tmp_path / ".debug"
    ddir.mkdir(exist_ok=True)
    keep_debug(full, str(tmp_path / "prog.debug"))
    run("objcopy", "--add-gnu-debuglink=%s" % (tmp_path / "prog.debug"), prog)
    if where != "beside":
        os.rename(tmp_path / "prog.debug", ddir / "prog.debug")
    check_symbols(prog, mangled)
    check_uprobe(prog, mangled)


def test_debuglink_crc_mismatch(tmp_path):
    from bcc_core import BPF
    from bcc_core.symbols import elf_symbols
    prog, full, mangled = build(str(tmp_path))
    dbg = str(tmp_path / "prog.debug")
    keep_debug(full, dbg)
    run("objcopy", "--add-gnu-debuglink=" + dbg, prog)
    with open(dbg, "ab") as f:          # no longer the file the link's CRC describes
        f.write(b"\0")
    assert elf_symbols(prog).address(mangled) is None
    with pytest.raises(Exception, match="could not determine address"):
        BPF._check_path_symbol(prog.encode(), mangled, None, -1)


def test_symfs(tmp_path, monkeypatch):
    prog, full, mangled = build(str(tmp_path), os.urandom(20).hex())
    symfs = tmp_path / "symfs"
    target = symfs / prog.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copy(full, target)
    monkeypatch.setenv("BCC_SYMFS", str(symfs))
    check_symbols(prog, mangled)


def test_mini_debuginfo(tmp_path):
    prog, full, mangled = build(str(tmp_path))
    dbg = str(tmp_path / "prog.debug")
    keep_debug(full, dbg)
    with open(dbg, "rb") as f, open(dbg + ".xz", "wb") as out:
        out.write(lzma.compress(f.read()))
    run("objcopy", "--add-section", ".gnu_debugdata=%s.xz" % dbg, prog)
    os.unlink(dbg)
    check_symbols(prog, mangled)


def test_mount_namespace(tmp_path):
    """The program and its debug file exist only in the process's mount namespace (a
    bind mount over an empty directory): paths go through /proc/PID/root."""
    need_root()
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    src = tmp_path / "src"
    src.mkdir()
    prog, full, mangled = build(str(src))
    keep_debug(full, str(src / "prog.debug"))
    run("objcopy", "--add-gnu-debuglink=%s" % (src / "prog.debug"), prog)
    os.unlink(full)
    seen = tmp_path / "ns"
    seen.mkdir()
    inner = str(seen / "prog")
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" "$1" && exec "$1/prog"', str(src), str(seen)]
    if subprocess.run(argv[:4] + ["true"]).returncode:
        pytest.skip("cannot unshare the mount namespace here")
    assert not os.path.exists(inner)
    check_symbols(inner, mangled, argv=argv)
    check_uprobe(inner, mangled, argv=argv)
    from bcc_core.symbols import resolve_module
    assert resolve_module(inner) is None
