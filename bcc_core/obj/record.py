"""The format of bcc-core's on-disk caches (object specs, CO-RE decisions, kernel BTF
lookups): marshal, with bcc-core's own objects stored as records.

marshal is built into the interpreter and already loaded at start-up; the C pickle
module is not, and importing it brings copyreg, _compat_pickle, functools, collections,
operator, keyword and reprlib -- eight more modules on every warm start, which is what
the caches exist to make cheap.  Plain data (None, bool, int, float, str, bytes, tuple,
list, dict, set) is stored as is.  An instance of a ``bcc_core`` class becomes the tuple
``(..., "module:Class", state, nested)``: ``state`` is its ``__dict__`` or its
``__slots__`` values, ``nested`` names the fields that hold more such objects, so
loading revives those and leaves the plain data (instructions, line info) untouched.
The marshal format belongs to the interpreter version: callers put
:data:`FORMAT` in their cache keys."""
import marshal
import os
import sys

FORMAT = "m%d%d" % sys.version_info[:2]
_PREFIX = __name__.split(".", 1)[0] + "."      # "bcc_core.": any of its sub-packages


def stamp(*paths):
    """A number that changes when any of ``paths`` (the source files whose code shapes a
    cache's contents) is edited: cache keys include it, so stale entries are not read."""
    h = 0
    for i, p in enumerate(paths):
        st = os.stat(p)
        h ^= (int(st.st_mtime) ^ st.st_size) << i
    return h


def dumps(obj):
    return marshal.dumps(_flatten(obj)[0], 4)


def loads(blob):
    return _revive(marshal.loads(blob))


def _flatten(v):
    """(marshal-able form of v, whether it holds bcc-core objects)."""
    t = type(v)
    if t in (list, tuple):
        items = [_flatten(x) for x in v]
        return t(x for x, _ in items), any(o for _, o in items)
    if t is dict:
        items = {k: _flatten(x) for k, x in v.items()}
        return {k: x for k, (x, _) in items.items()}, any(o for _, o in items.values())
    mod = getattr(t, "__module__", "")
    if not mod.startswith(_PREFIX):
        return v, False             # marshal itself refuses what it cannot store
    slots = t.__dict__.get("__slots__")
    if slots is not None:
        values = [_flatten(getattr(v, s, None)) for s in slots]
        state = tuple(x for x, _ in values)
        nested = tuple(i for i, (_, o) in enumerate(values) if o)
    else:
        values = {k: _flatten(x) for k, x in vars(v).items()}
        state = {k: x for k, (x, _) in values.items()}
        nested = tuple(k for k, (_, o) in values.items() if o)
    return (..., "%s:%s" % (mod, t.__qualname__), state, nested), True


_classes = {}


def _class(name):
    cls = _classes.get(name)
    if cls is None:
        mod, qual = name.split(":")
        if not mod.startswith(_PREFIX):
            raise ValueError("not a bcc-core class: %s" % name)
        __import__(mod)
        cls = sys.modules[mod]
        for part in qual.split("."):
            cls = getattr(cls, part)
        _classes[name] = cls
    return cls


def _revive(v):
    t = type(v)
    if t is tuple and v and v[0] is ...:
        _, name, state, nested = v
        cls = _class(name)
        obj = cls.__new__(cls)
        if type(state) is dict:
            for k in nested:
                state[k] = _revive(state[k])
            obj.__dict__.update(state)
        else:
            if nested:
                state = list(state)
                for i in nested:
                    state[i] = _revive(state[i])
            for s, x in zip(cls.__slots__, state):
                object.__setattr__(obj, s, x)
        return obj
    if t is list:
        return [_revive(x) for x in v]
    if t is tuple:
        return tuple(_revive(x) for x in v)
    if t is dict:
        return {k: _revive(x) for k, x in v.items()}
    return v
