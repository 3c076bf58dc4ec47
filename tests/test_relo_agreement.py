"""The CO-RE engine (bcc_core.core.relo) against libbpf itself, decision by decision.

For every object (the project's tests/progs/*.bpf.c and the .bpf.o embedded in every
Debian libbpf-tools binary) and every target BTF (the host kernel's, Debian 6.1's, Debian
6.12 rt's), libbpf (tests/oracle/libbpf_load.c, ``relos`` mode, btf_custom_path=the BTF)
prints its debug log while relocating; the engine computes the same records.

How records are matched, exactly: libbpf applies CO-RE relocations before it links
subprograms (bpf_object__relocate_core), walking each section's records in order; a
record belongs to the (sub)program whose instruction range in the section contains it,
is numbered by its index in the section's record list ("relo #N") and logged with the
instruction index relative to that (sub)program's start ("insn #M" = section index -
program offset).  Records of programs libbpf does not load ("?" sections) are skipped.
So the key is (program name, N), and for each key we compare:

* the kind and the local spec (type id, C path, raw access, bit offset) libbpf parsed;
* the target: type id and bit offset of the first matching candidate (or no match);
* the outcome: poisoned ("substituting insn #M"), or patched at insn #M with the new
  value B ("imm/off/imm64 A -> B") and, when libbpf validated it, the old value A, plus a
  memory size change ("mem_sz X -> Y"); or a failure that aborts the load.

A record counts as agreeing only if all of these are equal.
"""
import concurrent.futures
import os
import re
import subprocess

import pytest

import kernels
import libbpf_tools
from conftest import PROGS, build_bpf

from bcc_core import btf as _btf
from bcc_core.core import relo as _relo
from bcc_core.obj.cache import load_spec
from bcc_core.errors import RelocationError

HOST = "/sys/kernel/btf/vmlinux"

_LINE = re.compile(r"^libbpf: prog '([^']+)': relo #(\d+): (.*)$")
_SPEC = re.compile(r"^<(\w+)> \[(\d+)\] (.*)$")
_CAND = re.compile(r"^matching candidate #\d+ <\w+> \[(\d+)\] "
                   r".*?(?: @ offset (\d+)(?:\.(\d))?\))?$")
_PATCH = re.compile(r"^patched insn #(\d+) \(([A-Z0-9/]+)\) (imm|off|imm64|mem_sz) (\d+) -> (\d+)$")
_POISON = re.compile(r"^substituting insn #(\d+) w/ invalid insn$")
_FAIL = re.compile(r"failed|ambiguity|unexpected|too big|has unexpected form|unrecognized|"
                   r"doesn't support|can't be")


class Outcome:
    """One relocation decision in a comparable form."""

    def __init__(self):
        self.kind = None
        self.spec = None          # "<kind> [id] struct s.a (0:1 @ offset 8)"
        self.target = None        # (type id, bit offset or None) of the chosen candidate
        self.insn = None          # program-relative index of the patched/poisoned insn
        self.poisoned = False
        self.new = None           # patched value B
        self.old = None           # value A (only compared when libbpf validated it)
        self.mem_sz = None        # (orig, new) when the access size changed
        self.error = None

    def key(self, with_old=True):
        return (self.kind, self.spec, self.target, self.insn, self.poisoned, self.new,
                self.old if with_old else None, self.mem_sz, bool(self.error))

    def __repr__(self):
        return repr(self.__dict__)


def parse_oracle(text):
    """{(prog, relo #N): Outcome} from libbpf's debug log; plus whether it relocated."""
    out = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        prog, n, rest = m.group(1), int(m.group(2)), m.group(3).strip()
        o = out.setdefault((prog, n), Outcome())
        s = _SPEC.match(rest)
        if s and o.spec is None:
            o.kind = s.group(1)
            o.spec = rest
            continue
        c = _CAND.match(rest)
        if c:
            if o.target is None:
                off = None
                if c.group(2) is not None:
                    off = int(c.group(2)) * 8 + int(c.group(3) or 0)
                o.target = (int(c.group(1)), off)
            continue
        p = _PATCH.match(rest)
        if p:
            if p.group(3) == "mem_sz":
                o.mem_sz = (int(p.group(4)), int(p.group(5)))
            else:
                o.insn = int(p.group(1))
                o.old, o.new = int(p.group(4)), int(p.group(5))
            continue
        p = _POISON.match(rest)
        if p:
            i = int(p.group(1))
            o.insn = i if o.insn is None else min(o.insn, i)
            o.poisoned = True
            continue
        if rest.startswith("non-matching candidate") or rest == "no matching targets found":
            continue
        if "accesses field incorrectly" in rest:
            continue           # followed by "substituting": a poison
        if _FAIL.search(rest):
            o.error = o.error or rest      # the first one says why
    return out


