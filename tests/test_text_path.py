"""BPF(text=...) on the real kernel: BCC C translated and compiled with clang once, the
object cached (a second start runs neither clang nor the translator), BPF(src_file="x.c"),
the bundle route for machines without clang (bcc-core bundle, BCC_CORE_OBJECTS), the
error without clang, and bad input reported as one exception naming the user's line."""
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from bcc_core import btf as B
from bcc_core.errors import BccCoreError, NotSupportedError
from conftest import CLANG, need_root

pytest.importorskip("pycparser")
from bcc_core.compat import build as cbuild  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF"),
              pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")]

# counts openat() calls per process; STEP (a -D flag) is what each call adds
PROG = r"""
#include <uapi/linux/ptrace.h>
#ifndef STEP
#define STEP 1
#endif
BPF_HASH(counts, u32, u64);

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    counts.increment(tgid, STEP);
    return 0;
}
"""

# a script as a BCC user writes it (imports changed): prints how much N openat() added
SCRIPT = r"""
import os, sys
from bcc_core import BPF
PROG = %r
b = BPF(text=PROG, cflags=%r)
def count():
    return {k.value: v.value for k, v in b["counts"].items()}.get(os.getpid(), 0)
before = count()
for _ in range(7):
    os.close(os.open("/dev/null", os.O_RDONLY))
print("added", count() - before)
b.cleanup()
"""


