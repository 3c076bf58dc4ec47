"""The on-disk cache of parsed objects: :func:`load_spec`.

A spec depends only on the object file, so it is cached keyed by the file's content hash.
A warm start reads the cached spec and never imports the ELF parser
(:mod:`bcc_core.obj.elf`) or pyelftools.
"""
import os

from .. import btf as _btf
from ..errors import ELFError
from . import record as _record
from .spec import object_name

# a changed parser or data model invalidates the cached specs (7: the classes moved to
# bcc_core.obj.spec)
SPEC_VERSION = 8
_HERE = os.path.dirname(__file__)
_PARSER = os.path.join(_HERE, "elf.py")
_MODEL = os.path.join(_HERE, "spec.py")


def load_spec(path=None, data=None, cache=True):
    """ObjectSpec for a file (or bytes), from the on-disk cache when the same content was
    parsed before.  The cache is keyed by the content hash and bcc-core's spec version."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ELFError("cannot open: %s" % e.strerror, path) from None
    path = path or "<memory>"
    key = _btf.content_key(data)
    if not cache:
        spec = _parse(data, path)
        spec.key = key
        return spec
    cpath = os.path.join(_btf.cache_dir(), "obj-%d-%x-%s.%s" % (
        SPEC_VERSION, _record.stamp(_PARSER, _MODEL), key, _record.FORMAT))
    try:
        with open(cpath, "rb") as f:
            spec = _record.loads(f.read())
        spec.path, spec.name = path, object_name(path)
        spec.key = key
        return spec
    except Exception:
        pass
    spec = _parse(data, path)
    spec.key = key
    try:
        os.makedirs(_btf.cache_dir(), exist_ok=True)
        tmp = cpath + ".%d" % os.getpid()
        with open(tmp, "wb") as f:
            f.write(_record.dumps(spec))
        os.replace(tmp, cpath)
    except OSError:
        pass
    from ..btf.cache import written
    written()
    return spec


def _parse(data, path):
    from .elf import parse      # the parser and pyelftools: only on a cache miss
    return parse(data, path)
