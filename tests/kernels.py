"""Other kernels' BTF for tests: Debian kernel images, decompressed to their vmlinux ELF,
reduced to the raw .BTF section and cached in tests/.build/kernels/<package>.btf.

A kernel is taken from /boot when its package is installed (``apt-get install -y
linux-image-6.1.0-50-amd64-unsigned``); otherwise its .deb is fetched with ``apt-get
download`` (no installation, no initramfs) and only the vmlinuz is read out of it.
When neither works the test using it is skipped with the reason.

    python tests/kernels.py            # fetch/extract every kernel, print the BTF paths
"""
import glob
import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BCC_CORE_TEST_BUILD") or os.path.join(HERE, ".build")
DIR = os.path.join(BUILD, "kernels")

# name -> candidate Debian packages (first available wins).  The 6.12 rt images come from
# bookworm's linux-6.12 (bookworm-security/updates); apt-cache search finds the current one.
KERNELS = {
    "6.1": ["linux-image-6.1.0-50-amd64-unsigned"],
    "6.12-rt": [r"^linux-image-6\.12\.[0-9]+\+deb12-rt-amd64-unsigned$"],
    # the fleet of `bcc-core check --btf DIR` (tests/test_check.py): each flavour
    "6.1-cloud": ["linux-image-6.1.0-50-cloud-amd64-unsigned"],
    "6.1-rt": ["linux-image-6.1.0-50-rt-amd64-unsigned"],
    "6.12": [r"^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$"],
    "6.12-cloud": [r"^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$"],
}
FLEET = ("6.1", "6.1-cloud", "6.1-rt", "6.12", "6.12-cloud", "6.12-rt")

_MAGICS = (
    ("xz", b"\xfd7zXZ\x00"),
    ("gzip", b"\x1f\x8b\x08"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("lz4", b"\x02\x21\x4c\x18"),        # the legacy frame the kernel's lz4 writes
)


class Unavailable(Exception):
    """The kernel cannot be had on this machine; args[0] says why."""


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, **kw)


def _resolve_package(pat):
    """A package name for a candidate (a fixed name or a regex for apt-cache search)."""
    if not pat.startswith("^"):
        return pat
    try:
        r = _run(["apt-cache", "search", "--names-only", pat], text=True)
    except OSError:
        return None
    names = [ln.split(" - ", 1)[0].strip() for ln in r.stdout.splitlines() if ln.strip()]
    if not names:
        return None

    def ver(n):
        return tuple(int(x) for x in n.split("+", 1)[0].split("-")[2].split(".")
                     if x.isdigit())
    return max(names, key=ver)


def _payload(data):
    """The compressed kernel of an x86 bzImage, from its setup header (boot protocol
    >= 2.08: payload_offset/payload_length, relative to the protected-mode code)."""
    import struct
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return None
    setup_sects = data[0x1F1] or 4
    off, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + off
    if not length or start + length > len(data):
        return None
    return data[start:start + length]


def _unzstd(blob):
    try:
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    except ImportError:
        pass
    exe = shutil.which("zstd")
    if exe is None:
        raise Unavailable("kernel image is zstd-compressed: needs the zstd command "
                          "(apt-get install zstd) or the zstandard module")
    # a trailing 4-byte size follows the frame: zstd complains but writes the frame out
    return _run([exe, "-dcq"], input=blob).stdout


def _unlz4(blob):
    exe = shutil.which("lz4")
    if exe is None:
        raise Unavailable("kernel image is lz4-compressed: needs the lz4 command "
                          "(apt-get install lz4)")
    # trailing bytes after the frames: lz4 stops there (and says so); its output stands
    return _run([exe, "-dcq"], input=blob).stdout