def script(tmp, cflags=()):
    p = os.path.join(str(tmp), "tool.py")
    with open(p, "w") as f:
        f.write(SCRIPT % (PROG, list(cflags)))
    return p


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache directory for the module: vmlinux.h is generated once."""
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def use_cache(cache, monkeypatch):
    monkeypatch.setenv("BCC_CORE_CACHE", cache)
    monkeypatch.delenv("BCC_CORE_OBJECTS", raising=False)
    monkeypatch.delenv(cbuild.BUNDLE_ENV, raising=False)
    return cache


def no_clang_path(tmp):
    """A PATH with no clang on it (an empty directory)."""
    d = os.path.join(str(tmp), "empty-bin")
    os.makedirs(d, exist_ok=True)
    return d


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)


def base_env(cache, **extra):
    env = dict(os.environ, BCC_CORE_CACHE=cache, PYTHONPATH=ROOT)
    for k in ("BCC_CORE_OBJECTS", cbuild.BUNDLE_ENV, cbuild.BUNDLE_RUN_ENV):
        env.pop(k, None)
    env.update(extra)
    return env


def obj_files(cache):
    d = os.path.join(cache, "compat", "obj")
    return {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in os.listdir(d)} \
        if os.path.isdir(d) else {}


def test_text_tracepoint_gets_events(use_cache):
    need_root()
    from bcc_core import BPF
    b = BPF(text=PROG)
    try:
        counts = b["counts"]
        me = os.getpid()

        def mine():
            return {k.value: v.value for k, v in counts.items()}.get(me, 0)
        before = mine()
        for _ in range(5):
            os.close(os.open("/dev/null", os.O_RDONLY))
        assert mine() - before == 5
        assert b.module.path.startswith(os.path.join(use_cache, "compat", "obj"))
    finally:
        b.cleanup()


def test_second_start_runs_neither_clang_nor_the_translator(cache, tmp_path):
    """Two starts of a script, with a logging clang-19 first on PATH: the first runs it
    (translate + compile), the second only loads the cached object."""
    need_root()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "clang.log"
    wrapper = bindir / "clang-19"
    wrapper.write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (log, CLANG))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = base_env(cache, PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    tool = script(tmp_path, ["-DSTEP=3"])
    r = run([sys.executable, tool], env)
    assert r.returncode == 0, r.stderr
    assert "added 21" in r.stdout
    runs = log.read_text()
    assert "-target bpf" in runs              # the first start compiled
    files = obj_files(cache)
    r = run([sys.executable, "-X", "importtime", tool], env)
    assert r.returncode == 0, r.stderr
    assert "added 21" in r.stdout
    assert log.read_text() == runs            # clang did not run again
    assert obj_files(cache) == files          # the same object, not rewritten
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in r.stderr.splitlines()
                if ln.startswith("import time:")}
    for mod in ("pycparser", "bcc_core.compat.translate", "bcc_core.compat.vmlinux"):
        assert mod not in imported, "%s imported on the warm path" % mod
    baseline = run([sys.executable, "-X", "importtime", "-c", "import bcc_core"], env)
    if " subprocess\n" not in baseline.stderr + "\n":
        assert "subprocess" not in imported   # nothing could have run clang


def test_src_file_c_with_local_header(use_cache, tmp_path):
    need_root()
    from bcc_core import BPF
    (tmp_path / "step.h").write_text("#define STEP 4\n")
    src = tmp_path / "tool.c"
    src.write_text('#include "step.h"\n' + PROG)
    b = BPF(src_file=str(src))
    try:
        me = os.getpid()
        before = {k.value: v.value for k, v in b["counts"].items()}.get(me, 0)
        os.close(os.open("/dev/null", os.O_RDONLY))
        assert {k.value: v.value for k, v in b["counts"].items()}[me] - before == 4
        first = b.module.path
    finally:
        b.cleanup()
    # an edited header is a different program: another object
    (tmp_path / "step.h").write_text("#define STEP 5\n")
    path, _ = cbuild.object_for_text(src.read_text(), filename=str(src))
    assert path != first


def test_bundle_then_load_without_clang(cache, tmp_path):
    """bcc-core bundle records the object on this (build) machine; a process whose PATH
    has no clang, with an empty cache and BCC_CORE_OBJECTS set, loads it and runs."""
    need_root()
    tool = script(tmp_path, ["-DSTEP=2"])
    bundle = tmp_path / "bundle"
    r = run([sys.executable, "-m", "bcc_core.cli", "bundle", "-o", str(bundle), "--",
             tool], base_env(cache))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recorded" in r.stderr and "added" not in r.stdout   # stopped at BPF()
    key = cbuild.bundle_key(PROG, ["-DSTEP=2"])
    assert (bundle / (key + ".bpf.o")).exists()
    entry = json.loads((bundle / "index.json").read_text())["objects"][key]
    assert entry["cflags"] == ["-DSTEP=2"] and entry["text_size"] == len(PROG)
    assert entry["text_first_line"] == "#include <uapi/linux/ptrace.h>"
    assert entry["script"] == tool

    target = base_env(str(tmp_path / "target-cache"), PATH=no_clang_path(tmp_path),
                      BCC_CORE_OBJECTS=str(bundle))
    r = run([sys.executable, tool], target)
    assert r.returncode == 0, r.stderr
    assert "added 14" in r.stdout


def test_without_clang_or_bundle_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", no_clang_path(tmp_path))
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.setenv("BCC_CORE_OBJECTS", str(bundle))
    from bcc_core import BPF
    with pytest.raises(cbuild.ToolMissingError) as ei:
        BPF(text=PROG)
    e = ei.value
    assert isinstance(e, NotSupportedError) and isinstance(e, BccCoreError)
    key = cbuild.bundle_key(PROG)
    assert e.key == key
    msg = str(e)
    for want in ("apt-get install clang-19", "bcc-core bundle -o DIR --",
                 "BCC_CORE_OBJECTS=DIR", os.path.join(str(bundle), key + ".bpf.o")):
        assert want in msg, msg
    # the bundle has this text with other cflags: the error says so
    (bundle / "index.json").write_text(json.dumps({"format": 1, "objects": {"k": {
        "text_hash": B.content_key(PROG.encode()), "cflags": ["-DSTEP=9"],
        "translator": cbuild.translator_version()}}}))
    with pytest.raises(cbuild.ToolMissingError, match=r"with cflags \['-DSTEP=9'\]"):
        BPF(text=PROG)


BAD = [
    ("syntax", "BPF_HASH(counts, u32, u64);\n"
     "TRACEPOINT_PROBE(syscalls, sys_enter_openat)\n{\n    u32 pid = 1\n"
     "    counts.increment(pid);\n    return 0;\n}\n", (4, 5)),
    ("kernel field", "BPF_HASH(counts, u32, u64);\n"
     "TRACEPOINT_PROBE(syscalls, sys_enter_openat)\n{\n"
     "    struct task_struct *t = (struct task_struct *)bpf_get_current_task();\n"
     "    u32 pid = t->no_such_field;\n    counts.increment(pid);\n    return 0;\n}\n",
     (5,)),
    ("clang", "BPF_HASH(counts, u32, u64);\n"
     "TRACEPOINT_PROBE(syscalls, sys_enter_openat)\n{\n"
     "    u32 pid = bpf_get_current_pid_tgid(1, 2);\n"
     "    counts.increment(pid);\n    return 0;\n}\n", (4,)),
]


@pytest.mark.parametrize("name,text,lines", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_exception_naming_the_line(use_cache, tmp_path, name, text,
                                                    lines):
    need_root()         # the syscalls tracepoint formats come from tracefs
    from bcc_core import BPF
    with pytest.raises(BccCoreError) as ei:
        BPF(text=text)
    e = ei.value
    assert e.file == "<text>" and e.line in lines, str(e)
    assert str(e).startswith("<text>:%d:" % e.line), str(e)
    assert e.__cause__ is None and e.__suppress_context__
    src = tmp_path / "bad.c"
    src.write_text(text)
    with pytest.raises(BccCoreError) as ei:
        BPF(src_file=str(src))
    assert str(ei.value).startswith("%s:%d:" % (src, ei.value.line)), str(ei.value)


def test_bad_input_traceback_is_one_exception(cache, tmp_path):
    need_root()
    code = textwrap.dedent("""
        from bcc_core import BPF
        BPF(text=%r)
    """ % BAD[0][1])
    r = run([sys.executable, "-c", code], base_env(cache))
    assert r.returncode == 1
    err = r.stderr
    assert err.count("Traceback") == 1, err
    assert "During handling" not in err and "pycparser" not in err, err
    assert "<text>:" in err.strip().splitlines()[-1]


def test_bundle_key():
    assert cbuild.bundle_key(PROG) == cbuild.bundle_key(PROG.encode())
    assert cbuild.bundle_key(PROG, ["-DSTEP=2"]) == cbuild.bundle_key(PROG, [b"-DSTEP=2"])
    assert cbuild.bundle_key(PROG, ["-DSTEP=2"]) != cbuild.bundle_key(PROG)
    assert cbuild.bundle_key(PROG + " ") != cbuild.bundle_key(PROG)
    code = ("import sys; from bcc_core.compat import build; build.bundle_key('x'); "
            "print(sorted(m for m in ('pycparser', 'bcc_core.compat.translate', "
            "'bcc_core.compat.vmlinux') if m in sys.modules))")
    r = run([sys.executable, "-c", code], base_env("/nonexistent"))
    assert r.stdout.strip() == "[]", r.stderr


def test_names_bcc_scripts_call():
    from bcc_core import BPF
    assert BPF.support_raw_tracepoint() in (True, False)
    assert BPF.tracepoint_exists("syscalls", "sys_enter_openat")
    assert not BPF.tracepoint_exists("syscalls", "sys_enter_no_such_call")
    assert BPF.ksymname("no_such_kernel_symbol_xyz") == -1
    assert BPF.get_syscall_fnname(BPF, "clone").endswith(b"sys_clone")
    assert BPF.kernel_enum_has_val("bpf_attach_type", "BPF_MODIFY_RETURN") == 1
    assert BPF.kernel_enum_has_val("bpf_attach_type", "NO_SUCH_VALUE") == 0
    assert b"__x64_sys_" in BPF._syscall_prefixes
    for name in ("attach_kprobe", "num_open_kprobes", "trace_print", "cleanup",
                 "attach_fmod_ret", "detach_fmod_ret", "support_fmod_ret"):
        assert callable(getattr(BPF, name))


def test_functions_load_as_their_attach_implies(tmp_path, monkeypatch):
    """BCC loads a plain function with the type of the attach call that names it: here a
    `void *ctx` function attached as a tracepoint and a no-argument one as a perf event
    (funccount's and runqlen's shapes); a partial copy of a kernel struct read through a
    kernel pointer uses the program's offsets (cpuunclaimed's cfs_rq_partial)."""
    need_root()
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    from bcc_core import BPF, PerfType, PerfSWConfig
    text = r"""
    #include <linux/sched.h>
    struct list_partial { struct list_partial *next, *prev; };
    BPF_HASH(counts, u32, u64);
    int count_openat(void *ctx) {
        u32 k = 0;
        counts.increment(k);
        return 0;
    }
    int do_perf_event() {
        u32 k = 1;
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        struct list_partial *lp = (struct list_partial *)&task->tasks;
        if (lp->next != 0 && lp->next->prev != 0)
            counts.increment(k);
        return 0;
    }
    """
    with BPF(text=textwrap.dedent(text)) as b:
        b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="count_openat")
        b.attach_perf_event(ev_type=PerfType.SOFTWARE, ev_config=PerfSWConfig.CPU_CLOCK,
                            fn_name="do_perf_event", sample_freq=99)
        for _ in range(5):
            os.close(os.open("/dev/null", os.O_RDONLY))
        end = __import__("time").time() + 0.3
        while __import__("time").time() < end:
            pass
        counts = {k.value: v.value for k, v in b["counts"].items()}
        assert counts.get(0, 0) >= 5, counts
        assert counts.get(1, 0) >= 1, counts        # task->tasks is a live list
