"""BTF structs -> record classes decoded with :mod:`struct`, for ``event()``.

A record class is generated from the BPF object's BTF for the struct a program submits
to a perf or ring buffer.  An instance is a tuple of slots covering the record's bytes,
all made by one ``struct`` call: its scalar fields decoded, the rest as bytes that the
other fields decode when read (see :class:`Record`).  The values are those BCC's ctypes
classes give for the same C types:

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
from _bisect import bisect_right as _bisect_right    # built in
from _operator import itemgetter as _itemgetter     # built in (operator.py is a file)

from .. import _sys
from .. import btf as _btf

_cast, _unpack, _charp = _sys.ffi.cast, _sys.ffi.unpack, _sys.ffi.typeof("char *")

# (size, signed) -> struct format character ("=" order: native, no alignment padding)
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


class Record(tuple):
    """Base of the generated record classes: ``_rec_size`` bytes, fields as properties.

    A record is a tuple of slots that cover its bytes in order, all made by one
    ``Struct.unpack_from`` (``_rec_unpack``, format ``_rec_format``): each scalar field
    (integers, enums, chars, pointers) that overlaps nothing is a slot of its own, read
    through an ``operator.itemgetter`` property that runs no Python code; every other
    stretch (char and other arrays, nested records, bitfields, a union's overlapping
    members, bools, floats, padding) is a ``bytes`` slot that its fields decode from
    when read.  Packing the slots gives the record's bytes back exactly."""
    __slots__ = ()
    _rec_size = 0
    _rec_fields = ()
    _rec_unpack = _struct.Struct("=").unpack_from   # bytes -> the slots (here: none)
    _rec_pack = _struct.Struct("=").pack            # and back
    _rec_format = "="                               # their struct format

    def __new__(cls, raw=None):
        size = cls._rec_size
        if raw is None:
            raw = bytes(size)
        elif len(raw) < size:           # a short record: the rest reads as zeros
            raw = bytes(raw) + bytes(size - len(raw))
        return tuple.__new__(cls, cls._rec_unpack(raw))

    @classmethod
    def from_buffer_copy(cls, data, offset=0):
        """A record from the bytes of ``data`` (any bytes-like object) at ``offset``."""
        return cls(memoryview(data)[offset:offset + cls._rec_size])

    # from_address(address): a record copied from memory at ``address`` (what event
    # callbacks get); each generated class has its own (see _from_address)

    def __bytes__(self):
        return self._rec_pack(*self)

    def __eq__(self, other):
        return type(other) is type(self) and bytes(self) == bytes(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (n, getattr(self, n)) for n in self._rec_fields))


# Getter makers for the fields decoded when read: each takes the field's slot index
# ``i`` and its offset ``off`` in that slot's bytes.

def _getter_scalar(code, i, off):
    unpack = _struct.Struct("=" + code).unpack_from

    def get(self):
        return unpack(self[i], off)[0]
    return get


def _getter_pointer(i, off):
    unpack = _struct.Struct("=Q").unpack_from

    def get(self):
        return unpack(self[i], off)[0] or None
    return get


def _getter_pointer_at(index):
    def get(self):
        return self[index] or None      # NULL reads as None, as ctypes' c_void_p
    return get


def _getter_chars(i, off, n):
    end = off + n

    def get(self):
        s = self[i][off:end]
        k = s.find(b"\0")
        return s if k < 0 else s[:k]

    def get_whole(self):                # the slot is the array
        s = self[i]
        k = s.find(b"\0")
        return s if k < 0 else s[:k]
    return get_whole if off == 0 and n == -1 else get


def _getter_array(code, i, off, nbytes):
    end = off + nbytes

    def get(self):
        return memoryview(self[i])[off:end].cast(code)
    return get


def _getter_records(cls, i, off, n, stride):
    def get(self):
        raw = self[i]
        return tuple(cls(raw[off + k * stride:off + (k + 1) * stride]) for k in range(n))
    return get


def _getter_record(cls, i, off):
    end = off + cls._rec_size

    def get(self):
        return cls(self[i][off:end])
    return get


