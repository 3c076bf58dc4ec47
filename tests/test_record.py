"""bcc_core.obj.record: the cache format round-trips bcc-core's objects without pickle."""
import os
import subprocess
import sys

import pytest

from bcc_core.obj import record
from bcc_core.obj.cache import load_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJ = os.path.join(ROOT, "tools", "opensnoop.bpf.o")


def _state(o, seen=None):
    """A comparable view of an object graph."""
    if isinstance(o, (list, tuple)):
        return type(o).__name__, [_state(x) for x in o]
    if isinstance(o, dict):
        return {k: _state(v) for k, v in o.items()}
    if type(o).__module__.startswith("bcc_core."):
        slots = type(o).__dict__.get("__slots__")
        fields = {s: getattr(o, s, None) for s in slots} if slots else vars(o)
        return type(o).__qualname__, _state(fields)
    return o


def test_object_spec_round_trip():
    spec = load_spec(OBJ, cache=False)
    back = record.loads(record.dumps(spec))
    assert _state(back) == _state(spec)
    assert back.programs[0].sec_def.prog_type == spec.programs[0].sec_def.prog_type
    assert bytes(back.sections[back.programs[0].section].insns) == \
        bytes(spec.sections[spec.programs[0].section].insns)


def test_plain_data_and_refusals():
    data = {("task_struct", 4): 17, "x": [1, (2, b"3"), {"y": None}], "s": {1, 2}}
    assert record.loads(record.dumps(data)) == data
    with pytest.raises(ValueError):
        record.dumps(object())
    with pytest.raises(ValueError):     # only bcc-core's own classes are revived
        record.loads(record.dumps((..., "os:system", {}, ())))


def test_warm_load_imports_no_pickle_parser_or_engine(tmp_path):
    # a warm open+relocate+load of a CO-RE object (opensnoop's: CO-RE relocations,
    # maps, rodata) reads its caches only.  Site hooks may import some of these
    # first: only what loading adds counts.
    code = ("import sys; before = set(sys.modules); from bcc_core.load.loader import Object; "
            "Object(%r).close(); "
            "print(sorted(m for m in ('_pickle', 'pickle', 'functools', 'collections', "
            "'elftools', 'bcc_core.obj.elf', 'bcc_core.core.relo', 'bcc_core.symbols') "
            "if m in sys.modules and m not in before))" % OBJ)
    env = dict(os.environ, BCC_CORE_CACHE=str(tmp_path), PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, env=env,
                   capture_output=True)          # cold: parses and writes the caches
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_stamp_changes_with_any_source(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    before = record.stamp(str(a), str(b))
    assert record.stamp(str(a), str(b)) == before
    b.write_text("y = 22\n")        # a different size: the stamp must move
    assert record.stamp(str(a), str(b)) != before
