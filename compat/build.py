"""Build BPF C (BCC dialect or libbpf CO-RE C) into a CO-RE object with clang, and find
the object for a ``BPF(text=...)`` program again without clang.

* ``build(src, out)`` translates BCC-dialect sources (see :mod:`.translate`) and compiles
  once with ``clang -target bpf -g -O2`` against a ``vmlinux.h`` generated from the
  kernel's BTF (:mod:`.vmlinux`), cached under ``bcc_core.btf.cache_dir()`` by the BTF's
  content hash.
* ``object_for_text(text, cflags)`` is the facade's ``BPF(text=...)`` /
  ``BPF(src_file="x.c")``: the path of a ``.bpf.o`` for the program, found in this order

  1. ``$BCC_CORE_OBJECTS/<bundle key>.bpf.o`` (objects recorded on another machine by
     ``bcc-core bundle``; a ``:``-separated list of directories);
  2. the local cache, ``<cache_dir>/compat/obj/<bundle key>.<kernel>.<toolchain>.bpf.o``
     (without clang: any object of the same bundle key and kernel);
  3. translate + compile with clang into the local cache.

  The *bundle key* (:func:`bundle_key`) hashes the text, the cflags and the translator
  version (the contents of this package's ``*.py`` and ``*.h`` files), nothing of the
  machine: an object recorded on a build machine is found on the target by the same
  key.  The local cache adds the kernel's BTF identity, clang's and libbpf's headers'
  (by stat, clang is never run to find it) and the ``#include "..."`` files the text
  names.

The warm path (an object in the cache or in ``$BCC_CORE_OBJECTS``) reads a few files and
hashes them: it imports neither pycparser, the translator, the vmlinux.h generator nor
subprocess.
"""
import os
import sys

from bcc_core import btf as _btf
from bcc_core.errors import BccCoreError

# finding clang (re-exported: build.find_clang, build.ToolMissingError...)
from .clang import (CLANG_NAMES, CLANG_PACKAGE, ToolMissingError, clang_available,  # noqa
                    clang_path, find_clang)
from . import pch as _pch

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT_HEADER = os.path.join(HERE, "bcc_compat.h")

TEXT_NAME = "<text>"                  # the file name of BPF(text=...) in messages
OBJECTS_ENV = "BCC_CORE_OBJECTS"      # directories of bundled objects (target machine)
BUNDLE_ENV = "BCC_CORE_BUNDLE"        # set by `bcc-core bundle`: record objects here
BUNDLE_RUN_ENV = "BCC_CORE_BUNDLE_RUN"   # ... and let the script run on (--run)
INDEX = "index.json"                  # a bundle directory's manifest
LIBBPF_HEADERS = ("/usr/include/bpf/bpf_helpers.h", "/usr/include/bpf/bpf_helper_defs.h",
                  "/usr/include/bpf/bpf_tracing.h", "/usr/include/bpf/bpf_core_read.h")

def __getattr__(name):
    # TranslateError lives with the translator, which imports pycparser: only on use
    if name == "TranslateError":
        from .translate import TranslateError
        return TranslateError
    raise AttributeError(name)


class BuildError(BccCoreError):
    """clang rejected the (translated) program.  The message starts with clang's first
    error, ``file:line:col: error: msg`` (``file``, ``line``, ``col``, ``msg``; the
    user's file thanks to #line markers); ``stderr`` has clang's full diagnostics,
    which follow in the message."""

    def __init__(self, msg, stderr="", filename=None):
        self.stderr = stderr
        self.file = self.line = self.col = None
        self.msg = msg
        first = _first_clang_error(stderr, filename)
        if first is not None:
            self.file, self.line, self.col, self.msg = first
            msg = "%s:%d:%d: error: %s" % first
        super().__init__(msg + ("\n" + stderr.rstrip() if stderr else ""))


