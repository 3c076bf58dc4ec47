"""CO-RE relocation engine: libbpf's relo_core.c decisions, as pure data in, data out.

:func:`compute` takes the object's (local) BTF, its CO-RE relocation records and a target
BTF (normally the running kernel's) and returns one :class:`Decision` per record: the value
the compiler baked into the instruction (``local_value``), the value the target needs
(``target_value``), or that the instruction must be poisoned.  :func:`patch` applies one
decision to a section's instruction bytes, as ``bpf_core_patch_insn`` does.

Nothing here touches the kernel.  The rules follow libbpf (relo_core.c, libbpf.c's candidate
search) closely, including its quirks; where a quirk matters it is noted inline.

Terms used below:

* *essential name*: a type/field/enumerator name with its last ``___flavor`` suffix removed
  (``task_struct___old`` -> ``task_struct``).
* *spec*: a parsed access path.  ``raw`` is the access string as numbers (one per step,
  anonymous struct/union members included); ``acc`` keeps only the meaningful steps: the
  root index, named members and array indices.  ``bit_offset`` is the accumulated offset.
* *candidate*: a target type whose kind and essential name match the local root type.
"""
from .. import btf as _b
from ..errors import BTFError
# the results and their patching live apart, so that a warm start need not import this
from .relo_insn import (KIND_NAMES, POISON_IMM, _U64, CoreReloError, Decision,  # noqa: F401
                        apply, patch)

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


# -- compatibility ------------------------------------------------------------------------
def _fields_compat(lb, lid, tb, tid):
    """bpf_core_fields_are_compat: can a local field's type be relocated to a target one?"""
    while True:
        lid = _skip_mods(lb, lid)
        tid = _skip_mods(tb, tid)
        lt, tt = lb.type(lid), tb.type(tid)
        if lt.kind in _COMPOSITE and tt.kind in _COMPOSITE:
            return True
        if not _kinds_compat(lt.kind, tt.kind):
            return False
        k = lt.kind
        if k in (_b.KIND_PTR, _b.KIND_FLOAT):
            return True
        if k in (_b.KIND_FWD, _b.KIND_ENUM, _b.KIND_ENUM64):
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            return not ln or not tn or ln == tn
        if k == _b.KIND_INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if k == _b.KIND_ARRAY:
            lid, tid = lt.elem_type, tt.elem_type
            continue
        return False


def _types_compat(lb, lid, tb, tid, level=32):
    """__bpf_core_types_are_compat (TYPE_EXISTS/TYPE_SIZE/TYPE_ID_TARGET).  Returns
    True/False; raises _Fail where libbpf returns an error."""
    if not _kinds_compat(lb.kind_of(lid), tb.kind_of(tid)):
        return False
    depth = 32
    while True:
        depth -= 1
        if depth < 0:
            raise _Fail("type compatibility check too deep")
        lid = _skip_mods(lb, lid)
        tid = _skip_mods(tb, tid)
        lt, tt = lb.type(lid), tb.type(tid)
        if not _kinds_compat(lt.kind, tt.kind):
            return False
        k = lt.kind
        if k in (_b.KIND_UNKN, _b.KIND_STRUCT, _b.KIND_UNION, _b.KIND_ENUM, _b.KIND_FWD,
                 _b.KIND_ENUM64):
            return True
        if k == _b.KIND_INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if k == _b.KIND_PTR:
            lid, tid = lt.type, tt.type
            continue
        if k == _b.KIND_ARRAY:
            lid, tid = lt.elem_type, tt.elem_type
            continue
        if k == _b.KIND_FUNC_PROTO:
            if len(lt.params) != len(tt.params):
                return False
            for (_, lp), (_, tp) in zip(lt.params, tt.params):
                if level <= 0:
                    raise _Fail("function prototype nesting too deep")
                if not _types_compat(lb, _skip_mods(lb, lp), tb, _skip_mods(tb, tp),
                                     level - 1):
                    return False
            lid, tid = lt.type, tt.type
            continue
        # libbpf: "unexpected kind relocated" (FLOAT lands here too)
        return False


def _names_match(ln, tn):
    if not tn:
        return not ln
    return essential_name(ln) == essential_name(tn)


def _enums_match(lt, tt):
    if lt.size != tt.size or len(lt.values) > len(tt.values):
        return False
    for ln, _ in lt.values:
        if not any(_names_match(ln, tn) for tn, _ in tt.values):
            return False
    return True


