# The table classes follow BCC 0.26's bcc/table.py API.  The histogram printers
# (print_log2_hist, print_linear_hist, print_json_hist and their module-level helpers) are
# written here to print exactly what BCC's print; tests/test_hist.py checks that.
"""BCC's table classes on top of :class:`bcc_core.load.map.Map`.

Keys and values are ctypes objects (``table.Key``/``table.Leaf``), generated from the
object's BTF (see :mod:`bcc_core.btf.ctypes_btf`) unless given to ``BPF.get_table``.  Perf
and ring buffer tables need no ctypes: their records are decoded by
:mod:`bcc_core.events.struct_view`, and ctypes is imported the first time something uses it.
"""
import errno
import math
import os
import sys
from time import strftime

# the C halves of collections.abc and functools: those modules pull in collections,
# keyword, operator and reprlib, a measurable share of a tool's start
try:
    from _collections_abc import MutableMapping
    from _functools import partial, reduce
except ImportError:     # not CPython
    from collections.abc import MutableMapping
    from functools import partial, reduce

from .load import map as _map
from .errors import BccCoreError
from .utils import get_online_cpus


class _Ctypes(object):
    """The ctypes module, imported when first used (about a tenth of the start-up of
    a tool that only reads events, which never uses it)."""

    def __getattr__(self, name):
        import ctypes
        self.__dict__.update(vars(ctypes))     # from now on: plain attribute lookups
        return getattr(ctypes, name)


ct = _Ctypes()


