"""The precompiled prelude: every translated program starts with the same six includes
(``vmlinux.h``, libbpf's bpf_helpers/bpf_tracing/bpf_core_read/bpf_endian.h and
``bcc_compat.h``), and clang spends most of a compile parsing them (vmlinux.h is 2-3 MiB
of C).  They are precompiled once per kernel, clang and flags into
``<cache>/compat/pch-<key>/prelude.pch`` and each compile loads that
(``-include-pch``); the program's own ``#include`` lines then hit the headers' include
guards.  The object has the same instructions, relocations, CO-RE records and line
info; its BTF has the same types, with some forward declarations numbered in another
order (tests/test_compat_pch.py compares them up to ids).

On the host clang's part of a small tool's compile goes from ~370 ms to ~70 ms; building
the header costs about two plain compiles, once per kernel, clang and cflags.  A header
clang rejects (another clang, an input changed) is deleted and the compile goes on
without it.  ``BCC_CORE_PCH=0`` turns it off.
"""
import os

PRELUDE = ('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n'
           '#include <bpf/bpf_tracing.h>\n#include <bpf/bpf_core_read.h>\n'
           '#include <bpf/bpf_endian.h>\n#include "bcc_compat.h"\n')
HEAD = ("/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */\n"
        + PRELUDE)
ENV = "BCC_CORE_PCH"
_VERSION = "1"


def stat_id(path):
    """A file's identity for cache keys: size and modification time ("-": missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return "%d:%d" % (st.st_size, st.st_mtime_ns)


def usable(text, src_dir=None):
    """Whether a compile of ``text`` may load the prelude's precompiled header: it is a
    translated program (starts with HEAD), the header is not turned off, and the
    program's directory does not shadow libbpf's headers (``<src_dir>/bpf/``)."""
    if os.environ.get(ENV, "1") == "0":
        return False
    head = HEAD.encode() if isinstance(text, bytes) else HEAD
    if not text.startswith(head):
        return False
    return not (src_dir and os.path.isdir(os.path.join(src_dir, "bpf")))


def path_for(clang, flags, inc, toolchain):
    """Where the header for this clang, these flags (clang's arguments without the input,
    the output and the program's own directory) and this include directory lives."""
    from bcc_core import btf as _btf
    parts = [_VERSION, toolchain, inc, stat_id(os.path.join(inc, "vmlinux.h")),
             stat_id(os.path.join(inc, "bcc_compat.h")), PRELUDE] + list(flags)
    key = _btf.content_key("\0".join(parts).encode())[:20]
    return os.path.join(_btf.cache_dir(), "compat", "pch-" + key, "prelude.pch")


def ensure(clang, flags, inc, toolchain):
    """The header's path, built first if missing; None when clang cannot build it (the
    compile then goes without)."""
    p = path_for(clang, flags, inc, toolchain)
    if os.path.exists(p):
        return p
    d = os.path.dirname(p)
    try:
        os.makedirs(d, exist_ok=True)
        hdr = os.path.join(d, "prelude.h")
        if not os.path.exists(hdr):
            tmp_h = "%s.%d.tmp" % (hdr, os.getpid())
            with open(tmp_h, "w") as f:
                f.write(PRELUDE)
            os.replace(tmp_h, hdr)
    except OSError:
        return None
    import subprocess
    tmp = "%s.%d.tmp" % (p, os.getpid())
    r = subprocess.run([clang] + list(flags) + ["-x", "c-header", hdr, "-o", tmp],
                       capture_output=True)
    if r.returncode:
        discard(tmp)
        return None
    os.replace(tmp, p)
    from bcc_core.btf.cache import written
    written()
    return p


def discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def rejected(stderr):
    """Whether clang's error output is about the precompiled header itself (built by
    another clang, an input file changed since): then the compile is retried without."""
    s = stderr.lower()
    return "precompiled" in s or "pch" in s or "ast file" in s
