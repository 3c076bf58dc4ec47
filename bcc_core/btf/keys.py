"""Identities of BTF content for bcc-core's caches: a content hash of bytes, the
running kernel's build ID, and a per-process memoized key for a BTF file (for the
running kernel's BTF, its build ID and size: no 5 MB read and hash at every start)."""
import os
import struct

VMLINUX = "/sys/kernel/btf/vmlinux"


def content_key(data):
    """A hash of file contents for cache keys (BLAKE2 without importing OpenSSL, which
    costs ~4 MiB of RSS through hashlib)."""
    try:
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


_file_keys = {}


def kernel_build_id(notes="/sys/kernel/notes"):
    """The running kernel's GNU build ID (hex), from its ELF notes; None without one."""
    try:
        with open(notes, "rb") as f:
            data = f.read()
    except OSError:
        return None
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, typ = struct.unpack_from("<III", data, off)
        desc = off + 12 + ((namesz + 3) & ~3)
        if typ == 3 and data[off + 12:off + 12 + namesz] == b"GNU\0" and descsz:
            return data[desc:desc + descsz].hex()
        off = desc + ((descsz + 3) & ~3)
    return None


def file_key(path):
    """Content hash of a (BTF) file, read in chunks: identifies a kernel's BTF for the
    caches without holding the whole file in memory.  Memoized per process.

    The running kernel's BTF is identified by the kernel's build ID (a hash of the
    whole vmlinux, .BTF included) and the BTF's size instead: no 5 MB read and hash at
    every start."""
    k = _file_keys.get(path)
    if k is None and path == VMLINUX:
        bid = kernel_build_id()
        if bid:
            try:
                k = _file_keys[path] = "kb%s-%d" % (bid, os.stat(path).st_size)
            except OSError:
                pass
    if k is None:
        try:
            from _blake2 import blake2b
        except ImportError:
            from hashlib import blake2b
        h = blake2b(digest_size=16)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with open(path, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
        k = _file_keys[path] = h.hexdigest()
    return k
