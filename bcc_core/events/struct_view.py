"""BTF structs -> record classes decoded with :mod:`struct`, for ``event()``.

A record class is generated from the BPF object's BTF for the struct a program submits
to a perf or ring buffer.  An instance holds a copy of the record's bytes and its scalar
fields, decoded together when it is made (other fields are decoded when read), with the
values BCC's ctypes classes give for the same C types:

- integers, enums, ``_Bool`` (bool), ``float``/``double``: Python numbers; ``char``: a
  one-byte ``bytes``; pointers: an int, or None for NULL (as ctypes' ``c_void_p``);
  bitfields: the field's bits, sign-extended when the type is signed;
- ``char`` arrays: ``bytes`` up to the first NUL (as a ctypes ``c_char`` array field);
- other arrays of scalars: a read-only ``memoryview`` of the elements (indexing, len,
  iteration, and the buffer protocol: ``inet_ntop(AF_INET6, event.daddr)`` works as it
  does with ctypes arrays); 128-bit integers read as two 64-bit words, as BCC's
  ``c_uint64 * 2``; arrays of structs (or of arrays): tuples;
- nested structs and unions: records; anonymous members' fields are the parent's own
  (as ctypes ``_anonymous_``).

Unlike a ctypes structure made ``from_address``, a record does not alias the ring: it
can be kept after the callback returns.  Nothing here imports ctypes, which is a tenth
of a small tool's start-up.  A program that needs ctypes objects (``ct.sizeof(event)``,
``ct.addressof``) names a ctypes type with ``set_event_type(cls)`` or ``event_types``.
"""
import struct as _struct
from _operator import itemgetter as _itemgetter     # built in (operator.py is a file)

from .. import _sys
from .. import btf as _btf

_cast, _unpack, _charp = _sys.ffi.cast, _sys.ffi.unpack, _sys.ffi.typeof("char *")

# (size, signed) -> struct format character ("=" order: native, no alignment padding)
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


class Record(tuple):
    """Base of the generated record classes: ``_rec_size`` bytes, fields as properties.

    A record is a tuple: element 0 is a copy of the record's bytes, the others are its
    scalar fields (integers, enums, floats, chars, pointers), all decoded by one
    ``Struct.unpack_from`` when the record is made.  Those fields read through
    ``operator.itemgetter`` properties, which run no Python code.  The other fields
    (char and other arrays, bitfields, nested records) decode from the bytes when they
    are read."""
    __slots__ = ()
    _rec_size = 0
    _rec_fields = ()
    _rec_unpack = _struct.Struct("=").unpack_from   # the scalar fields (here: none)
    _rec_format = "="                               # ... and their struct format

    def __new__(cls, raw=None):
        size = cls._rec_size
        if raw is None:
            raw = bytes(size)
        else:
            raw = bytes(raw)
            if len(raw) < size:         # a short record: the rest reads as zeros
                raw += bytes(size - len(raw))
        return tuple.__new__(cls, (raw,) + cls._rec_unpack(raw))

    @classmethod
    def from_buffer_copy(cls, data, offset=0):
        """A record from the bytes of ``data`` (any bytes-like object) at ``offset``."""
        return cls(memoryview(data)[offset:offset + cls._rec_size])

    # from_address(address): a record copied from memory at ``address`` (what event
    # callbacks get); each generated class has its own (see _from_address)

    def __bytes__(self):
        return self[0][:self._rec_size]

    def __eq__(self, other):
        return type(other) is type(self) and bytes(self) == bytes(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (n, getattr(self, n)) for n in self._rec_fields))


def _getter_scalar(code, off):
    """A scalar field outside the record's Struct (it overlaps another: unions)."""
    unpack = _struct.Struct("=" + code).unpack_from

    def get(self):
        return unpack(self[0], off)[0]
    return get


def _getter_pointer(off):
    unpack = _struct.Struct("=Q").unpack_from

    def get(self):
        return unpack(self[0], off)[0] or None
    return get


