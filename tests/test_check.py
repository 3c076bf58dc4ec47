"""`bcc-core check`: every CO-RE relocation of an object against one or more BTFs, with
no root and no bpf() call."""
import json
import os
import subprocess
import sys

import pytest

import kernels
from conftest import CLANG, build_bpf

from bcc_core.core import check
from bcc_core.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "/sys/kernel/btf/vmlinux"
KEYS = {"btf", "section", "program", "insn", "kind", "local_value", "target_value",
        "poisoned", "spec", "reason"}


def need_host_btf():
    if not os.path.exists(HOST):
        pytest.skip("the running kernel exposes no BTF")


@pytest.fixture(scope="module")
def core_task():
    return build_bpf("core_task")


def run_cli(args, env=None):
    cmd = [sys.executable, "-m", "bcc_core.cli"] + args
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=ROOT, timeout=60)


def rows_of(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_json_rows(core_task, capsys):
    need_host_btf()
    rc = main(["check", core_task, "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    rows = rows_of(out)
    assert len(rows) == 27
    for r in rows:
        assert KEYS <= set(r), r
        assert r["btf"] == HOST
    by = {(r["program"], r["spec"], r["kind"]): r for r in rows}
    # main program, ELF section, section-relative insn index
    r = by[("on_getppid", "struct task_struct.tgid", "byte_off")]
    assert r["section"] == "tp/syscalls/sys_enter_getppid" and not r["poisoned"]
    assert isinstance(r["insn"], int) and r["target_value"] > 0
    # relocations in .text belong to the subprogram whose code holds them
    sub = [r for r in rows if r["section"] == ".text"]
    assert sub and all(r["program"] == "read_state" and r["subprog"] for r in sub)
    # the flavor that this kernel lacks: exists -> 0, and its guarded read is poisoned
    r = by[("on_getppid", "struct task_struct___old.state", "field_exists")]
    assert (r["local_value"], r["target_value"], r["poisoned"]) == (1, 0, False)
    assert "not found" in r["reason"]
    r = by[("read_state", "struct task_struct___old.state", "byte_off")]
    assert r["poisoned"] and r["target_value"] is None and "state" in r["reason"]
    assert by[("on_getppid", "struct task_struct.__state", "field_exists")]["target_value"] == 1
    # enum values: local (compiled in) vs the kernel's (UAPI)
    r = by[("on_getppid", "enum bpf_func_id___local::BPF_FUNC_ktime_get_ns___local",
            "enumval_value")]
    assert (r["local_value"], r["target_value"]) == (1000, 5)
    r = by[("on_getppid", "struct no_such_type___x", "type_exists")]
    assert r["target_value"] == 0
    # bitfield relocations of BPF_CORE_READ_BITFIELD_PROBED
    kinds = {r["kind"] for r in rows if "is_child_subreaper" in r["spec"]}
    assert kinds == {"byte_off", "byte_sz", "lshift_u64", "rshift_u64", "signed"}
    assert sum(r["poisoned"] for r in rows) == 2


def test_human_table_and_summary(core_task, capsys):
    need_host_btf()
    assert main(["check", core_task]) == 0
    out = capsys.readouterr().out
    assert "against %s" % HOST in out
    assert "SECTION" in out and "PROGRAM" in out and "LOCAL TYPE.ACCESS" in out
    assert "read_state (subprog)" in out
    assert "struct task_struct.tgid" in out
    assert "27 relocations, 2 poisoned, 0 failed" in out
    assert "only if the verifier finds it reachable" in out


def test_several_btfs(core_task, capsys):
    need_host_btf()
    k61 = kernels.get("6.1")
    assert main(["check", core_task, "--json", "--btf", HOST, "--btf", k61]) == 0
    rows = rows_of(capsys.readouterr().out)
    assert {r["btf"] for r in rows} == {HOST, k61}
    assert len(rows) == 54
    comm = {r["btf"]: r["target_value"] for r in rows
            if r["spec"] == "struct task_struct.comm" and r["kind"] == "byte_off"}
    assert comm[k61] == 2976          # Debian 6.1's task_struct layout
    # the same, straight from the library
    spec, reports = check.run(core_task, [k61])
    assert [len(rep.rows) for rep in reports] == [27]


def test_vmlinux_elf_as_target(core_task, tmp_path, capsys):
    """--btf also takes an ELF with a .BTF section (a vmlinux; here the 6.1 one rebuilt
    as a minimal ELF around its BTF)."""
    k61 = kernels.get("6.1")
    if CLANG is None:
        pytest.skip("clang is needed")
    # an ELF carrying the 6.1 BTF as its .BTF section, as a kernel vmlinux does
    elf = tmp_path / "vmlinux"
    subprocess.run(["objcopy", "-I", "binary", "-O", "elf64-x86-64", "--rename-section",
                    ".data=.BTF", k61, str(elf)], check=True)
    assert main(["check", core_task, "--json", "--btf", str(elf)]) == 0
    rows = rows_of(capsys.readouterr().out)
    comm = [r for r in rows if r["spec"] == "struct task_struct.comm"
            and r["kind"] == "byte_off"]
    assert comm[0]["target_value"] == 2976


def test_no_privilege_no_bpf_light(core_task, tmp_path):
    """Runs with every capability dropped (no CAP_BPF/CAP_SYS_ADMIN: bpf() would fail),
    and never imports the loader or the syscall layer."""
    need_host_btf()
    cache = tmp_path / "cache"          # "no cache": the kernel BTF index is rebuilt
    cache.mkdir()
    env = dict(os.environ, PYTHONPATH=ROOT, BCC_CORE_CACHE=str(cache))
    cmd = [sys.executable, "-m", "bcc_core.cli", "check", core_task]
    if os.geteuid() == 0:
        if subprocess.run(["setpriv", "--help"], capture_output=True).returncode:
            pytest.skip("setpriv (util-linux) is needed to drop capabilities")
        cmd = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
               "--"] + cmd
        r = subprocess.run(cmd[:5] + ["grep", "CapEff", "/proc/self/status"],
                           capture_output=True, text=True)
        assert r.stdout.split()[-1] == "0000000000000000", r.stdout
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "27 relocations, 2 poisoned" in r.stdout
    code = ("import sys; from bcc_core.cli import main; rc = main(['check', %r, '--json']); "
            "bad = [m for m in sys.modules if m in ('bcc_core.load.loader', 'bcc_core._sys', "
            "'bcc_core.load.prog', 'bcc_core.load.map', 'cffi', '_cffi_backend')]; "
            "print('MODS', bad, file=sys.stderr); sys.exit(rc)" % core_task)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "MODS []" in r.stderr


AMBIG_PROG = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct foo___x {
	int b;
} __attribute__((preserve_access_index));

SEC("tp/syscalls/sys_enter_getppid")
int read_b(void *ctx)
{
	struct foo___x *f = (void *)bpf_get_current_task();

	return BPF_CORE_READ(f, b);
}

char LICENSE[] SEC("license") = "GPL";
"""

# two candidates for 'struct foo' in the target with 'b' at different offsets
AMBIG_TARGET = r"""
struct foo { int a; int b; };
struct foo___v2 { int b; };
struct foo f1;
struct foo___v2 f2;
"""


def test_failure_exit_status(tmp_path, capsys):
    if CLANG is None:
        pytest.skip("clang is needed")
    (tmp_path / "ambig.bpf.c").write_text(AMBIG_PROG)
    obj = build_bpf("ambig", src_dir=str(tmp_path))
    src = tmp_path / "target.c"
    src.write_text(AMBIG_TARGET)
    target = tmp_path / "target.o"
    subprocess.run([CLANG, "-target", "bpf", "-g", "-c", str(src), "-o", str(target)],
                   check=True)
    rc = main(["check", obj, "--btf", str(target)])
    cap = capsys.readouterr()
    assert rc == 1
    assert "ambiguity" in cap.err and "Traceback" not in cap.err
    assert "read_b" in cap.out and "FAIL" in cap.out
    assert "1 relocations, 0 poisoned, 1 failed" in cap.out
    assert "libbpf would refuse" in cap.out
    # JSON: the failed row carries the error
    rc = main(["check", obj, "--btf", str(target), "--json"])
    rows = rows_of(capsys.readouterr().out)
    assert rc == 1 and len(rows) == 1 and "ambiguity" in rows[0]["error"]
    # the same via the command, as a user sees it: no traceback
    r = run_cli(["check", obj, "--btf", str(target)])
    assert r.returncode == 1 and "ambiguity" in r.stderr and "Traceback" not in r.stderr


def test_bad_btf_path_is_an_error(core_task, capsys):
    assert main(["check", core_task, "--btf", "/nonexistent/btf"]) == 1
    err = capsys.readouterr().err
    assert "bcc-core: error:" in err and "/nonexistent/btf" in err


def test_object_without_relocations(capsys):
    obj = build_bpf("basic")
    spec, reports = check.run(obj, [HOST] if os.path.exists(HOST) else None)
    if spec.btf_ext and any(spec.btf_ext.core_relos.values()):
        pytest.skip("basic.bpf.c has CO-RE relocations now")
    assert main(["check", obj]) == 0
    out = capsys.readouterr().out
    assert "no CO-RE relocations" in out


def _fleet(tmp_path):
    """A directory of six Debian kernels' BTF (6.1 and 6.12: generic, cloud and rt),
    extracted from the registry's packages at test time (tests/kernels.py), and this
    host's, as an operator would collect them."""
    d = tmp_path / "fleet"
    d.mkdir()
    for name in kernels.FLEET:          # a kernel that cannot be had skips, saying why
        os.symlink(kernels.get(name), str(d / (name + ".btf")))
    if os.path.exists(HOST):
        os.symlink(HOST, str(d / "host.btf"))
    return d


def test_fleet_directory(tmp_path, capsys):
    """``bcc-core check OBJ --btf DIR``: one verdict per kernel of the directory, the
    relocations behind each (failed, poisoned) and a --json form, for both ported tools'
    objects and for libbpf-tools' own (each kernel's verdict there is libbpf's)."""
    fleet = _fleet(tmp_path)
    n = len(os.listdir(str(fleet)))
    assert n >= 6
    tools = [os.path.join(ROOT, "tools", t + ".bpf.o") for t in ("opensnoop", "runqslower")]
    for obj in tools:
        assert main(["check", obj, "--btf", str(fleet)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len([l for l in out if not l.startswith("    ")]) == n, out
        assert all(" ok " in l for l in out if not l.startswith("    ")), out
        assert main(["check", obj, "--btf", str(fleet), "--json"]) == 0
        vs = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
        assert sorted(os.path.basename(v["btf"]) for v in vs) == sorted(os.listdir(str(fleet)))
        assert all(v["verdict"] != "refused" and v["relocations"] > 0 for v in vs)
    # runqslower's pre-5.14 task_struct.state read is guarded: poisoned where absent
    rq = [json.loads(l) for l in _json_lines(main, tools[1], fleet, capsys)]
    assert all(p["spec"] == "struct task_struct___pre514.state"
               for v in rq for p in v["poisoned"])
    from libbpf_tools import extract_objects
    objs = extract_objects()
    verdicts = {}
    for name, obj in sorted(objs.items()):
        main(["check", obj, "--btf", str(fleet), "--json"])
        for line in capsys.readouterr().out.splitlines():
            v = json.loads(line)
            assert v["verdict"] in ("loads", "refused",
                                    "loads if the poisoned instructions are not reached")
            assert (v["verdict"] == "refused") == bool(v["failed"])
            verdicts[(name, os.path.basename(v["btf"]))] = v["verdict"]
    assert len(verdicts) == len(objs) * n


def _json_lines(main, obj, fleet, capsys):
    assert main(["check", obj, "--btf", str(fleet), "--json"]) == 0
    return capsys.readouterr().out.splitlines()
