"""Layer 2, BTF: decode the type format, index it by name lazily, and patch it for
loading; the kernel's BTF (:func:`kernel_btf`), BTF files and kernel images
(:func:`load_file`).  BTF -> ctypes is :mod:`bcc_core.btf.ctypes_btf`.  Nothing here
issues system calls.

A :class:`BTF` keeps the raw bytes and an offset table; a :class:`Type` is decoded only when
asked for (kernel BTF has ~130k types; building Python objects for all of them is too slow
and too big).  Name look-ups run over a table of name offsets with bytes searches, so they
cost microseconds after the one-pass index, which for the kernel's BTF is cached on disk
keyed by the BTF's content hash.
"""
import os
import struct

from ..errors import BTFError, ELFError
from .keys import VMLINUX, content_key, file_key, kernel_build_id  # noqa: F401 (API)

MAGIC = 0xEB9F

(KIND_UNKN, KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_FWD,
 KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC, KIND_FUNC_PROTO,
 KIND_VAR, KIND_DATASEC, KIND_FLOAT, KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64) = range(20)

KIND_NAMES = ["UNKNOWN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
              "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC",
              "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64"]

INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4
VAR_STATIC, VAR_GLOBAL_ALLOCATED, VAR_GLOBAL_EXTERN = 0, 1, 2
FUNC_STATIC, FUNC_GLOBAL, FUNC_EXTERN = 0, 1, 2

# bytes following the 12-byte common header: (fixed, per vlen item)
_EXTRA = {KIND_INT: (4, 0), KIND_ARRAY: (12, 0), KIND_STRUCT: (0, 12), KIND_UNION: (0, 12),
          KIND_ENUM: (0, 8), KIND_FUNC_PROTO: (0, 8), KIND_VAR: (4, 0),
          KIND_DATASEC: (0, 12), KIND_DECL_TAG: (4, 0), KIND_ENUM64: (0, 12)}
_MODIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)
_CV = (KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)
_HAS_SIZE = (KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_DATASEC, KIND_FLOAT,
             KIND_ENUM64)

_u32 = struct.Struct("<I")
_hdr = struct.Struct("<HBBIIIII")
_common = struct.Struct("<III")


class Member:
    __slots__ = ("name", "type", "bit_offset", "bitfield_size")

    def __init__(self, name, type, bit_offset, bitfield_size):
        self.name, self.type = name, type
        self.bit_offset, self.bitfield_size = bit_offset, bitfield_size

    def __repr__(self):
        return "Member(%r, type=%d, bit_offset=%d%s)" % (
            self.name, self.type, self.bit_offset,
            ", bitfield_size=%d" % self.bitfield_size if self.bitfield_size else "")


class Type:
    """One decoded BTF type.  Fields present depend on ``kind``:
    size (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT); type (PTR, modifiers, FUNC,
    VAR, DECL_TAG, FUNC_PROTO return type); INT: encoding, bit_offset, bits; ARRAY:
    elem_type, index_type, nelems; STRUCT/UNION: members; ENUM/ENUM64: values [(name, value)]
    and signed; FUNC_PROTO: params [(name, type)]; FUNC: linkage; VAR: linkage;
    DATASEC: secinfo [[type, offset, size]]; DECL_TAG: component_idx."""

    __slots__ = ("id", "kind", "name", "name_off", "vlen", "kflag", "size", "type",
                 "encoding", "bit_offset", "bits", "elem_type", "index_type", "nelems",
                 "members", "values", "signed", "params", "linkage", "secinfo",
                 "component_idx")

    def __init__(self, id, kind, name, name_off, vlen, kflag):
        self.id, self.kind, self.name, self.name_off = id, kind, name, name_off
        self.vlen, self.kflag = vlen, kflag
        self.size = self.type = None

    @property
    def kind_name(self):
        return KIND_NAMES[self.kind] if self.kind < len(KIND_NAMES) else str(self.kind)

    def __repr__(self):
        return "<BTF %s '%s' id=%d>" % (self.kind_name, self.name, self.id)


