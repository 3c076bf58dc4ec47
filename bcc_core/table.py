# The table classes follow BCC 0.26's bcc/table.py API.  The histogram printers
# (print_log2_hist, print_linear_hist, print_json_hist and their module-level helpers) are
# written here to print exactly what BCC's print; tests/test_hist.py checks that.
"""BCC's table classes on top of :class:`bcc_core.map.Map`.

Keys and values are ctypes objects (``table.Key``/``table.Leaf``), generated from the
object's BTF (see :mod:`bcc_core.ctypes_btf`) unless given to ``BPF.get_table``.
"""
from __future__ import print_function

import ctypes as ct
import errno
import math
import os
from collections.abc import MutableMapping
from functools import reduce
from time import strftime

from . import map as _map
from .errors import BccCoreError
from .utils import get_online_cpus

BPF_MAP_TYPE_HASH = 1
BPF_MAP_TYPE_ARRAY = 2
BPF_MAP_TYPE_PROG_ARRAY = 3
BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4
BPF_MAP_TYPE_PERCPU_HASH = 5
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_MAP_TYPE_STACK_TRACE = 7
BPF_MAP_TYPE_CGROUP_ARRAY = 8
BPF_MAP_TYPE_LRU_HASH = 9
BPF_MAP_TYPE_LRU_PERCPU_HASH = 10
BPF_MAP_TYPE_LPM_TRIE = 11
BPF_MAP_TYPE_ARRAY_OF_MAPS = 12
BPF_MAP_TYPE_HASH_OF_MAPS = 13
BPF_MAP_TYPE_DEVMAP = 14
BPF_MAP_TYPE_SOCKMAP = 15
BPF_MAP_TYPE_CPUMAP = 16
BPF_MAP_TYPE_XSKMAP = 17
BPF_MAP_TYPE_SOCKHASH = 18
BPF_MAP_TYPE_CGROUP_STORAGE = 19
BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20
BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21
BPF_MAP_TYPE_QUEUE = 22
BPF_MAP_TYPE_STACK = 23
BPF_MAP_TYPE_SK_STORAGE = 24
BPF_MAP_TYPE_DEVMAP_HASH = 25
BPF_MAP_TYPE_STRUCT_OPS = 26
BPF_MAP_TYPE_RINGBUF = 27
BPF_MAP_TYPE_INODE_STORAGE = 28
BPF_MAP_TYPE_TASK_STORAGE = 29

map_type_name = {
    BPF_MAP_TYPE_HASH: "HASH",
    BPF_MAP_TYPE_ARRAY: "ARRAY",
    BPF_MAP_TYPE_PROG_ARRAY: "PROG_ARRAY",
    BPF_MAP_TYPE_PERF_EVENT_ARRAY: "PERF_EVENT_ARRAY",
    BPF_MAP_TYPE_PERCPU_HASH: "PERCPU_HASH",
    BPF_MAP_TYPE_PERCPU_ARRAY: "PERCPU_ARRAY",
    BPF_MAP_TYPE_STACK_TRACE: "STACK_TRACE",
    BPF_MAP_TYPE_CGROUP_ARRAY: "CGROUP_ARRAY",
    BPF_MAP_TYPE_LRU_HASH: "LRU_HASH",
    BPF_MAP_TYPE_LRU_PERCPU_HASH: "LRU_PERCPU_HASH",
    BPF_MAP_TYPE_LPM_TRIE: "LPM_TRIE",
    BPF_MAP_TYPE_ARRAY_OF_MAPS: "ARRAY_OF_MAPS",
    BPF_MAP_TYPE_HASH_OF_MAPS: "HASH_OF_MAPS",
    BPF_MAP_TYPE_DEVMAP: "DEVMAP",
    BPF_MAP_TYPE_SOCKMAP: "SOCKMAP",
    BPF_MAP_TYPE_CPUMAP: "CPUMAP",
    BPF_MAP_TYPE_XSKMAP: "XSKMAP",
    BPF_MAP_TYPE_SOCKHASH: "SOCKHASH",
    BPF_MAP_TYPE_CGROUP_STORAGE: "CGROUP_STORAGE",
    BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: "REUSEPORT_SOCKARRAY",
    BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: "PERCPU_CGROUP_STORAGE",
    BPF_MAP_TYPE_QUEUE: "QUEUE",
    BPF_MAP_TYPE_STACK: "STACK",
    BPF_MAP_TYPE_SK_STORAGE: "SK_STORAGE",
    BPF_MAP_TYPE_DEVMAP_HASH: "DEVMAP_HASH",
    BPF_MAP_TYPE_STRUCT_OPS: "STRUCT_OPS",
    BPF_MAP_TYPE_RINGBUF: "RINGBUF",
    BPF_MAP_TYPE_INODE_STORAGE: "INODE_STORAGE",
    BPF_MAP_TYPE_TASK_STORAGE: "TASK_STORAGE",
}

stars_max = 40              # bar width of a histogram row, in characters
log2_index_max = 65         # log2 slots: 0 and one per bit of a 64-bit value
linear_index_max = 1025     # slots a plain linear histogram may use


