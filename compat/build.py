"""Build BPF C (BCC dialect or libbpf CO-RE C) into a CO-RE object with clang.

``build(src, out)`` translates BCC-dialect sources (see :mod:`.translate`) and compiles
once with ``clang -target bpf -g -O2`` against a ``vmlinux.h`` generated from the
kernel's BTF (:mod:`.vmlinux`), cached under ``bcc_core.btf.cache_dir()`` by the BTF's
content hash.  ``compile_text(text)`` does the same for program text (the facade's
``BPF(text=...)``), caching the object by the hash of everything that goes into it.
"""
import os
import shutil
import subprocess

from bcc_core import btf as _btf
from bcc_core.errors import BccCoreError

from . import translate as _tr
from . import vmlinux as _vmlinux
from .translate import TranslateError, ToolMissingError, find_clang  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildError(BccCoreError):
    """clang rejected the (translated) program; ``stderr`` has its diagnostics, which
    point into the user's file thanks to #line markers."""

    def __init__(self, msg, stderr=""):
        self.stderr = stderr
        super().__init__(msg + ("\n" + stderr.rstrip() if stderr else ""))


def _atomic_write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def include_dir(btf_path=None):
    """A directory with vmlinux.h (for the BTF at btf_path, default the running kernel)
    and bcc_compat.h, generated once per BTF content."""
    path = btf_path or _btf.VMLINUX
    if not os.path.exists(path):
        raise BccCoreError("no BTF at %s: cannot generate vmlinux.h" % path)
    key = _btf.file_key(path)
    d = os.path.join(_btf.cache_dir(), "compat", "include-" + key)
    h = os.path.join(d, "vmlinux.h")
    if not os.path.exists(h):
        _atomic_write(h, _vmlinux.generate(path=path))
    c = os.path.join(d, "bcc_compat.h")
    with open(_tr.COMPAT_HEADER) as f:
        want = f.read()
    try:
        with open(c) as f:
            have = f.read()
    except OSError:
        have = None
    if have != want:
        _atomic_write(c, want)
    return d


def _btf_obj(btf_path):
    if btf_path is None or btf_path == _btf.VMLINUX:
        return _btf.kernel_btf()
    return _btf.load_file(btf_path)


def translate_text(text, filename="<text>", cflags=(), btf_path=None, src_dir=None):
    """CO-RE C for program text: translated when it is BCC dialect, else unchanged."""
    if not _tr.is_bcc_dialect(text):
        return text
    return _tr.translate(text, filename=filename, btf=_btf_obj(btf_path), cflags=cflags,
                         src_dir=src_dir)


def compile_c(core_text, out_path, cflags=(), btf_path=None, src_dir=None,
              filename="<text>"):
    """clang -target bpf -g -O2 the CO-RE C text into out_path."""
    clang = find_clang()
    inc = include_dir(btf_path)
    cmd = [clang, "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86",
           "-Wno-unused-value", "-Wno-pointer-sign", "-Wno-compare-distinct-pointer-types",
           "-Wno-int-conversion", "-Wno-incompatible-pointer-types-discards-qualifiers",
           "-I", inc]
    if src_dir:
        cmd += ["-I", src_dir]
    if os.path.isdir("/usr/include/x86_64-linux-gnu"):
        cmd += ["-idirafter", "/usr/include/x86_64-linux-gnu"]
    cmd += list(cflags)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = "%s.%d.tmp" % (out_path, os.getpid())
    cmd += ["-x", "c", "-c", "-", "-o", tmp]
    r = subprocess.run(cmd, input=core_text, capture_output=True, text=True)
    if r.returncode:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BuildError("clang failed to compile %s" % filename, r.stderr)
    os.replace(tmp, out_path)
    return out_path


def build(src, out_path, cflags=(), btf_path=None):
    """Build ``src`` (a path to a .c file, or C text) into the object ``out_path``.
    BCC-dialect sources are translated first.  Returns out_path."""
    if "\n" not in src and os.path.exists(src):
        with open(src) as f:
            text = f.read()
        filename, src_dir = src, os.path.dirname(os.path.abspath(src))
    else:
        text, filename, src_dir = src, "<text>", None
    core = translate_text(text, filename, cflags, btf_path, src_dir)
    return compile_c(core, out_path, cflags, btf_path, src_dir, filename)


def compile_text(text, cflags=(), btf_path=None, filename="<text>"):
    """Path of a cached .bpf.o built from program text (keyed by the hash of the text,
    flags, BTF, compiler and translator)."""
    clang = find_clang()
    path = btf_path or _btf.VMLINUX
    parts = [text, repr(list(cflags)), _btf.file_key(path) if os.path.exists(path) else "",
             clang, os.path.realpath(clang), filename]
    for p in (_tr.__file__, _vmlinux.__file__, _tr.COMPAT_HEADER):
        with open(p, "rb") as f:
            parts.append(_btf.content_key(f.read()))
    key = _btf.content_key("\0".join(parts).encode())
    out = os.path.join(_btf.cache_dir(), "compat", "obj", key + ".bpf.o")
    if os.path.exists(out):
        return out
    core = translate_text(text, filename, cflags, btf_path)
    return compile_c(core, out, cflags, btf_path, None, filename)


def clang_available():
    return bool(shutil.which("clang-19") or shutil.which("clang"))
