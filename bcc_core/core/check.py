"""``bcc-core check``: what would every CO-RE relocation of an object become on a kernel?

Pure: reads the object and one or more target BTFs (the running kernel's by default, or
raw BTF / ELF files such as a vmlinux) and runs the relocation engine
(:mod:`bcc_core.core.relo`) without any bpf() call, so it needs no root and loads nothing.

For each target BTF and each relocation record it reports the ELF section, the program or
subprogram whose instructions contain it, the instruction index (in the section, and in
the program), the kind, the local type and access path, the value the compiler baked in
and the value the target needs; or that the instruction is poisoned, and why; or that the
relocation fails outright (libbpf would refuse the whole load).
"""
import json
import sys

from .. import btf as _btf
from ..obj import cache as _cache
from . import relo as _relo
from ..errors import RelocationError

_U64 = (1 << 64) - 1
_LDX_ST_STX = (1, 2, 3)


class Row:
    """One relocation against one target BTF."""

    __slots__ = ("btf", "section", "program", "subprog", "insn", "prog_insn", "relo",
                 "kind", "spec", "local_value", "target_value", "poisoned", "reason",
                 "target_spec", "error", "skipped")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


class Report:
    """Rows for one target BTF; ``errors`` counts relocations libbpf would refuse."""

    def __init__(self, btf_label, rows):
        self.btf = btf_label
        self.rows = rows

    @property
    def errors(self):
        return sum(1 for r in self.rows if r.error)

    @property
    def poisoned(self):
        return sum(1 for r in self.rows if r.poisoned)


def owner(spec, section, insn_idx):
    """The ProgramSpec (program or subprogram) whose instructions contain ``insn_idx`` of
    ``section``, or None (e.g. code of an eliminated __weak subprogram)."""
    for p in spec.programs + spec.subprogs:
        if p.section == section and p.insn_off <= insn_idx < p.insn_off + p.insn_cnt:
            return p
    return None


def _label(path):
    return path if path else _btf.VMLINUX


def check(spec, local_btf, target_btf, btf_label):
    """Report for one ObjectSpec against one target BTF (a BTF object)."""
    rows = []
    ext = spec.btf_ext
    recs = ext.core_relos if ext is not None else {}
    cache = {}
    # patch a copy of the code, as libbpf does, to catch instruction-level refusals
    # (unexpected immediate, offset too big...) as well as matching ones
    code = {name: bytearray(ps.insns) for name, ps in spec.sections.items()}
    for section, relos in recs.items():
        for idx, r in enumerate(relos):
            insn = r.insn_off // 8
            p = owner(spec, section, insn)
            row = Row(btf=btf_label, section=section, program=p.name if p else None,
                      subprog=bool(p and p.is_subprog), insn=insn,
                      prog_insn=insn - p.insn_off if p else None, relo=idx,
                      kind=_relo.KIND_NAMES.get(r.kind, str(r.kind)), spec="",
                      local_value=None, target_value=None, poisoned=False, reason=None,
                      target_spec=None, error=None, skipped=None)
            rows.append(row)
            if p is None:
                # libbpf: "skipping CO-RE relocation ... belonging to eliminated weak
                # subprogram"
                row.skipped = "no program contains this instruction"
                continue
            try:
                d, = _relo.compute(local_btf, [(section, r)], target_btf, cand_cache=cache)
            except RelocationError as e:
                # compute() numbers the records it is given: we give one at a time
                row.error = str(e).replace("CO-RE relocation #0 ",
                                           "CO-RE relocation #%d " % idx, 1)
                row.spec = _spec_of(local_btf, r)
                continue
            row.spec = d.spec
            row.local_value = d.local_value
            row.target_spec = d.target_spec
            row.reason = d.reason
            if d.poisoned:
                row.poisoned = True
            else:
                row.target_value = d.target_value
            insns = code.get(section)
            if insns is not None and 8 * insn < len(insns):
                cls = insns[8 * insn] & 7
                if d.fail_memsz_adjust and not d.poisoned and cls in _LDX_ST_STX:
                    row.poisoned = True
                    row.reason = ("field size changes from %d to %d bytes and it is not "
                                  "a pointer or an unsigned integer" % (d.orig_sz, d.new_sz))
                try:
                    _relo.patch(insns, d)
                except RelocationError as e:
                    row.error = str(e)
    return Report(btf_label, rows)


def _spec_of(local_btf, r):
    """Best-effort 'struct foo' + access string of a record whose relocation failed."""
    try:
        t = local_btf.type(r.type_id)
        return "%s %s + %s" % (t.kind_name.lower(), t.name or "<anon>", r.access)
    except Exception:
        return "[%d] + %s" % (r.type_id, r.access)


def expand(btf_paths):
    """The BTF files to check: each path as given, a directory as the files in it
    (sorted; dot files skipped) -- a fleet's kernels, raw BTF or vmlinux ELF each."""
    import os
    out = []
    for path in btf_paths or [None]:
        if path is not None and os.path.isdir(path):
            out += [os.path.join(path, n) for n in sorted(os.listdir(path))
                    if not n.startswith(".") and os.path.isfile(os.path.join(path, n))]
        else:
            out.append(path)
    return out


def run(obj_path, btf_paths=None):
    """[Report] for the object against each BTF path (None: the running kernel; a
    directory: each file in it)."""
    spec = _cache.load_spec(obj_path)
    local = _btf.BTF(spec.btf, where=obj_path + ":.BTF") if spec.btf else None
    has_relos = bool(spec.btf_ext and any(spec.btf_ext.core_relos.values()))
    out = []
    for path in expand(btf_paths):
        label = _label(path)
        target = _btf.kernel_btf(path) if has_relos else None
        out.append(check(spec, local, target, label))
    return spec, out


