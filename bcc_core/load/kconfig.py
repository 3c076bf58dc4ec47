"""Values for ``extern ... __kconfig`` variables: LINUX_KERNEL_VERSION, LINUX_HAS_* and
CONFIG_* from /proc/config.gz or /boot/config-$(uname -r), encoded as libbpf does."""
import os
import re
import struct

from .. import btf as _btf
from ..errors import ExternError

_config = None


def kernel_version(release=None):
    """LINUX_KERNEL_VERSION as libbpf computes it: Ubuntu's /proc/version_signature if
    present, otherwise uname's 'a.b.c' with c capped at 255."""
    if release is None:
        try:
            with open("/proc/version_signature") as f:
                m = re.search(r"\s(\d+)\.(\d+)\.(\d+)", f.read())
                if m:
                    a, b, c = map(int, m.groups())
                    return (a << 16) + (b << 8) + min(c, 255)
        except OSError:
            pass
        release = os.uname().release
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not m:
        return 0
    a, b, c = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return (a << 16) + (b << 8) + min(c, 255)


def read_config(path=None):
    """{'CONFIG_X': 'y' | 'm' | '123' | '"str"'} from the kernel's config."""
    global _config
    if path is None and _config is not None:
        return _config
    paths = [path] if path else ["/proc/config.gz", "/boot/config-%s" % os.uname().release]
    text = None
    for p in paths:
        try:
            if p.endswith(".gz"):
                import gzip
                with gzip.open(p, "rt", errors="replace") as f:
                    text = f.read()
            else:
                with open(p, errors="replace") as f:
                    text = f.read()
            break
        except OSError:
            continue
    cfg = {}
    if text is not None:
        for line in text.splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                k, v = line.split("=", 1)
                cfg[k] = v
    if path is None:
        _config = cfg
    return cfg


def _kind(b, tid):
    """Classify an extern's type as libbpf does: bool, char, tristate, int, string."""
    t = b.type(b.skip_mods(tid))
    if t.kind == _btf.KIND_INT:
        if t.encoding & _btf.INT_BOOL:
            return "bool", t.size, False
        if t.size == 1 and t.encoding & _btf.INT_CHAR:
            return "char", 1, False
        if t.size in (1, 2, 4, 8):
            return "int", t.size, bool(t.encoding & _btf.INT_SIGNED)
    if t.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and t.name == "libbpf_tristate":
        return "tristate", t.size, False
    if t.kind == _btf.KIND_ARRAY:
        et = b.type(b.skip_mods(t.elem_type))
        if et.kind == _btf.KIND_INT and et.size == 1:
            return "string", t.nelems, False
    return None, 0, False


def _encode_int(v, size, signed, name):
    lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else \
        (0, (1 << (8 * size)) - 1)
    if not lo <= v <= hi:
        raise ExternError("kconfig extern '%s': value %d does not fit in %d bytes"
                          % (name, v, size))
    return v.to_bytes(size, "little", signed=signed)


def value_for(name, b, var_type_id, size, weak, config=None, overrides=None):
    """Bytes for one kcfg extern (``var_type_id`` is the VAR's type)."""
    kind, tsize, signed = _kind(b, var_type_id)
    if kind is None:
        raise ExternError("kconfig extern '%s' has an unsupported type %s"
                          % (name, b.type_str(var_type_id)))
    val = None
    if overrides and name in overrides:
        val = overrides[name]
        if isinstance(val, bool):
            val = "y" if val else "n"
        val = str(val)
    elif name == "LINUX_KERNEL_VERSION":
        return _encode_int(kernel_version(), size, False, name) if kind == "int" else None
    elif name == "LINUX_HAS_BPF_COOKIE":
        val = "y"
    elif name == "LINUX_HAS_SYSCALL_WRAPPER":
        val = "y" if os.uname().machine in ("x86_64", "aarch64", "s390x") else "n"
    elif name.startswith("CONFIG_"):
        cfg = read_config() if config is None else config
        val = cfg.get(name)
        if val is None:
            if weak:
                return bytes(size)
            if not cfg:
                raise ExternError("kconfig extern '%s': the kernel config is not available "
                                  "(/proc/config.gz and /boot/config-%s missing)"
                                  % (name, os.uname().release))
            raise ExternError("kconfig extern '%s' is not set in this kernel's config and "
                              "is not __weak" % name)
    else:
        if weak:
            return bytes(size)
        raise ExternError("unknown kconfig extern '%s' (only LINUX_* and CONFIG_* exist)"
                          % name)
    if kind in ("bool", "char", "tristate") and val in ("y", "n", "m"):
        if kind == "bool":
            if val == "m":
                raise ExternError("kconfig extern '%s' is bool but the value is 'm'" % name)
            return bytes([val == "y"]) + bytes(size - 1)
        if kind == "char":
            return val.encode()
        return _encode_int({"n": 0, "y": 1, "m": 2}[val], size, False, name)
    if kind == "string":
        if not (val.startswith('"') and val.endswith('"')):
            raise ExternError("kconfig extern '%s' is a string but the value is %s"
                              % (name, val))
        s = val[1:-1].encode()[:tsize - 1]
        return s + bytes(size - len(s))
    if kind == "int":
        try:
            v = int(val, 0)
        except ValueError:
            raise ExternError("kconfig extern '%s' is an integer but the value is %s"
                              % (name, val)) from None
        return _encode_int(v, size, signed, name)
    raise ExternError("kconfig extern '%s' (%s) cannot take the value %s"
                      % (name, kind, val))


def fill(spec, b, overrides=None):
    """The initial bytes of the .kconfig map of an ObjectSpec."""
    m = next((m for m in spec.maps if m.kind == "kconfig"), None)
    if m is None:
        return None
    buf = bytearray(m.value_size)
    for e in spec.externs:
        if e.kind != "kcfg":
            continue
        var = b.type(e.btf_id)
        v = value_for(e.name, b, var.type, e.size, e.weak, overrides=overrides)
        buf[e.data_off:e.data_off + len(v)] = v
    return bytes(buf)