def _first_clang_error(stderr, prefer=None):
    """(file, line, col, msg) of clang's first ``file:line:col: error: msg``, preferring
    one in the file ``prefer``; None if there is none."""
    if not stderr or "error:" not in stderr:
        return None
    import re
    pat = re.compile(r"^(.+?):(\d+):(\d+): (?:fatal )?error: (.*)$", re.M)
    found = [(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))
             for m in pat.finditer(stderr)]
    if not found:
        return None
    return next((f for f in found if f[0] == prefer), found[0])


def _atomic_write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def toolchain_id(clang):
    """What identifies the compiler without running it: clang's real path, size and
    mtime, and libbpf's headers' (an upgrade of either changes it)."""
    real = os.path.realpath(clang)
    return "|".join([real, _pch.stat_id(real)] + [_pch.stat_id(h) for h in LIBBPF_HEADERS])


# -- keys ----------------------------------------------------------------------------------
_tr_version = None


def translator_version():
    """Content hash of this package's *.py and *.h files (by sorted name): the
    translator, the vmlinux.h generator, bcc_compat.h, this module.  Read, not
    imported."""
    global _tr_version
    if _tr_version is None:
        parts = []
        for name in sorted(os.listdir(HERE)):
            if name.endswith((".py", ".h")) and not name.startswith("."):
                with open(os.path.join(HERE, name), "rb") as f:
                    parts.append(name.encode() + b"\0" + f.read())
        _tr_version = _btf.content_key(b"\0\0".join(parts))
    return _tr_version


def _text_bytes(text):
    if isinstance(text, str):
        return text.encode("utf-8", "surrogateescape")
    return bytes(text)


def _text_str(text):
    if isinstance(text, str):
        return text
    return bytes(text).decode("utf-8", "surrogateescape")


def normalize_cflags(cflags):
    """BCC's cflags (str or bytes items; a lone str is one flag) as a list of str."""
    if cflags is None:
        return []
    if isinstance(cflags, (str, bytes)):
        cflags = [cflags]
    return [c.decode("utf-8", "surrogateescape") if isinstance(c, (bytes, bytearray))
            else str(c) for c in cflags]


def bundle_key(text, cflags=()):
    """The key of a program in a bundle: hash of (text, cflags, translator version).
    Nothing of the machine (kernel, clang) goes in: the target finds the object that the
    build machine recorded."""
    data = b"\0".join([b"bcc-core-bundle/1", _text_bytes(text),
                       "\x1f".join(normalize_cflags(cflags)).encode("utf-8",
                                                                     "surrogateescape"),
                       translator_version().encode()])
    return _btf.content_key(data)


def _include_dirs(cflags):
    dirs, it = [], iter(cflags)
    for c in it:
        if c == "-I":
            dirs.append(next(it, ""))
        elif c.startswith("-I"):
            dirs.append(c[2:])
    return [d for d in dirs if d]


def _quoted_includes(data):
    """The names of the ``#include "name"`` lines of C text (bytes)."""
    names = []
    if b"include" not in data or b'"' not in data:
        return names
    for line in data.split(b"\n"):
        s = line.lstrip()
        if not s.startswith(b"#"):
            continue
        s = s[1:].lstrip()
        if not s.startswith(b"include"):
            continue
        s = s[7:].strip()
        if s.startswith(b'"'):
            end = s.find(b'"', 1)
            if end > 1:
                names.append(s[1:end].decode("utf-8", "surrogateescape"))
    return names


def _includes_digest(data, src_dir, cflags):
    """Hash of the local headers the text includes (recursively, looked up beside the
    including file then in the -I directories): an edited header rebuilds the object."""
    if b"include" not in data:
        return ""
    dirs = _include_dirs(cflags)
    parts, seen = [], set()
    todo = [(data, src_dir or os.getcwd(), 0)]
    while todo and len(seen) < 64:
        d, here, depth = todo.pop()
        for name in _quoted_includes(d):
            for base in [here] + dirs:
                p = os.path.join(base, name)
                if os.path.isfile(p):
                    break
            else:
                parts.append(name + ":missing")
                continue
            p = os.path.realpath(p)
            if p in seen:
                continue
            seen.add(p)
            with open(p, "rb") as f:
                content = f.read()
            parts.append(p + ":" + _btf.content_key(content))
            if depth < 8:
                todo.append((content, os.path.dirname(p), depth + 1))
    return _btf.content_key("\0".join(parts).encode()) if parts else ""