# -- output ---------------------------------------------------------------------------
def _num(v):
    if v is None:
        return ""
    if v > (1 << 63):         # enum values are sign-extended u64s: show them signed
        return str(v - (1 << 64))
    return str(v)


def _outcome(r):
    if r.error:
        return "FAILED: " + r.error
    if r.skipped:
        return "skipped: " + r.skipped
    if r.poisoned:
        return "poisoned: " + (r.reason or "no match in target")
    if r.reason and r.kind in ("field_exists", "type_exists", "enumval_exists",
                               "type_matches"):
        return "absent: " + r.reason
    return ""


def print_human(spec, reports, out=None):
    w = (out or sys.stdout).write
    for rep in reports:
        rows = rep.rows
        w("%s against %s\n" % (spec.path, rep.btf))
        if not rows:
            w("  no CO-RE relocations\n\n")
            continue
        table = [("SECTION", "PROGRAM", "INSN", "KIND", "LOCAL TYPE.ACCESS", "LOCAL",
                  "TARGET", "")]
        for r in rows:
            prog = r.program or "?"
            if r.subprog:
                prog += " (subprog)"
            where = "%d" % r.insn if r.prog_insn in (None, r.insn) else \
                "%d (+%d)" % (r.insn, r.prog_insn)
            if r.error:
                tv = "FAIL"
            elif r.poisoned:
                tv = "POISON"
            elif r.skipped:
                tv = "-"
            else:
                tv = _num(r.target_value)
            table.append((r.section, prog, where, r.kind, r.spec or "", _num(r.local_value),
                          tv, _outcome(r)))
        widths = [min(max(len(row[i]) for row in table), cap)
                  for i, cap in enumerate((32, 44, 12, 14, 60, 10, 10, 0))]
        for row in table:
            cells = []
            for i, c in enumerate(row[:-1]):
                cells.append(c.rjust(widths[i]) if i in (2, 5, 6) and row is not table[0]
                             else c.ljust(widths[i]))
            line = "  " + "  ".join(cells)
            if row[-1]:
                line += "  " + row[-1]
            w(line.rstrip() + "\n")
        w("%d relocations, %d poisoned, %d failed%s\n" % (
            len(rows), rep.poisoned, rep.errors,
            "; skipped %d" % sum(1 for r in rows if r.skipped)
            if any(r.skipped for r in rows) else ""))
        if rep.poisoned:
            w("  (a poisoned instruction fails the load only if the verifier finds it "
              "reachable: guarded or dead code is fine)\n")
        if rep.errors:
            w("  libbpf would refuse to load this object against %s\n" % rep.btf)
        w("\n")


def print_json(spec, reports, out=None):
    out = out or sys.stdout
    for rep in reports:
        for r in rep.rows:
            d = r.as_dict()
            d["object"] = spec.path
            out.write(json.dumps(d, sort_keys=False) + "\n")


def verdict(spec, rep):
    """One kernel's verdict on one object, as data: "loads", "loads if the poisoned
    instructions are not reached" or "refused", with the relocations behind it."""
    def where(r):
        return {"section": r.section, "program": r.program, "insn": r.insn,
                "kind": r.kind, "spec": r.spec, "why": r.error or r.reason}
    failed = [where(r) for r in rep.rows if r.error]
    poisoned = [where(r) for r in rep.rows if r.poisoned and not r.error]
    v = "refused" if failed else "loads if the poisoned instructions are not reached" \
        if poisoned else "loads"
    return {"object": spec.path, "btf": rep.btf, "verdict": v,
            "relocations": len(rep.rows), "failed": failed, "poisoned": poisoned}


def print_summary(spec, reports, out=None, as_json=False):
    """One verdict per target BTF (``bcc-core check OBJ --btf DIR``)."""
    w = (out or sys.stdout).write
    import os
    for rep in reports:
        v = verdict(spec, rep)
        if as_json:
            w(json.dumps(v) + "\n")
            continue
        name = os.path.basename(rep.btf) if rep.btf != _btf.VMLINUX else rep.btf
        w("%-56s %-8s %d relocations%s%s\n" % (
            name, "REFUSED" if v["failed"] else "ok", v["relocations"],
            ", %d poisoned" % len(v["poisoned"]) if v["poisoned"] else "",
            ", %d failed" % len(v["failed"]) if v["failed"] else ""))
        for kind, rows in (("FAILED", v["failed"]), ("poisoned", v["poisoned"])):
            for r in rows:
                w("    %s %s/%s insn %d %s %s: %s\n" % (kind, r["section"], r["program"],
                                                     r["insn"], r["kind"], r["spec"],
                                                     r["why"]))


def main(obj, btf_paths=None, as_json=False, out=None, summary=None):
    """Run the check and print it; returns the exit status (1 when a relocation fails).
    ``summary`` (the default when a --btf is a directory): one verdict per BTF."""
    import os
    out = out or sys.stdout
    spec, reports = run(obj, btf_paths)
    if summary is None:
        summary = any(p and os.path.isdir(p) for p in btf_paths or ())
    try:
        if summary:
            print_summary(spec, reports, out, as_json)
        else:
            (print_json if as_json else print_human)(spec, reports, out)
        out.flush()
    except BrokenPipeError:          # `bcc-core check ... | head`
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    failed = [r for rep in reports for r in rep.rows if r.error]
    if failed:
        for r in failed:
            sys.stderr.write("bcc-core: error: %s: against %s: %s\n"
                             % (spec.path, r.btf, r.error))
        return 1
    return 0