def _getter_pointer_at(index):
    def get(self):
        return self[index] or None      # NULL reads as None, as ctypes' c_void_p
    return get


def _getter_chars(off, n):
    end = off + n

    def get(self):
        s = self[0][off:end]
        i = s.find(b"\0")
        return s if i < 0 else s[:i]
    return get


def _getter_array(code, off, nbytes):
    end = off + nbytes

    def get(self):
        return memoryview(self[0])[off:end].cast(code)
    return get


def _getter_records(cls, off, n, stride):
    def get(self):
        raw = self[0]
        return tuple(cls(raw[off + i * stride:off + (i + 1) * stride]) for i in range(n))
    return get


def _getter_record(cls, off):
    end = off + cls._rec_size

    def get(self):
        return cls(self[0][off:end])
    return get


def _getter_bits(bit_off, bits, signed):
    lo = bit_off // 8
    hi = (bit_off + bits + 7) // 8
    shift = bit_off - lo * 8
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def get(self):
        v = (int.from_bytes(self[0][lo:hi], "little") >> shift) & mask
        if signed and v & sign:
            v -= 1 << bits
        return v
    return get


def _from_address(cls, size, unpack_fields):
    """Record.from_address for one class, with what it needs bound (a callback's hot
    path: one call per event)."""
    def from_address(address, cls=cls, size=size, new=tuple.__new__, unpack=_unpack,
                     cast=_cast, charp=_charp, fields=unpack_fields):
        raw = unpack(cast(charp, address), size)
        return new(cls, (raw,) + fields(raw))
    from_address.__doc__ = "A record copied from memory at ``address`` (what event " \
        "callbacks get)."
    return staticmethod(from_address)


def _scalar_struct(scalars):
    """The struct format decoding the non-overlapping scalar fields at once, and each
    field's index in a record (0 is the raw bytes): ``(format, {key: index})``.
    ``scalars`` holds (key, code, offset, size) in member order; a field overlapping
    one already placed (a union's other members) is left out."""
    fmt, pos, index = ["="], 0, {}
    for key, code, off, size in sorted(scalars, key=lambda f: f[2]):
        if off < pos:
            continue
        if off > pos:
            fmt.append("%dx" % (off - pos))
        fmt.append(code)
        pos = off + size
        index[key] = len(index) + 1
    return "".join(fmt), index


