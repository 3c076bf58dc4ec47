# The table classes follow BCC 0.26's bcc/table.py API.  The histogram printers
# (print_log2_hist, print_linear_hist, print_json_hist and their module-level helpers) are
# written here to print exactly what BCC's print; tests/test_hist.py checks that.
"""BCC's table classes on top of :class:`bcc_core.load.map.Map`.

Keys and values are ctypes objects (``table.Key``/``table.Leaf``), generated from the
object's BTF (see :mod:`bcc_core.btf.ctypes_btf`) unless given to ``BPF.get_table``.  Perf
and ring buffer tables need no ctypes: their records are decoded by
:mod:`bcc_core.events.struct_view`, and ctypes is imported the first time something uses it.
"""
# The classes are in bcc_core/bcc/: table_base (TableBase, hash, array... tables), hist
# (the histogram printers), buffers (perf event arrays, ring buffers), percpu, stacks
# (stack traces, queues/stacks).  This module keeps every name it had.
import errno  # noqa: F401  (bcc_core.table had these names)
import math  # noqa: F401
import os  # noqa: F401
import sys  # noqa: F401
from time import strftime  # noqa: F401

try:
    from _collections_abc import MutableMapping  # noqa: F401
    from _functools import partial, reduce  # noqa: F401
except ImportError:     # not CPython
    from collections.abc import MutableMapping  # noqa: F401
    from functools import partial, reduce  # noqa: F401

from .load import map as _map  # noqa: F401
from .errors import BccCoreError  # noqa: F401
from .utils import get_online_cpus  # noqa: F401
from .bcc.lazy_ctypes import _Ctypes, _ctype_attr, ct  # noqa: F401
from .bcc.hist import (  # noqa: F401
    Histograms, _emit_hist, _extent, _hist_sections, _print_json_hist, _print_linear_hist,
    _print_log2_hist, _print_sections, _slot_counts, _stars, linear_index_max,
    log2_index_max, stars_max)
from .bcc.table_base import (  # noqa: F401
    Array, ArrayBase, CgroupArray, CpuMap, DevMap, FileDesc, HashTable, LpmTrie, LruHash,
    MapInMapArray, MapInMapHash, ProgArray, TableBase, XskMap, _b, _elems, _scan)
from .bcc.buffers import PerfEventArray, RingBuf, _EventDecoder, _run_callback  # noqa: F401
from .bcc.percpu import LruPerCpuHash, PerCpuArray, PerCpuHash, _PerCpuMixin  # noqa: F401
from .bcc.stacks import QueueStack, StackTrace  # noqa: F401

# enum bpf_map_type of include/uapi/linux/bpf.h, numbered from 1.  The module gets one
# BPF_MAP_TYPE_<NAME> constant per entry; map_type_name maps a number back to <NAME>.
_MAP_TYPE_NAMES = (
    "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH", "PERCPU_ARRAY",
    "STACK_TRACE", "CGROUP_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE",
    "ARRAY_OF_MAPS", "HASH_OF_MAPS", "DEVMAP", "SOCKMAP", "CPUMAP", "XSKMAP", "SOCKHASH",
    "CGROUP_STORAGE", "REUSEPORT_SOCKARRAY", "PERCPU_CGROUP_STORAGE", "QUEUE", "STACK",
    "SK_STORAGE", "DEVMAP_HASH", "STRUCT_OPS", "RINGBUF", "INODE_STORAGE", "TASK_STORAGE",
)
map_type_name = dict(enumerate(_MAP_TYPE_NAMES, start=1))
globals().update(("BPF_MAP_TYPE_" + _n, _v) for _v, _n in map_type_name.items())


def get_table_type_name(ttype):
    """The name of map type number ``ttype`` ("HASH", "RINGBUF"...) or "<unknown>"."""
    return map_type_name.get(ttype, "<unknown>")


def Table(bpf, map, keytype, leaftype, name, **kwargs):
    """Table(bpf, map, keytype, leaftype, name, **kwargs)

    Create a python object for a map (a :class:`bcc_core.load.map.Map`) of the right
    class."""
    ttype = map.type
    cls = _CLASSES.get(map_type_name.get(ttype))
    if cls is None:
        raise Exception("Unknown table type %d" % ttype)
    if cls is QueueStack:
        return QueueStack(bpf, map, leaftype, name)
    if cls in (PerCpuHash, PerCpuArray, LruPerCpuHash):
        return cls(bpf, map, keytype, leaftype, name, **kwargs)
    return cls(bpf, map, keytype, leaftype, name)


# map type name -> class (types not listed here have no table class)
_CLASSES = {
    "HASH": HashTable, "ARRAY": Array, "PROG_ARRAY": ProgArray,
    "PERF_EVENT_ARRAY": PerfEventArray, "PERCPU_HASH": PerCpuHash,
    "PERCPU_ARRAY": PerCpuArray, "LPM_TRIE": LpmTrie, "STACK_TRACE": StackTrace,
    "LRU_HASH": LruHash, "LRU_PERCPU_HASH": LruPerCpuHash, "CGROUP_ARRAY": CgroupArray,
    "DEVMAP": DevMap, "CPUMAP": CpuMap, "XSKMAP": XskMap,
    "ARRAY_OF_MAPS": MapInMapArray, "HASH_OF_MAPS": MapInMapHash,
    "QUEUE": QueueStack, "STACK": QueueStack, "RINGBUF": RingBuf,
}
