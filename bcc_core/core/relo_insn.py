"""The results of CO-RE relocation and their application to instructions.

:class:`Decision` is what :mod:`bcc_core.core.relo` computes for one relocation record;
:func:`patch` writes it into a section's instruction bytes, as libbpf's
``bpf_core_patch_insn`` does.  A warm start revives cached decisions and patches them in
without importing the engine itself.
"""
from ..errors import RelocationError

KIND_NAMES = {0: "byte_off", 1: "byte_sz", 2: "field_exists", 3: "signed", 4: "lshift_u64",
              5: "rshift_u64", 6: "local_type_id", 7: "target_type_id", 8: "type_exists",
              9: "type_size", 10: "enumval_exists", 11: "enumval_value", 12: "type_matches"}

POISON_IMM = 0xbad2310         # 195896080: "invalid func unknown#195896080" in the verifier
_U64 = (1 << 64) - 1
_SHRT_MAX = 0x7FFF

# instruction encoding bits
_CLASS_LD, _CLASS_LDX, _CLASS_ST, _CLASS_STX, _CLASS_ALU, _CLASS_JMP = 0, 1, 2, 3, 4, 5
_CLASS_ALU64 = 7
_SRC_X = 0x08
_LD_IMM64 = 0x18               # BPF_LD | BPF_IMM | BPF_DW
_CALL = 0x85                   # BPF_JMP | BPF_CALL
_SIZE_TO_BYTES = {0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1}
_BYTES_TO_SIZE = {8: 0x18, 4: 0x00, 2: 0x08, 1: 0x10}


class CoreReloError(RelocationError):
    """A CO-RE relocation record that libbpf would refuse (fails the whole load)."""


class Decision:
    """libbpf's decision for one CO-RE relocation record.

    ``local_value``/``target_value`` are unsigned 64-bit, as libbpf computes them (enum
    values are sign-extended from 32 bits; ``target_value`` is None when poisoned).
    ``validate`` says whether :func:`patch` checks the instruction against
    ``local_value``.  ``orig_sz``/``new_sz`` are the memory access sizes for byte_off
    relocations of non-bitfield fields (0 otherwise); ``fail_memsz_adjust`` means a
    load/store using this offset must be poisoned.  ``reason`` says why no target matched
    (set whenever no candidate matched, including existence kinds that then give 0).
    ``target_btf`` is the BTF object the matching candidate came from."""

    __slots__ = ("section", "insn_idx", "relo_idx", "kind", "kind_name", "type_id",
                 "access", "spec", "local_value", "target_value", "poisoned", "reason",
                 "target_type_id", "target_spec", "target_btf", "validate", "orig_sz",
                 "new_sz", "orig_type_id", "new_type_id", "fail_memsz_adjust",
                 "local_bit_offset", "target_bit_offset", "candidates")

    def __init__(self, section, insn_idx, relo_idx, kind, type_id, access):
        self.section, self.insn_idx, self.relo_idx = section, insn_idx, relo_idx
        self.kind, self.kind_name = kind, KIND_NAMES.get(kind, "unknown")
        self.type_id, self.access = type_id, access
        self.spec = ""
        self.local_value = 0
        self.target_value = None
        self.poisoned = False
        self.reason = None
        self.target_type_id = None
        self.target_spec = None
        self.target_btf = None
        self.validate = True
        self.orig_sz = self.new_sz = 0
        self.orig_type_id = self.new_type_id = 0
        self.fail_memsz_adjust = False
        self.local_bit_offset = 0
        self.target_bit_offset = None
        self.candidates = 0

    @property
    def value(self):
        return self.target_value

    def describe(self):
        head = "section '%s' insn #%d: <%s> %s" % (self.section, self.insn_idx,
                                                    self.kind_name, self.spec)
        if self.poisoned:
            return "%s: poisoned (%s)" % (head, self.reason)
        s = "%s: %d -> %d" % (head, self.local_value, self.target_value)
        if self.target_spec:
            s += " (target %s)" % self.target_spec
        return s

    def __repr__(self):
        return "<Decision %s>" % self.describe()


