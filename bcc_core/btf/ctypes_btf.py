"""BTF types -> ctypes types, for the BCC facade's table ``Key``/``Leaf`` classes and
``event()`` decoders.

Mapping (as BCC's ``_decode_table_type``/``_get_event_class`` do for the same C types):
``char`` -> c_char, ``_Bool`` -> c_bool, other ints by size and signedness (c_byte/c_ubyte,
c_short/c_ushort, c_int/c_uint, c_longlong/c_ulonglong; ``long``/``unsigned long`` ->
c_long/c_ulong; 128-bit -> c_(u)int64 * 2), enums -> c_int/c_uint (by size), pointers ->
c_void_p (as BCC's ``void *``; any pointer is 8 bytes in BPF), arrays -> T * n, structs and
unions -> ctypes Structure/Union named like the C type, with bitfields, anonymous members
(``__anon0``... made ``_anonymous_``), and ``_pack_ = 1`` plus explicit padding when the
natural ctypes layout would not match the BTF offsets.
"""
import ctypes as ct

from .. import btf as _btf

_INTS = {
    (1, False): ct.c_ubyte, (1, True): ct.c_byte,
    (2, False): ct.c_ushort, (2, True): ct.c_short,
    (4, False): ct.c_uint, (4, True): ct.c_int,
    (8, False): ct.c_ulonglong, (8, True): ct.c_longlong,
    (16, False): ct.c_uint64 * 2, (16, True): ct.c_int64 * 2,
}
_NAMED = {"long": ct.c_long, "long int": ct.c_long, "unsigned long": ct.c_ulong,
          "long unsigned int": ct.c_ulong, "char": ct.c_char, "_Bool": ct.c_bool,
          "float": ct.c_float, "double": ct.c_double}


