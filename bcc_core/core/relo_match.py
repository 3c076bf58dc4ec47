"""CO-RE relocation engine, part 2: type compatibility and matching a local spec
against one target candidate (libbpf's bpf_core_fields_are_compat, bpf_core_types_are_compat,
bpf_core_types_match, bpf_core_spec_match).  Pure: no kernel.
"""
from .. import btf as _b
from .relo_spec import (_Acc, _ANY_ENUM, _COMPOSITE, _ENUM_KINDS, essential_name, _Fail,
                        _is_flex_arr, _kinds_compat, _resolve_size, _skip_mods, _Spec,
                        SPEC_MAX_LEN, _TYPE_KINDS, _type_label, TYPE_MATCHES)


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