def _getter_bits(i, bit_off, bits, signed):
    lo = bit_off // 8
    hi = (bit_off + bits + 7) // 8
    shift = bit_off - lo * 8
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def get(self):
        v = (int.from_bytes(self[i][lo:hi], "little") >> shift) & mask
        if signed and v & sign:
            v -= 1 << bits
        return v
    return get


def _from_address(cls, size, unpack_slots):
    """Record.from_address for one class, with what it needs bound (a callback's hot
    path: one call per event)."""
    def from_address(address, cls=cls, size=size, new=tuple.__new__, unpack=_unpack,
                     cast=_cast, charp=_charp, slots=unpack_slots):
        return new(cls, slots(unpack(cast(charp, address), size)))
    from_address.__doc__ = "A record copied from memory at ``address`` (what event " \
        "callbacks get)."
    return staticmethod(from_address)


def _slots(size, scalars, spans):
    """The record's slots: ``scalars`` holds (key, code, offset, size) of the fields
    that may be slots of their own, ``spans`` (offset, end) of the bytes the other
    fields read.  Overlapping fields form one span (a scalar among them too); bytes
    nobody reads (padding) are spans of their own, so that the slots cover every
    byte; a field of no bytes gets a slot of no bytes.  Returns (format,
    [(start, end, key or None)] in order)."""
    items = sorted([(off, off + n, key, code) for key, code, off, n in scalars] +
                   [(a, b, None, None) for a, b in spans],
                   key=lambda it: it[:2])
    groups = []                     # [start, end, [items]] of overlapping items
    for it in items:
        if groups and it[0] < groups[-1][1]:
            g = groups[-1]
            g[1] = max(g[1], it[1])
            g[2].append(it)
        else:
            groups.append([it[0], it[1], [it]])
    fmt, pos, slots = ["="], 0, []
    for a, b, members in groups + [[size, size, None]]:
        if a > pos:                 # padding: kept, so that packing is exact
            fmt.append("%ds" % (a - pos))
            slots.append((pos, a, None))
        if members is None:
            break
        key, code = members[0][2:] if len(members) == 1 else (None, None)
        fmt.append(code if key is not None else "%ds" % (b - a))
        slots.append((a, b, key))
        pos = b
    if not slots:                   # an empty struct (a flexible array at most)
        fmt.append("0s")
        slots.append((0, 0, None))
    return "".join(fmt), slots


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
        "char", "ptr", "lazy" (bool, float: read from bytes, so that packing gives
        them back exactly), "wide", "bytes", "array" or "record"."""
        b = self.btf
        t = b.type(b.skip_mods(tid))
        k = t.kind
        if k == _btf.KIND_INT:
            if t.size == 1 and t.encoding & _btf.INT_BOOL:
                return "lazy", "?", 1
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
            return ("lazy", code, t.size) if code else ("bytes", "B", t.size)
        if k == _btf.KIND_PTR:
            return "ptr", "Q", 8
        if k == _btf.KIND_ARRAY:
            return "array", None, self.btf.resolve_size(t.id)
        if k in (_btf.KIND_STRUCT, _btf.KIND_UNION):
            return "record", None, t.size
        return "bytes", "B", max(getattr(t, "size", 0) or 0, 0)

    def _array_getter(self, t, nbytes):
        """A maker (slot index, offset) -> getter for array type ``t``."""
        b = self.btf
        n = t.nelems
        et = b.type(b.skip_mods(t.elem_type))
        kind, code, size = self._scalar(et.id)
        if kind == "char":
            return lambda i, off, whole=False: _getter_chars(i, off, -1 if whole else n)
        if kind in ("int", "ptr", "bytes", "lazy") and code:
            if kind == "bytes":
                return lambda i, off, whole=False: _getter_array("B", i, off, n * size)
            return lambda i, off, whole=False: _getter_array(code, i, off, n * size)
        if kind == "wide":
            return lambda i, off, whole=False: _getter_array(code, i, off, n * 16)
        if kind == "record":
            rec = self.record(et.id)
            return lambda i, off, whole=False: _getter_records(rec, i, off, n, et.size)
        # an array of arrays: a tuple of the inner arrays
        stride = self.btf.resolve_size(et.id)
        inner = self._array_getter(et, stride)

        def make(i, off, whole=False):
            getters = [inner(i, off + k * stride) for k in range(n)]

            def get(self_):
                return tuple(g(self_) for g in getters)
            return get
        return make

    def _members(self, t, base, out):
        """(name, field) for each member of ``t`` at byte ``base`` (anonymous members'
        own members are the parent's): field is (kind, code, offset, size) for a
        scalar that may be a slot of its own, else (offset, end, maker) with
        ``maker(slot index, offset in the slot, whole)`` making the getter."""
        b = self.btf
        for m in t.members:
            mt = b.type(b.skip_mods(m.type))
            if m.bitfield_size:
                signed = (mt.kind == _btf.KIND_INT and bool(mt.encoding & _btf.INT_SIGNED)) \
                    or (mt.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and bool(mt.signed))
                bit = base * 8 + m.bit_offset
                lo, bits = bit // 8, m.bitfield_size
                if m.name:
                    out.append((m.name, (lo, (bit + bits + 7) // 8,
                                         lambda i, off, whole=False, r=bit % 8, n=bits,
                                         sg=signed: _getter_bits(i, off * 8 + r, n, sg))))
                continue
            off = base + m.bit_offset // 8
            if not m.name:
                if mt.kind in (_btf.KIND_STRUCT, _btf.KIND_UNION):
                    self._members(mt, off, out)
                continue
            kind, code, size = self._scalar(mt.id)
            if kind in ("int", "char", "ptr"):
                out.append((m.name, (kind, code, off, size)))
                continue
            if kind == "lazy":
                make = (lambda i, o, whole=False, c=code: _getter_scalar(c, i, o))
            elif kind == "wide":
                make = (lambda i, o, whole=False, c=code: _getter_array(c, i, o, 16))
            elif kind == "bytes":
                make = (lambda i, o, whole=False, n=size: _getter_array("B", i, o, n))
            elif kind == "array":
                make = self._array_getter(mt, size)
            else:
                rec = self.record(mt.id)
                make = (lambda i, o, whole=False, r=rec: _getter_record(r, i, o))
            out.append((m.name, (off, off + size, make)))
        return out

    def _build(self, t):
        fields = self._members(t, 0, [])
        scalars = [(k, f[1], f[2], f[3]) for k, (_, f) in enumerate(fields) if len(f) == 4]
        spans = [(f[0], f[1]) for _, f in fields if len(f) == 3]
        fmt, slots = _slots(t.size, scalars, spans)
        st = _struct.Struct(fmt)
        own = {key: i for i, (_, _, key) in enumerate(slots) if key is not None}
        span_slots = [(a, i) for i, (a, _, key) in enumerate(slots) if key is None]
        starts = [a for a, _ in span_slots]
        d = {"__slots__": (), "_rec_size": t.size, "_rec_unpack": st.unpack_from,
             "_rec_pack": st.pack, "_rec_format": fmt,
             "_rec_fields": tuple(n for n, _ in fields)}
        for k, (name, f) in enumerate(fields):
            i = own.get(k)
            if len(f) == 4 and i is not None:       # a slot of its own
                get = _getter_pointer_at(i) if f[0] == "ptr" else _itemgetter(i)
            else:
                if len(f) == 4:                     # a scalar in a merged span
                    kind, code, a, n = f
                    make = (lambda i, o, whole=False, c=code: _getter_pointer(i, o)) \
                        if kind == "ptr" else \
                        (lambda i, o, whole=False, c=code: _getter_scalar(c, i, o))
                    b_ = a + n
                else:
                    a, b_, make = f
                i = span_slots[max(_bisect_right(starts, a) - 1, 0)][1]    # its span
                s0, s1, _ = slots[i]
                get = make(i, a - s0, whole=(a == s0 and b_ == s1))
            d[name] = property(get)
        d["_rec_btf"] = (self.btf, t.id)     # for bcc_core.btf.values (event_dict)
        cls = type(str(t.name or "anon"), (Record,), d)
        cls.from_address = _from_address(cls, t.size, st.unpack_from)
        return cls


_builders = {}


def record_for(btf, tid):
    """The record class of BTF type ``tid`` of ``btf`` (cached per BTF)."""
    rb = _builders.get(id(btf))
    if rb is None or rb.btf is not btf:
        rb = _builders[id(btf)] = RecordBuilder(btf)
    return rb.record(tid)