class _ctype_attr(object):
    """An attribute holding a ctypes type, or the name of one (``"c_int"``) that is
    looked up in ctypes when the attribute is first read."""

    def __init__(self, slot):
        self.slot = slot

    def __get__(self, obj, cls):
        if obj is None:
            return self
        v = getattr(obj, self.slot)
        if type(v) is str:
            v = getattr(ct, v)
            setattr(obj, self.slot, v)
        return v

    def __set__(self, obj, value):
        setattr(obj, self.slot, value)

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
    """A BPF map seen as a dict of ctypes ``Key`` -> ctypes ``Leaf``."""

    def __init__(self, bpf, map, keytype, leaftype, name=None):
        self.bpf = bpf
        self.map = map
        self.map_fd = map.fd
        self.map_id = _map.fd_info_id(map.fd)
        self.ttype = map.type
        self.flags = map.map_flags
        self.max_entries = int(map.max_entries)
        self.Leaf = leaftype
        self.Key = keytype
        self._cbs = {}
        self._name = name if name is not None else map.name

    # Key and Leaf may be given as the name of a ctypes type ("c_int": perf and ring
    # buffer tables), resolved when first used
    Key = _ctype_attr("_Key")
    Leaf = _ctype_attr("_Leaf")

    def get_fd(self):
        """The map's file descriptor."""
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

    # MutableMapping's generic versions of the methods below fail when the BPF program
    # removes an entry between our listing of the keys and the lookup of the value;
    # these versions skip such entries.
    def iteritems(self):
        for key in self:
            try:
                leaf = self[key]
            except KeyError:
                continue        # removed since the key was listed
            yield (key, leaf)

    def itervalues(self):
        for _key, leaf in self.iteritems():
            yield leaf

    def items(self):
        return list(self.iteritems())

    def values(self):
        return list(self.itervalues())

    def clear(self):
        # delete from a snapshot of the keys (MutableMapping.clear pops one item at a
        # time, racing with a BPF program that keeps adding entries)
        for key in list(self.keys()):
            try:
                del self[key]
            except KeyError:
                pass

    def _alloc_keys_values(self, alloc_k=False, alloc_v=False, count=None):
        """(c_uint32 count, Key array or None, Leaf array or None) for a batch call;
        ``count`` defaults to max_entries."""
        if not (alloc_k or alloc_v):
            return (ct.c_uint32(0), None, None)
        n = count or self.max_entries
        if not 1 <= n <= self.max_entries:
            raise ValueError("Wrong count")
        return (ct.c_uint32(n),
                (self.Key * n)() if alloc_k else None,
                (self.Leaf * n)() if alloc_v else None)

    def _sanity_check_keys_values(self, keys=None, values=None):
        """Validate the ctypes arrays passed to a batch call; returns their length."""
        size = 0
        for arr in (keys, values):
            if not arr:
                continue
            if not isinstance(arr, ct.Array):
                raise TypeError
            size = len(arr)
            if not 1 <= size <= self.max_entries:
                raise ValueError("Array's length is wrong")
        if keys and values and len(keys) != len(values):
            raise ValueError("keys array length != values array length")
        return ct.c_uint32(size)

    def items_lookup_batch(self):
        """Yield every (key, value) of the map, read in batches (BPF_MAP_LOOKUP_BATCH)."""
        yield from self._items_lookup_and_optionally_delete_batch(delete=False)

    def items_delete_batch(self, ct_keys=None):
        """Delete the given keys (a ctypes array of Key), or every entry when None."""
        if ct_keys is None:
            list(self.items_lookup_and_delete_batch())
            return
        self._sanity_check_keys_values(keys=ct_keys)
        for k in _elems(ct_keys):
            try:
                self.map.delete(k)
            except KeyError:
                raise Exception("BPF_MAP_DELETE_BATCH has failed: %s"
                                % os.strerror(errno.ENOENT))

    def items_update_batch(self, ct_keys, ct_values):
        """Write ct_keys[i] -> ct_values[i] for every i (BPF_MAP_UPDATE_BATCH)."""
        self._sanity_check_keys_values(keys=ct_keys, values=ct_values)
        try:
            self.map.update_batch(list(zip(_elems(ct_keys), _elems(ct_values))))
        except OSError as e:
            raise Exception("BPF_MAP_UPDATE_BATCH has failed: %s"
                            % os.strerror(e.errno)) from e

    def items_lookup_and_delete_batch(self):
        """Yield every (key, value) of the map, removing them as they are read."""
        yield from self._items_lookup_and_optionally_delete_batch(delete=True)

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
        """Set every existing entry to a zeroed Leaf."""
        # take all the keys first: writing values while walking a hash map with
        # get_next_key can move the walk's position and make it run forever
        for key in list(self.keys()):
            self[key] = self.Leaf()

    def __iter__(self):
        return TableBase.Iter(self)

    def keys(self):
        return self.__iter__()

    iter = keys

    class Iter(object):
        """Walks the keys of a table with get_next_key, one call per key."""

        def __init__(self, table):
            self.table = table
            self.key = None

        def __iter__(self):
            return self

        def next(self):
            self.key = self.table.next(self.key)
            return self.key

        __next__ = next

    def next(self, key):
        """The key after ``key`` (the first key for None); StopIteration at the end."""
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
            raw_bucket = getattr(k, bucket_field)
            bucket = bucket_fn(raw_bucket) if bucket_fn else raw_bucket
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
    """BPF_MAP_TYPE_HASH."""

    def __len__(self):
        return sum(1 for _ in self)


class LruHash(HashTable):
    """BPF_MAP_TYPE_LRU_HASH."""


class ArrayBase(TableBase):
    """Maps indexed 0 .. max_entries - 1; every index always exists."""

    def _normalize_key(self, key):
        """An index (int, negative counting from the end, or a ctypes int) as a Key."""
        if isinstance(key, int):
            key = self.Key(key + len(self) if key < 0 else key)
        if not isinstance(key, ct._SimpleCData):
            raise IndexError("Array index must be an integer type")
        if key.value >= len(self):
            raise IndexError("Array index out of range")
        return key

    def __len__(self):
        return self.max_entries

    def __getitem__(self, key):
        return super().__getitem__(self._normalize_key(key))

    def __setitem__(self, key, leaf):
        super().__setitem__(self._normalize_key(key), leaf)

    def __delitem__(self, key):
        super().__delitem__(self._normalize_key(key))

    def clearitem(self, key):
        """Overwrite entry ``key`` with zeros."""
        key = self._normalize_key(key)
        try:
            self.map.update(_b(key), bytes(self.map.vbuf_size))
        except OSError as e:
            raise Exception("Could not clear item") from e

    def __iter__(self):
        return ArrayBase.Iter(self, self.Key)

    class Iter(object):
        """Yields Key(0), Key(1) ... Key(len(table) - 1)."""

        def __init__(self, table, keytype):
            self.table = table
            self.Key = keytype
            self.i = -1

        def __iter__(self):
            return self

        def next(self):
            if self.i + 1 >= len(self.table):
                raise StopIteration()
            self.i += 1
            return self.Key(self.i)

        __next__ = next