def _check_header(data, where):
    if len(data) < 24:
        raise BTFError("BTF data too short (%d bytes)" % len(data), where)
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = \
        _hdr.unpack_from(data, 0)
    if magic != MAGIC:
        if magic == 0x9FEB:
            raise BTFError("big-endian BTF is not supported", where)
        raise BTFError("bad BTF magic 0x%04x" % magic, where)
    if version != 1:
        raise BTFError("unsupported BTF version %d" % version, where)
    if hdr_len < 24 or hdr_len > len(data):
        raise BTFError("bad BTF header length %d" % hdr_len, where)
    end = len(data)
    if hdr_len + type_off + type_len > end or hdr_len + str_off + str_len > end:
        raise BTFError("BTF sections exceed the data (%d bytes)" % end, where)
    if type_len % 4 or type_off % 4:
        raise BTFError("misaligned BTF type section", where)
    return hdr_len, type_off, type_len, str_off, str_len


def index_view(index_bytes):
    """An index saved by BTF.index_bytes, read in place (``BTF(..., index=...)``) without
    a pass over the types."""
    offs, names = index_bytes
    return memoryview(offs).cast("I"), memoryview(names).cast("I")


class BTF:
    """BTF data, decoded lazily.  ``base`` makes it split BTF (kernel module BTF).

    Type ids start at ``start_id`` (1, or the base's count for split BTF); id 0 is void.
    """

    def __init__(self, data, base=None, where="BTF", index=None):
        self.data = bytes(data)
        self.where = where
        self.base = base
        hdr_len, type_off, type_len, str_off, str_len = _check_header(self.data, where)
        self.hdr_len = hdr_len
        self.type_start = hdr_len + type_off
        self.type_end = self.type_start + type_len
        self.str_start = hdr_len + str_off
        self.str_end = self.str_start + str_len
        self.str_len = str_len
        if str_len and self.data[self.str_end - 1] != 0:
            raise BTFError("string section is not NUL-terminated", where)
        if base is None and str_len and self.data[self.str_start] != 0:
            raise BTFError("string section must start with an empty string", where)
        self.start_id = base.nr_types if base is not None else 1
        self.str_base = base.str_len if base is not None else 0
        self._cache = {}
        if index is not None:
            self._offs, self._name_offs = index
        else:
            self._offs, self._name_offs = self._build_index()

    # -- index ----------------------------------------------------------------------
    def _build_index(self):
        """One pass over the type section: byte offset and name offset of every type."""
        from array import array     # its import pulls in collections: only when indexing
        data, pos, end = self.data, self.type_start, self.type_end
        offs = array("I")
        names = array("I")
        unpack = _common.unpack_from
        extra = _EXTRA
        try:
            while pos < end:
                name_off, info, _ = unpack(data, pos)
                offs.append(pos)
                names.append(name_off)
                kind = (info >> 24) & 0x1F
                e = extra.get(kind)
                pos += 12
                if e is not None:
                    pos += e[0] + e[1] * (info & 0xFFFF)
                elif kind > KIND_ENUM64 or kind == KIND_UNKN:
                    raise BTFError("unknown BTF kind %d at type #%d"
                                   % (kind, len(offs) - 1 + self.start_id), self.where)
        except struct.error:
            raise BTFError("truncated type section", self.where) from None
        if pos != end:
            raise BTFError("truncated type section", self.where)
        return offs, names

    def index_bytes(self):
        """The index as bytes (two native u32 arrays), for a cache; see index_view."""
        return self._offs.tobytes(), self._name_offs.tobytes()

    @property
    def nr_types(self):
        """Number of type ids including void and the base's types (next free id)."""
        return self.start_id + len(self._offs)

    def __len__(self):
        return self.nr_types

    # -- strings --------------------------------------------------------------------
    def string(self, off):
        if off < self.str_base:
            return self.base.string(off)
        off -= self.str_base
        if off >= self.str_len:
            raise BTFError("string offset %d out of range" % off, self.where)
        start = self.str_start + off
        end = self.data.index(b"\0", start, self.str_end)
        return self.data[start:end].decode("utf-8", "replace")

    def _string_offsets(self, name, prefix=False):
        """Offsets of strings equal to ``name`` (or starting with it, if prefix)."""
        needle = b"\0" + name.encode()
        if not prefix:
            needle += b"\0"
        s, lo, hi = self.data, self.str_start, self.str_end
        base = self.str_base - lo + 1
        out = []
        i = s.find(needle, lo, hi)
        while i >= 0:
            out.append(i + base)
            i = s.find(needle, i + 1, hi)
        return out

    def _ids_with_name_off(self, str_off):
        key = _u32.pack(str_off)
        buf = self._name_offs_bytes()
        out = []
        i = buf.find(key)
        while i >= 0:
            if i % 4 == 0:
                out.append(i // 4 + self.start_id)
                i = buf.find(key, i + 4)
            else:
                i = buf.find(key, i + 1)
        return out

    def _ids_with_name_offs(self, offs):
        """Ids of this BTF's own types whose name offset is in ``offs``: one pass over
        the name column when there are many (one bytes.find scan per offset is ~1 ms
        on vmlinux BTF, so a thousand of them cost a second)."""
        offs = set(offs)
        if len(offs) <= 4:
            return sorted(t for off in offs for t in self._ids_with_name_off(off))
        start = self.start_id
        return [i + start for i, off in enumerate(self._name_offs) if off in offs]

    def find_prefix(self, prefix, kind=None):
        """Ids of types whose name starts with ``prefix`` (optionally of ``kind``), in id
        order, including the base BTF's."""
        out = self.base.find_prefix(prefix, kind) if self.base is not None else []
        for tid in self._ids_with_name_offs(self._string_offsets(prefix, prefix=True)):
            if kind is None or self.kind_of(tid) == kind:
                out.append(tid)
        out.sort()
        return out

    def vlen_of(self, tid):
        """The vlen of type ``tid`` (members, params, enumerators) without decoding it."""
        if tid == 0:
            return 0
        if tid < self.start_id:
            return self.base.vlen_of(tid)
        return _u32.unpack_from(self.data, self._local(tid) + 4)[0] & 0xFFFF

    def _name_offs_bytes(self):
        b = getattr(self, "_nob", None)
        if b is None:
            b = self._nob = self._name_offs.tobytes()
        return b

    def find(self, name, kind=None):
        """Ids of types named ``name`` (optionally of ``kind``), in id order, including
        the base BTF's."""
        out = self.base.find(name, kind) if self.base is not None else []
        for off in self._string_offsets(name):
            for tid in self._ids_with_name_off(off):
                if kind is None or self.kind_of(tid) == kind:
                    out.append(tid)
        out.sort()
        return out

    def find_one(self, name, kind):
        ids = self.find(name, kind)
        return ids[0] if ids else None

    def find_flavors(self, essential):
        """Ids of types whose essential name (name up to '___') is ``essential``
        (memoized: CO-RE asks for the same names many times)."""
        memo = self.__dict__.setdefault("_flavor_memo", {})
        hit = memo.get(essential)
        if hit is None:
            hit = memo[essential] = tuple(self._find_flavors_uncached(essential))
        return list(hit)

    def _find_flavors_uncached(self, essential):
        out = self.base.find_flavors(essential) if self.base is not None else []
        for off in self._string_offsets(essential):
            out.extend(self._ids_with_name_off(off))
        out.extend(self._ids_with_name_offs(
            self._string_offsets(essential + "___", prefix=True)))
        out.sort()
        return out

    # -- types ----------------------------------------------------------------------
    def _local(self, tid):
        i = tid - self.start_id
        if i < 0 or i >= len(self._offs):
            raise BTFError("type id %d out of range" % tid, self.where)
        return self._offs[i]

    def kind_of(self, tid):
        if tid == 0:
            return KIND_UNKN
        if tid < self.start_id:
            return self.base.kind_of(tid)
        return (_u32.unpack_from(self.data, self._local(tid) + 4)[0] >> 24) & 0x1F

    def __getitem__(self, tid):
        return self.type(tid)

    def type(self, tid):
        t = self._cache.get(tid)
        if t is not None:
            return t
        if tid == 0:
            t = Type(0, KIND_UNKN, "void", 0, 0, 0)
            self._cache[0] = t
            return t
        if tid < self.start_id:
            return self.base.type(tid)
        t = self._decode(tid, self._local(tid))
        self._cache[tid] = t
        return t

    def _decode(self, tid, pos):
        data = self.data
        name_off, info, st = _common.unpack_from(data, pos)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kflag = info >> 31
        t = Type(tid, kind, self.string(name_off), name_off, vlen, kflag)
        p = pos + 12
        nm = self.string
        if kind in _HAS_SIZE:
            t.size = st
        else:
            t.type = st
        if kind == KIND_INT:
            v = _u32.unpack_from(data, p)[0]
            t.encoding, t.bit_offset, t.bits = (v >> 24) & 0xF, (v >> 16) & 0xFF, v & 0xFF
        elif kind == KIND_ARRAY:
            t.elem_type, t.index_type, t.nelems = struct.unpack_from("<III", data, p)
        elif kind in (KIND_STRUCT, KIND_UNION):
            ms = []
            for i in range(vlen):
                mn, mt, mo = struct.unpack_from("<III", data, p + 12 * i)
                if kflag:
                    ms.append(Member(nm(mn), mt, mo & 0xFFFFFF, mo >> 24))
                else:
                    ms.append(Member(nm(mn), mt, mo, 0))
            t.members = ms
        elif kind == KIND_ENUM:
            t.signed = bool(kflag)
            fmt = "<Ii" if kflag else "<II"
            t.values = [(nm(a), b) for a, b in
                        (struct.unpack_from(fmt, data, p + 8 * i) for i in range(vlen))]
        elif kind == KIND_ENUM64:
            t.signed = bool(kflag)
            vals = []
            for i in range(vlen):
                a, lo, hi = struct.unpack_from("<III", data, p + 12 * i)
                v = (hi << 32) | lo
                if kflag and v >= 1 << 63:
                    v -= 1 << 64
                vals.append((nm(a), v))
            t.values = vals
        elif kind == KIND_FUNC_PROTO:
            t.params = [(nm(a), b) for a, b in
                        (struct.unpack_from("<II", data, p + 8 * i) for i in range(vlen))]
        elif kind == KIND_FUNC:
            t.linkage = vlen
        elif kind == KIND_VAR:
            t.linkage = _u32.unpack_from(data, p)[0]
        elif kind == KIND_DATASEC:
            t.secinfo = [list(struct.unpack_from("<III", data, p + 12 * i))
                         for i in range(vlen)]
        elif kind == KIND_DECL_TAG:
            t.component_idx = struct.unpack_from("<i", data, p)[0]
        return t

    def types(self):
        """Iterate over all own types (decodes each: for small BTFs)."""
        for tid in range(self.start_id, self.nr_types):
            yield self.type(tid)

    # -- helpers used by relocation, loader and facade ----------------------------
    def skip_mods(self, tid):
        """Follow typedef/const/volatile/restrict/type_tag to the underlying type id."""
        seen = 0
        while True:
            k = self.kind_of(tid)
            if k not in _MODIFIERS:
                return tid
            tid = self.type(tid).type
            seen += 1
            if seen > 64:
                raise BTFError("modifier loop at type %d" % tid, self.where)

    def skip_cv(self, tid):
        seen = 0
        while self.kind_of(tid) in _CV:
            tid = self.type(tid).type
            seen += 1
            if seen > 64:
                raise BTFError("modifier loop at type %d" % tid, self.where)
        return tid

    def resolve_size(self, tid):
        """Size in bytes of a type (following modifiers and arrays), as btf__resolve_size."""
        nelems = 1
        for _ in range(64):
            t = self.type(tid)
            k = t.kind
            if k in _HAS_SIZE:
                return t.size * nelems
            if k == KIND_PTR:
                return 8 * nelems
            if k in _MODIFIERS or k == KIND_VAR:
                tid = t.type
            elif k == KIND_ARRAY:
                nelems *= t.nelems
                tid = t.elem_type
            else:
                raise BTFError("type %d (%s) has no size" % (tid, t.kind_name), self.where)
        raise BTFError("type chain too deep at %d" % tid, self.where)

    def alignment(self, tid):
        for _ in range(64):
            t = self.type(tid)
            k = t.kind
            if k in (KIND_INT, KIND_ENUM, KIND_ENUM64, KIND_FLOAT):
                return min(8, max(1, t.size))
            if k == KIND_PTR:
                return 8
            if k in _MODIFIERS or k == KIND_VAR:
                tid = t.type
            elif k == KIND_ARRAY:
                tid = t.elem_type
            elif k in (KIND_STRUCT, KIND_UNION):
                a = 1
                for m in t.members:
                    a = max(a, self.alignment(m.type))
                    if m.bitfield_size == 0 and m.bit_offset % (8 * self.alignment(m.type)):
                        return 1  # packed
                return a
            else:
                return 1
        return 1

    def type_str(self, tid, _depth=0):
        """A short C-like spelling of a type, for messages: 'struct task_struct'."""
        if _depth > 64:         # corrupt BTF: pointers/arrays/modifiers in a loop
            raise BTFError("type #%d: a loop of pointer, array or modifier types"
                           % tid, self.where)
        t = self.type(tid)
        k = t.kind
        if k == KIND_UNKN:
            return "void"
        if k == KIND_PTR:
            return self.type_str(t.type, _depth + 1) + " *"
        if k == KIND_STRUCT:
            return "struct " + (t.name or "(anon)")
        if k == KIND_UNION:
            return "union " + (t.name or "(anon)")
        if k in (KIND_ENUM, KIND_ENUM64):
            return "enum " + (t.name or "(anon)")
        if k == KIND_FWD:
            return ("union " if t.kflag else "struct ") + t.name
        if k == KIND_ARRAY:
            return "%s[%d]" % (self.type_str(t.elem_type, _depth + 1), t.nelems)
        if k in _CV:
            return KIND_NAMES[k].lower().replace("type_tag", "tag") + " " + \
                self.type_str(t.type, _depth + 1)
        if k == KIND_FUNC_PROTO:
            return "func_proto"
        return t.name or KIND_NAMES[k].lower()


# -- kernel BTF -------------------------------------------------------------------------
_kernel = {}


def cache_dir():
    """bcc-core's cache directory (:mod:`bcc_core.btf.cache`)."""
    from .cache import cache_dir as _cache_dir
    return _cache_dir()


def read_section(data, name, where="ELF"):
    """Contents of one named section of an ELF image (used for kernel images' .BTF)."""
    from elftools.common.exceptions import ELFError as _PyELFError
    from elftools.elf.elffile import ELFFile
    import io
    try:
        sec = ELFFile(io.BytesIO(data)).get_section_by_name(name)
        return None if sec is None else sec.data()
    except (_PyELFError, struct.error, ValueError, KeyError) as e:
        raise ELFError("cannot read ELF: %s" % e, where) from None


def load_file(path, base=None, cache=True):
    """BTF from a raw BTF file (e.g. /sys/kernel/btf/vmlinux) or an ELF with .BTF
    (a kernel image vmlinux, a .o).  The name index of large files is cached on disk."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BTFError("cannot read BTF: %s" % e.strerror, path) from None
    if data[:4] == b"\x7fELF":
        data = read_section(data, ".BTF", path)
        if data is None:
            raise BTFError("ELF file has no .BTF section", path)
    if not cache or len(data) < (1 << 20):
        return BTF(data, base=base, where=path)
    key = content_key(data)
    cpath = os.path.join(cache_dir(), "btf-%s.idx" % key)
    index = None
    try:
        with open(cpath, "rb") as f:
            blob = f.read()
        n = _u32.unpack_from(blob, 0)[0]
        if len(blob) == 4 + 8 * n:      # two u32 arrays, read in place
            view = memoryview(blob)
            index = (view[4:4 + 4 * n].cast("I"), view[4 + 4 * n:].cast("I"))
    except (OSError, struct.error, ValueError):
        index = None
    btf = BTF(data, base=base, where=path, index=index)
    if index is None:
        o, nm = btf.index_bytes()
        try:
            os.makedirs(cache_dir(), exist_ok=True)
            tmp = cpath + ".%d" % os.getpid()
            with open(tmp, "wb") as f:
                f.write(_u32.pack(len(btf._offs)) + o + nm)
            os.replace(tmp, cpath)
        except OSError:
            pass
        from .cache import written
        written()
    return btf


def release_kernel_btf():
    """Forget the kernel BTF loaded so far (kernel_btf() parses it again when asked);
    returns the BTF objects dropped, for callers holding caches keyed by them."""
    dropped = list(_kernel.values())
    _kernel.clear()
    return dropped


def kernel_btf(path=None):
    """The running kernel's BTF (or the BTF file at ``path``), loaded once per process."""
    path = path or VMLINUX
    b = _kernel.get(path)
    if b is None:
        if path == VMLINUX and not os.path.exists(path):
            from ..errors import NotSupportedError
            raise NotSupportedError("this kernel exposes no BTF (%s missing; "
                                    "CONFIG_DEBUG_INFO_BTF is off)" % VMLINUX)
        b = _kernel[path] = load_file(path)
    return b
