"""BPF maps: create, look up, update, delete, iterate (and batch where the kernel has it)."""
import errno
import os

from .. import _sys
from .._sys import ffi
from ..errors import LoadError, syscall_error

# map types (enum bpf_map_type)
(UNSPEC, HASH, ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, PERCPU_HASH, PERCPU_ARRAY, STACK_TRACE,
 CGROUP_ARRAY, LRU_HASH, LRU_PERCPU_HASH, LPM_TRIE, ARRAY_OF_MAPS, HASH_OF_MAPS, DEVMAP,
 SOCKMAP, CPUMAP, XSKMAP, SOCKHASH, CGROUP_STORAGE, REUSEPORT_SOCKARRAY,
 PERCPU_CGROUP_STORAGE, QUEUE, STACK, SK_STORAGE, DEVMAP_HASH, STRUCT_OPS, RINGBUF,
 INODE_STORAGE, TASK_STORAGE, BLOOM_FILTER, USER_RINGBUF, CGRP_STORAGE, ARENA) = range(34)

TYPE_NAMES = ["unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
              "percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash",
              "lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap",
              "xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
              "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
              "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
              "user_ringbuf", "cgrp_storage", "arena"]

PERCPU_TYPES = (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE)
# map types that take no BTF key/value ids (libbpf creates them without)
_NO_BTF_KV = (PERF_EVENT_ARRAY, CGROUP_ARRAY, STACK_TRACE, ARRAY_OF_MAPS, HASH_OF_MAPS,
              DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP, SOCKMAP, SOCKHASH, QUEUE, STACK,
              RINGBUF, PROG_ARRAY, REUSEPORT_SOCKARRAY, USER_RINGBUF)

ANY, NOEXIST, EXIST = 0, 1, 2
F_RDONLY_PROG = 0x80
F_MMAPABLE = 0x400

_ncpus = None


def possible_cpus():
    """CPU ids in /sys/devices/system/cpu/possible ("0-3,5")."""
    global _ncpus
    if _ncpus is None:
        with open("/sys/devices/system/cpu/possible") as f:
            spec = f.read().strip()
        cpus = []
        for part in spec.split(","):
            if "-" in part:
                a, b = part.split("-")
                cpus.extend(range(int(a), int(b) + 1))
            elif part:
                cpus.append(int(part))
        _ncpus = cpus
    return _ncpus


def nr_possible_cpus():
    return max(possible_cpus()) + 1


def map_name(name):
    """The kernel accepts [A-Za-z0-9_.] in 15 bytes."""
    out = "".join(c if (c.isalnum() and c.isascii()) or c in "_." else "_" for c in name)
    return out[:15]


def create(spec, btf_fd=0, inner_fd=0, kernel_name=None, what=None):
    """Create the map described by a MapSpec; returns the fd."""
    a = _sys.new_attr()
    c = a.map_create
    c.map_type = spec.type
    c.key_size = spec.key_size
    c.value_size = spec.value_size
    c.max_entries = spec.max_entries
    c.map_flags = spec.map_flags
    c.numa_node = spec.numa_node
    c.map_extra = spec.map_extra
    c.inner_map_fd = inner_fd
    nm = map_name(kernel_name or spec.name).encode()
    ffi.memmove(c.map_name, nm, len(nm))
    if btf_fd and spec.type not in _NO_BTF_KV and (spec.btf_value_type_id or
                                                   spec.btf_key_type_id):
        c.btf_fd = btf_fd
        c.btf_key_type_id = spec.btf_key_type_id
        c.btf_value_type_id = spec.btf_value_type_id
    what = what or "map '%s' (%s)" % (spec.name, TYPE_NAMES[spec.type]
                                      if spec.type < len(TYPE_NAMES) else spec.type)
    ret, err = _sys.bpf_errno(_sys.BPF_MAP_CREATE, a)
    if ret < 0 and c.btf_fd:
        # like libbpf: retry without BTF type information
        c.btf_fd = c.btf_key_type_id = c.btf_value_type_id = 0
        ret, err = _sys.bpf_errno(_sys.BPF_MAP_CREATE, a)
    if ret < 0:
        e = syscall_error(err, "BPF_MAP_CREATE", what)
        raise LoadError("cannot create %s: %s" % (what, os.strerror(err))) from e
    return ret