# --- histogram text ------------------------------------------------------------------
#
# A row is "<label> : <count> |<bar>|".  Log2 labels are "<low> -> <high>" with both
# bounds 10 digits wide, or 20 (and a bar half as wide) when a count sits above slot 32,
# where the bounds outgrow 10 digits.  Linear labels are the slot number.  The header puts the value type over the label column, left-aligned after a
# fixed indent, and the column titles over the rest.

def _stars(val, val_max, width):
    """The bar for count ``val`` when the largest count is ``val_max``: ``width`` stars
    at the largest, proportionally fewer below it (rounded down); a count above
    ``val_max`` is drawn with its last star turned into ``+``."""
    scaled = width * val / val_max      # true division, so large counts round as BCC's
    scaled = min(width, scaled)         # (a NaN ratio compares false: full width)
    bar = "*" * (math.floor(scaled) if scaled > 0 else 0)
    if val > val_max:
        bar = bar[:-1] + "+"
    return bar


def _extent(vals):
    """(index of the last count above zero or -1, largest count above zero or 0)."""
    last = next((i for i in range(len(vals) - 1, -1, -1) if vals[i] > 0), -1)
    peak = max((v for v in vals if v > 0), default=0)
    return last, peak


def _emit_hist(val_type, rows, label_width, indent, bar_width, peak, skip_zeros,
               with_header):
    """Print a histogram: an optional header line, then one line per (label, count)
    of ``rows``; with ``skip_zeros`` the rows before the first non-zero count are left
    out."""
    if with_header:
        title = ("%%-%ds" % (label_width - indent)) % val_type
        print(" " * indent + title + " : count     distribution")
    for label, count in rows:
        if skip_zeros:
            if not count:
                continue
            skip_zeros = False
        print("%s : %-8d |%-*s|" % (label, count, bar_width,
                                   _stars(count, peak, bar_width)))


def _print_log2_hist(vals, val_type, strip_leading_zero):
    last, peak = _extent(vals)
    wide = last > 32
    digits, indent = (20, 15) if wide else (10, 5)
    bar_width = int(stars_max / 2) if wide else stars_max
    # slot i counts values in [2**(i-1), 2**i - 1]; slot 1 is shown as 0 -> 1 and
    # slot 0 (the value 0) is never shown
    rows = (("%*d -> %-*d" % (digits, 1 << (i - 1) if i > 1 else 0, digits, (1 << i) - 1),
             vals[i]) for i in range(1, last + 1))
    _emit_hist(val_type, rows, 2 * digits + 4, indent, bar_width, peak,
               strip_leading_zero, last > 0)


def _print_linear_hist(vals, val_type, strip_leading_zero):
    last, peak = _extent(vals)
    rows = ((" " * 8 + "%-10d" % i, vals[i]) for i in range(last + 1))
    _emit_hist(val_type, rows, 18, 5, stars_max, peak, strip_leading_zero, last >= 0)


def _print_json_hist(vals, val_type, section_bucket=None):
    """Print the log2 counts in ``vals`` as a dict (Python's repr of it, as BCC does):
    time stamp, value type, one entry per slot from 1 to the last non-zero one, and the
    (name, value) of ``section_bucket`` if given."""
    last = max((i for i, v in enumerate(vals) if v != 0), default=0)
    data = [{"interval-start": 1 << (i - 1) if i > 1 else 0,
             "interval-end": (1 << i) - 1,
             "count": int(vals[i])} for i in range(1, last + 1)]
    histogram = {"ts": strftime("%Y-%m-%d %H:%M:%S"), "val_type": val_type, "data": data}
    if section_bucket:
        name, value = section_bucket[0], section_bucket[1]
        histogram[name] = value
    print(histogram)


def _hist_sections(table, bucket_fn, bucket_sort_fn):
    """(bucket, counts) for each section of a struct-keyed histogram table, in order.
    Uses only what BCC's table interface has (decode_c_struct, items)."""
    per_bucket, order = {}, []
    table.decode_c_struct(per_bucket, order, bucket_fn, bucket_sort_fn)
    for bucket in order:
        yield bucket, per_bucket[bucket]


def _print_sections(table, render, val_type, strip_leading_zero, section_header,
                    section_print_fn, bucket_fn, bucket_sort_fn):
    for bucket, counts in _hist_sections(table, bucket_fn, bucket_sort_fn):
        if section_print_fn:
            print("\n%s = %s" % (section_header, section_print_fn(bucket)))
        else:
            print("\n%s = %r" % (section_header, bucket))
        render(counts, val_type, strip_leading_zero)


def _slot_counts(table, size):
    counts = [0] * size
    for k, v in table.items():
        counts[k.value] = v.value
    return counts


def get_table_type_name(ttype):
    try:
        return map_type_name[ttype]
    except KeyError:
        return "<unknown>"


def Table(bpf, map, keytype, leaftype, name, **kwargs):
    """Table(bpf, map, keytype, leaftype, name, **kwargs)

    Create a python object for a map (a :class:`bcc_core.map.Map`) of the right class."""
    ttype = map.type
    cls = _CLASSES.get(ttype)
    if cls is None:
        raise Exception("Unknown table type %d" % ttype)
    if cls is QueueStack:
        return QueueStack(bpf, map, leaftype, name)
    if cls in (PerCpuHash, PerCpuArray, LruPerCpuHash):
        return cls(bpf, map, keytype, leaftype, name, **kwargs)
    return cls(bpf, map, keytype, leaftype, name)