def _kernel_part(btf_path):
    path = btf_path or _btf.VMLINUX
    kkey = _btf.file_key(path) if os.path.exists(path) else "no-btf:" + path
    return _btf.content_key(kkey.encode())[:16]


def obj_cache_dir():
    return os.path.join(_btf.cache_dir(), "compat", "obj")


# -- translate and compile ---------------------------------------------------------------
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
        from . import vmlinux as _vmlinux
        _atomic_write(h, _vmlinux.generate(path=path))
    c = os.path.join(d, "bcc_compat.h")
    with open(COMPAT_HEADER) as f:
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


def _where(text):
    """(file, line) at the start of a message such as pycparser's "file:12:5: ..."."""
    head = text.split(": ", 1)[0].split(":")
    if len(head) >= 2 and head[1].isdigit():
        return head[0], int(head[1])
    return None, None


def translate_text(text, filename=TEXT_NAME, cflags=(), btf_path=None, src_dir=None,
                   warnings=None):
    """CO-RE C for program text: translated when it is BCC dialect, else unchanged.
    Every failure is a TranslateError naming the user's file (and line where known)."""
    try:
        from . import translate as _tr
    except ImportError as e:        # pycparser (the "compat" extra) is not installed
        raise ToolMissingError("translating BCC C needs pycparser (%s): pip install "
                               "'bcc-core[compat]' (or apt-get install python3-pycparser)"
                               % e) from None
    text = _text_str(text)
    is_bcc = getattr(_tr, "is_bcc_dialect", None)
    if is_bcc is not None and not is_bcc(text):
        return text
    if src_dir is None:
        src_dir = os.getcwd() if filename.startswith("<") else \
            os.path.dirname(os.path.abspath(filename))
    try:
        return _tr.translate(text, filename=filename, btf=_btf_obj(btf_path),
                             cflags=list(cflags), src_dir=src_dir, warnings=warnings)
    except BccCoreError:
        raise
    except Exception as e:    # a translator bug or a parser error it let through
        detail = str(e)
        f, line = _where(detail)
        err = _tr.TranslateError(
            "cannot translate this program (%s: %s)" % (type(e).__name__, detail),
            filename, line if f == filename else None)
        err.original = e
        raise err from None


def _clang_flags(inc):
    flags = ["-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86",
             "-Wno-unused-value", "-Wno-deprecated-declarations", "-Wno-pointer-sign", "-Wno-compare-distinct-pointer-types",
             "-Wno-int-conversion", "-Wno-incompatible-pointer-types-discards-qualifiers",
             "-I", inc]
    if os.path.isdir("/usr/include/x86_64-linux-gnu"):
        flags += ["-idirafter", "/usr/include/x86_64-linux-gnu"]
    return flags


def precompile_prelude(btf_path=None, cflags=(), clang=None):
    """Build (if missing) the precompiled prelude that compiles with these cflags load
    (see compat/pch.py); its path, or None when clang could not build it.  The first
    BPF(text=) of a program does this itself."""
    clang = clang or find_clang()
    inc = include_dir(btf_path)
    return _pch.ensure(clang, _clang_flags(inc) + list(normalize_cflags(cflags)), inc,
                       toolchain_id(clang))