def _fmt_offset(bit_off):
    if bit_off % 8:
        return "%d.%d" % (bit_off // 8, bit_off % 8)
    return "%d" % (bit_off // 8)


def engine_outcomes(path, target):
    """{(prog, relo #N): Outcome} as the engine decides, in libbpf's processing order."""
    spec = load_spec(path)
    out = {}
    if not spec.btf_ext or not any(spec.btf_ext.core_relos.values()):
        return out
    local = _btf.BTF(spec.btf, where=path)
    code = {n: bytearray(s.insns) for n, s in spec.sections.items()}
    progs = spec.programs + spec.subprogs
    cache = {}
    for section, relos in spec.btf_ext.core_relos.items():
        for idx, r in enumerate(relos):
            insn = r.insn_off // 8
            p = next((p for p in progs if p.section == section and
                      p.insn_off <= insn < p.insn_off + p.insn_cnt), None)
            if p is None or not p.autoload:
                continue          # libbpf: eliminated weak subprogram / not loaded
            o = out[(p.name, idx)] = Outcome()
            o.kind = _relo.KIND_NAMES[r.kind]
            try:
                d, = _relo.compute(local, [(section, r)], target, cand_cache=cache)
            except RelocationError as e:
                o.error = str(e)
                o.spec = None
                return out        # libbpf stops at the first failure
            o.spec = "<%s> [%d] %s" % (o.kind, r.type_id, d.spec)
            if r.kind in _relo._FIELD_KINDS:
                raw = ":".join(str(int(x)) for x in r.access.split(":"))
                o.spec += " (%s @ offset %s)" % (raw, _fmt_offset(d.local_bit_offset))
            elif r.kind in _relo._ENUM_KINDS:
                pass              # libbpf appends " = <local value>": stripped below
            if d.target_type_id is not None:
                o.target = (d.target_type_id, d.target_bit_offset
                            if r.kind in _relo._FIELD_KINDS else None)
            insns = code[section]
            cls = insns[8 * insn] & 7
            o.insn = insn - p.insn_off
            if d.poisoned or (d.fail_memsz_adjust and cls in (1, 2, 3)):
                o.poisoned = True
            else:
                o.new = d.target_value & ((1 << 64) - 1)
                if d.validate:
                    o.old = d.local_value & ((1 << 64) - 1)
                if cls in (1, 2, 3) and d.new_sz != d.orig_sz:
                    o.mem_sz = (d.orig_sz, d.new_sz)
            try:
                _relo.patch(insns, d)
            except RelocationError as e:
                o.error = str(e)
                return out
    return out


def _normalize(oracle, engine_keys):
    for k, o in oracle.items():
        if o.kind in ("enumval_value", "enumval_exists") and o.spec:
            o.spec = re.sub(r" = -?\d+$", "", o.spec)
        if o.target is not None and o.kind not in ("byte_off", "byte_sz", "field_exists",
                                                   "signed", "lshift_u64", "rshift_u64"):
            o.target = (o.target[0], None)


def run_oracle(path, btf):
    r = subprocess.run([libbpf_tools.oracle(), "relos", path, btf], capture_output=True,
                       text=True, timeout=120)
    return r.stdout + r.stderr


def compare(path, btf_path, target):
    """(agreeing, [disagreement descriptions], libbpf reached relocation?)"""
    eng = engine_outcomes(path, target)
    if not eng:
        return 0, [], True
    text = run_oracle(path, btf_path)
    orc = parse_oracle(text)
    _normalize(orc, eng)
    if not orc:
        return 0, ["%s: libbpf did not get to relocating (%d engine records): %s"
                   % (os.path.basename(path), len(eng),
                      " | ".join(l for l in text.splitlines()[-3:]))], False
    ok, bad = 0, []
    for k in sorted(set(eng) | set(orc), key=lambda k: (k[0], k[1])):
        e, o = eng.get(k), orc.get(k)
        if e is not None and o is not None:
            if e.error and o.error:
                ok += 1
                continue
            # A ("imm A -> B") is only meaningful where libbpf validated it
            if e.key(with_old=e.old is not None) == o.key(with_old=e.old is not None):
                ok += 1
                continue
        if e is not None and e.error and o is None:
            # engine failed here; libbpf must have failed at or before this record
            if any(x.error for x in orc.values()):
                ok += 1
                continue
        if o is not None and o.error and e is None:
            continue
        bad.append("%s vs %s: prog '%s' relo #%d:\n    engine: %r\n    libbpf: %r" % (
            os.path.basename(path), os.path.basename(btf_path), k[0], k[1], e, o))
    return ok, bad, True


# -- objects and kernels ------------------------------------------------------------------
def own_objects():
    out = {}
    for f in sorted(os.listdir(PROGS)):
        if f.endswith(".bpf.c"):
            name = f[:-len(".bpf.c")]
            try:
                out[name] = build_bpf(name)
            except RuntimeError:
                continue      # deliberately broken sources are other tests' business
    return out


@pytest.fixture(scope="module")
def objects():
    if os.geteuid() != 0:
        pytest.skip("the libbpf oracle creates maps and loads programs: needs root")
    libbpf_tools.oracle()
    objs = own_objects()
    objs.update(("libbpf-tools/" + k, v) for k, v in libbpf_tools.extract_objects().items())
    return objs


def _kernel(name):
    if name == "host":
        if not os.path.exists(HOST):
            pytest.skip("the running kernel exposes no BTF")
        return HOST
    return kernels.get(name)


@pytest.mark.parametrize("kernel", ["host", "6.1", "6.12-rt"])
def test_engine_agrees_with_libbpf(objects, kernel, capsys):
    btf_path = _kernel(kernel)
    target = _btf.kernel_btf(btf_path)
    total = 0
    bad = []
    unreached = []
    with_relos = 0
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futs = {ex.submit(compare, path, btf_path, target): name
                for name, path in objects.items()}
        for f in concurrent.futures.as_completed(futs):
            name = futs[f]
            ok, mism, reached = f.result()
            if not reached:
                # libbpf stopped before relocating (e.g. a map it cannot create): nothing
                # to compare.  Tolerated for the project's other test programs only.
                unreached.append((name, mism[0]))
                continue
            total += ok + len(mism)
            with_relos += bool(ok + len(mism))
            bad.extend(mism)
    agree = total - len(bad)
    with capsys.disabled():
        print("\n[relo agreement] kernel %s: %d/%d relocation decisions agree with libbpf "
              "1.1 across %d objects (%d with CO-RE relocations)"
              % (kernel, agree, total, len(objects), with_relos))
        for name, why in unreached:
            print("[relo agreement]   not compared: %s" % why)
    assert total > 0
    assert not bad, "\n".join(bad[:20])
    must = [why for name, why in unreached
            if name.startswith("libbpf-tools/") or name == "core_task"]
    assert not must, "\n".join(must)


def test_parse_oracle_formats():
    """The log lines libbpf 1.1 prints (relo_core.c), parsed as intended."""
    log = "\n".join([
        "libbpf: prog 'p': relo #3: <byte_off> [86] struct request___x.q (0:0 @ offset 0)",
        "libbpf: prog 'p': relo #3: matching candidate #0 <byte_off> [12833] struct "
        "request.q (0:0:1 @ offset 12.3)",
        "libbpf: prog 'p': relo #3: patched insn #58 (LDX/ST/STX) off 0 -> 8",
        "libbpf: prog 'p': relo #3: patched insn #58 (LDX/ST/STX) mem_sz 4 -> 8",
        "libbpf: prog 'p': relo #4: <enumval_value> [5] enum e::A = -1",
        "libbpf: prog 'p': relo #4: no matching targets found",
        "libbpf: prog 'p': relo #4: substituting insn #7 w/ invalid insn",
        "libbpf: prog 'p': relo #4: substituting insn #6 w/ invalid insn",
        "libbpf: prog 'q': relo #0: <field_exists> [2] struct s.x (0:1 @ offset 4)",
        "libbpf: prog 'q': relo #0: field offset ambiguity: 4 != 8",
    ])
    out = parse_oracle(log)
    o = out[("p", 3)]
    assert (o.kind, o.target, o.insn, o.old, o.new, o.mem_sz, o.poisoned) == \
        ("byte_off", (12833, 99), 58, 0, 8, (4, 8), False)
    o = out[("p", 4)]
    assert o.poisoned and o.insn == 6 and o.new is None
    assert out[("q", 0)].error


def test_agree_on_refusal(tmp_path):
    """Where libbpf refuses the load (two candidates, different field offsets), the engine
    refuses the same record."""
    if os.geteuid() != 0:
        pytest.skip("the libbpf oracle creates maps and loads programs: needs root")
    from conftest import CLANG
    from test_check import AMBIG_PROG, AMBIG_TARGET
    (tmp_path / "ambig.bpf.c").write_text(AMBIG_PROG)
    obj = build_bpf("ambig", src_dir=str(tmp_path))
    (tmp_path / "target.c").write_text(AMBIG_TARGET)
    target = str(tmp_path / "target.o")
    subprocess.run([CLANG, "-target", "bpf", "-g", "-c", str(tmp_path / "target.c"),
                    "-o", target], check=True)
    orc = parse_oracle(run_oracle(obj, target))
    assert "ambiguity" in (orc[("read_b", 0)].error or "")
    ok, bad, reached = compare(obj, target, _btf.load_file(target))
    assert (ok, bad, reached) == (1, [], True)