def _types_match(lb, lid, tb, tid, behind_ptr=False, level=32):
    """__bpf_core_types_match (TYPE_MATCHES)."""
    if level <= 0:
        raise _Fail("type match nesting too deep")
    depth = 32
    while True:
        depth -= 1
        if depth < 0:
            raise _Fail("type match check too deep")
        lid = _skip_mods(lb, lid)
        tid = _skip_mods(tb, tid)
        lt, tt = lb.type(lid), tb.type(tid)
        if not _names_match(lt.name if lid else "", tt.name if tid else ""):
            return False
        lk, tk = lt.kind, tt.kind
        if lk == _b.KIND_UNKN:
            return lk == tk
        if lk == _b.KIND_FWD:
            if behind_ptr:
                if lk == tk:
                    return lt.kflag == tt.kflag
                return ((tk == _b.KIND_STRUCT and not lt.kflag) or
                        (tk == _b.KIND_UNION and bool(lt.kflag)))
            return lk == tk and lt.kflag == tt.kflag
        if lk in _ANY_ENUM:
            return tk in _ANY_ENUM and _enums_match(lt, tt)
        if lk in _COMPOSITE:
            if behind_ptr:
                if lk == tk:
                    return True
                if tk != _b.KIND_FWD:
                    return False
                return (lk == _b.KIND_UNION) == bool(tt.kflag)
            if lk != tk:
                return False
            if len(lt.members) > len(tt.members):
                return False
            for lm in lt.members:
                for tm in tt.members:
                    if not _names_match(lm.name, tm.name):
                        continue
                    if _types_match(lb, lm.type, tb, tm.type, behind_ptr, level - 1):
                        break
                else:
                    return False
            return True
        if lk == _b.KIND_INT:
            if lk != tk:
                return False
            return (lt.size == tt.size and
                    (lt.encoding & _b.INT_SIGNED) == (tt.encoding & _b.INT_SIGNED))
        if lk == _b.KIND_PTR:
            if lk != tk:
                return False
            behind_ptr = True
            lid, tid = lt.type, tt.type
            continue
        if lk == _b.KIND_ARRAY:
            if lk != tk or lt.nelems != tt.nelems:
                return False
            lid, tid = lt.elem_type, tt.elem_type
            continue
        if lk == _b.KIND_FUNC_PROTO:
            if lk != tk or len(lt.params) != len(tt.params):
                return False
            for (_, lp), (_, tp) in zip(lt.params, tt.params):
                if not _types_match(lb, lp, tb, tp, behind_ptr, level - 1):
                    return False
            lid, tid = lt.type, tt.type
            continue
        return False


# -- matching a local spec against one candidate ------------------------------------------
class _NoMatch(Exception):
    """Internal: this candidate does not match; args[0] says why."""


def _match_member(lb, local_acc, tb, targ_id, spec):
    """bpf_core_match_member: find the local named field in the target struct/union
    ``targ_id``, looking through anonymous members.  Appends to ``spec`` and returns the
    field's type id; returns None if not found or if the field has an incompatible type
    (then ``spec.why`` says so; like libbpf, the speculative step is left in ``spec``)."""
    targ_id = _skip_mods(tb, targ_id)
    tt = tb.type(targ_id)
    if tt.kind not in _COMPOSITE:
        return None
    lt = lb.type(local_acc.type_id)
    lm = lt.members[local_acc.idx]
    for i, m in enumerate(tt.members):
        if len(spec.raw) == SPEC_MAX_LEN:
            raise _Fail("target struct/union nesting too deep")
        spec.bit_offset += m.bit_offset
        spec.raw.append(i)
        if not m.name:
            found = _match_member(lb, local_acc, tb, m.type, spec)
            if found is not None:
                return found
        elif m.name == lm.name:
            if not _fields_compat(lb, lm.type, tb, m.type):
                spec.why = ("field '%s' has incompatible type (local %s, target %s)"
                            % (lm.name, _type_label(lb, _skip_mods(lb, lm.type)),
                               _type_label(tb, _skip_mods(tb, m.type))))
                return None
            spec.acc.append(_Acc(targ_id, i, m.name))
            return m.type
        spec.bit_offset -= m.bit_offset
        spec.raw.pop()
    return None