def decompress_bzimage(data):
    """The vmlinux ELF inside a bzImage (x86 boot image with an xz/gzip/zstd/lz4
    payload)."""
    blobs = []
    pl = _payload(data)
    if pl is not None:
        blobs.append(pl)
    blobs.append(data)     # fall back to scanning the whole image for a magic
    for blob in blobs:
        for name, magic in _MAGICS:
            pos = blob.find(magic)
            while pos >= 0:
                try:
                    if name == "xz":
                        out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(
                            blob[pos:])
                    elif name == "gzip":
                        out = gzip.GzipFile(fileobj=io.BytesIO(blob[pos:])).read()
                    elif name == "lz4":
                        out = _unlz4(blob[pos:])
                    else:
                        out = _unzstd(blob[pos:])
                except (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError):
                    out = b""
                if out[:4] == b"\x7fELF":
                    return out
                if blob is pl:
                    break
                pos = blob.find(magic, pos + 1)
    raise Unavailable("no xz/gzip/zstd/lz4 payload with an ELF found in the kernel image")


def _installed_vmlinuz(pkg):
    try:
        r = _run(["dpkg", "-L", pkg], text=True)
    except OSError:
        return None
    if r.returncode:
        return None
    for p in r.stdout.split():
        if p.startswith("/boot/vmlinuz-") and os.path.isfile(p):
            return p
    return None


def _vmlinuz_from_deb(pkg):
    """Download the package (apt-get download) and read its /boot/vmlinuz-* member."""
    os.makedirs(DIR, exist_ok=True)
    debs = glob.glob(os.path.join(DIR, pkg + "_*.deb"))
    if not debs:
        if not shutil.which("apt-get"):
            raise Unavailable("%s is not installed and apt-get is missing" % pkg)
        r = _run(["apt-get", "download", "-q", pkg], cwd=DIR, text=True, timeout=600)
        debs = glob.glob(os.path.join(DIR, pkg + "_*.deb"))
        if r.returncode or not debs:
            raise Unavailable("apt-get download %s failed: %s"
                              % (pkg, (r.stderr or r.stdout).strip()[-300:]))
    deb = sorted(debs)[-1]
    p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    data = None
    try:
        with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
            for m in tf:
                if os.path.basename(m.name).startswith("vmlinuz-") and m.isfile():
                    data = tf.extractfile(m).read()
                    break
    finally:
        p.stdout.close()
        p.kill()
        p.wait()
    if data is None:
        raise Unavailable("%s has no /boot/vmlinuz-*" % deb)
    return deb, data


def btf_path(name):
    """Path of the raw BTF of kernel ``name`` (a key of KERNELS); raises Unavailable."""
    errors = []
    for cand in KERNELS[name]:
        pkg = _resolve_package(cand)
        if pkg is None:
            errors.append("no package matches %s in apt (apt-get update?)" % cand)
            continue
        out = os.path.join(DIR, pkg + ".btf")
        if os.path.exists(out):
            return out
        deb = None
        vmlinuz = _installed_vmlinuz(pkg)
        try:
            if vmlinuz:
                with open(vmlinuz, "rb") as f:
                    data = f.read()
            else:
                deb, data = _vmlinuz_from_deb(pkg)
            elf = decompress_bzimage(data)
        except Unavailable as e:
            errors.append(str(e))
            continue
        from bcc_core.btf import read_section
        btf = read_section(elf, ".BTF", pkg)
        if not btf:
            errors.append("%s: vmlinux has no .BTF section" % pkg)
            continue
        os.makedirs(DIR, exist_ok=True)
        with open(out + ".tmp", "wb") as f:
            f.write(btf)
        os.replace(out + ".tmp", out)
        if deb:
            os.unlink(deb)      # ~100 MB; the BTF (~5 MB) is all the tests need
        return out
    raise Unavailable("kernel %s: %s" % (name, "; ".join(errors)))


def get(name):
    """btf_path(name) for tests: skips (with the reason) when the kernel cannot be had."""
    import pytest
    try:
        return btf_path(name)
    except Unavailable as e:
        pytest.skip(str(e.args[0]))


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.dirname(HERE))
    rc = 0
    for k in KERNELS:
        try:
            print("%-8s %s" % (k, btf_path(k)))
        except Unavailable as e:
            print("%-8s unavailable: %s" % (k, e.args[0]))
            rc = 1
    sys.exit(rc)
