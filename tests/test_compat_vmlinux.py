"""compat.vmlinux: BTF -> vmlinux.h that clang accepts, with the kernel's exact layout."""
import glob
import os
import re
import subprocess
import time

import pytest

from bcc_core import btf as B
from conftest import CLANG, HERE

ROOT = os.path.dirname(HERE)
vmlinux = pytest.importorskip("bcc_core.compat.vmlinux")

pytestmark = pytest.mark.skipif(not os.path.exists(B.VMLINUX), reason="no kernel BTF")


@pytest.fixture(scope="module")
def header(tmp_path_factory):
    d = tmp_path_factory.mktemp("vmlinux")
    t0 = time.monotonic()
    text = vmlinux.generate()
    took = time.monotonic() - t0
    print("vmlinux.h: %d lines in %.2f s" % (text.count("\n"), took))
    assert took < 10, "generating vmlinux.h took %.1f s" % took
    (d / "vmlinux.h").write_text(text)
    return str(d), text


def test_header_shape(header):
    _, text = header
    assert text.startswith("/* Generated")
    assert "#pragma clang attribute push (__attribute__((preserve_access_index)), " \
        "apply_to = record)" in text
    assert "#pragma clang attribute pop" in text
    assert "\nstruct task_struct {\n" in text
    assert "\nstruct task_struct;\n" in text             # forward declaration
    assert not re.search(r"typedef .* __builtin_va_list;", text)   # the compiler's own


@pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")
def test_project_programs_compile_against_it(header, tmp_path):
    inc, _ = header
    srcs = sorted(glob.glob(os.path.join(ROOT, "tests", "progs", "*.bpf.c")) +
                  glob.glob(os.path.join(ROOT, "tools", "*.bpf.c")))
    assert srcs
    procs = []
    for i, src in enumerate(srcs):
        cmd = [CLANG, "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86", "-I", inc,
               "-I", os.path.dirname(src), "-I/usr/include/x86_64-linux-gnu",
               "-c", src, "-o", str(tmp_path / ("%d.o" % i))]
        procs.append((src, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)))
    bad = []
    for src, p in procs:
        out, err = p.communicate()
        if p.returncode:
            bad.append("%s:\n%s" % (src, err[-2000:]))
    assert not bad, "\n".join(bad)


def _contains_va_list(b, tid, seen):
    """By-value use of va_list: its size differs on -target bpf (void *) from x86's."""
    while True:
        t = b.type(tid)
        if t.kind == B.KIND_TYPEDEF and t.name in ("va_list", "__builtin_va_list",
                                                   "__gnuc_va_list"):
            return True
        if t.kind in (B.KIND_TYPEDEF, B.KIND_CONST, B.KIND_VOLATILE, B.KIND_RESTRICT,
                      B.KIND_TYPE_TAG):
            tid = t.type
            continue
        if t.kind == B.KIND_ARRAY:
            tid = t.elem_type
            continue
        break
    if t.kind in (B.KIND_STRUCT, B.KIND_UNION):
        if tid in seen:
            return seen[tid]
        seen[tid] = False
        r = any(_contains_va_list(b, m.type, seen) for m in t.members)
        seen[tid] = r
        return r
    return False


@pytest.mark.skipif(CLANG is None, reason="clang-19 not installed")
def test_every_struct_has_the_kernels_size_and_offsets(header, tmp_path):
    """_Static_assert sizeof and offsetof of every named struct/union and member:
    padding, packing, bit-fields, enum sizes, anonymous members all come out right."""
    inc, _ = header
    b = B.kernel_btf()
    d = vmlinux._Dumper(b)
    d.assign_names()
    out = ['#include "vmlinux.h"\n']
    seen = {}
    n = 0
    for tid in d.ids:
        t = b.type(tid)
        if t.kind not in (B.KIND_STRUCT, B.KIND_UNION) or not t.name:
            continue
        if _contains_va_list(b, tid, seen):
            continue
        T = "%s %s" % ("struct" if t.kind == B.KIND_STRUCT else "union", d.names[tid])
        out.append('_Static_assert(sizeof(%s) == %d, "%s");\n' % (T, t.size, T))
        for m in t.members:
            if m.name and not m.bitfield_size:
                out.append('_Static_assert(__builtin_offsetof(%s, %s) == %d, "%s.%s");\n'
                           % (T, m.name, m.bit_offset // 8, T, m.name))
        n += 1
    assert n > 1000
    src = tmp_path / "asserts.c"
    src.write_text("".join(out))
    r = subprocess.run([CLANG, "-target", "bpf", "-fsyntax-only", "-I", inc, str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_small_btf_features(tmp_path):
    """Hand-checked output for a BTF built by clang: bit-fields, anonymous members,
    enums, function pointers, packed and padded structs."""
    if CLANG is None:
        pytest.skip("clang-19 not installed")
    src = tmp_path / "t.c"
    src.write_text(r"""
typedef unsigned int u32;
typedef int (*cb_t)(void *, long);
enum color { RED = 1, GREEN = 2 };
enum big { BIG = 0x100000000ULL };
struct inner { int a; };
struct __attribute__((packed)) pk { char c; int i; };
struct obj {
    u32 flags: 3, mode: 5;
    union { int x; struct { short lo, hi; }; };
    struct inner in[2];
    struct obj *next;
    cb_t cb;
    enum color col;
    const char *name;
    struct pk p;
    long __attribute__((aligned(32))) al;
};
struct obj o; enum big bg;
""")
    obj = tmp_path / "t.o"
    subprocess.run([CLANG, "-target", "bpf", "-g", "-c", str(src), "-o", str(obj)],
                   check=True)
    text = vmlinux.generate(btf=B.load_file(str(obj)))
    assert "\tu32 flags: 3;\n\tu32 mode: 5;\n" in text
    assert "\tunion {\n\t\tint x;\n\t\tstruct {\n\t\t\tshort lo;\n" in text
    assert "\tstruct inner in[2];\n" in text
    assert "\tcb_t cb;\n" in text and "typedef int (*cb_t)(void *, long);" in text
    assert "} __attribute__((packed));" in text
    assert "enum big {\n\tBIG = 4294967296LL,\n}" in text
    (tmp_path / "vmlinux.h").write_text(text)
    b = B.load_file(str(obj))
    ot = b.type(b.find("obj", B.KIND_STRUCT)[0])
    al = [m for m in ot.members if m.name == "al"][0]
    assert al.bit_offset % 256 == 0
    chk = tmp_path / "chk.c"
    chk.write_text('#include "vmlinux.h"\n'
                   '_Static_assert(sizeof(struct obj) == %d, "obj");\n'
                   '_Static_assert(__builtin_offsetof(struct obj, al) == %d, "al");\n'
                   '_Static_assert(sizeof(struct pk) == 5, "pk");\n'
                   % (ot.size, al.bit_offset // 8))
    r = subprocess.run([CLANG, "-target", "bpf", "-fsyntax-only", "-I", str(tmp_path),
                        str(chk)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + text