class RecordBuilder(object):
    """Builds (and caches) the record classes of one BTF."""

    def __init__(self, btf):
        self.btf = btf
        self._cache = {}

    def record(self, tid):
        """The record class of struct/union ``tid`` (typedefs and modifiers skipped)."""
        b = self.btf
        tid = b.skip_mods(tid)
        cls = self._cache.get(tid)
        if cls is None:
            t = b.type(tid)
            if t.kind not in (_btf.KIND_STRUCT, _btf.KIND_UNION):
                raise TypeError("BTF type %d ('%s') is a %s, not a struct or union"
                                % (tid, t.name, t.kind_name))
            cls = self._cache[tid] = self._build(t)
        return cls

    def _scalar(self, tid):
        """(kind, struct code or None, size) of a non-record type: kind is "int",
        "char", "ptr", "array" or "record"."""
        b = self.btf
        t = b.type(b.skip_mods(tid))
        k = t.kind
        if k == _btf.KIND_INT:
            if t.size == 1 and t.encoding & _btf.INT_BOOL:
                return "int", "?", 1
            if t.size == 1 and (t.encoding & _btf.INT_CHAR or t.name == "char"):
                return "char", "c", 1
            code = _INT_CODES.get((t.size, bool(t.encoding & _btf.INT_SIGNED)))
            if code:
                return "int", code, t.size
            if t.size == 16:
                return "wide", "q" if t.encoding & _btf.INT_SIGNED else "Q", 16
            return "bytes", "B", t.size
        if k in (_btf.KIND_ENUM, _btf.KIND_ENUM64):
            code = _INT_CODES.get((t.size, bool(t.signed)))
            return ("int", code, t.size) if code else ("bytes", "B", t.size)
        if k == _btf.KIND_FLOAT:
            code = {4: "f", 8: "d"}.get(t.size)
            return ("int", code, t.size) if code else ("bytes", "B", t.size)
        if k == _btf.KIND_PTR:
            return "ptr", "Q", 8
        if k == _btf.KIND_ARRAY:
            return "array", None, self.btf.resolve_size(t.id)
        if k in (_btf.KIND_STRUCT, _btf.KIND_UNION):
            return "record", None, t.size
        return "bytes", "B", max(getattr(t, "size", 0) or 0, 0)

    def _array_getter(self, t, off):
        b = self.btf
        n = t.nelems
        et = b.type(b.skip_mods(t.elem_type))
        kind, code, size = self._scalar(et.id)
        if kind == "char":
            return _getter_chars(off, n)
        if kind in ("int", "ptr", "bytes") and code:
            if kind == "bytes":
                return _getter_array("B", off, n * size)
            return _getter_array(code, off, n * size)
        if kind == "wide":
            return _getter_array(code, off, n * 16)
        if kind == "record":
            return _getter_records(self.record(et.id), off, n, et.size)
        # an array of arrays: a tuple of the inner arrays
        stride = self.btf.resolve_size(et.id)
        getters = [self._array_getter(et, off + i * stride) for i in range(n)]

        def get(self_):
            return tuple(g(self_) for g in getters)
        return get

    def _members(self, t, base, out):
        """(name, getter) for each member of ``t`` at byte ``base``; anonymous members'
        own members are the parent's."""
        b = self.btf
        for m in t.members:
            mt = b.type(b.skip_mods(m.type))
            if m.bitfield_size:
                signed = (mt.kind == _btf.KIND_INT and bool(mt.encoding & _btf.INT_SIGNED)) \
                    or (mt.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and bool(mt.signed))
                get = _getter_bits(base * 8 + m.bit_offset, m.bitfield_size, signed)
                if m.name:
                    out.append((m.name, get))
                continue
            off = base + m.bit_offset // 8
            if not m.name:
                if mt.kind in (_btf.KIND_STRUCT, _btf.KIND_UNION):
                    self._members(mt, off, out)
                continue
            kind, code, size = self._scalar(mt.id)
            if kind in ("int", "char", "ptr"):
                get = (kind, code, off, size)   # decoded with the others: see _build
            elif kind == "wide":
                get = _getter_array(code, off, 16)
            elif kind == "bytes":
                get = _getter_array("B", off, size)
            elif kind == "array":
                get = self._array_getter(mt, off)
            else:
                get = _getter_record(self.record(mt.id), off)
            out.append((m.name, get))
        return out

    def _build(self, t):
        fields = self._members(t, 0, [])
        fmt, index = _scalar_struct([(k, g[1], g[2], g[3])
                                     for k, (_, g) in enumerate(fields)
                                     if type(g) is tuple])
        unpack = _struct.Struct(fmt).unpack_from
        d = {"__slots__": (), "_rec_size": t.size, "_rec_unpack": unpack,
             "_rec_format": fmt,
             "_rec_fields": tuple(n for n, _ in fields)}
        for k, (name, get) in enumerate(fields):
            if type(get) is tuple:
                kind, code, off, _ = get
                i = index.get(k)
                if kind == "ptr":
                    get = _getter_pointer(off) if i is None else _getter_pointer_at(i)
                elif i is None:
                    get = _getter_scalar(code, off)
                else:
                    get = _itemgetter(i)
            d[name] = property(get)
        cls = type(str(t.name or "anon"), (Record,), d)
        cls.from_address = _from_address(cls, t.size, unpack)
        return cls


_builders = {}


def record_for(btf, tid):
    """The record class of BTF type ``tid`` of ``btf`` (cached per BTF)."""
    rb = _builders.get(id(btf))
    if rb is None or rb.btf is not btf:
        rb = _builders[id(btf)] = RecordBuilder(btf)
    return rb.record(tid)