def _spec_match(local, tb, targ_id):
    """bpf_core_spec_match: the target spec of ``local`` on candidate ``targ_id``; raises
    _NoMatch (with a reason) when the candidate does not fit."""
    spec = _Spec(tb, targ_id, local.kind)
    lb = local.btf
    kind = local.kind
    if kind in _TYPE_KINDS:
        if kind == TYPE_MATCHES:
            if not _types_match(lb, local.root_type_id, tb, targ_id):
                raise _NoMatch("%s does not match %s" % (
                    _type_label(tb, targ_id), _type_label(lb, local.root_type_id)))
        elif not _types_compat(lb, local.root_type_id, tb, targ_id):
            raise _NoMatch("%s is not compatible with %s" % (
                _type_label(tb, targ_id), _type_label(lb, local.root_type_id)))
        return spec

    lacc = local.acc[0]
    if kind in _ENUM_KINDS:
        tid = _skip_mods(tb, targ_id)
        tt = tb.type(tid)
        if tt.kind not in _ANY_ENUM:
            raise _NoMatch("%s is not an enum" % _type_label(tb, targ_id))
        want = essential_name(lacc.name)
        for i, (name, _) in enumerate(tt.values):
            if essential_name(name) == want:
                spec.acc.append(_Acc(tid, i, name))
                spec.raw.append(i)
                return spec
        raise _NoMatch("%s has no enumerator '%s'" % (_type_label(tb, targ_id), lacc.name))

    tid = targ_id
    for i, lacc in enumerate(local.acc):
        tid = _skip_mods(tb, tid)
        tt = tb.type(tid)
        if lacc.name is not None:
            where = spec.format() if spec.acc else _type_label(tb, targ_id)
            nxt = _match_member(lb, lacc, tb, tid, spec)
            if nxt is None:
                if spec.why:
                    raise _NoMatch(spec.why)
                if tt.kind not in _COMPOSITE:
                    raise _NoMatch("%s is not a struct/union (looking for field '%s')"
                                   % (where, lacc.name))
                raise _NoMatch("field '%s' not found in %s" % (lacc.name, where))
            tid = nxt
        else:
            if i > 0:
                if tt.kind != _b.KIND_ARRAY:
                    raise _NoMatch("%s is not an array" % spec.format())
                if not _is_flex_arr(tb, spec.acc[-1], tt) and lacc.idx >= tt.nelems:
                    raise _NoMatch("index %d out of range for %s (%d elements)"
                                   % (lacc.idx, spec.format(), tt.nelems))
                tid = _skip_mods(tb, tt.elem_type)
            if len(spec.raw) == SPEC_MAX_LEN:
                raise _Fail("target struct/union nesting too deep")
            spec.acc.append(_Acc(tid, lacc.idx))
            spec.raw.append(lacc.idx)
            spec.bit_offset += lacc.idx * _resolve_size(tb, tid) * 8
    return spec


# -- values -------------------------------------------------------------------------------
class _Res:
    __slots__ = ("orig_val", "new_val", "poison", "validate", "fail_memsz_adjust",
                 "orig_sz", "new_sz", "orig_type_id", "new_type_id")

    def __init__(self):
        self.orig_val = self.new_val = 0
        self.poison = False
        self.validate = True
        self.fail_memsz_adjust = False
        self.orig_sz = self.new_sz = 0
        self.orig_type_id = self.new_type_id = 0


class _Poison(Exception):
    pass


def _elem_size(btf, tid):
    """Size of the innermost element of (possibly nested) arrays ``tid``."""
    tid = _skip_mods(btf, tid)
    t = btf.type(tid)
    while t.kind == _b.KIND_ARRAY:
        tid = _skip_mods(btf, t.elem_type)
        t = btf.type(tid)
    return _resolve_size(btf, tid)


def _calc_field(kind, spec, local):
    """bpf_core_calc_field_relo: (value, mem size, type id, validate) of a field relo on
    ``spec`` (None: no target match)."""
    if kind == FIELD_EXISTS:
        return (1 if spec is not None else 0), 0, 0, True
    if spec is None:
        raise _Poison()
    btf = spec.btf
    acc = spec.acc[-1]
    if acc.name is None:
        # the last step is an array element (or the root itself)
        if kind == FIELD_BYTE_OFFSET:
            return spec.bit_offset // 8, _elem_size(btf, acc.type_id), acc.type_id, True
        if kind == FIELD_BYTE_SIZE:
            return _resolve_size(btf, acc.type_id), 0, 0, True
        raise _Fail("%s relocation cannot be applied to an array element access"
                    % KIND_NAMES[kind])

    t = btf.type(acc.type_id)
    m = t.members[acc.idx]
    field_tid = _skip_mods(btf, m.type)
    mt = btf.type(field_tid)
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        # smallest naturally aligned load (starting from the declared type's size)
        # that covers the whole bitfield
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise _Fail("bitfield %s cannot be read with a 64-bit load" % spec.format())
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _resolve_size(btf, field_tid)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    # compiler and libbpf may disagree on bitfield loads: only check the insn's value
    # where it is unambiguous
    validate = not bitfield
    field_sz = type_id = 0
    if kind == FIELD_BYTE_OFFSET:
        val = byte_off
        if not bitfield:
            field_sz = _elem_size(btf, field_tid)
            type_id = field_tid
    elif kind == FIELD_BYTE_SIZE:
        val = byte_sz
    elif kind == FIELD_SIGNED:
        val = int((mt.kind in _ANY_ENUM and bool(mt.kflag)) or
                  (mt.kind == _b.KIND_INT and bool(mt.encoding & _b.INT_SIGNED)))
        validate = True
    elif kind == FIELD_LSHIFT_U64:
        val = 64 - (bit_off + bit_sz - byte_off * 8)   # little-endian
    elif kind == FIELD_RSHIFT_U64:
        val = 64 - bit_sz
        validate = True
    else:
        raise _Fail("unsupported field relocation kind %d" % kind)
    return val & _U64, field_sz, type_id, validate