class Map:
    """A map in the kernel.  Keys and values are bytes at this level; the BCC facade
    adds ctypes types on top.  ``btf``/``key_type_id``/``value_type_id`` describe them."""

    def __init__(self, name, fd, type, key_size, value_size, max_entries, map_flags=0,
                 btf=None, key_type_id=0, value_type_id=0):
        self.name, self.fd, self.type = name, fd, type
        self.key_size, self.value_size = key_size, value_size
        self.max_entries, self.map_flags = max_entries, map_flags
        self.btf, self.key_type_id, self.value_type_id = btf, key_type_id, value_type_id
        self.percpu = type in PERCPU_TYPES
        if self.percpu:
            self.ncpus = nr_possible_cpus()
            self.stride = (value_size + 7) // 8 * 8
            self.vbuf_size = self.stride * self.ncpus
        else:
            self.ncpus, self.stride, self.vbuf_size = 1, value_size, value_size
        self._attr = _sys.new_attr()
        self._kbuf = ffi.new("char[]", max(key_size, 1))
        self._kbuf2 = ffi.new("char[]", max(key_size, 1))
        self._vbuf = ffi.new("char[]", max(self.vbuf_size, 1))

    def __repr__(self):
        return "<Map %s %s fd=%s>" % (self.name, TYPE_NAMES[self.type]
                                      if self.type < len(TYPE_NAMES) else self.type, self.fd)

    def _what(self):
        return "map '%s'" % self.name

    def _key(self, key, buf=None):
        buf = buf or self._kbuf
        if key is None:
            return ffi.NULL
        if isinstance(key, int):
            key = key.to_bytes(self.key_size, "little")
        key = bytes(key)
        if len(key) != self.key_size:
            raise ValueError("%s: key is %d bytes, expected %d"
                             % (self._what(), len(key), self.key_size))
        ffi.memmove(buf, key, len(key))
        return buf

    def _elem(self, cmd, key_ptr, value_ptr, flags=0):
        """One BPF_MAP_*_ELEM command: True on success, False on ENOENT."""
        e = self._attr.elem
        e.map_fd = self.fd
        e.key = key_ptr
        e.value = value_ptr
        e.flags = flags
        ret, err = _sys.bpf_errno(cmd, self._attr)
        if ret >= 0:
            return True
        if err == errno.ENOENT:
            return False
        raise syscall_error(err, _sys.CMD_NAMES[cmd], self._what())

    def _key_ptr(self, key):
        return _sys.ptr(self._key(key)) if self.key_size and key is not None else 0

    def lookup(self, key, flags=0):
        """Value bytes (per-CPU maps: all CPUs' values concatenated, 8-byte strided),
        or None when the key is absent."""
        if not self._elem(_sys.BPF_MAP_LOOKUP_ELEM, self._key_ptr(key),
                          _sys.ptr(self._vbuf), flags):
            return None
        return ffi.buffer(self._vbuf, self.vbuf_size)[:]

    def update(self, key, value, flags=ANY):
        if isinstance(value, int):
            value = value.to_bytes(self.value_size, "little")
        value = bytes(value)
        if len(value) != self.vbuf_size:
            raise ValueError("%s: value is %d bytes, expected %d"
                             % (self._what(), len(value), self.vbuf_size))
        ffi.memmove(self._vbuf, value, len(value))
        if not self._elem(_sys.BPF_MAP_UPDATE_ELEM, self._key_ptr(key),
                          _sys.ptr(self._vbuf), flags):
            raise syscall_error(errno.ENOENT, "BPF_MAP_UPDATE_ELEM", self._what())

    def delete(self, key):
        """Delete a key; raises KeyError if absent."""
        if not self._elem(_sys.BPF_MAP_DELETE_ELEM, self._key_ptr(key), 0):
            raise KeyError(key)

    def next_key(self, key=None):
        """The key after ``key`` (the first key when None), or None at the end."""
        if not self._elem(_sys.BPF_MAP_GET_NEXT_KEY, self._key_ptr(key),
                          _sys.ptr(self._kbuf2)):
            return None
        return ffi.buffer(self._kbuf2, self.key_size)[:]

    def keys(self):
        k = self.next_key(None)
        while k is not None:
            yield k
            k = self.next_key(k)

    def items(self):
        for k in list(self.keys()):
            v = self.lookup(k)
            if v is not None:
                yield k, v

    def lookup_batch(self, delete=False, chunk=256):
        """All (key, value) pairs through BPF_MAP_LOOKUP_BATCH (or ..._AND_DELETE_BATCH).
        Raises NotSupportedError-like SyscallError(EINVAL/ENOTSUPP) where unsupported."""
        cmd = _sys.BPF_MAP_LOOKUP_AND_DELETE_BATCH if delete else _sys.BPF_MAP_LOOKUP_BATCH
        keys = ffi.new("char[]", self.key_size * chunk)
        vals = ffi.new("char[]", self.vbuf_size * chunk)
        token_in = ffi.new("char[]", max(self.key_size, 8))
        token_out = ffi.new("char[]", max(self.key_size, 8))
        out = []
        first = True
        while True:
            a = _sys.new_attr()
            b = a.batch
            b.in_batch = 0 if first else _sys.ptr(token_in)
            b.out_batch = _sys.ptr(token_out)
            b.keys = _sys.ptr(keys)
            b.values = _sys.ptr(vals)
            b.count = chunk
            b.map_fd = self.fd
            ret, err = _sys.bpf_errno(cmd, a)
            n = b.count
            kb = ffi.buffer(keys, self.key_size * n)[:]
            vb = ffi.buffer(vals, self.vbuf_size * n)[:]
            for i in range(n):
                out.append((kb[i * self.key_size:(i + 1) * self.key_size],
                            vb[i * self.vbuf_size:(i + 1) * self.vbuf_size]))
            if ret < 0:
                if err == errno.ENOENT:
                    return out
                raise syscall_error(err, _sys.CMD_NAMES[cmd], self._what())
            ffi.memmove(token_in, ffi.buffer(token_out), len(ffi.buffer(token_out)))
            first = False

    def update_batch(self, pairs, flags=ANY):
        pairs = list(pairs)
        if not pairs:
            return
        keys = b"".join(bytes(k) for k, _ in pairs)
        vals = b"".join(bytes(v) for _, v in pairs)
        kb = ffi.from_buffer(keys)
        vb = ffi.from_buffer(vals)
        a = _sys.new_attr()
        b = a.batch
        b.keys = _sys.ptr(kb)
        b.values = _sys.ptr(vb)
        b.count = len(pairs)
        b.map_fd = self.fd
        b.elem_flags = flags
        _sys.bpf(_sys.BPF_MAP_UPDATE_BATCH, a, self._what())

    def freeze(self):
        a = _sys.new_attr()
        a.elem.map_fd = self.fd
        _sys.bpf(_sys.BPF_MAP_FREEZE, a, self._what())

    def pin(self, path):
        p = ffi.new("char[]", path.encode())
        a = _sys.new_attr()
        a.obj.pathname = _sys.ptr(p)
        a.obj.bpf_fd = self.fd
        _sys.bpf(_sys.BPF_OBJ_PIN, a, "%s at %s" % (self._what(), path))

    def percpu_values(self, raw):
        """Split a per-CPU lookup result into one bytes value per possible CPU."""
        return [raw[i * self.stride:i * self.stride + self.value_size]
                for i in range(self.ncpus)]

    def close(self):
        if self.fd is not None and self.fd >= 0:
            _sys.close(self.fd)
        self.fd = -1