class TypeConverter:
    """Converts (and caches) BTF type ids of one BTF into ctypes types."""

    def __init__(self, btf):
        self.btf = btf
        self._cache = {}

    def __call__(self, tid):
        return self.ctype(tid)

    def ctype(self, tid):
        c = self._cache.get(tid)
        if c is None:
            c = self._convert(tid)
            self._cache[tid] = c
        return c

    def _convert(self, tid):
        b = self.btf
        t = b.type(tid)
        k = t.kind
        if k in (_btf.KIND_TYPEDEF, _btf.KIND_VOLATILE, _btf.KIND_CONST, _btf.KIND_RESTRICT,
                 _btf.KIND_TYPE_TAG, _btf.KIND_VAR):
            return self.ctype(t.type)
        if k == _btf.KIND_INT:
            if t.name in _NAMED and ct.sizeof(_NAMED[t.name]) == t.size:
                return _NAMED[t.name]
            if t.encoding & _btf.INT_BOOL and t.size == 1:
                return ct.c_bool
            if t.encoding & _btf.INT_CHAR and t.size == 1:
                return ct.c_char
            return _INTS.get((t.size, bool(t.encoding & _btf.INT_SIGNED)),
                             ct.c_ubyte * t.size)
        if k in (_btf.KIND_ENUM, _btf.KIND_ENUM64):
            return _INTS.get((t.size, bool(t.signed)), ct.c_ubyte * t.size)
        if k == _btf.KIND_FLOAT:
            return {4: ct.c_float, 8: ct.c_double}.get(t.size, ct.c_ubyte * t.size)
        if k == _btf.KIND_PTR:
            return ct.c_void_p
        if k == _btf.KIND_ARRAY:
            return self.ctype(t.elem_type) * t.nelems
        if k in (_btf.KIND_STRUCT, _btf.KIND_UNION):
            return self._record(t)
        if k == _btf.KIND_FWD:
            return type(t.name or "fwd", (ct.Structure,), {"_fields_": []})
        if k == _btf.KIND_UNKN:     # void
            return ct.c_ubyte * 0
        raise TypeError("cannot map BTF %s '%s' (id %d) to a ctypes type"
                        % (t.kind_name, t.name, tid))

    def _record(self, t):
        base = ct.Union if t.kind == _btf.KIND_UNION else ct.Structure
        name = t.name or "anon"
        fields, anon, layout = [], [], []
        gapped, end, npad = [], 0, 0    # gapped: fields with C's unnamed pad bitfields
        for i, m in enumerate(t.members):
            mname = m.name
            if not mname:
                mname = "__anon%d" % len(anon)
                anon.append(mname)
            ctyp = self.ctype(m.type)
            if m.bitfield_size:
                ctyp = self._bitfield_base(m.type)
                f = (mname, ctyp, m.bitfield_size)
                # BTF has no members for unnamed bitfields (`int :13`): put them back
                if base is ct.Structure and m.bit_offset > end:
                    gap = m.bit_offset - end
                    if gap < ct.sizeof(ctyp) * 8:
                        gapped.append(("__pad_bits_%d" % npad, ctyp, gap))
                        npad += 1
                end = m.bit_offset + m.bitfield_size
            else:
                f = (mname, ctyp)
                end = m.bit_offset + ct.sizeof(ctyp) * 8
            fields.append(f)
            gapped.append(f)
            layout.append((mname, m.bit_offset, m.bitfield_size))
        cls = self._make(base, name, fields, anon)
        if self._matches(cls, t, layout):
            return cls
        if npad:
            cls = self._make(base, name, gapped, anon)
            if self._matches(cls, t, layout):
                return cls
        # natural layout differs (packed struct, odd alignment): pack and pad explicitly
        return self._packed(base, name, t, fields, anon)

    def _bitfield_base(self, tid):
        b = self.btf
        u = b.type(b.skip_mods(tid))
        signed = (u.kind == _btf.KIND_INT and bool(u.encoding & _btf.INT_SIGNED)) or \
            (u.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and bool(u.signed))
        size = u.size if u.size in (1, 2, 4, 8) else 4
        return _INTS[(size, signed)]

    @staticmethod
    def _make(base, name, fields, anon, pack=None):
        d = {"_fields_": fields}
        if anon:
            d["_anonymous_"] = anon
        if pack:
            d = {"_pack_": pack, **d}
        return type(str(name), (base,), d)

    @staticmethod
    def _matches(cls, t, layout):
        if ct.sizeof(cls) != t.size:
            return False
        for mname, bit_off, bits in layout:
            if _bit_offset(getattr(cls, mname), bits) != bit_off:
                return False
        return True

    def _packed(self, base, name, t, fields, anon):
        if base is ct.Union:
            cls = self._make(base, name, fields, anon, pack=1)
            pad = t.size - ct.sizeof(cls)
            if pad > 0:
                cls = self._make(base, name, fields + [("__pad_end", ct.c_ubyte * pad)],
                                 anon, pack=1)
            return cls
        out, pos, npad = [], 0, 0
        for f, m in zip(fields, t.members):
            if len(f) == 3:         # bitfield in a packed struct: take its bytes raw
                start = m.bit_offset // 8
                end = (m.bit_offset + m.bitfield_size + 7) // 8
                if start >= pos:
                    if start > pos:
                        out.append(("__pad_%d" % npad, ct.c_ubyte * (start - pos)))
                        npad += 1
                    out.append(("__bits_%s" % f[0], ct.c_ubyte * (end - start)))
                    pos = end
                continue
            off = m.bit_offset // 8
            if off > pos:
                out.append(("__pad_%d" % npad, ct.c_ubyte * (off - pos)))
                npad += 1
            out.append(f)
            pos = off + ct.sizeof(f[1])
        if t.size > pos:
            out.append(("__pad_%d" % npad, ct.c_ubyte * (t.size - pos)))
        return self._make(base, name, out, anon, pack=1)


def _bit_offset(field, bits):
    """The bit offset of a ctypes field descriptor in its structure."""
    if not bits:
        return field.offset * 8
    b = getattr(field, "bit_offset", None)      # Python >= 3.14
    if b is None:
        b = field.size & 0xffff                  # older: (bit size << 16) | bit offset
    return field.offset * 8 + b


def sized_int(size, signed=False):
    """A ctypes type for a map key/value known only by its size (no BTF)."""
    return _INTS.get((size, signed)) or (ct.c_ubyte * size)


_converters = {}


def converter(btf):
    c = _converters.get(id(btf))
    if c is None or c.btf is not btf:
        c = TypeConverter(btf)
        _converters[id(btf)] = c
    return c


def release(btfs):
    """Drop the converters (and their ctypes types) of the given BTF objects."""
    for key, c in list(_converters.items()):
        if any(c.btf is b for b in btfs):
            del _converters[key]


def ctype_for(btf, tid):
    return converter(btf).ctype(tid)
