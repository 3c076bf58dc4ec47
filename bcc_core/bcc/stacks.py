"""The stack trace table (STACK_TRACE: stack id -> addresses) and the value-only queue
and stack tables (QUEUE, STACK: push/pop/peek)."""
import os

from ..load import map as _map
from .table_base import TableBase, _b, _scan


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
        from .. import _sys
        from .._sys import ffi
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
        from .. import _sys
        leaf = self._pop_or_peek(_sys.BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        if leaf is None:
            raise KeyError("Could not pop from table")
        return leaf

    def peek(self):
        from .. import _sys
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