def _calc_type(kind, spec):
    if spec is None:
        return 0, True     # type-based relos give 0 when the type is missing
    if kind == TYPE_ID_TARGET:
        # ids change when objects are linked: never check the insn's value
        return spec.root_type_id, False
    if kind in (TYPE_EXISTS, TYPE_MATCHES):
        return 1, True
    if kind == TYPE_SIZE:
        return _resolve_size(spec.btf, spec.root_type_id), True
    raise _Fail("unsupported type relocation kind %d" % kind)


def _enum_value(btf, acc):
    t = btf.type(acc.type_id)
    v = t.values[acc.idx][1]
    if t.kind == _b.KIND_ENUM:
        # struct btf_enum's value is an s32, widened to u64 with sign extension
        v &= 0xFFFFFFFF
        if v & 0x80000000:
            v -= 1 << 32
    return v & _U64


def _calc_enum(kind, spec):
    if kind == ENUMVAL_EXISTS:
        return 1 if spec is not None else 0
    if spec is None:
        raise _Poison()
    return _enum_value(spec.btf, spec.acc[0])


def _calc_relo(kind, local, targ):
    """bpf_core_calc_relo: local and target values, poisoning and memory-size checks."""
    res = _Res()
    try:
        if kind in _FIELD_KINDS:
            res.orig_val, res.orig_sz, res.orig_type_id, res.validate = \
                _calc_field(kind, local, True)
            res.new_val, res.new_sz, res.new_type_id, _ = _calc_field(kind, targ, False)
            if res.orig_sz != res.new_sz:
                # a load/store's size may only change for pointers (32-bit kernels) and
                # unsigned integers (zero-extended); anything else poisons the LDX/ST/STX
                ot = local.btf.type(res.orig_type_id)
                nt = targ.btf.type(res.new_type_id)
                ok = ((ot.kind == _b.KIND_PTR and nt.kind == _b.KIND_PTR) or
                      (ot.kind == _b.KIND_INT and nt.kind == _b.KIND_INT and
                       ot.encoding != _b.INT_SIGNED and nt.encoding != _b.INT_SIGNED))
                res.fail_memsz_adjust = not ok
        elif kind in _TYPE_KINDS:
            res.orig_val, res.validate = _calc_type(kind, local)
            res.new_val, _ = _calc_type(kind, targ)
        elif kind in _ENUM_KINDS:
            res.orig_val = _calc_enum(kind, local)
            res.new_val = _calc_enum(kind, targ)
        else:
            raise _Fail("unknown relocation kind %d" % kind)
    except _Poison:
        res.poison = True
    return res


# -- public API ---------------------------------------------------------------------------
def _targets(target_btf):
    if target_btf is None:
        return []
    if isinstance(target_btf, (list, tuple)):
        return list(target_btf)
    return [target_btf]


def _find_cands(local_btf, lt, targets):
    """bpf_core_find_cands: (btf, id) of target types with the local type's kind (enum and
    enum64 are interchangeable) and essential name.  The first target (vmlinux) is searched
    first; further ones (split module BTFs: only their own types) only if it has none."""
    ess = essential_name(lt.name)
    cands = []
    # (linear scan in libbpf; here the name index does it)
    for n, tb in enumerate(targets):
        start = 1 if n == 0 else targets[0].nr_types
        for tid in tb.find_flavors(ess):
            if tid < start or not _kinds_compat(tb.kind_of(tid), lt.kind):
                continue
            name = tb.type(tid).name
            if name and essential_name(name) == ess:
                cands.append((tb, tid))
        if n == 0 and cands:
            break
    return cands


