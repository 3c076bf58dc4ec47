"""CO-RE relocation engine, part 1: the relocation kinds, essential names and access specs.

A *spec* (:class:`_Spec`) is a parsed access string walked over the local BTF: ``raw`` the
numbers of the access string, ``acc`` the meaningful steps (root index, named members,
array indices), ``bit_offset`` the accumulated offset.  Pure: no kernel.  The engine's
driver is :mod:`.relo`, which re-exports these names.
"""
from .. import btf as _b
from ..errors import BTFError
from .relo_insn import CoreReloError

(FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64,
 FIELD_RSHIFT_U64, TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE, ENUMVAL_EXISTS,
 ENUMVAL_VALUE, TYPE_MATCHES) = range(13)

_FIELD_KINDS = frozenset((FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED,
                          FIELD_LSHIFT_U64, FIELD_RSHIFT_U64))
_TYPE_KINDS = frozenset((TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE, TYPE_MATCHES))
_ENUM_KINDS = frozenset((ENUMVAL_EXISTS, ENUMVAL_VALUE))

SPEC_MAX_LEN = 64              # BPF_CORE_SPEC_MAX_LEN

_COMPOSITE = (_b.KIND_STRUCT, _b.KIND_UNION)
_ANY_ENUM = (_b.KIND_ENUM, _b.KIND_ENUM64)


class AmbiguousRelocationError(CoreReloError):
    """Several target candidates match but give different results."""


class _Fail(Exception):
    """Internal: abort the current record; converted to CoreReloError with context."""


# -- names --------------------------------------------------------------------------------
def essential_name(name):
    """``name`` without its last ``___flavor`` suffix (libbpf's bpf_core_essential_name_len:
    the separator is three underscores between two non-underscore characters)."""
    for i in range(len(name) - 5, -1, -1):
        if (name[i] != "_" and name[i + 1] == "_" and name[i + 2] == "_"
                and name[i + 3] == "_" and name[i + 4] != "_"):
            return name[:i + 1]
    return name


def _kinds_compat(k1, k2):
    return k1 == k2 or (k1 in _ANY_ENUM and k2 in _ANY_ENUM)


def _type_label(btf, tid):
    """'struct foo', 'union <anon>', 'enum e', 'typedef t', 'int'... for messages."""
    t = btf.type(tid)
    k = t.kind
    name = t.name or "<anon>"
    if k == _b.KIND_STRUCT:
        return "struct " + name
    if k == _b.KIND_UNION:
        return "union " + name
    if k in _ANY_ENUM:
        return "enum " + name
    if k == _b.KIND_FWD:
        return ("union " if t.kflag else "struct ") + name
    if k == _b.KIND_TYPEDEF:
        return "typedef " + name
    if k in (_b.KIND_INT, _b.KIND_FLOAT):
        return name
    try:
        return btf.type_str(tid)
    except (BTFError, RecursionError):
        return t.kind_name.lower()


def _skip_mods(btf, tid):
    try:
        return btf.skip_mods(tid)
    except BTFError as e:
        raise _Fail(str(e)) from None


def _resolve_size(btf, tid):
    try:
        return btf.resolve_size(tid)
    except BTFError as e:
        raise _Fail("cannot size %s: %s" % (_type_label(btf, tid), e)) from None


def _int_offset(t):
    return t.bit_offset if t.kind == _b.KIND_INT else 0


# -- spec ---------------------------------------------------------------------------------
class _Acc:
    __slots__ = ("type_id", "idx", "name")

    def __init__(self, type_id, idx, name=None):
        self.type_id, self.idx, self.name = type_id, idx, name


