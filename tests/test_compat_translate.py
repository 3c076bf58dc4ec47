"""compat.translate: golden outputs for representative BCC idioms, and errors that
point at the user's file:line (never a pycparser traceback)."""
import os
import re

import pytest

from bcc_core import btf as B
from bcc_core.errors import BccCoreError
from conftest import CLANG, HERE

pytest.importorskip("pycparser")
from bcc_core.compat import build as cbuild  # noqa: E402
from bcc_core.compat import translate as tr  # noqa: E402

CORPUS = os.path.join(HERE, "compat")
GOLDEN = os.path.join(CORPUS, "golden")
REGEN = os.environ.get("BCC_CORE_REGEN_GOLDEN") == "1"

pytestmark = [pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF"),
              pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")]


def translate_corpus(name):
    with open(os.path.join(CORPUS, name + ".c")) as f:
        text = f.read()
    # a relative file name keeps #line markers (and so the goldens) machine-independent
    return tr.translate(text, filename=name + ".c", src_dir=CORPUS)


@pytest.mark.parametrize("name", ["raw_tp", "kprobes", "kfuncs", "tp_sched"])
def test_golden(name):
    """Readable, stable translations; regenerate with BCC_CORE_REGEN_GOLDEN=1 after an
    intended change (the tracepoint types come from this kernel's BTF)."""
    out = translate_corpus(name)
    assert translate_corpus(name) == out        # deterministic
    path = os.path.join(GOLDEN, name + ".bpf.c")
    if REGEN or not os.path.exists(path):
        with open(path, "w") as f:
            f.write(out)
    with open(path) as f:
        assert out == f.read()


def test_idioms():
    out = translate_corpus("raw_tp")
    assert "BPF_CORE_READ(task, pid)" in out
    assert "BPF_CORE_READ(regs, di)" in out                      # pt_regs from a raw ptr
    assert "BPF_CORE_READ_INTO(&info.tgid_read_into, task, tgid);" in out
    assert "BPF_CORE_READ_STR_INTO(&info.comm, task, comm);" in out
    assert "BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork)" in out
    assert "&BPF_CORE_READ(task, group_leader)->comm" in out
    assert "ctx->args[0]" in out                                  # ctx stays direct
    assert "__bcc_map_increment_percpu(&calls, zero, 1);" in out
    assert "__bcc_lookup_or_try_init(&percpu, &zero, &init)" in out
    assert "bpf_map_update_elem(&scratch, &zero, &one, BPF_NOEXIST);" in out
    assert "bpf_get_stackid(ctx, &stacks, 0)" in out
    assert '} ftable SEC(".maps");' in out and "__uint(map_flags, BPF_F_NO_PREALLOC);" in out
    assert "static __always_inline u32 current_tgid(void)" in out
    assert 'SEC("raw_tp/sys_enter")' in out
    k = translate_corpus("kprobes")
    assert "int BPF_KPROBE(kprobe__do_sys_openat2, int dfd, const char *filename)" in k
    assert "bpf_probe_read_user_str(&v.name, sizeof(v.name), filename);" in k   # user ptr
    assert "BPF_CORE_READ(sk, __sk_common.skc_dport)" in k
    assert "BPF_CORE_READ(de, d_inode, i_size)" in k
    assert "struct qstr dn = BPF_CORE_READ(de, d_name);" in k
    assert "int BPF_KSYSCALL(syscall__execve, const char *filename)" in k
    assert 'SEC("kprobe") int trace_readline_ret(struct pt_regs *ctx)' in k
    assert "struct pt_regs *regs = ctx;" in k
    f = translate_corpus("kfuncs")
    assert 'SEC("fentry/do_unlinkat")' in f and "int BPF_PROG(kfunc__do_unlinkat, " in f
    assert "__bcc_read(&BPF_CORE_READ(name, name)[0])" in f
    assert 'SEC("lsm/bpf")' in f
    s = translate_corpus("tp_sched")
    assert "struct trace_event_raw_sched_process_fork *args" in s
    assert "bpf_perf_event_output(args, &forks, BPF_F_CURRENT_CPU, &ev, sizeof(ev));" in s
    assert "bpf_ringbuf_reserve(&execs, sizeof(struct exec_event), 0)" in s


def test_line_markers_point_into_the_source():
    """The output keeps the source's lines: after a line marker, output line N is the
    user's line N (rewritten spans are laid out over the lines they replace)."""
    for name in ("kprobes", "raw_tp", "tp_sched", "kfuncs"):
        out = translate_corpus(name)
        src = open(os.path.join(CORPUS, name + ".c")).read().split("\n")
        line = None
        checked = 0
        for l in out.split("\n"):
            m = re.match(r'# (\d+) "%s\.c"' % name, l)
            if m:
                line = int(m.group(1))
                continue
            if line is not None:
                tok = re.match(r"\s*(\w+)", l)
                if tok and tok.group(1) in ("return", "if", "u32", "u64",
                                            "bpf_probe_read_user_str"):
                    assert tok.group(1) in src[line - 1], (name, line, l, src[line - 1])
                    checked += 1
                line += 1
        assert checked > 5, name


BAD = [
    ("syntax", "BPF_HASH(h, u32, u64);\n\nint kprobe__vfs_read(struct pt_regs *ctx)\n{\n"
     "    u32 x = 1\n    return 0;\n}\n", 6, "syntax error"),
    ("field", "int kprobe__vfs_read(struct pt_regs *ctx)\n{\n    struct task_struct *t = "
     "(struct task_struct *)bpf_get_current_task();\n\n    return t->no_such_field;\n}\n",
     5, "no member named 'no_such_field' in struct task_struct"),
    ("type", "int kprobe__vfs_read(struct pt_regs *ctx)\n{\n    struct no_such_type *t = 0;"
     "\n    return t->x;\n}\n", 4, "unknown type 'struct no_such_type'"),
    ("typename", "int kprobe__vfs_read(struct pt_regs *ctx)\n{\n    no_such_t x = 0;\n"
     "    return x;\n}\n", 3, "unknown type name 'no_such_t'"),
    ("maptype", 'BPF_TABLE("hash_set", u32, u64, ids, 1024);\n',
     1, 'BPF_TABLE type "hash_set" is not supported'),
    ("write", "int kprobe__vfs_read(struct pt_regs *ctx)\n{\n    struct task_struct *t = "
     "(struct task_struct *)bpf_get_current_task();\n    t->pid = 1;\n    return 0;\n}\n",
     4, "cannot write to kernel memory"),
    ("method", "BPF_HASH(h, u32, u64);\nint kprobe__vfs_read(struct pt_regs *ctx)\n{\n"
     "    u32 k = 0;\n\n    h.frobnicate(&k);\n    return 0;\n}\n", 6, "h.frobnicate()"),
    ("undeclared", "int kprobe__vfs_read(struct pt_regs *ctx)\n{\n\n"
     "    return SOME_KERNEL_MACRO;\n}\n", 4, "undeclared identifier 'SOME_KERNEL_MACRO'"),
    ("usdt", "int do_trace(struct pt_regs *ctx)\n{\n    u64 addr = 0;\n"
     "    bpf_usdt_readarg(6, ctx, &addr);\n    return 0;\n}\n", 4, "bpf_usdt_readarg"),
    ("kretargs", "int kretprobe__vfs_read(struct pt_regs *ctx, int x)\n{\n    return x;\n}\n",
     1, "kretprobe functions take only"),
    ("badtp", "TRACEPOINT_PROBE(nosuchcat, nosuchevent)\n{\n    return args->x;\n}\n",
     1, "tracepoint nosuchcat:nosuchevent not found"),
    ("tpfield", "TRACEPOINT_PROBE(sched, sched_switch)\n{\n\n    return args->nope;\n}\n",
     4, "no member named 'nope'"),
    ("preproc", "#include \"missing_header.h\"\nint x;\n", 1, "missing_header.h"),
    ("tabletype", 'BPF_TABLE("frob", u32, u64, t, 4);\n', 1, 'BPF_TABLE type "frob"'),
]


@pytest.mark.parametrize("name,text,line,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_and_line(tmp_path, name, text, line, msg):
    src = tmp_path / ("%s.c" % name)
    src.write_text(text)
    with pytest.raises(tr.TranslateError) as ei:
        cbuild.build(str(src), str(tmp_path / "x.o"))
    e = ei.value
    assert isinstance(e, BccCoreError)
    assert e.file == str(src), str(e)
    assert e.line == line, str(e)
    assert msg in str(e)
    assert str(e).startswith("%s:%d: error: " % (src, line))


def test_clang_errors_point_at_the_original_file(tmp_path):
    src = tmp_path / "clangerr.c"
    src.write_text("int kprobe__vfs_read(struct pt_regs *ctx)\n{\n    u32 x = 0;\n\n"
                   "    x = bpf_get_current_pid_tgid(1, 2, 3);\n    return x;\n}\n")
    with pytest.raises(cbuild.BuildError) as ei:
        cbuild.build(str(src), str(tmp_path / "x.o"))
    assert "%s:5:" % src in str(ei.value)


def test_dialect_detection():
    assert tr.is_bcc_dialect("BPF_HASH(x);\nint kprobe__f(struct pt_regs *ctx) { return 0; }")
    assert not tr.is_bcc_dialect('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n'
                                 'SEC("tp/x/y") int f(void *c) { return 0; }')
    core = open(os.path.join(HERE, "progs", "basic.bpf.c")).read()
    assert cbuild.translate_text(core) == core          # libbpf C passes through