def compute(local_btf, relos, target_btf, cand_cache=None):
    """libbpf's decision for every CO-RE record in ``relos`` (iterable of
    ``(section_name, CoreRelo)``) against ``target_btf`` (a :class:`bcc_core.btf.BTF`;
    or a list: vmlinux first, then module BTFs searched only when vmlinux has no candidate;
    None if only local_type_id records are expected).

    ``cand_cache`` (a dict, keyed by local type id) carries candidate lists across calls
    for the same local BTF and target, and is narrowed to the matching candidates as
    libbpf does.  Raises CoreReloError (a RelocationError) where libbpf fails the load;
    unresolvable relocations come back ``poisoned``."""
    targets = _targets(target_btf)
    if cand_cache is None:
        cand_cache = {}
    out = []
    counters = {}
    for section, relo in relos:
        relo_idx = counters.get(section, 0)
        counters[section] = relo_idx + 1
        out.append(_compute_one(local_btf, section, relo_idx, relo, targets, cand_cache))
    return out


def _compute_one(local_btf, section, relo_idx, relo, targets, cache):
    kind = relo.kind
    d = Decision(section, relo.insn_off // 8, relo_idx, kind, relo.type_id, relo.access)

    def err(msg, cls=CoreReloError):
        return cls("section '%s' insn #%d: CO-RE relocation #%d <%s> %s: %s"
                   % (section, d.insn_idx, relo_idx, d.kind_name,
                      d.spec or "[%d] + %r" % (relo.type_id, relo.access), msg))

    if relo.insn_off % 8:
        raise err("instruction offset %d is not a multiple of 8" % relo.insn_off)
    if kind not in KIND_NAMES:
        raise err("unknown relocation kind %d" % kind)
    try:
        lt = local_btf.type(relo.type_id)
    except BTFError:
        raise err("local type id %d out of range (%d types)"
                  % (relo.type_id, local_btf.nr_types)) from None
    try:
        if kind != TYPE_ID_LOCAL and (relo.type_id == 0 or not lt.name):
            raise _Fail("CO-RE relocations on anonymous types are not supported")
        local = _parse_spec(local_btf, relo.type_id, relo.access, kind)
        d.spec = local.format()
        d.local_bit_offset = local.bit_offset
        if kind == TYPE_ID_LOCAL:
            d.local_value = d.target_value = relo.type_id
            d.validate = False
            return d

        cands = cache.get(relo.type_id)
        if cands is None:
            if not targets:
                raise _Fail("no target BTF given")
            cands = cache[relo.type_id] = _find_cands(local_btf, lt, targets)
        d.candidates = len(cands)
        matched = []
        reasons = []
        best = best_spec = None
        for tb, tid in cands:
            try:
                tspec = _spec_match(local, tb, tid)
            except _NoMatch as e:
                reasons.append(str(e.args[0]))
                continue
            res = _calc_relo(kind, local, tspec)
            if best is None:
                best, best_spec = res, tspec
            elif (tspec.bit_offset != best_spec.bit_offset or res.poison != best.poison
                  or res.new_val != best.new_val):
                what = ("field offset" if tspec.bit_offset != best_spec.bit_offset
                        else "relocation decision")
                raise err("%s ambiguity: candidate %s gives %s, candidate %s gives %s" % (
                    what, best_spec.detail(), _res_str(best, best_spec), tspec.detail(),
                    _res_str(res, tspec)), AmbiguousRelocationError)
            matched.append((tb, tid))
        if matched:
            cands[:] = matched       # later records on this type only try these
        if best is None:
            best = _calc_relo(kind, local, None)
            if not cands:
                d.reason = "no candidate for %s in target BTF" % _type_label(
                    local_btf, relo.type_id)
            else:
                d.reason = "; ".join(dict.fromkeys(reasons))
        else:
            d.target_type_id = best_spec.root_type_id
            d.target_spec = best_spec.format()
            d.target_btf = best_spec.btf
            d.target_bit_offset = best_spec.bit_offset
    except _Fail as e:
        raise err(str(e)) from None
    except BTFError as e:
        raise err("bad BTF: %s" % e) from None
    d.local_value = best.orig_val
    d.poisoned = best.poison
    d.target_value = None if best.poison else best.new_val
    d.validate = best.validate
    d.orig_sz, d.new_sz = best.orig_sz, best.new_sz
    d.orig_type_id, d.new_type_id = best.orig_type_id, best.new_type_id
    d.fail_memsz_adjust = best.fail_memsz_adjust
    return d


def _res_str(res, spec):
    if res.poison:
        return "failure"
    return "%d (bit offset %d)" % (res.new_val, spec.bit_offset)