# -- patching -----------------------------------------------------------------------------
def _insn(insns, i):
    code = insns[8 * i]
    regs = insns[8 * i + 1]
    off = int.from_bytes(insns[8 * i + 2:8 * i + 4], "little", signed=True)
    imm = int.from_bytes(insns[8 * i + 4:8 * i + 8], "little", signed=True)
    return code, regs & 0xF, regs >> 4, off, imm


def _poison_insn(insns, i):
    insns[8 * i:8 * i + 8] = bytes((_CALL, 0, 0, 0)) + POISON_IMM.to_bytes(4, "little")


def patch(insns, decision, where=""):
    """Apply ``decision`` to ``insns`` (a bytearray with the whole section's instructions),
    as libbpf's bpf_core_patch_insn.  Raises RelocationError where libbpf would fail."""
    d = decision
    i = d.insn_idx

    def err(msg):
        return CoreReloError("%ssection '%s' insn #%d: CO-RE relocation <%s> %s: %s"
                             % (where + ": " if where else "", d.section, i, d.kind_name,
                                d.spec, msg))

    if i < 0 or 8 * i + 8 > len(insns):
        raise err("instruction index out of range (%d instructions)" % (len(insns) // 8))
    code, dst, src, off, imm = _insn(insns, i)
    cls = code & 7

    def poison():
        if code == _LD_IMM64 and 8 * i + 16 <= len(insns):
            _poison_insn(insns, i + 1)
        _poison_insn(insns, i)

    if d.poisoned:
        poison()
        return
    orig, new = d.local_value & _U64, (d.target_value or 0) & _U64

    if cls in (_CLASS_ALU, _CLASS_ALU64):
        if code & _SRC_X:
            raise err("ALU instruction with a register source cannot be relocated")
        if d.validate and (imm & _U64) != orig:
            raise err("unexpected ALU/ALU64 immediate %d, expected %d (-> %d)"
                      % (imm, orig, new))
        insns[8 * i + 4:8 * i + 8] = (new & 0xFFFFFFFF).to_bytes(4, "little")
    elif cls in (_CLASS_LDX, _CLASS_ST, _CLASS_STX):
        if d.validate and (off & _U64) != orig:
            raise err("unexpected LDX/ST/STX offset %d, expected %d (-> %d)"
                      % (off, orig, new))
        if new > _SHRT_MAX:
            raise err("LDX/ST/STX offset %d too big" % new)
        if d.fail_memsz_adjust:
            # the target field has a different size and the value cannot be widened or
            # narrowed safely: only reachable code fails
            poison()
            return
        insns[8 * i + 2:8 * i + 4] = new.to_bytes(2, "little")
        if d.new_sz != d.orig_sz:
            cur = _SIZE_TO_BYTES.get(code & 0x18)
            if cur != d.orig_sz:
                raise err("unexpected memory access size %s, expected %d"
                          % (cur, d.orig_sz))
            nsz = _BYTES_TO_SIZE.get(d.new_sz)
            if nsz is None:
                raise err("invalid new memory access size %d" % d.new_sz)
            insns[8 * i] = (code & 0xE0) | nsz | cls
    elif cls == _CLASS_LD:
        if (code != _LD_IMM64 or 8 * i + 16 > len(insns) or src != 0 or off != 0
                or insns[8 * i + 8] != 0 or insns[8 * i + 9] != 0
                or insns[8 * i + 10:8 * i + 12] != b"\0\0"):
            raise err("LD_IMM64 instruction has unexpected form")
        imm1 = int.from_bytes(insns[8 * i + 12:8 * i + 16], "little")
        cur = (imm & 0xFFFFFFFF) | (imm1 << 32)
        if d.validate and cur != orig:
            raise err("unexpected LD_IMM64 value %d, expected %d (-> %d)" % (cur, orig, new))
        insns[8 * i + 4:8 * i + 8] = (new & 0xFFFFFFFF).to_bytes(4, "little")
        insns[8 * i + 12:8 * i + 16] = (new >> 32).to_bytes(4, "little")
    else:
        raise err("cannot relocate instruction code 0x%02x (dst r%d, src r%d, off %d, "
                  "imm %d)" % (code, dst, src, off, imm))


def apply(sections, decisions, where=""):
    """Patch every decision into ``sections`` ({name: bytearray}); convenience for loaders."""
    for d in decisions:
        patch(sections[d.section], d, where)