class Array(ArrayBase):
    """BPF_MAP_TYPE_ARRAY."""

    def __delitem__(self, key):
        # array slots cannot be removed; deleting one resets it to zero
        self.clearitem(key)


class ProgArray(ArrayBase):
    """BPF_MAP_TYPE_PROG_ARRAY: values are program fds (or BPF.Function objects)."""

    def __setitem__(self, key, leaf):
        if hasattr(leaf, "fd") and hasattr(leaf, "name"):   # BPF.Function
            leaf = leaf.fd
        if isinstance(leaf, int):
            leaf = self.Leaf(leaf)
        super().__setitem__(key, leaf)


class FileDesc:
    """Owns a file descriptor and closes it once; usable with ``with``."""

    def __init__(self, fd):
        if fd is None or fd < 0:
            raise Exception("Invalid file descriptor")
        self.fd = fd

    def clean_up(self):
        fd, self.fd = self.fd, None
        if fd is not None and fd >= 0:
            os.close(fd)

    def __del__(self):
        self.clean_up()

    def __enter__(self, *args, **kwargs):
        return self

    def __exit__(self, *args, **kwargs):
        self.clean_up()


class CgroupArray(ArrayBase):
    """BPF_MAP_TYPE_CGROUP_ARRAY: values are cgroup fds or cgroup directory paths."""

    def __setitem__(self, key, leaf):
        if isinstance(leaf, str):
            # the kernel keeps its own reference: our fd is closed once stored
            with FileDesc(os.open(leaf, os.O_RDONLY | os.O_CLOEXEC)) as cgroup:
                ArrayBase.__setitem__(self, key, self.Leaf(cgroup.fd))
        elif isinstance(leaf, int):
            ArrayBase.__setitem__(self, key, self.Leaf(leaf))
        else:
            raise Exception("Cgroup array key must be either FD or cgroup path")


def _run_callback(fn, *args):
    """Call a user's event callback.  When it fails writing to a closed pipe (the tool's
    output piped into ``head``...) the program ends quietly instead of raising."""
    try:
        return fn(*args)
    except IOError as e:
        if e.errno != errno.EPIPE:
            raise
        raise SystemExit()


