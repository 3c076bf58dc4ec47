"""BCC's bytes/str conventions: command-line strings meet kernel and probe data as bytes
in the file system's encoding.  The names are BCC's ``bcc.utils`` ones and
:mod:`bcc_core.utils` re-exports them; they live in this leaf so that the symbol helpers
(:mod:`bcc_core.symbols`, which utils re-exports in turn) can use them too."""
import sys

FILESYSTEMENCODING = sys.getfilesystemencoding()


class ArgString(object):
    """ArgString(arg)

    Wraps a command-line string so that ``bytes(x)`` gives it in the file system's
    encoding: command-line filters are then compared with kernel or probe data as
    bytes, without decoding that data."""

    def __init__(self, arg):
        self.s = arg

    def __bytes__(self):
        return self.s.encode(FILESYSTEMENCODING)

    def __str__(self):
        return self.s


_strict_bytes = False


def _assert_is_bytes(arg):
    """None and bytes pass unchanged; a str becomes bytes in the file system encoding
    (or, with ``_strict_bytes`` set, anything but bytes fails an assertion)."""
    if arg is None or type(arg) is bytes:
        return arg
    assert not _strict_bytes, "not a bytes object: %r" % arg
    return bytes(ArgString(arg))


def _str(arg):
    """bytes or str -> str (the facade works on str internally)."""
    if isinstance(arg, bytes):
        return arg.decode(FILESYSTEMENCODING, "surrogateescape")
    if isinstance(arg, ArgString):
        return str(arg)
    return arg
