"""C++ symbol demangling as libbcc does it (``abi::__cxa_demangle``): through the C++
runtime's own demangler (libstdc++, loaded on first use with ctypes).  A name that is not
a mangled C++ name, or a system without libstdc++, gives the name back unchanged."""
import ctypes
import ctypes.util

_impl = []


def _load():
    """(__cxa_demangle, free) or None."""
    for name in ("libstdc++.so.6", ctypes.util.find_library("stdc++")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            fn = lib.__cxa_demangle
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_void_p
        fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                       ctypes.POINTER(ctypes.c_int)]
        libc = ctypes.CDLL(None)
        libc.free.argtypes = [ctypes.c_void_p]
        libc.free.restype = None
        return fn, libc.free
    return None


def demangle(name):
    """The demangled form of ``name`` (bytes), or ``name`` itself."""
    if not name or not name.startswith(b"_Z"):
        return name
    if not _impl:
        _impl.append(_load())
    if _impl[0] is None:
        return name
    fn, free = _impl[0]
    status = ctypes.c_int(0)
    p = fn(name, None, None, ctypes.byref(status))
    if not p:
        return name
    try:
        return ctypes.string_at(p) if status.value == 0 else name
    finally:
        free(p)
