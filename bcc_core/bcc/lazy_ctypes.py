"""ctypes, imported when first used (a tool that only reads events never needs it), and
attributes holding ctypes types made or looked up on first use."""


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


class _class_attr_once(object):
    """A class attribute computed on first use (ctypes types: ctypes is imported only
    by what needs it), then stored on the class in place of this descriptor."""

    def __init__(self, make):
        self.make = make

    def __get__(self, obj, cls):
        value = self.make()
        setattr(cls, self.make.__name__, value)
        return value