def compile_c(core_text, out_path, cflags=(), btf_path=None, src_dir=None,
              filename=TEXT_NAME, clang=None):
    """clang -target bpf -g -O2 the CO-RE C text into out_path."""
    import subprocess
    clang = clang or find_clang()
    inc = include_dir(btf_path)
    base = _clang_flags(inc)
    own = ["-I", src_dir] if src_dir else []      # the program's directory, then cflags
    cflags = list(cflags)
    text = _text_bytes(core_text)
    pch = None
    if _pch.usable(text, src_dir):
        pch = _pch.ensure(clang, base + cflags, inc, toolchain_id(clang))
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = "%s.%d.tmp" % (out_path, os.getpid())
    io = ["-x", "c", "-c", "-", "-o", tmp]
    r = None
    if pch:
        r = subprocess.run([clang] + base + own + cflags + ["-include-pch", pch] + io,
                           input=text, capture_output=True)
        if r.returncode and _pch.rejected(r.stderr.decode("utf-8", "replace")):
            _pch.discard(pch)
            r = None
    if r is None:
        r = subprocess.run([clang] + base + own + cflags + io, input=text,
                           capture_output=True)
    if r.returncode and not all(os.path.exists(os.path.join(inc, h))
                                for h in ("vmlinux.h", "bcc_compat.h")):
        # the cache's pruning (another process's, bounding the cache) removed the
        # headers while this compile was starting: written again, compiled again
        inc = include_dir(btf_path)
        r = subprocess.run([clang] + _clang_flags(inc) + own + cflags + io, input=text,
                           capture_output=True)
    if r.returncode:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BuildError("clang failed to compile %s" % filename,
                         r.stderr.decode("utf-8", "replace"), filename)
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
        text, filename, src_dir = src, TEXT_NAME, None
    clang = find_clang()
    core = translate_text(text, filename, cflags, btf_path, src_dir)
    return compile_c(core, out_path, cflags, btf_path, src_dir, filename, clang=clang)


# -- BPF(text=...): bundled object, cached object, or compile --------------------------
def object_for_text(text, cflags=(), filename=TEXT_NAME, src_dir=None, btf_path=None):
    """(path of the .bpf.o for program text, its bundle key).  See the module doc for
    where it is looked for; compiles (and caches) only when it is found nowhere."""
    data = _text_bytes(text)
    cflags = normalize_cflags(cflags)
    key = bundle_key(data, cflags)
    if src_dir is None and not filename.startswith("<"):
        src_dir = os.path.dirname(os.path.abspath(filename))
    bundles = os.environ.get(OBJECTS_ENV)
    if bundles:
        for d in bundles.split(os.pathsep):
            p = os.path.join(d, key + ".bpf.o")
            if d and os.path.isfile(p):
                return p, key
    odir = obj_cache_dir()
    kernel = _kernel_part(btf_path)
    clang = clang_path()
    if clang is None:
        prefix = "%s.%s." % (key, kernel)
        try:
            hits = sorted(f for f in os.listdir(odir)
                          if f.startswith(prefix) and f.endswith(".bpf.o"))
        except OSError:
            hits = []
        if hits:
            return os.path.join(odir, hits[0]), key
        raise _no_compiler(key, data, cflags, filename, bundles)
    tool = _btf.content_key("\0".join([
        toolchain_id(clang), filename, os.path.abspath(src_dir) if src_dir else "",
        _includes_digest(data, src_dir, cflags)]).encode())[:16]
    out = os.path.join(odir, "%s.%s.%s.bpf.o" % (key, kernel, tool))
    if os.path.exists(out):
        _replay_warnings(out)
        return out, key
    warns = []
    core = translate_text(data, filename, cflags, btf_path, src_dir, warnings=warns)
    if warns:       # BCC prints them on every start: kept beside the cached object
        _atomic_write(out + ".warnings", ("\n".join(warns) + "\n").encode())
        _replay_warnings(out)
    compile_c(core, out, cflags, btf_path, src_dir, filename, clang=clang)
    from bcc_core.btf.cache import written
    written()           # a new entry: keep the cache bounded
    return out, key


def _replay_warnings(obj_path):
    """Print the translator's warnings recorded for a cached object (stderr, as BCC)."""
    try:
        with open(obj_path + ".warnings") as f:
            text = f.read()
    except OSError:
        return
    sys.stderr.write(text)
    sys.stderr.flush()


