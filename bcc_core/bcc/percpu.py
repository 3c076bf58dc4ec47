"""The per-CPU tables (PERCPU_HASH, LRU_PERCPU_HASH, PERCPU_ARRAY): one value per
possible CPU, with sum/max/average and an optional reducer."""
import os
# the C half of functools (functools itself pulls in collections...: see table.py)
try:
    from _functools import reduce
except ImportError:     # not CPython
    from functools import reduce

from .lazy_ctypes import ct
from .table_base import ArrayBase, HashTable, _b


class _PerCpuMixin(object):
    """Per-CPU maps: a value is an array with one element per possible CPU (``Leaf``),
    of the type the program declared (``sLeaf``)."""

    def _percpu_init(self, kwargs):
        self.reducer = kwargs.pop("reducer", None)
        return kwargs

    def _percpu_setup(self):
        self.sLeaf = self.Leaf
        self.total_cpu = self.map.ncpus
        # the kernel stores each CPU's value in a slot rounded up to 8 bytes
        self.alignment = ct.sizeof(self.sLeaf) % 8
        cell = self.sLeaf
        if self.alignment:
            # 4-byte ints are read as 8-byte ones, as BCC does; other odd sizes are
            # split out of the 8-byte slots by _leaf_from/_percpu_bytes
            cell = {ct.c_uint: ct.c_uint64, ct.c_int: ct.c_int64}.get(cell, cell)
        self.Leaf = cell * self.total_cpu

    def _leaf_from(self, raw):
        m = self.map
        ret = (self.sLeaf * self.total_cpu)()
        sz = ct.sizeof(self.sLeaf)
        for i in range(self.total_cpu):
            ct.memmove(ct.addressof(ret) + i * sz, raw[i * m.stride:i * m.stride + sz], sz)
        return ret

    _batch_leaf = _leaf_from      # one per-CPU array per entry, as BCC's

    def _percpu_bytes(self, leaf):
        m = self.map
        if isinstance(leaf, int):
            leaf = (self.sLeaf * self.total_cpu)(*([leaf] * self.total_cpu))
        raw = _b(leaf)
        if len(raw) == m.vbuf_size:
            return raw
        n = len(leaf)
        sz = len(raw) // n
        out = bytearray(m.vbuf_size)
        for i in range(min(n, self.total_cpu)):
            chunk = raw[i * sz:(i + 1) * sz][:m.value_size]
            out[i * m.stride:i * m.stride + len(chunk)] = chunk
        return bytes(out)

    def getvalue(self, key):
        """The values of all CPUs for ``key`` (an array of sLeaf)."""
        raw = self.map.lookup(self._key_bytes(key))
        if raw is None:
            raise KeyError
        return self._leaf_from(raw)

    def __getitem__(self, key):
        per_cpu = self.getvalue(key)
        return reduce(self.reducer, per_cpu) if self.reducer else per_cpu

    def __setitem__(self, key, leaf):
        try:
            self.map.update(self._key_bytes(key), self._percpu_bytes(leaf))
        except OSError as e:
            raise Exception("Could not update table: %s" % os.strerror(e.errno)) from e

    def _numeric_values(self, key, what):
        if isinstance(self.sLeaf(), ct.Structure):
            raise IndexError("Leaf must be an integer type for default %s functions"
                             % what)
        return self.getvalue(key)

    def sum(self, key):
        """The total over all CPUs, as an sLeaf."""
        return self.sLeaf(sum(self._numeric_values(key, "sum")))

    def max(self, key):
        """The largest of the CPUs' values, as an sLeaf."""
        return self.sLeaf(max(self._numeric_values(key, "max")))

    def average(self, key):
        """The mean of the CPUs' values (a float)."""
        return self.sum(key).value / self.total_cpu

    def zero(self):
        for k in list(self.keys()):
            self.map.update(self._key_bytes(k), bytes(self.map.vbuf_size))


class PerCpuHash(_PerCpuMixin, HashTable):
    """BPF_MAP_TYPE_PERCPU_HASH."""

    def __init__(self, *args, **kwargs):
        kwargs = self._percpu_init(kwargs)
        super().__init__(*args, **kwargs)
        self._percpu_setup()


class LruPerCpuHash(PerCpuHash):
    """BPF_MAP_TYPE_LRU_PERCPU_HASH."""


class PerCpuArray(_PerCpuMixin, ArrayBase):
    """BPF_MAP_TYPE_PERCPU_ARRAY."""

    def __init__(self, *args, **kwargs):
        kwargs = self._percpu_init(kwargs)
        super().__init__(*args, **kwargs)
        self._percpu_setup()

    def getvalue(self, key):
        return _PerCpuMixin.getvalue(self, self._normalize_key(key))

    def __setitem__(self, key, leaf):
        _PerCpuMixin.__setitem__(self, self._normalize_key(key), leaf)

    def __delitem__(self, key):
        # as with Array: slots stay, deleting zeroes every CPU's value
        self.clearitem(key)
