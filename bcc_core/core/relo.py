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
# the kinds, names and specs; type matching (the engine's parts, re-exported here)
from .relo_spec import (_Acc, AmbiguousRelocationError, _ANY_ENUM,  # noqa: F401
                        _COMPOSITE, _ENUM_KINDS, ENUMVAL_EXISTS,
                        ENUMVAL_VALUE, essential_name, _Fail,
                        FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS,
                        _FIELD_KINDS, FIELD_LSHIFT_U64, FIELD_RSHIFT_U64,
                        FIELD_SIGNED, _int_offset, _is_flex_arr,
                        _kinds_compat, _NUM, _parse_access, _parse_spec,
                        _resolve_size, _skip_mods, _Spec, SPEC_MAX_LEN,
                        TYPE_EXISTS, TYPE_ID_LOCAL, TYPE_ID_TARGET,
                        _TYPE_KINDS, _type_label, TYPE_MATCHES, TYPE_SIZE)
from .relo_match import (_enums_match, _fields_compat, _match_member,  # noqa: F401
                         _names_match, _NoMatch, _spec_match, _types_compat,
                         _types_match)


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


def _best_candidate(kind, local, cands, err):
    """The relocation result over the matching candidates, which must all agree (else
    AmbiguousRelocationError); (result, its target spec, why the others did not match).
    ``cands`` keeps only the matching ones: later records on this type try those."""
    matched, reasons = [], []
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
        cands[:] = matched
    return best, best_spec, reasons


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
        best, best_spec, reasons = _best_candidate(kind, local, cands, err)
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