class _EventDecoder(object):
    """event(data) support shared by PerfEventArray and RingBuf: the C struct comes from
    the object's BTF (see BPF.event_type / get_table(leaftype=...)); callbacks get the
    record's address in the ring (valid during the callback, as in BCC)."""

    def event(self, data):
        """event(data)

        Decode a perf/ring buffer record (the ``data`` a callback got) as the C struct
        the BPF program submits; see :meth:`bcc_core.bpf.BPF.event_type` for how that
        struct is found."""
        cls = self._event_class
        if cls is None:
            cls = self._event_class = self.bpf._event_class_for(self)
        if type(data) is int and data:  # what callbacks get: the record's address
            return cls.from_address(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return cls.from_buffer_copy(data)
        return cls.from_address(ct.cast(data, ct.c_void_p).value)   # a ctypes pointer

    def _decoder(self, raw):
        if raw:
            return bytes
        cls = self._event_class
        if cls is None:
            cls = self._event_class = self.bpf._event_class_for(self)
        from .events.struct_view import Record
        return cls if isinstance(cls, type) and issubclass(cls, Record) else \
            cls.from_buffer_copy

    def records(self, timeout=None, raw=False, **open_kw):
        """Iterate over the records the BPF program submits, decoded as event() does
        (``raw=True``: their bytes), a batch per wake-up: ``for ev in
        b["events"].records(): ...``.  Waits forever, or with ``timeout`` (ms) stops
        after a wait of that long that brought nothing.  The buffer is opened on first
        use (``open_kw``: open_perf_buffer's page_cnt, lost_cb) unless it is already."""
        while True:
            batch = self.read_records(-1 if timeout is None else timeout, raw, **open_kw)
            if not batch and timeout is not None:
                return
            yield from batch

    def set_event_type(self, cls):
        """Decode event(data) as ``cls``: a struct name in the BTF (a
        :mod:`bcc_core.events.struct_view` record) or a ctypes type (a ctypes structure at the
        record's address, as BCC's event() returns)."""
        if isinstance(cls, (str, bytes)):
            cls = self.bpf._event_class_for(self, cls)
        self._event_class = cls


class PerfEventArray(_EventDecoder, TableBase):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: per-CPU perf buffers or perf counters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_class = None
        self._reader = None
        self._open_key_fds = {}     # cpu -> perf event fd (-1: owned by the reader)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Free the perf buffer / perf events opened on this table."""
        for cpu in list(self._open_key_fds):
            del self[cpu]

    def __len__(self):
        return self.max_entries

    def __iter__(self):
        return ArrayBase.Iter(self, self.Key)

    def __delitem__(self, key):
        if not isinstance(key, int):     # a ctypes int
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
        """open_perf_buffer(callback, page_cnt=8, lost_cb=None)

        Start receiving the records the BPF program writes to this map with
        bpf_perf_event_output: one buffer of ``page_cnt`` pages (a power of two) per
        CPU.  BPF.perf_buffer_poll() then calls ``callback(cpu, data, size)`` for each
        record and ``lost_cb(count)`` when records were dropped; without a
        ``lost_cb``, drops are reported on stderr as BCC does ("Possibly lost N
        samples").
        """
        if page_cnt & (page_cnt - 1):
            raise Exception("Perf buffer page_cnt must be a power of two")
        from .events.perf_buffer import PerfBuffer
        # the callback gets the record's address in the ring (valid during the call, as
        # in BCC); a callback's EPIPE is turned into SystemExit by perf_buffer_poll
        raw_cb_ = callback

        if lost_cb is not None:
            def lost_cb_(cpu, lost):
                _run_callback(lost_cb, lost)
        else:
            def lost_cb_(cpu, lost):
                sys.stderr.write("Possibly lost %d samples\n" % lost)

        try:
            reader = PerfBuffer(self.map, raw_cb_, lost_cb_, page_cnt, addresses=True)
        except OSError as e:
            raise Exception("Could not open perf buffer: %s" % e) from e
        self._reader = reader
        self.bpf._add_perf_reader(reader)
        for r in reader.rings.values():
            self._open_key_fds[r.cpu] = -1
            self._cbs[r.cpu] = (raw_cb_, lost_cb_)

    def read_records(self, timeout=0, raw=False, **open_kw):
        """The batch form of the callbacks: wait up to ``timeout`` ms (-1: forever,
        0: not at all), then return every pending record as a list, decoded as
        event() does (``raw=True``: bytes); see records()."""
        if self._reader is None:
            self.open_perf_buffer(lambda cpu, data, size: None, **open_kw)
        return self._reader.read_records(self._decoder(raw), timeout)

    def _open_perf_event(self, cpu, typ, config):
        from . import _sys
        from ._sys import PERF_EVENT_IOC_ENABLE, PERF_FLAG_FD_CLOEXEC
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

        Open perf counter (``typ``, ``config``) on every online CPU and store it in this
        map, so that the BPF program can read the current CPU's counter with
        ``perf_read``/bpf_perf_event_read.
        """
        for cpu in get_online_cpus():
            self._open_perf_event(cpu, typ, config)


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


class LpmTrie(TableBase):
    """BPF_MAP_TYPE_LPM_TRIE (its size cannot be counted)."""

    def __len__(self):
        raise NotImplementedError


class StackTrace(TableBase):
    """BPF_MAP_TYPE_STACK_TRACE: stack id -> array of addresses (or build-id records
    with BPF_F_STACK_BUILD_ID)."""
    MAX_DEPTH = 127
    BPF_F_STACK_BUILD_ID = 1 << 5
    # status of a struct bpf_stack_build_id entry
    BPF_STACK_BUILD_ID_EMPTY = 0    # no frame here
    BPF_STACK_BUILD_ID_VALID = 1    # build id and offset are set
    BPF_STACK_BUILD_ID_IP = 2       # only a raw address could be taken

    class StackWalker(object):
        """Iterates one stack's frames (passed through ``resolve`` when given) until
        the first empty slot or MAX_DEPTH frames."""

        def __init__(self, stack, flags, resolve=None):
            self.stack = stack
            self.flags = flags
            self.resolve = resolve
            self.n = -1
            frames = stack.trace if flags & StackTrace.BPF_F_STACK_BUILD_ID else stack.ip
            self.depth = min(StackTrace.MAX_DEPTH, len(frames))

        def __iter__(self):
            return self

        def next(self):
            self.n += 1
            if self.n == self.depth:
                raise StopIteration()
            if self.flags & StackTrace.BPF_F_STACK_BUILD_ID:
                frame = self.stack.trace[self.n]
                done = frame.status in (StackTrace.BPF_STACK_BUILD_ID_EMPTY,
                                        StackTrace.BPF_STACK_BUILD_ID_IP)
            else:
                frame = self.stack.ip[self.n]
                done = frame == 0
            if done:
                raise StopIteration()
            return self.resolve(frame) if self.resolve else frame

        __next__ = next

    def walk(self, stack_id, resolve=None):
        """Iterate the frames of stack ``stack_id`` (see StackWalker)."""
        stack = self[self.Key(stack_id)]
        return self.StackWalker(stack, self.flags, resolve)

    def __len__(self):
        return sum(1 for _ in self)

    def clear(self):
        """Does nothing (as in BCC): stack ids are left to the kernel."""


class DevMap(ArrayBase):
    """BPF_MAP_TYPE_DEVMAP."""


class CpuMap(ArrayBase):
    """BPF_MAP_TYPE_CPUMAP."""


class XskMap(ArrayBase):
    """BPF_MAP_TYPE_XSKMAP."""


class MapInMapArray(ArrayBase):
    """BPF_MAP_TYPE_ARRAY_OF_MAPS."""


class MapInMapHash(HashTable):
    """BPF_MAP_TYPE_HASH_OF_MAPS."""


class RingBuf(_EventDecoder, TableBase):
    """BPF_MAP_TYPE_RINGBUF: read with open_ring_buffer() and BPF.ring_buffer_poll()."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_class = None
        self._ringbuf = None

    def __del__(self):
        pass

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def open_ring_buffer(self, callback, ctx=None):
        """open_ring_buffer(callback, ctx=None)

        Start receiving the records the BPF program submits to this ring buffer:
        BPF.ring_buffer_poll() calls ``callback(ctx, data, size)`` for each one.  What
        the callback returns is handed to the reader as an int; a return value that is
        not a number (None, typically) counts as 0.
        """
        ringbuf_cb_ = partial(callback, ctx)   # (addr, size): see RingBuffer

        self.bpf._open_ring_buffer(self.map, ringbuf_cb_, ctx)
        self._cbs[0] = ringbuf_cb_      # held here for as long as the table lives

    def read_records(self, timeout=0, raw=False):
        """The batch form of the callback: wait up to ``timeout`` ms (-1: forever, 0:
        not at all), then every committed record as a list, decoded as event() does
        (``raw=True``: bytes), the consumer position advanced once per batch."""
        if self._ringbuf is None:
            from .events.ringbuf import RingBuffer
            self._ringbuf = RingBuffer().add(self.map, None)
        return self._ringbuf.read_records(self._decoder(raw), timeout)

    def close(self):
        """Release the reader read_records() opened (BPF.cleanup() does it)."""
        if self._ringbuf is not None:
            self._ringbuf.close()
            self._ringbuf = None


class QueueStack:
    """BPF_MAP_TYPE_QUEUE / BPF_MAP_TYPE_STACK: values only, with push/pop/peek."""
    BPF_EXIST = 2       # flag for push(): replace the oldest value when full

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
        """Pop and yield values until the map is empty, at most max_entries of them
        (a program pushing all the time must not keep us here forever)."""
        for _ in range(self.max_entries):
            try:
                leaf = self.pop()
            except KeyError:
                return
            yield leaf

    def values(self):
        return list(self.itervalues())


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