def obj_get(path):
    p = ffi.new("char[]", path.encode())
    a = _sys.new_attr()
    a.obj.pathname = _sys.ptr(p)
    return _sys.bpf(_sys.BPF_OBJ_GET, a, path)


class MapInfo:
    """What the kernel says of a map fd (BPF_OBJ_GET_INFO_BY_FD): type, sizes, flags,
    name, id -- of a map created elsewhere (a pinned or another object's map)."""

    def __init__(self, fd):
        import struct
        buf = ffi.new("char[]", 96)
        a = _sys.new_attr()
        a.info.bpf_fd = fd
        a.info.info_len = 96
        a.info.info = _sys.ptr(buf)
        _sys.bpf(_sys.BPF_OBJ_GET_INFO_BY_FD, a, "map fd %d" % fd)
        raw = ffi.buffer(buf, 96)[:]
        (self.type, self.id, self.key_size, self.value_size, self.max_entries,
         self.map_flags) = struct.unpack_from("<6I", raw)
        self.name = raw[24:40].split(b"\0", 1)[0].decode("ascii", "replace")


def fd_info_id(fd):
    """Kernel id of a bpf object fd (map, program, link or BTF), from /proc fdinfo."""
    try:
        with open("/proc/self/fdinfo/%d" % fd) as f:
            for line in f:
                if line.startswith(("map_id:", "prog_id:", "link_id:", "btf_id:")):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
