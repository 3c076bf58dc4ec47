"""The precompiled prelude (compat/pch.py): objects compiled with it are the ones
compiled without (instructions, relocations, BTF); a header clang rejects is discarded
and the compile goes on without; what may and may not use it.  clang, no bpf()."""
import os

import pytest

from bcc_core import btf as B
from conftest import CLANG

pytest.importorskip("pycparser")
from bcc_core.compat import build as cbuild  # noqa: E402
from bcc_core.compat import pch  # noqa: E402

pytestmark = [pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF"),
              pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")]

PROG = r"""
BPF_HASH(counts, u32, u64);
BPF_PERF_OUTPUT(events);
struct ev { u32 pid; char comm[16]; };

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct ev e = {};
    e.pid = t->real_parent->tgid;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    counts.increment(e.pid, STEP);
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache but for the kernel's vmlinux.h (shared, generated once)."""
    inc = cbuild.include_dir()
    monkeypatch.setenv("BCC_CORE_CACHE_DIR", str(tmp_path))
    os.makedirs(tmp_path / "compat")
    os.symlink(inc, tmp_path / "compat" / os.path.basename(inc))
    return tmp_path


def _sections(path):
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        return {s.name: s.data() for s in elf.iter_sections()
                if s.name.startswith((".BTF", "tracepoint", ".reltracepoint", ".maps",
                                      "license"))}


def _canon(data):
    """The multiset of types of a .BTF, each spelled with the names of the types it
    refers to (anonymous ones spelled out): equal for isomorphic BTF, whatever the ids.
    (The prelude's header makes clang number some forward declarations differently.)"""
    b = B.BTF(data)

    def ref(tid, depth=0):
        t = b.type(tid)
        if t.name or depth > 8:
            return "%s:%s" % (t.kind_name, t.name)
        return spell(t, depth + 1)

    def spell(t, depth=0):
        out = [t.kind_name, t.name, str(t.size if t.size is not None else "")]
        for attr in ("members", "params"):
            for m in getattr(t, attr, None) or ():
                if attr == "members":
                    out.append("%s@%d/%d=%s" % (m.name, m.bit_offset, m.bitfield_size,
                                                ref(m.type, depth)))
                else:
                    out.append("%s=%s" % (m[0], ref(m[1], depth) if m[1] else "void"))
        if t.kind == B.KIND_ARRAY:
            out.append("%s[%d]" % (ref(t.elem_type, depth), t.nelems))
        elif t.type is not None and t.kind not in (B.KIND_STRUCT, B.KIND_UNION):
            out.append(ref(t.type, depth) if t.type else "void")
        if getattr(t, "values", None):
            out.append(repr(t.values))
        return "(%s)" % " ".join(out)
    return sorted(spell(b.type(t)) for t in range(1, b.nr_types))


def _same(a, b):
    """Identical sections but .BTF, and isomorphic .BTF."""
    assert {k: v for k, v in a.items() if k != ".BTF"} == \
        {k: v for k, v in b.items() if k != ".BTF"}
    assert _canon(a[".BTF"]) == _canon(b[".BTF"])
    return True


def _compile(core, out, cflags, monkeypatch, use):
    monkeypatch.setenv(pch.ENV, "1" if use else "0")
    return cbuild.compile_c(core, str(out), cflags)


@pytest.mark.parametrize("cflags", [["-DSTEP=1"], ["-DSTEP=3", "-DOTHER"]])
def test_same_object_with_and_without(cache, tmp_path, monkeypatch, cflags):
    core = cbuild.translate_text(PROG, "<text>", cflags)
    assert core.startswith(pch.HEAD)
    plain = _sections(_compile(core, tmp_path / "plain.o", cflags, monkeypatch, False))
    assert not list((cache / "compat").glob("pch-*"))
    with_pch = _sections(_compile(core, tmp_path / "pch.o", cflags, monkeypatch, True))
    made = list((cache / "compat").glob("pch-*/prelude.pch"))
    assert len(made) == 1
    assert ".BTF" in plain and ".BTF.ext" in plain and _same(with_pch, plain)
    # a second compile loads the same header
    again = _sections(_compile(core, tmp_path / "again.o", cflags, monkeypatch, True))
    assert _same(again, plain) and list((cache / "compat").glob("pch-*/prelude.pch")) == made


def test_flags_key_the_header(cache, tmp_path, monkeypatch):
    core = cbuild.translate_text(PROG, "<text>", ["-DSTEP=1"])
    _compile(core, tmp_path / "a.o", ["-DSTEP=1"], monkeypatch, True)
    _compile(core, tmp_path / "b.o", ["-DSTEP=2"], monkeypatch, True)
    assert len(list((cache / "compat").glob("pch-*/prelude.pch"))) == 2
    assert cbuild.precompile_prelude(cflags=["-DSTEP=1"]) in {
        str(p) for p in (cache / "compat").glob("pch-*/prelude.pch")}


def test_rejected_header_is_discarded_and_the_compile_goes_on(cache, tmp_path,
                                                              monkeypatch):
    core = cbuild.translate_text(PROG, "<text>", ["-DSTEP=1"])
    p = cbuild.precompile_prelude(cflags=["-DSTEP=1"])
    with open(p, "wb") as f:
        f.write(b"not a precompiled header")
    monkeypatch.setenv(pch.ENV, "1")
    out = cbuild.compile_c(core, str(tmp_path / "x.o"), ["-DSTEP=1"])
    assert ".BTF" in _sections(out)
    assert not os.path.exists(p)          # discarded: the next compile builds it again


def test_errors_in_the_program_are_still_reported(cache, tmp_path, monkeypatch):
    core = pch.HEAD + "int f(void) { return undeclared_thing; }\n"
    monkeypatch.setenv(pch.ENV, "1")
    with pytest.raises(cbuild.BuildError) as e:
        cbuild.compile_c(core, str(tmp_path / "bad.o"))
    assert "undeclared_thing" in str(e.value.args) + str(getattr(e.value, "log", ""))


def test_who_may_use_it(tmp_path, monkeypatch):
    monkeypatch.delenv(pch.ENV, raising=False)
    assert pch.usable(pch.HEAD + "int x;\n")
    assert pch.usable((pch.HEAD + "int x;\n").encode())
    assert not pch.usable('#include "vmlinux.h"\nint x;\n')     # not a translated text
    (tmp_path / "bpf").mkdir()
    assert not pch.usable(pch.HEAD, str(tmp_path))   # its own bpf/ headers come first
    monkeypatch.setenv(pch.ENV, "0")
    assert not pch.usable(pch.HEAD)
    assert pch.rejected("fatal error: PCH file built from a different branch")
    assert pch.rejected("error: file 'x.h' has been modified since the precompiled header")
    assert not pch.rejected("error: use of undeclared identifier 'x'")