def _b(obj):
    """The bytes of a ctypes object (or bytes/int passthrough for Map)."""
    if isinstance(obj, (bytes, int)) or obj is None:
        return obj
    return ct.string_at(ct.addressof(obj), ct.sizeof(obj))


def _elems(arr):
    """The bytes of each element of a ctypes array (iterating gives Python ints for
    arrays of simple types, so slice the raw buffer instead)."""
    raw = _b(arr)
    n = ct.sizeof(arr._type_)
    return [raw[i * n:(i + 1) * n] for i in range(len(arr))]


class TableBase(MutableMapping):

    def __init__(self, bpf, map, keytype, leaftype, name=None):
        self.bpf = bpf
        self.map = map
        self.map_fd = map.fd
        self.map_id = _map.fd_info_id(map.fd)
        self.Key = keytype
        self.Leaf = leaftype
        self.ttype = map.type
        self.flags = map.map_flags
        self._cbs = {}
        self._name = name if name is not None else map.name
        self.max_entries = int(map.max_entries)

    def get_fd(self):
        return self.map_fd

    def _fmt(self, obj):
        if isinstance(obj, ct._SimpleCData):
            v = obj.value
            if isinstance(v, bytes):
                return "0x%x" % v[0] if v else "0x0"
            return "0x%x" % (v or 0) if not isinstance(v, float) else repr(v)
        if isinstance(obj, ct.Array):
            return "[ " + " ".join(self._fmt(x) if isinstance(x, ct._CData) else
                                  ("0x%x" % x if isinstance(x, int) else repr(x))
                                  for x in obj) + " ]"
        if isinstance(obj, (ct.Structure, ct.Union)):
            parts = []
            for f in obj._fields_:
                v = getattr(obj, f[0])
                parts.append(self._fmt(v) if isinstance(v, ct._CData) else
                             ("0x%x" % v if isinstance(v, int) else
                              ("0x%x" % v[0] if isinstance(v, bytes) and v else repr(v))))
            return "{ " + " ".join(parts) + " }"
        return repr(obj)

    def key_sprintf(self, key):
        return self._fmt(key).encode()

    def leaf_sprintf(self, leaf):
        return self._fmt(leaf).encode()

    def key_scanf(self, key_str):
        return _scan(self.Key, key_str)

    def leaf_scanf(self, leaf_str):
        return _scan(self.Leaf, leaf_str)

    def _key_bytes(self, key):
        if isinstance(key, int) and not isinstance(key, bool):
            key = self.Key(key)
        return _b(key)

    def __getitem__(self, key):
        raw = self.map.lookup(self._key_bytes(key))
        if raw is None:
            raise KeyError
        return self.Leaf.from_buffer_copy(raw)

    def __setitem__(self, key, leaf):
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            leaf = self.Leaf(leaf)
        try:
            self.map.update(self._key_bytes(key), _b(leaf))
        except OSError as e:
            raise Exception("Could not update table: %s" % os.strerror(e.errno)) from e

    def __delitem__(self, key):
        try:
            self.map.delete(self._key_bytes(key))
        except (KeyError, OSError):
            raise KeyError

    # override the MutableMapping's implementation of these since they
    # don't handle KeyError nicely
    def itervalues(self):
        for key in self:
            # a map entry may be deleted in between discovering the key and
            # fetching the value, suppress such errors
            try:
                yield self[key]
            except KeyError:
                pass

    def iteritems(self):
        for key in self:
            try:
                yield (key, self[key])
            except KeyError:
                pass

    def items(self):
        return [item for item in self.iteritems()]

    def values(self):
        return [value for value in self.itervalues()]

    def clear(self):
        # default clear uses popitem, which can race with the bpf prog
        for k in list(self.keys()):
            try:
                self.__delitem__(k)
            except KeyError:
                pass

    def _alloc_keys_values(self, alloc_k=False, alloc_v=False, count=None):
        keys = values = None
        if not alloc_k and not alloc_v:
            return (ct.c_uint32(0), None, None)
        if not count:  # means alloc maximum size
            count = self.max_entries
        elif count < 1 or count > self.max_entries:
            raise ValueError("Wrong count")
        if alloc_k:
            keys = (self.Key * count)()
        if alloc_v:
            values = (self.Leaf * count)()
        return (ct.c_uint32(count), keys, values)

    def _sanity_check_keys_values(self, keys=None, values=None):
        arr_len = 0
        for elem in [keys, values]:
            if elem:
                if not isinstance(elem, ct.Array):
                    raise TypeError
                arr_len = len(elem)
                if arr_len < 1 or arr_len > self.max_entries:
                    raise ValueError("Array's length is wrong")
        if keys and values:
            # check both length are equal
            if len(keys) != len(values):
                raise ValueError("keys array length != values array length")
        return ct.c_uint32(arr_len)

    def items_lookup_batch(self):
        """Look up all the key-value pairs in the map (BPF_MAP_LOOKUP_BATCH)."""
        for k, v in self._items_lookup_and_optionally_delete_batch(delete=False):
            yield (k, v)
        return

    def items_delete_batch(self, ct_keys=None):
        """Delete the given keys (a ctypes array of Key), or every entry when None."""
        if ct_keys is not None:
            self._sanity_check_keys_values(keys=ct_keys)
            for k in _elems(ct_keys):
                try:
                    self.map.delete(k)
                except KeyError:
                    raise Exception("BPF_MAP_DELETE_BATCH has failed: %s"
                                    % os.strerror(errno.ENOENT))
        else:
            for _ in self.items_lookup_and_delete_batch():
                pass

    def items_update_batch(self, ct_keys, ct_values):
        """Update all the key-value pairs in the map provided (BPF_MAP_UPDATE_BATCH)."""
        self._sanity_check_keys_values(keys=ct_keys, values=ct_values)
        try:
            self.map.update_batch(list(zip(_elems(ct_keys), _elems(ct_values))))
        except OSError as e:
            raise Exception("BPF_MAP_UPDATE_BATCH has failed: %s"
                            % os.strerror(e.errno)) from e

    def items_lookup_and_delete_batch(self):
        """Look up and delete all the key-value pairs in the map."""
        for k, v in self._items_lookup_and_optionally_delete_batch(delete=True):
            yield (k, v)
        return

    def _items_lookup_and_optionally_delete_batch(self, delete=True):
        bpf_cmd = "BPF_MAP_LOOKUP_AND_DELETE_BATCH" if delete else "BPF_MAP_LOOKUP_BATCH"
        try:
            pairs = self.map.lookup_batch(delete=delete)
        except OSError as e:
            raise Exception("%s has failed: %s" % (bpf_cmd, os.strerror(e.errno))) from e
        for k, v in pairs:
            yield (self.Key.from_buffer_copy(k), self._leaf_from(v))

    def _leaf_from(self, raw):
        return self.Leaf.from_buffer_copy(raw)

    def zero(self):
        # Even though this is not very efficient, we grab the entire list of
        # keys before enumerating it. This helps avoid a potential race where
        # the leaf assignment changes a hash table bucket that is being
        # enumerated by the same loop, and may lead to a hang.
        for k in list(self.keys()):
            self[k] = self.Leaf()

    def __iter__(self):
        return TableBase.Iter(self)

    def iter(self): return self.__iter__()
    def keys(self): return self.__iter__()

    class Iter(object):
        def __init__(self, table):
            self.table = table
            self.key = None

        def __iter__(self):
            return self

        def __next__(self):
            return self.next()

        def next(self):
            self.key = self.table.next(self.key)
            return self.key

    def next(self, key):
        raw = self.map.next_key(None if key is None else self._key_bytes(key))
        if raw is None:
            raise StopIteration()
        return self.Key.from_buffer_copy(raw)

    def decode_c_struct(self, tmp, buckets, bucket_fn, bucket_sort_fn):
        """Split the entries of a histogram keyed by a (bucket, slot) struct: ``tmp``
        gets one list of log2_index_max counts per bucket (after ``bucket_fn``) and
        ``buckets`` the buckets in order (``bucket_sort_fn``'s order if given)."""
        names = [f[0] for f in self.Key._fields_]
        bucket_field, slot_field = names[0], names[1]
        # a key laid out as (bucket, explicit padding, slot): the slot is the third
        if slot_field == "__pad_1" and len(names) == 3:
            slot_field = names[2]
        for k, v in self.items():
            bucket = getattr(k, bucket_field)
            if bucket_fn:
                bucket = bucket_fn(bucket)
            counts = tmp.setdefault(bucket, [0] * log2_index_max)
            counts[getattr(k, slot_field)] = v.value
        order = list(tmp)
        if bucket_sort_fn:
            order = bucket_sort_fn(order)
        buckets.extend(order)

    def print_json_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, bucket_sort_fn=None):
        """Print a log2 histogram as one dict per line (see :meth:`print_log2_hist` for
        the arguments); a struct-keyed table prints one per bucket, with the bucket
        under the key ``section_header``."""
        if isinstance(self.Key(), ct.Structure):
            for bucket, counts in _hist_sections(self, bucket_fn, bucket_sort_fn):
                shown = section_print_fn(bucket) if section_print_fn else bucket
                _print_json_hist(counts, val_type, (section_header, shown))
        else:
            _print_json_hist(_slot_counts(self, log2_index_max), val_type)

    def print_log2_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                        bucket_sort_fn=None):
        """Print a table of log2 slot counts (key: slot 0..64) as a text histogram
        titled ``val_type``.

        A table keyed by a struct of (bucket, slot) prints one histogram per bucket,
        each introduced by "<section_header> = <bucket>"; ``section_print_fn(bucket)``
        gives the text shown for a bucket (default: its repr), ``bucket_fn(bucket)``
        maps the raw key field to the bucket and ``bucket_sort_fn(list)`` orders the
        buckets.  With ``strip_leading_zero`` the empty slots before the first
        non-empty one are not printed."""
        if isinstance(self.Key(), ct.Structure):
            _print_sections(self, _print_log2_hist, val_type, strip_leading_zero,
                            section_header, section_print_fn, bucket_fn, bucket_sort_fn)
        else:
            _print_log2_hist(_slot_counts(self, log2_index_max), val_type,
                             strip_leading_zero)

    def print_linear_hist(self, val_type="value", section_header="Bucket ptr",
                          section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                          bucket_sort_fn=None):
        """Print a table whose key is the value itself (0 .. linear_index_max - 1) as a
        text histogram, one row per value; the arguments are those of
        :meth:`print_log2_hist`.  Keys of a struct-keyed table are limited to slots
        below log2_index_max, as in BCC."""
        if isinstance(self.Key(), ct.Structure):
            _print_sections(self, _print_linear_hist, val_type, strip_leading_zero,
                            section_header, section_print_fn, bucket_fn, bucket_sort_fn)
            return
        counts = [0] * linear_index_max
        for k, v in self.items():
            if not -linear_index_max <= k.value < linear_index_max:
                raise IndexError("Index in print_linear_hist() of %d exceeds max of %d."
                                 % (k.value, linear_index_max))
            counts[k.value] = v.value
        _print_linear_hist(counts, val_type, strip_leading_zero)


