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


def test_bcc_rules_for_kernel_memory():
    """BCC's rules on what is kernel memory, as its own tools rely on them: a kprobe's
    pointer arguments, addresses turned into numbers and back (bindsnoop), memcpy from
    kernel memory (tcpretrans), and CO-RE reads whose base is the program's own memory
    (xfsslower's valp->fp) evaluated outside the relocated access."""
    text = ("struct val_t { struct file *fp; };\nBPF_HASH(m, u32, struct val_t);\n"
            "int kprobe__vfs_read(struct pt_regs *ctx, struct file *file, char *buf,\n"
            "                     size_t count, loff_t *ppos)\n{\n"
            "    u32 k = 0;\n    struct val_t *valp = m.lookup(&k);\n"
            "    if (!valp)\n        return 0;\n"
            "    u64 off = *ppos;\n"
            "    u8 b = *(u8 *)((u64)&file->f_flags - 1);\n"
            "    struct qstr qs = valp->fp->f_path.dentry->d_name;\n"
            "    char name[16];\n    __builtin_memcpy(name, file->f_path.dentry->d_name.name, 16);\n"
            "    u64 local[2] = {};\n    __builtin_memcpy(local, &off, sizeof(off));\n"
            "    return off + b + qs.len + name[0] + local[0];\n}\n")
    out = tr.translate(text, filename="rules.c")
    assert "u64 off = __bcc_read(ppos);" in out
    assert "u8 b = __bcc_read((u8 *)((u64)&file->f_flags - 1));" in out
    assert "({ typeof(valp->fp) __bcc_b1 = (valp->fp); " \
           "BPF_CORE_READ(__bcc_b1, f_path.dentry, d_name); })" in out
    assert "bpf_probe_read_kernel(name, 16, BPF_CORE_READ(file, f_path.dentry, d_name.name));" \
        in out
    assert "__builtin_memcpy(local, &off, sizeof(off));" in out


def test_tracepoint_args_are_read_with_core():
    """TRACEPOINT_PROBE's args typed from the kernel's trace_event_raw_* are read with
    CO-RE (a relocated direct load can turn into a modified-ctx access the verifier
    rejects); the pointer itself stays the context."""
    text = ("BPF_PERF_OUTPUT(events);\nTRACEPOINT_PROBE(sched, sched_process_fork)\n{\n"
            "    u32 pid = args->child_pid;\n"
            "    events.perf_submit(args, &pid, sizeof(pid));\n    return 0;\n}\n")
    out = tr.translate(text, filename="tp.c")
    assert "u32 pid = BPF_CORE_READ(args, child_pid);" in out
    assert "bpf_perf_event_output(args, &events, BPF_F_CURRENT_CPU, &pid, sizeof(pid));" \
        in out


def test_void_probes_and_sixth_kprobe_argument(tmp_path):
    """A void probe (oomkill's) returns 0 on every path; a sixth kprobe argument
    (virtiostat's) compiles with libbpf headers that stop at five."""
    text = ("void kprobe__oom_kill_process(struct pt_regs *ctx, void *oc, const char *m)\n{\n"
            "    if (!m)\n        return;\n    bpf_trace_printk(\"oom\\n\");\n}\n"
            "int kprobe__virtqueue_add_sgs(struct pt_regs *ctx, void *vq, void *sgs,\n"
            "    unsigned int out_sgs, unsigned int in_sgs, void *data, int gfp)\n{\n"
            "    return gfp + in_sgs;\n}\n")
    out = tr.translate(text, filename="void.c")
    assert "int BPF_KPROBE(kprobe__oom_kill_process, void *oc, const char *m)" in out
    assert "        return 0;\n" in out and "return 0; }" in out
    cbuild.compile_c(out, str(tmp_path / "void.bpf.o"))


def test_kfunc_bodies_see_ctx():
    """KFUNC_PROBE/KRETFUNC_PROBE bodies use BPF_PROG's ctx, as BCC's opensnoop does."""
    out = tr.translate("BPF_PERF_OUTPUT(events);\nKRETFUNC_PROBE(do_sys_openat2, int dfd, "
                       "const char *filename, void *how, long ret)\n{\n    u32 x = ret;\n"
                       "    events.perf_submit(ctx, &x, sizeof(x));\n    return 0;\n}\n",
                       filename="kf.c")
    assert "bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &x, sizeof(x));" in out


def test_capable_opts_macros():
    """BCC's capable computes audit from cap_capable()'s opts under #ifdef CAP_OPT_NONE
    (linux/security.h): without the macro its default filter drops every event."""
    out = tr.translate("int kprobe__cap_capable(struct pt_regs *ctx, const struct cred *c,"
                       " struct user_namespace *ns, int cap, unsigned int cap_opt)\n{\n"
                       "#ifdef CAP_OPT_NONE\n    int audit = (cap_opt & 0b10) == 0;\n"
                       "#else\n    int audit = cap_opt;\n#endif\n    return audit;\n}\n",
                       filename="cap.c")
    assert "(cap_opt & 0b10) == 0" in out
