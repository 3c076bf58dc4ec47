"""The translator hands GNU C to clang unchanged (it is masked for pycparser, never
regenerated), rewrites kernel reads inside statement expressions and types typeof();
and the span engine's pieces (masking, node extents) on their own."""
import os
import subprocess

import pytest

from bcc_core import btf as B
from conftest import CLANG, HERE, need_root

pytest.importorskip("pycparser")
from bcc_core.compat import build as cbuild  # noqa: E402
from bcc_core.compat import translate as tr  # noqa: E402
from bcc_core.compat.mask import Masker  # noqa: E402

CORPUS = os.path.join(HERE, "compat")
pytestmark = [pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF"),
              pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")]


def test_mask_keeps_offsets_and_lines():
    text = ('int f(void) {\n  typeof(x) y = ({ int z = 1;\n z; }) + 2;\n'
            '  asm volatile("" ::: "memory");\n  int a[4] = { [0 ... 3] = 1 };\n'
            '  struct s { int q; } __attribute__((packed));\n'
            '  __extension__ unsigned __int128 w;\n  switch (y) { case 1 ... 5: break; }\n'
            '  return __builtin_types_compatible_p(int, long) + g(1, ...);\n}\n')
    m = Masker()
    for deep in (False, True):
        out = m.mask(text, deep=deep)
        assert len(out) == len(text)
        assert [i for i, c in enumerate(out) if c == "\n"] == \
            [i for i, c in enumerate(text) if c == "\n"]
        for word in ("typeof", "asm", "__attribute__", "__extension__", "...", "__int128",
                     "__builtin_types_compatible_p"):
            assert word not in out.replace("g(1, ...)", "")
    kinds = sorted(r.kind for r in m.regions.values())
    assert kinds == ["A", "B", "S", "T"]
    s = next(r for r in m.regions.values() if r.kind == "S")
    assert text[s.lo:s.hi] == "({ int z = 1;\n z; })"
    assert text[s.inner[0]:s.inner[1]] == "{ int z = 1;\n z; }"
    # a statement expression's body, masked deep, keeps its brackets
    assert "({ int z = 1;" in m.mask(text, deep=True)


def test_spans_of_rewritten_expressions_cover_their_operators():
    """Each rewrite replaces exactly the user's expression: unary operators, call
    parentheses, parenthesised bases and string concatenation included."""
    text = ("int kprobe__vfs_read(struct pt_regs *ctx)\n{\n"
            "    struct task_struct *t = (struct task_struct *)bpf_get_current_task();\n"
            "    u32 a = -((t))->pid + !t->tgid + (*&t->real_parent)->tgid;\n"
            "    bpf_trace_printk(\"a\" \"b %d\\n\", a);\n"
            "    return a;\n}\n")
    out = tr.translate(text, filename="spans.c")
    body = out[out.index("u32 a"):]
    assert "u32 a = -BPF_CORE_READ(t, pid) + !BPF_CORE_READ(t, tgid) + " in body
    assert "bpf_printk(\"a\" \"b %d\\n\", a);" in body


def test_gnu_c_reaches_clang_verbatim():
    src = open(os.path.join(CORPUS, "gnu.c")).read()
    out = tr.translate(src, filename="gnu.c", src_dir=CORPUS)
    for kept in ("} __attribute__((packed));", "[0 ... 3] = 7", "case 0 ... 3:",
                 'asm volatile("" ::: "memory");', "__typeof__(v.pid) pid",
                 "typeof(task) t2 = task;", "__extension__ unsigned long long z",
                 "static __always_inline __attribute__((unused)) u32 pick(u32 a, u32 b)"):
        assert kept in out, kept
    # kernel reads inside a statement expression (a macro's expansion) are CO-RE reads,
    # and typeof(task) is known to be a kernel pointer
    assert "({ struct task_struct *__p = BPF_CORE_READ(t2, real_parent); " \
           "BPF_CORE_READ(__p, tgid); })" in out
    # the source's lines are kept: the fork probe's body starts where it did
    lines = out.split("\n")
    first = lines.index('# 1 "gnu.c"')
    assert lines[first + 1 + src.split("\n").index("TRACEPOINT_PROBE(sched, sched_process_fork)")
                 ].startswith('SEC("tracepoint/sched/sched_process_fork")')


def test_gnu_c_program_runs(tmp_path):
    """The GNU-C program compiles, loads and counts real forks with the right values."""
    need_root()
    from bcc_core import BPF
    obj = str(tmp_path / "gnu.bpf.o")
    cbuild.build(os.path.join(CORPUS, "gnu.c"), obj)
    with BPF(src_file=obj.encode()) as b:
        p = subprocess.Popen(["sh", "-c", "true"])
        p.wait()
        vals = {k.value: v for k, v in b["vals"].items()}
        assert vals, "no fork seen"
        me = os.getpid()
        v = vals.get(p.pid)
        # the forked child's parent is this process; the shell ran after fork so the
        # map key is the child's tgid (bpf_get_current_pid_tgid in the parent: ours)
        assert me in vals, sorted(vals)
        assert vals[me].pid == me and vals[me].ppid == os.getppid()
        assert list(vals[me].arr) == [7, 7, 7, 7] and vals[me].small == 100
        assert v is None or v.pid == p.pid
        counts = {k.value: c.value for k, c in b["counts"].items() if c.value}
        assert set(counts) <= {1, 2} and sum(counts.values()) >= 1


def test_kernel_named_structs_are_settled():
    """A program's copy of a kernel type (dcsnoop's struct nameidata) gives way to the
    kernel's (read with CO-RE); a program type that only shares a kernel name is
    renamed, so vmlinux.h and the program do not define one name twice."""
    text = ("struct nameidata {\n    struct path path;\n    struct qstr last;\n};\n"
            "struct file {\n    int my_own_field;\n};\n"
            "BPF_HASH(seen, u32, struct file);\n"
            "int kprobe__d_lookup(struct pt_regs *ctx, struct nameidata *nd)\n{\n"
            "    struct file f = {};\n    u32 k = nd->last.len;\n"
            "    f.my_own_field = k;\n    seen.update(&k, &f);\n    return 0;\n}\n")
    out = tr.translate(text, filename="coll.c")
    assert "struct nameidata {" not in out and "struct path path;" not in out
    assert "BPF_CORE_READ(nd, last.len)" in out
    assert "struct file___bcc {" in out and "struct file___bcc f = {};" in out
    assert "__type(value, struct file___bcc)" in out
    lines = out.split("\n")
    # the dropped body keeps its lines
    assert lines.index("struct file___bcc {") - lines.index('# 1 "coll.c"') == 5