def _scan(cls, s):
    if isinstance(s, bytes):
        s = s.decode()
    toks = [t for t in s.replace("{", " ").replace("}", " ").replace("[", " ")
            .replace("]", " ").split()]
    obj = cls()
    raw = bytearray(ct.sizeof(cls))
    if issubclass(cls, ct._SimpleCData) and toks:
        return cls(int(toks[0], 0))
    vals = [int(t, 0) for t in toks]
    if issubclass(cls, ct.Array) and vals:
        for i, v in enumerate(vals[:len(obj)]):
            obj[i] = v
        return obj
    del raw
    return obj


class HashTable(TableBase):
    def __init__(self, *args, **kwargs):
        super(HashTable, self).__init__(*args, **kwargs)

    def __len__(self):
        i = 0
        for k in self: i += 1
        return i


class LruHash(HashTable):
    def __init__(self, *args, **kwargs):
        super(LruHash, self).__init__(*args, **kwargs)


class ArrayBase(TableBase):
    def __init__(self, *args, **kwargs):
        super(ArrayBase, self).__init__(*args, **kwargs)

    def _normalize_key(self, key):
        if isinstance(key, int):
            if key < 0:
                key = len(self) + key
            key = self.Key(key)
        if not isinstance(key, ct._SimpleCData):
            raise IndexError("Array index must be an integer type")
        if key.value >= len(self):
            raise IndexError("Array index out of range")
        return key

    def __len__(self):
        return self.max_entries

    def __getitem__(self, key):
        key = self._normalize_key(key)
        return super(ArrayBase, self).__getitem__(key)

    def __setitem__(self, key, leaf):
        key = self._normalize_key(key)
        super(ArrayBase, self).__setitem__(key, leaf)

    def __delitem__(self, key):
        key = self._normalize_key(key)
        super(ArrayBase, self).__delitem__(key)

    def clearitem(self, key):
        key = self._normalize_key(key)
        try:
            self.map.update(_b(key), bytes(self.map.vbuf_size))
        except OSError as e:
            raise Exception("Could not clear item") from e

    def __iter__(self):
        return ArrayBase.Iter(self, self.Key)

    class Iter(object):
        def __init__(self, table, keytype):
            self.Key = keytype
            self.table = table
            self.i = -1

        def __iter__(self):
            return self

        def __next__(self):
            return self.next()

        def next(self):
            self.i += 1
            if self.i == len(self.table):
                raise StopIteration()
            return self.Key(self.i)


