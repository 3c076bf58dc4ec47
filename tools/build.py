"""Build the ported tools' BPF objects once, from the checked-in C (maintainers only).

    python -m bcc_core.tools.build          # or: python tools/build.py

Compiles tools/*.bpf.c with clang-19 (-g -O2 -target bpf) against a vmlinux.h generated
from the build machine's kernel BTF, and records in objects.json the hash of each source
(and of the build flags), so a test can prove every shipped object matches its source.
Users never run this: the .bpf.o files ship inside the package and CO-RE relocates them
to the running kernel at load time.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CFLAGS = ["-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86", "-mcpu=v3"]
MANIFEST = os.path.join(HERE, "objects.json")


def sources():
    return sorted(f[:-len(".bpf.c")] for f in os.listdir(HERE) if f.endswith(".bpf.c"))


def source_hash(name):
    h = hashlib.sha256()
    with open(os.path.join(HERE, name + ".bpf.c"), "rb") as f:
        h.update(f.read())
    h.update(repr(CFLAGS).encode())
    return h.hexdigest()


def object_hash(name):
    with open(os.path.join(HERE, name + ".bpf.o"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def vmlinux_h(outdir, btf="/sys/kernel/btf/vmlinux"):
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    path = os.path.join(outdir, "vmlinux.h")
    with open(path, "wb") as f:
        subprocess.run([bpftool, "btf", "dump", "file", btf, "format", "c"], stdout=f,
                       check=True)
    return path


def build(names=None, clang=None):
    clang = clang or shutil.which("clang-19") or shutil.which("clang")
    if not clang:
        sys.exit("clang-19 is needed to build the tools' BPF objects")
    names = names or sources()
    manifest = {}
    if os.path.exists(MANIFEST):
        with open(MANIFEST) as f:
            manifest = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        vmlinux_h(tmp)
        for name in names:
            out = os.path.join(HERE, name + ".bpf.o")
            cmd = [clang, *CFLAGS, "-I", tmp, "-I/usr/include/x86_64-linux-gnu", "-c",
                   os.path.join(HERE, name + ".bpf.c"), "-o", out]
            subprocess.run(cmd, check=True)
            # strip DWARF (BTF and .BTF.ext stay): smaller objects, faster parsing
            llvm_strip = shutil.which("llvm-strip-19") or shutil.which("llvm-strip")
            if llvm_strip:
                subprocess.run([llvm_strip, "-g", out], check=True)
            manifest[name] = {"source_sha256": source_hash(name),
                              "object_sha256": object_hash(name)}
            print("built", os.path.relpath(out))
    with open(MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    build(sys.argv[1:] or None)
