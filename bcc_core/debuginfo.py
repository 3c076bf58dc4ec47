"""Separate debug files of a stripped ELF binary, found the way libbcc's bcc_elf does
(and gdb, https://sourceware.org/gdb/onlinedocs/gdb/Separate-Debug-Files.html):

1. ``$BCC_SYMFS/<path>`` (the binary's path without a ``/proc/PID/root`` prefix), taken
   only if its build-id is the binary's (when the binary has one);
2. by build-id: ``$BCC_DEBUGINFO_ROOT/.build-id/NN/REST.debug`` (default root
   ``/usr/lib/debug``);
3. by ``.gnu_debuglink``: the named file beside the binary (not the binary itself), in
   ``.debug/`` beside it, or under ``/usr/lib/debug`` + the binary's directory; each
   candidate must have the CRC32 the link records;
4. the LZMA-compressed "MiniDebugInfo" of the binary's own ``.gnu_debugdata`` section.

:func:`open_debug_file` gives the first one found as an open binary file (the caller
parses and closes it).  Only :mod:`bcc_core.symbols` calls it, when a symbol is missing
from the binary itself."""
import os
import struct
import zlib

DEFAULT_ROOT = "/usr/lib/debug"


def build_id(elf):
    """The GNU build-id of an ELFFile as lowercase hex, or None."""
    sec = elf.get_section_by_name(".note.gnu.build-id")
    if sec is None or sec["sh_type"] == "SHT_NOBITS":
        return None
    data = sec.data()
    end = "<" if elf.little_endian else ">"
    if len(data) < 16:
        return None
    namesz, descsz, ntype = struct.unpack(end + "III", data[:12])
    name_end = 12 + ((namesz + 3) & ~3)
    if data[12:12 + namesz].rstrip(b"\0") != b"GNU" or ntype != 3:
        return None
    desc = data[name_end:name_end + descsz]
    return desc.hex() if len(desc) == descsz and descsz > 1 else None


def debuglink(elf):
    """(file name, CRC32) of an ELFFile's ``.gnu_debuglink`` section, or None."""
    sec = elf.get_section_by_name(".gnu_debuglink")
    if sec is None or sec["sh_type"] == "SHT_NOBITS":
        return None
    data = sec.data()
    if len(data) <= 5:
        return None
    name = data.split(b"\0", 1)[0]
    crc, = struct.unpack(("<" if elf.little_endian else ">") + "I", data[-4:])
    return (os.fsdecode(name), crc) if name else None


def file_crc32(path):
    """The CRC32 GNU debuglink records (zlib's CRC-32) of a whole file."""
    crc = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xffffffff


def _same_file(a, b):
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _open(path):
    try:
        return open(path, "rb")
    except OSError:
        return None


def _elf_build_id(f):
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        return build_id(ELFFile(f))
    except (ELFError, ValueError, struct.error):
        return None


def via_symfs(bid, path):
    symfs = os.environ.get("BCC_SYMFS")
    if not symfs:
        return None
    parts = path.split("/")
    if len(parts) > 4 and parts[1] == "proc" and parts[2].isdigit() and parts[3] == "root":
        path = "/" + "/".join(parts[4:])
    f = _open(os.path.join(symfs, path.lstrip("/")))
    if f is None or bid is None:
        return f
    if _elf_build_id(f) != bid:
        f.close()
        return None
    f.seek(0)
    return f


def via_build_id(bid):
    if not bid:
        return None
    root = os.environ.get("BCC_DEBUGINFO_ROOT") or DEFAULT_ROOT
    return _open(os.path.join(root, ".build-id", bid[:2], bid[2:] + ".debug"))


def debuglink_candidates(path, name):
    """Where a debuglink's file may be, in BCC's order."""
    bindir = os.path.dirname(path) or "."
    here = os.path.join(bindir, name)
    if not _same_file(here, path):
        yield here
    yield os.path.join(bindir, ".debug", name)
    yield DEFAULT_ROOT + os.path.abspath(bindir) + "/" + name


def via_debuglink(link, path):
    if link is None:
        return None
    name, crc = link
    for cand in debuglink_candidates(path, name):
        if os.path.isfile(cand) and file_crc32(cand) == crc:
            f = _open(cand)
            if f is not None:
                return f
    return None


def via_mini_debuginfo(elf):
    import io
    import lzma
    sec = elf.get_section_by_name(".gnu_debugdata")
    if sec is None or sec["sh_type"] == "SHT_NOBITS":
        return None
    try:
        return io.BytesIO(lzma.decompress(sec.data()))
    except lzma.LZMAError:
        return None


def open_debug_file(elf, path):
    """The separate debug file of ELFFile ``elf`` (the binary at ``path``) as an open
    binary file, or None if none is found."""
    bid = build_id(elf)
    return (via_symfs(bid, path) or via_build_id(bid) or
            via_debuglink(debuglink(elf), path) or via_mini_debuginfo(elf))