class Array(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(Array, self).__init__(*args, **kwargs)

    def __delitem__(self, key):
        # Delete in Array type does not have an effect, so zero out instead
        self.clearitem(key)


class ProgArray(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(ProgArray, self).__init__(*args, **kwargs)

    def __setitem__(self, key, leaf):
        if isinstance(leaf, int):
            leaf = self.Leaf(leaf)
        if hasattr(leaf, "fd") and hasattr(leaf, "name"):   # BPF.Function
            leaf = self.Leaf(leaf.fd)
        super(ProgArray, self).__setitem__(key, leaf)


class FileDesc:
    def __init__(self, fd):
        if (fd is None) or (fd < 0):
            raise Exception("Invalid file descriptor")
        self.fd = fd

    def clean_up(self):
        if (self.fd is not None) and (self.fd >= 0):
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        self.clean_up()

    def __enter__(self, *args, **kwargs):
        return self

    def __exit__(self, *args, **kwargs):
        self.clean_up()


class CgroupArray(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(CgroupArray, self).__init__(*args, **kwargs)

    def __setitem__(self, key, leaf):
        if isinstance(leaf, int):
            super(CgroupArray, self).__setitem__(key, self.Leaf(leaf))
        elif isinstance(leaf, str):
            with FileDesc(os.open(leaf, os.O_RDONLY | os.O_CLOEXEC)) as f:
                super(CgroupArray, self).__setitem__(key, self.Leaf(f.fd))
        else:
            raise Exception("Cgroup array key must be either FD or cgroup path")


class _EventDecoder(object):
    """event(data) support shared by PerfEventArray and RingBuf: the C struct comes from
    the object's BTF (see BPF.event_type / get_table(leaftype=...)); callbacks get the
    address of a buffer reused for every record (valid during the callback, as in BCC)."""

    def event(self, data):
        """event(data)

        Decode a perf/ring buffer record (the ``data`` a callback got) as the C struct
        the BPF program submits; see :meth:`bcc_core.bpf.BPF.event_type` for how that
        struct is found."""
        if self._event_class is None:
            self._event_class = self.bpf._event_class_for(self)
        return ct.cast(data, ct.POINTER(self._event_class)).contents

    def set_event_type(self, cls):
        """Decode event(data) as ``cls`` (a ctypes type or a struct name in the BTF)."""
        if isinstance(cls, (str, bytes)):
            cls = self.bpf._event_class_for(self, cls)
        self._event_class = cls


class _Scratch(object):
    """A growable ctypes buffer the raw record is copied into for the callback."""
    __slots__ = ("buf", "addr", "size")

    def __init__(self, size=256):
        self.buf = ct.create_string_buffer(size)
        self.addr = ct.addressof(self.buf)
        self.size = size

    def grow(self, n):
        size = self.size
        while size < n:
            size *= 2
        self.buf = ct.create_string_buffer(size)
        self.addr = ct.addressof(self.buf)
        self.size = size


class PerfEventArray(_EventDecoder, TableBase):

    def __init__(self, *args, **kwargs):
        super(PerfEventArray, self).__init__(*args, **kwargs)
        self._open_key_fds = {}
        self._event_class = None
        self._reader = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Free the perf buffer / perf events opened on this table."""
        keys = list(self._open_key_fds.keys())
        for key in keys:
            del self[key]

    def __len__(self):
        return self.max_entries

    def __iter__(self):
        return ArrayBase.Iter(self, self.Key)

    def __delitem__(self, key):
        if isinstance(key, ct._SimpleCData):
            key = key.value
        if key not in self._open_key_fds:
            return
        fd = self._open_key_fds.pop(key)
        if fd == -1:
            # opened for the perf ring buffer: the reader owns every cpu's fd
            if not any(v == -1 for v in self._open_key_fds.values()) and \
                    self._reader is not None:
                r = self._reader
                self._reader = None
                self.bpf._remove_perf_reader(r)
                r.close()
                self._cbs.clear()
        else:
            try:
                self.map.delete(key)
            except (KeyError, OSError, BccCoreError):
                pass
            os.close(fd)

    def open_perf_buffer(self, callback, page_cnt=8, lost_cb=None, wakeup_events=1):
        """open_perf_buffers(callback)

        Opens a set of per-cpu ring buffer to receive custom perf event
        data from the bpf program. The callback will be invoked for each
        event submitted from the kernel, up to millions per second. Use
        page_cnt to change the size of the per-cpu ring buffer. The value
        must be a power of two and defaults to 8.
        """
        if page_cnt & (page_cnt - 1) != 0:
            raise Exception("Perf buffer page_cnt must be a power of two")
        from .perf_buffer import PerfBuffer
        scratch = _Scratch()
        memmove = ct.memmove

        def raw_cb_(cpu, data):
            n = len(data)
            if n > scratch.size:
                scratch.grow(n)
            memmove(scratch.addr, data, n)
            try:
                callback(cpu, scratch.addr, n)
            except IOError as e:
                if e.errno == errno.EPIPE:
                    exit()
                else:
                    raise e

        def lost_cb_(cpu, lost):
            try:
                lost_cb(lost)
            except IOError as e:
                if e.errno == errno.EPIPE:
                    exit()
                else:
                    raise e
        try:
            reader = PerfBuffer(self.map, raw_cb_, lost_cb_ if lost_cb else None, page_cnt)
        except OSError as e:
            raise Exception("Could not open perf buffer: %s" % e) from e
        self._reader = reader
        self.bpf._add_perf_reader(reader)
        for r in reader.rings.values():
            self._open_key_fds[r.cpu] = -1
            self._cbs[r.cpu] = (raw_cb_, lost_cb_)

    def _open_perf_event(self, cpu, typ, config):
        from . import _sys
        from .link import PERF_EVENT_IOC_ENABLE, PERF_FLAG_FD_CLOEXEC
        import fcntl
        a = _sys.new_perf_attr()
        a.type = typ
        a.config = config
        fd = _sys.perf_event_open(a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC,
                                  what="perf event %d/%d on cpu %d" % (typ, config, cpu))
        fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
        self.map.update(cpu, fd.to_bytes(4, "little"))
        self._open_key_fds[cpu] = fd

    def open_perf_event(self, typ, config):
        """open_perf_event(typ, config)

        Configures the table such that calls from the bpf program to
        table.perf_read(CUR_CPU_IDENTIFIER) will return the hardware
        counter denoted by event ev on the local cpu.
        """
        for i in get_online_cpus():
            self._open_perf_event(i, typ, config)


class _PerCpuMixin(object):
    def _percpu_init(self, kwargs):
        self.reducer = kwargs.pop("reducer", None)
        return kwargs

    def _percpu_setup(self):
        self.sLeaf = self.Leaf
        self.total_cpu = self.map.ncpus
        # This needs to be 8 as hard coded into the linux kernel.
        self.alignment = ct.sizeof(self.sLeaf) % 8
        if self.alignment == 0:
            self.Leaf = self.sLeaf * self.total_cpu
        else:
            if self.sLeaf == ct.c_uint:
                self.Leaf = ct.c_uint64 * self.total_cpu
            elif self.sLeaf == ct.c_int:
                self.Leaf = ct.c_int64 * self.total_cpu
            else:
                # BCC refuses these; we split the 8-byte-strided values ourselves
                self.Leaf = self.sLeaf * self.total_cpu

    def _leaf_from(self, raw):
        m = self.map
        ret = (self.sLeaf * self.total_cpu)()
        sz = ct.sizeof(self.sLeaf)
        for i in range(self.total_cpu):
            ct.memmove(ct.addressof(ret) + i * sz, raw[i * m.stride:i * m.stride + sz], sz)
        return ret

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
        raw = self.map.lookup(self._key_bytes(key))
        if raw is None:
            raise KeyError
        return self._leaf_from(raw)

    def __getitem__(self, key):
        if self.reducer:
            return reduce(self.reducer, self.getvalue(key))
        else:
            return self.getvalue(key)

    def __setitem__(self, key, leaf):
        try:
            self.map.update(self._key_bytes(key), self._percpu_bytes(leaf))
        except OSError as e:
            raise Exception("Could not update table: %s" % os.strerror(e.errno)) from e

    def sum(self, key):
        if isinstance(self.sLeaf(), ct.Structure):
            raise IndexError("Leaf must be an integer type for default sum functions")
        return self.sLeaf(sum(self.getvalue(key)))

    def max(self, key):
        if isinstance(self.sLeaf(), ct.Structure):
            raise IndexError("Leaf must be an integer type for default max functions")
        return self.sLeaf(max(self.getvalue(key)))

    def average(self, key):
        result = self.sum(key)
        return result.value / self.total_cpu

    def zero(self):
        for k in list(self.keys()):
            self.map.update(self._key_bytes(k), bytes(self.map.vbuf_size))


class PerCpuHash(_PerCpuMixin, HashTable):
    def __init__(self, *args, **kwargs):
        kwargs = self._percpu_init(kwargs)
        super(PerCpuHash, self).__init__(*args, **kwargs)
        self._percpu_setup()


class LruPerCpuHash(PerCpuHash):
    def __init__(self, *args, **kwargs):
        super(LruPerCpuHash, self).__init__(*args, **kwargs)


class PerCpuArray(_PerCpuMixin, ArrayBase):
    def __init__(self, *args, **kwargs):
        kwargs = self._percpu_init(kwargs)
        super(PerCpuArray, self).__init__(*args, **kwargs)
        self._percpu_setup()

    def getvalue(self, key):
        return _PerCpuMixin.getvalue(self, self._normalize_key(key))

    def __setitem__(self, key, leaf):
        _PerCpuMixin.__setitem__(self, self._normalize_key(key), leaf)

    def __delitem__(self, key):
        # Delete in this type does not have an effect, so zero out instead
        self.clearitem(key)


class LpmTrie(TableBase):
    def __init__(self, *args, **kwargs):
        super(LpmTrie, self).__init__(*args, **kwargs)

    def __len__(self):
        raise NotImplementedError


class StackTrace(TableBase):
    MAX_DEPTH = 127
    BPF_F_STACK_BUILD_ID = (1 << 5)
    BPF_STACK_BUILD_ID_EMPTY = 0  # can't get stacktrace
    BPF_STACK_BUILD_ID_VALID = 1  # valid build-id,ip
    BPF_STACK_BUILD_ID_IP = 2  # fallback to ip

    def __init__(self, *args, **kwargs):
        super(StackTrace, self).__init__(*args, **kwargs)

    class StackWalker(object):
        def __init__(self, stack, flags, resolve=None):
            self.stack = stack
            self.n = -1
            self.resolve = resolve
            self.flags = flags
            self.depth = min(StackTrace.MAX_DEPTH,
                             len(stack.trace) if flags & StackTrace.BPF_F_STACK_BUILD_ID
                             else len(stack.ip))

        def __iter__(self):
            return self

        def __next__(self):
            return self.next()

        def next(self):
            self.n += 1
            if self.n == self.depth:
                raise StopIteration()

            if self.flags & StackTrace.BPF_F_STACK_BUILD_ID:
                addr = self.stack.trace[self.n]
                if addr.status == StackTrace.BPF_STACK_BUILD_ID_IP or \
                        addr.status == StackTrace.BPF_STACK_BUILD_ID_EMPTY:
                    raise StopIteration()
            else:
                addr = self.stack.ip[self.n]

            if addr == 0:
                raise StopIteration()

            return self.resolve(addr) if self.resolve else addr

    def walk(self, stack_id, resolve=None):
        return StackTrace.StackWalker(self[self.Key(stack_id)], self.flags, resolve)

    def __len__(self):
        i = 0
        for k in self: i += 1
        return i

    def clear(self):
        pass


class DevMap(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(DevMap, self).__init__(*args, **kwargs)


class CpuMap(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(CpuMap, self).__init__(*args, **kwargs)


class XskMap(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(XskMap, self).__init__(*args, **kwargs)


class MapInMapArray(ArrayBase):
    def __init__(self, *args, **kwargs):
        super(MapInMapArray, self).__init__(*args, **kwargs)


class MapInMapHash(HashTable):
    def __init__(self, *args, **kwargs):
        super(MapInMapHash, self).__init__(*args, **kwargs)


class RingBuf(_EventDecoder, TableBase):
    def __init__(self, *args, **kwargs):
        super(RingBuf, self).__init__(*args, **kwargs)
        self._ringbuf = None
        self._event_class = None

    def __delitem(self, key):
        pass

    def __del__(self):
        pass

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def open_ring_buffer(self, callback, ctx=None):
        """open_ring_buffer(callback)

        Opens a ring buffer to receive custom event data from the bpf program.
        The callback will be invoked for each event submitted from the kernel,
        up to millions per second.
        """
        scratch = _Scratch()
        memmove = ct.memmove

        def ringbuf_cb_(data):
            n = len(data)
            if n > scratch.size:
                scratch.grow(n)
            memmove(scratch.addr, data, n)
            try:
                ret = callback(ctx, scratch.addr, n)
                # Callback for ringbufs should _always_ return an integer.
                # If the function the user registers does not,
                # simply fall back to returning 0.
                try:
                    ret = int(ret)
                except:  # noqa: E722 (as BCC)
                    ret = 0
            except IOError as e:
                if e.errno == errno.EPIPE:
                    exit()
                else:
                    raise e
            return ret

        self.bpf._open_ring_buffer(self.map, ringbuf_cb_, ctx)
        # keep a refcnt
        self._cbs[0] = ringbuf_cb_


class QueueStack:
    # Flag for map.push
    BPF_EXIST = 2

    def __init__(self, bpf, map, leaftype, name=None):
        self.bpf = bpf
        self.map = map
        self.map_fd = map.fd
        self.map_id = _map.fd_info_id(map.fd)
        self.Leaf = leaftype
        self.ttype = map.type
        self.flags = map.map_flags
        self.max_entries = int(map.max_entries)
        self._name = name

    def leaf_sprintf(self, leaf):
        return TableBase._fmt(self, leaf).encode()

    def leaf_scanf(self, leaf_str):
        return _scan(self.Leaf, leaf_str)

    def push(self, leaf, flags=0):
        try:
            self.map.update(None, _b(leaf), flags)
        except OSError as e:
            raise Exception("Could not push to table: %s" % os.strerror(e.errno)) from e

    def _pop_or_peek(self, cmd):
        from . import _sys
        from ._sys import ffi
        buf = ffi.new("char[]", max(self.map.value_size, 1))
        a = _sys.new_attr()
        a.elem.map_fd = self.map.fd
        a.elem.key = 0
        a.elem.value = _sys.ptr(buf)
        ret, err = _sys.bpf_errno(cmd, a)
        if ret < 0:
            return None
        return self.Leaf.from_buffer_copy(ffi.buffer(buf, self.map.value_size)[:])

    def pop(self):
        from . import _sys
        leaf = self._pop_or_peek(_sys.BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        if leaf is None:
            raise KeyError("Could not pop from table")
        return leaf

    def peek(self):
        from . import _sys
        leaf = self._pop_or_peek(_sys.BPF_MAP_LOOKUP_ELEM)
        if leaf is None:
            raise KeyError("Could not peek table")
        return leaf

    def itervalues(self):
        # to avoid infinite loop, set maximum pops to max_entries
        cnt = self.max_entries
        while cnt:
            try:
                yield (self.pop())
                cnt -= 1
            except KeyError:
                return

    def values(self):
        return [value for value in self.itervalues()]


_CLASSES = {
    BPF_MAP_TYPE_HASH: HashTable,
    BPF_MAP_TYPE_ARRAY: Array,
    BPF_MAP_TYPE_PROG_ARRAY: ProgArray,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY: PerfEventArray,
    BPF_MAP_TYPE_PERCPU_HASH: PerCpuHash,
    BPF_MAP_TYPE_PERCPU_ARRAY: PerCpuArray,
    BPF_MAP_TYPE_LPM_TRIE: LpmTrie,
    BPF_MAP_TYPE_STACK_TRACE: StackTrace,
    BPF_MAP_TYPE_LRU_HASH: LruHash,
    BPF_MAP_TYPE_LRU_PERCPU_HASH: LruPerCpuHash,
    BPF_MAP_TYPE_CGROUP_ARRAY: CgroupArray,
    BPF_MAP_TYPE_DEVMAP: DevMap,
    BPF_MAP_TYPE_CPUMAP: CpuMap,
    BPF_MAP_TYPE_XSKMAP: XskMap,
    BPF_MAP_TYPE_ARRAY_OF_MAPS: MapInMapArray,
    BPF_MAP_TYPE_HASH_OF_MAPS: MapInMapHash,
    BPF_MAP_TYPE_QUEUE: QueueStack,
    BPF_MAP_TYPE_STACK: QueueStack,
    BPF_MAP_TYPE_RINGBUF: RingBuf,
}
