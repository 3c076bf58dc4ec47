"""Values of BTF types as plain Python data, for JSON and metrics: no per-program
configuration, the object's BTF says what each byte is.

:func:`decoder` makes, once per type, a function from bytes to a value:

* integers -> int (bitfields sign-extended when signed), ``_Bool`` -> bool, floats ->
  float, pointers -> int;
* enums -> the enumerator's name (the number when no enumerator has that value);
* ``char`` arrays -> str (up to the first NUL, undecodable bytes escaped as
  ``\\xNN``), other arrays -> lists;
* structs and unions -> dicts in member order (an anonymous member's members are the
  parent's, as in C);
* inet addresses where the field is one: ``struct in_addr`` / ``in6_addr``, and a
  ``__be32`` / 4-byte or 16-byte array member whose name says address
  (``saddr``, ``daddr``, ``addr``, ``ip``, ``*_ip4`` / ``*_ip6``...) -> the address
  as text (``inet_ntop``).  Host-order ``u32`` fields stay numbers (nothing says
  their byte order).
"""
import re
import socket
import struct

from . import (KIND_ARRAY, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_INT, KIND_PTR,
               KIND_STRUCT, KIND_UNION, INT_BOOL, INT_CHAR, INT_SIGNED)

_ADDR_NAME = re.compile(r"(^|_)([sd]?addr[46]?|ip[46]?|[sd]ip[46]?|addr_v?[46]|"
                        r"(remote|local|src|dst)_ip[46]?)$", re.I)
