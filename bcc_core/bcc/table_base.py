"""The table classes of plain maps (BCC's bcc/table.py): TableBase, a map seen as a dict
of ctypes Key -> Leaf, and the hash, array, LPM trie, prog/cgroup/dev/cpu/xsk and
map-in-map tables on it."""
import errno
import os

# the C halves of collections.abc: that module pulls in collections, keyword, operator
# and reprlib, a measurable share of a tool's start
try:
    from _collections_abc import MutableMapping
except ImportError:     # not CPython
    from collections.abc import MutableMapping

from ..load import map as _map
from .hist import Histograms
from .lazy_ctypes import _ctype_attr, ct


def _b(obj):
    """The bytes of a ctypes object (or bytes/int passthrough for Map)."""
    if isinstance(obj, (bytes, int)) or obj is None:
        return obj
    return ct.string_at(ct.addressof(obj), ct.sizeof(obj))


def _element(cls, raw):
    """``raw`` as an element of a ctypes array of ``cls``, as BCC's batch calls yield
    them: a Python int for simple types (sortable, equal to ints), else the object."""
    return (cls * 1).from_buffer_copy(raw)[0]


def _elems(arr):
    """The bytes of each element of a ctypes array (iterating gives Python ints for
    arrays of simple types, so slice the raw buffer instead)."""
    raw = _b(arr)
    n = ct.sizeof(arr._type_)
    return [raw[i * n:(i + 1) * n] for i in range(len(arr))]



class TableBase(Histograms, MutableMapping):
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

    def items_dicts(self):
        """The entries as plain data for JSON: [{"key": K, "value": V}], each decoded
        from the map's BTF key and value types (see :mod:`bcc_core.btf.values`; a map
        without BTF types gives its ctypes values the same way)."""
        m = self.map
        btf = getattr(m, "btf", None)
        if btf is not None and m.key_type_id and m.value_type_id:
            from ..btf.values import decoder
            kd, vd = decoder(btf, m.key_type_id), decoder(btf, m.value_type_id)
            if self.ttype in (5, 6, 10):        # per-CPU: one value per CPU
                return [{"key": kd(bytes(k)), "value": [x if isinstance(x, int) else
                                                         vd(bytes(x)) for x in v]}
                        for k, v in self.items()]
            return [{"key": kd(bytes(k)), "value": vd(bytes(v))} for k, v in self.items()]
        from ..btf.values import ctypes_value
        return [{"key": ctypes_value(k), "value": ctypes_value(v)} for k, v in self.items()]

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
            yield (_element(self.Key, k), self._batch_leaf(v))

    def _leaf_from(self, raw):
        return self.Leaf.from_buffer_copy(raw)

    def _batch_leaf(self, raw):
        return _element(self.Leaf, raw)

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



class LpmTrie(TableBase):
    """BPF_MAP_TYPE_LPM_TRIE (its size cannot be counted)."""

    def __len__(self):
        raise NotImplementedError

    def _key_bytes(self, key):
        # a ctypes key shorter than the trie's (BCC's test keys: 4 address bytes for a
        # u32 data[4] key) is what BCC hands the kernel too -- a pointer to it, of
        # which the trie reads the first prefixlen bits: zero-filled to the key's size
        raw = TableBase._key_bytes(self, key)
        if isinstance(raw, bytes) and len(raw) < self.map.key_size and \
                not isinstance(key, (bytes, int)):
            raw += bytes(self.map.key_size - len(raw))
        return raw


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