class _Spec:
    __slots__ = ("btf", "root_type_id", "kind", "acc", "raw", "bit_offset", "why")

    def __init__(self, btf, root_type_id, kind):
        self.btf, self.root_type_id, self.kind = btf, root_type_id, kind
        self.why = None
        self.acc = []
        self.raw = []
        self.bit_offset = 0

    def copy(self):
        s = _Spec(self.btf, self.root_type_id, self.kind)
        s.acc = list(self.acc)
        s.raw = list(self.raw)
        s.bit_offset = self.bit_offset
        return s

    def format(self):
        """C-like view: 'struct s.a[3].b', 'enum e::V', 'struct s' (type relos)."""
        out = _type_label(self.btf, self.root_type_id)
        if self.kind in _TYPE_KINDS:
            return out
        if self.kind in _ENUM_KINDS:
            if self.acc and self.acc[0].name is not None:
                out += "::" + self.acc[0].name
            return out
        for i, a in enumerate(self.acc):
            if a.name is not None:
                out += "." + a.name
            elif i > 0 or a.idx > 0:
                out += "[%d]" % a.idx
        return out

    def detail(self):
        """format() plus the raw access path and the offset, like libbpf's debug output."""
        s = "[%d] %s" % (self.root_type_id, self.format())
        if self.kind in _FIELD_KINDS:
            off = ("%d.%d" % (self.bit_offset // 8, self.bit_offset % 8) if self.bit_offset % 8
                   else "%d" % (self.bit_offset // 8))
            s += " (%s @ offset %s)" % (":".join(map(str, self.raw)), off)
        return s


# sscanf("%d") accepts leading white space and a sign (compiled on first use: a warm
# start applies cached decisions and never parses an access string)
_NUM = []


def _parse_access(s):
    if not _NUM:
        import re
        _NUM.append(re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)"))
    num = _NUM[0]
    raw = []
    pos, n = 0, len(s)
    while pos < n:
        if s[pos] == ":":
            pos += 1
        m = num.match(s, pos)
        if m is None:
            raise _Fail("malformed access string %r" % s)
        v = int(m.group(1))
        if v < 0 or v > 0x7FFFFFFF:
            raise _Fail("bad index %s in access string %r" % (m.group(1), s))
        if len(raw) == SPEC_MAX_LEN:
            raise _Fail("access string %r too long (max %d steps)" % (s, SPEC_MAX_LEN))
        raw.append(v)
        pos = m.end()
    return raw


def _is_flex_arr(btf, prev_acc, arr):
    """A zero-length array that is the last member of the struct named by the previous
    (named) accessor may be indexed freely."""
    if prev_acc.name is None or arr.nelems > 0:
        return False
    return prev_acc.idx == len(btf.type(prev_acc.type_id).members) - 1


def _parse_spec(btf, type_id, access, kind):
    """bpf_core_parse_spec: the local spec of a record."""
    if not access or access[0] == ":":
        raise _Fail("malformed access string %r" % access)
    spec = _Spec(btf, type_id, kind)
    if kind in _TYPE_KINDS:
        if access != "0":
            raise _Fail("type-based relocation needs access string '0', got %r" % access)
        return spec
    raw = _parse_access(access)
    if not raw:
        raise _Fail("malformed access string %r" % access)
    spec.raw = raw
    tid = _skip_mods(btf, type_id)
    t = btf.type(tid)
    spec.acc.append(_Acc(tid, raw[0]))

    if kind in _ENUM_KINDS:
        if t.kind not in _ANY_ENUM:
            raise _Fail("enum value relocation on %s, which is not an enum"
                        % _type_label(btf, type_id))
        if len(raw) > 1 or raw[0] >= len(t.values):
            raise _Fail("bad enumerator index %r for %s (%d values)"
                        % (access, _type_label(btf, type_id), len(t.values)))
        spec.acc[0].name = t.values[raw[0]][0]
        return spec

    if kind not in _FIELD_KINDS:
        raise _Fail("unknown relocation kind %d" % kind)

    sz = _resolve_size(btf, tid)
    spec.bit_offset = raw[0] * sz * 8
    for i in range(1, len(raw)):
        tid = _skip_mods(btf, tid)
        t = btf.type(tid)
        idx = raw[i]
        if t.kind in _COMPOSITE:
            if idx >= len(t.members):
                raise _Fail("member index %d out of range for %s (%d members)"
                            % (idx, _type_label(btf, tid), len(t.members)))
            m = t.members[idx]
            spec.bit_offset += m.bit_offset
            if m.name:
                spec.acc.append(_Acc(tid, idx, m.name))
            tid = m.type
        elif t.kind == _b.KIND_ARRAY:
            prev = spec.acc[-1]
            elem = _skip_mods(btf, t.elem_type)
            if not _is_flex_arr(btf, prev, t) and idx >= t.nelems:
                raise _Fail("array index %d out of range (%d elements) in %r"
                            % (idx, t.nelems, access))
            spec.acc.append(_Acc(elem, idx))
            tid = elem
            spec.bit_offset += idx * _resolve_size(btf, elem) * 8
        else:
            raise _Fail("access %r step %d reaches %s, which is not a struct, union or "
                        "array" % (access, i, _type_label(btf, tid)))
    return spec