def compile_text(text, cflags=(), btf_path=None, filename=TEXT_NAME, src_dir=None):
    """Path of a cached .bpf.o built from program text (see object_for_text)."""
    return object_for_text(text, cflags, filename, src_dir, btf_path)[0]


def _first_line(data):
    for line in data.split(b"\n"):
        s = line.strip()
        if s:
            return s[:120].decode("utf-8", "replace")
    return ""


def _no_compiler(key, data, cflags, filename, bundles):
    """ToolMissingError for a program found in no bundle and no cache, without clang."""
    what = "BPF(text=...)" if filename.startswith("<") else "BPF(src_file=%r)" % filename
    looked = []
    hint = ""
    for d in (bundles or "").split(os.pathsep):
        if not d:
            continue
        looked.append(os.path.join(d, key + ".bpf.o"))
        hint = hint or _bundle_mismatch(d, data, cflags)
    msg = ("%s needs clang to translate and compile its BPF C, and clang is not installed "
           "(install it: apt-get install %s).\n"
           "Or use an object built elsewhere: on a machine with clang run\n"
           "    bcc-core bundle -o DIR -- %s ARGS...\n"
           "copy DIR here and set %s=DIR; this program's bundle key is %s (%s).%s"
           % (what, CLANG_PACKAGE, _script_name(), OBJECTS_ENV, key,
              ("looked for " + ", ".join(looked)) if looked
              else "%s is not set" % OBJECTS_ENV,
              "\n" + hint if hint else ""))
    err = ToolMissingError(msg)
    err.key = key
    return err


def _script_name():
    import sys
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-") else ""
    return argv0 or "script.py"


def _bundle_mismatch(d, data, cflags):
    """Why a bundle directory has no object for this program, when its manifest tells:
    the same text with other cflags, or recorded by another translator version."""
    try:
        import json
        with open(os.path.join(d, INDEX)) as f:
            entries = json.load(f).get("objects", {})
    except (OSError, ValueError, AttributeError):
        return ""
    th = _btf.content_key(data)
    same = [e for e in entries.values() if isinstance(e, dict) and e.get("text_hash") == th]
    for e in same:
        if e.get("translator") != translator_version():
            return ("%s has this program recorded by another bcc-core version (translator "
                    "%s, this one is %s): bundle it again with this version"
                    % (d, e.get("translator"), translator_version()))
    for e in same:
        if e.get("cflags") != cflags:
            return ("%s has this program with cflags %r, this run asks for %r"
                    % (d, e.get("cflags"), cflags))
    return ""


# -- bcc-core bundle: record the objects a script uses -------------------------------------
def record_bundle(bundle_dir, obj_path, key, text, cflags=(), filename=TEXT_NAME):
    """Copy the object to bundle_dir/<key>.bpf.o and describe it in bundle_dir/index.json
    (key, text size and first line, cflags, source, script).  Returns the object's path
    in the bundle."""
    import fcntl
    import json
    import sys
    import time
    data = _text_bytes(text)
    os.makedirs(bundle_dir, exist_ok=True)
    dest = os.path.join(bundle_dir, key + ".bpf.o")
    with open(obj_path, "rb") as f:
        _atomic_write(dest, f.read())
    entry = {
        "object": key + ".bpf.o",
        "text_first_line": _first_line(data),
        "text_size": len(data),
        "text_hash": _btf.content_key(data),
        "cflags": normalize_cflags(cflags),
        "source": filename,
        "script": sys.argv[0] if sys.argv else "",
        "argv": list(sys.argv[1:]),
        "translator": translator_version(),
        "kernel": os.uname().release,
        "recorded": time.time(),
    }
    index = os.path.join(bundle_dir, INDEX)
    with open(os.path.join(bundle_dir, ".index.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(index) as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            manifest = {}
        if not isinstance(manifest.get("objects"), dict):
            manifest = {"format": 1, "objects": {}}
        manifest["objects"][key] = entry
        _atomic_write(index, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return dest