_INT = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
        (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


def _text(raw):
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


class _Decoders:
    def __init__(self, btf):
        self.btf = btf
        self.cache = {}

    def names(self, tid):
        """The typedef names on the way from ``tid`` to its type (``__be32``...)."""
        b, out = self.btf, []
        for _ in range(64):
            t = b.type(tid)
            if t.kind not in (KIND_INT, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM,
                              KIND_ENUM64, KIND_FLOAT, KIND_PTR) and t.type is not None:
                if t.name:
                    out.append(t.name)
                tid = t.type
                continue
            return out, tid
        return out, tid

    def get(self, tid, member=None):
        """A function (buffer, byte offset) -> value for type ``tid`` (a member named
        ``member``: its name may say it is an address)."""
        typedefs, rid = self.names(tid)
        key = (tid, bool(member and _ADDR_NAME.search(member)))
        f = self.cache.get(key)
        if f is None:
            f = self.cache[key] = self._make(rid, typedefs, key[1])
        return f

    def _make(self, tid, typedefs, addr_named):
        t = self.btf.type(tid)
        k = t.kind
        if k == KIND_INT:
            if t.encoding & INT_BOOL:
                return lambda buf, off: buf[off] != 0
            if addr_named and t.size == 4 and any(n.startswith("__be") for n in typedefs):
                return lambda buf, off: socket.inet_ntop(socket.AF_INET,
                                                         bytes(buf[off:off + 4]))
            code = _INT.get((t.size, bool(t.encoding & INT_SIGNED)))
            if code:
                st = struct.Struct("<" + code)
                return lambda buf, off: st.unpack_from(buf, off)[0]
            signed = bool(t.encoding & INT_SIGNED)
            return lambda buf, off: int.from_bytes(bytes(buf[off:off + t.size]), "little",
                                                   signed=signed)
        if k in (KIND_ENUM, KIND_ENUM64):
            names = {}
            for n, v in t.values:
                names.setdefault(v, n)
            code = _INT.get((t.size, bool(t.signed)))
            st = struct.Struct("<" + (code or "I"))
            return lambda buf, off: names.get(st.unpack_from(buf, off)[0],
                                              st.unpack_from(buf, off)[0])
        if k == KIND_FLOAT:
            st = struct.Struct("<" + {4: "f", 8: "d"}.get(t.size, "d"))
            return lambda buf, off: st.unpack_from(buf, off)[0]
        if k == KIND_PTR:
            return lambda buf, off: struct.unpack_from("<Q", buf, off)[0]
        if k == KIND_ARRAY:
            return self._array(t, addr_named)
        if k in (KIND_STRUCT, KIND_UNION):
            if t.name == "in_addr" and t.size == 4:
                return lambda buf, off: socket.inet_ntop(socket.AF_INET, bytes(buf[off:off + 4]))
            if t.name == "in6_addr" and t.size == 16:
                return lambda buf, off: socket.inet_ntop(socket.AF_INET6,
                                                         bytes(buf[off:off + 16]))
            return self._record(t)
        size = getattr(t, "size", 0) or 0
        return lambda buf, off: bytes(buf[off:off + size]).hex()

    def _array(self, t, addr_named):
        b = self.btf
        et = b.type(b.skip_mods(t.elem_type))
        n = t.nelems
        total = b.resolve_size(t.id)
        if et.kind == KIND_INT and et.size == 1 and (et.encoding & INT_CHAR or
                                                      et.name in ("char", "signed char")):
            return lambda buf, off: _text(buf[off:off + n])
        if addr_named and total in (4, 16) and et.kind == KIND_INT:
            fam = socket.AF_INET if total == 4 else socket.AF_INET6
            return lambda buf, off: socket.inet_ntop(fam, bytes(buf[off:off + total]))
        stride = total // n if n else 0
        elem = self.get(t.elem_type)
        return lambda buf, off: [elem(buf, off + i * stride) for i in range(n)]

    def _record(self, t):
        fields = []
        self._members(t, 0, fields)

        def get(buf, off):
            return {name: f(buf, off + o) for name, o, f in fields}
        return get

    def _members(self, t, base, out):
        b = self.btf
        for m in t.members:
            mt = b.type(b.skip_mods(m.type))
            if m.bitfield_size:
                if m.name:
                    out.append((m.name, base, self._bits(m, mt)))
                continue
            off = base + m.bit_offset // 8
            if not m.name:
                if mt.kind in (KIND_STRUCT, KIND_UNION):
                    self._members(mt, off, out)
                continue
            out.append((m.name, off, self.get(m.type, m.name)))

    @staticmethod
    def _bits(m, mt):
        signed = (mt.kind == KIND_INT and bool(mt.encoding & INT_SIGNED)) or \
            (mt.kind in (KIND_ENUM, KIND_ENUM64) and bool(mt.signed))
        lo, n = m.bit_offset, m.bitfield_size
        first, last = lo // 8, (lo + n + 7) // 8

        def get(buf, off):
            v = int.from_bytes(bytes(buf[off + first:off + last]), "little") >> (lo % 8)
            v &= (1 << n) - 1
            if signed and v >> (n - 1):
                v -= 1 << n
            return v
        return get


_by_btf = {}


def decoder(btf, tid):
    """A function from bytes (or any buffer) holding a value of BTF type ``tid`` to
    that value as plain Python data (see the module's text)."""
    d = _by_btf.get(id(btf))
    if d is None or d.btf is not btf:
        d = _by_btf[id(btf)] = _Decoders(btf)
    f = d.get(tid)
    return lambda data, off=0: f(data, off)


def ctypes_value(v):
    """A ctypes value as plain data the same way (structures as dicts, arrays as lists,
    char arrays as text): for tables and events typed with ctypes, not BTF."""
    import ctypes
    if isinstance(v, (ctypes.Structure, ctypes.Union)):
        return {f[0]: ctypes_value(getattr(v, f[0])) for f in v._fields_}
    if isinstance(v, ctypes.Array):
        if getattr(v, "_type_", None) is ctypes.c_char:
            return _text(bytes(v))
        return [ctypes_value(x) for x in v]
    if isinstance(v, bytes):
        return _text(v)
    return getattr(v, "value", v)


__all__ = ["decoder", "ctypes_value"]
