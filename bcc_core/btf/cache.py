"""bcc-core's on-disk cache: where it is, and keeping it bounded.

What lives there (each keyed by content hashes, so an entry is never stale, only
unused): kernel BTF indexes (``btf-*.idx``), parsed object specs (``obj-*``), CO-RE
decisions per object and kernel (``core-*``, ``kfind-*``), and the compat shim's
headers and objects (``compat/include-*/``, ``compat/prelude-*/``, ``compat/obj/``).

Where: ``$BCC_CORE_CACHE_DIR`` (or the older ``$BCC_CORE_CACHE``), else
``$XDG_CACHE_HOME/bcc-core``, else ``~/.cache/bcc-core``.

Bound: after bcc-core writes an entry (once per process at most), entries unused for
``$BCC_CORE_CACHE_MAX_AGE`` days (default 30) are removed, then the least recently used
ones until the whole is under ``$BCC_CORE_CACHE_MAX`` (default 256M; K/M/G suffixes)
and ``$BCC_CORE_CACHE_MAX_ENTRIES`` entries (default 2000).
Entries written or used in the last minute are never removed (another process may be
about to read them).  ``bcc-core cache`` shows the cache; ``--clear`` empties it.
"""
import os
import shutil
import time

DEFAULT_MAX = 256 << 20
DEFAULT_MAX_ENTRIES = 2000
DEFAULT_MAX_AGE_DAYS = 30
KEEP_RECENT = 60.0          # seconds
_pruned = []                # once per process


def cache_dir():
    d = os.environ.get("BCC_CORE_CACHE_DIR") or os.environ.get("BCC_CORE_CACHE")
    if not d:
        d = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                         os.path.join(os.path.expanduser("~"), ".cache"), "bcc-core")
    return d


def _size(text, default):
    if not text:
        return default
    text = text.strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    try:
        return int(float(text.rstrip("KMG")) * mult)
    except ValueError:
        return default


def limits():
    """(max bytes, max age in seconds, max entries) from the environment."""
    try:
        days = float(os.environ.get("BCC_CORE_CACHE_MAX_AGE") or DEFAULT_MAX_AGE_DAYS)
    except ValueError:
        days = DEFAULT_MAX_AGE_DAYS
    try:
        n = int(os.environ.get("BCC_CORE_CACHE_MAX_ENTRIES") or DEFAULT_MAX_ENTRIES)
    except ValueError:
        n = DEFAULT_MAX_ENTRIES
    return _size(os.environ.get("BCC_CORE_CACHE_MAX"), DEFAULT_MAX), days * 86400, n


def _stat(path):
    st = os.stat(path)
    return st.st_size, max(st.st_atime, st.st_mtime)


def entries(d=None):
    """[(path, bytes, last used)]: files at the top and in compat/obj, and each
    compat/<kind>-<hash> directory as one entry."""
    d = d or cache_dir()
    out = []

    def files(where):
        try:
            it = list(os.scandir(where))
        except OSError:
            return
        for e in it:
            try:
                if e.is_file(follow_symlinks=False):
                    out.append((e.path,) + _stat(e.path))
            except OSError:
                pass
    files(d)
    files(os.path.join(d, "compat", "obj"))
    try:
        subs = list(os.scandir(os.path.join(d, "compat")))
    except OSError:
        subs = []
    for e in subs:
        if e.name == "obj" or not e.is_dir(follow_symlinks=False):
            continue
        size, used = 0, 0.0
        for f in os.scandir(e.path):
            try:
                s, u = _stat(f.path)
            except OSError:
                continue
            size, used = size + s, max(used, u)
        out.append((e.path, size, used))
    return out


def _remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return True
    except OSError:
        return False


def prune(max_bytes=None, max_age=None, max_entries=None, d=None, now=None):
    """Remove what is too old, then the least recently used entries while the cache is
    over ``max_bytes`` or ``max_entries``.  Returns (entries removed, bytes freed)."""
    lim_bytes, lim_age, lim_n = limits()
    max_bytes = lim_bytes if max_bytes is None else max_bytes
    max_age = lim_age if max_age is None else max_age
    max_entries = lim_n if max_entries is None else max_entries
    now = time.time() if now is None else now
    ents = sorted(entries(d), key=lambda e: e[2])        # least recently used first
    total, count = sum(e[1] for e in ents), len(ents)
    removed = freed = 0
    for path, size, used in ents:
        if now - used < KEEP_RECENT:
            break
        if now - used <= max_age and total <= max_bytes and count <= max_entries:
            break           # the rest are newer: nothing more to do
        if _remove(path):
            removed, freed, total, count = removed + 1, freed + size, total - size, count - 1
    return removed, freed


def written():
    """Called after bcc-core writes a cache entry: prune, once per process."""
    if _pruned:
        return
    _pruned.append(True)
    try:
        prune()
    except OSError:
        pass


def clear(d=None):
    """Remove everything in the cache; returns (entries removed, bytes freed)."""
    ents = entries(d)
    n = freed = 0
    for path, size, _ in ents:
        if _remove(path):
            n, freed = n + 1, freed + size
    return n, freed


def usage(d=None):
    """(entries, bytes)."""
    ents = entries(d)
    return len(ents), sum(e[1] for e in ents)
