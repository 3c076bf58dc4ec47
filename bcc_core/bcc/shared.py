"""Tables shared between BPF objects, as BCC shares them: a process-wide registry of the
public tables (BPF_TABLE_PUBLIC, BPF_TABLE_SHARED) that the extern tables of objects
loaded later (``BPF_TABLE("extern", ...)``) use -- the first object's map fd handed to
the second one's loader -- and the bpffs paths of pinned tables (BPF_TABLE_PINNED: the
map pinned there, or a new one pinned there).

bcc_core.compat marks such maps with a BTF decl tag on the map variable
(``bcc:public``, ``bcc:shared``, ``bcc:extern``, ``bcc:pinned:PATH``); objects compiled
otherwise can say the same with ``__attribute__((btf_decl_tag("bcc:public")))``.
"""
import weakref

from .. import btf as _btf
from ..errors import LoadError

TAG = "bcc:"
_public = {}        # table name -> (weak reference to the owning BPF, its load.map.Map)


def map_tags(spec):
    """{map name: tag without "bcc:"} of the object's .maps variables."""
    raw = getattr(spec, "btf", None)
    if not raw or TAG.encode() not in raw:
        return {}
    b = _btf.BTF(raw, where="%s:.BTF" % (spec.path or spec.name))
    tags = {}
    for t in b.types():
        if t.kind != _btf.KIND_DECL_TAG or not t.name.startswith(TAG) or \
                t.component_idx != -1:
            continue
        var = b.type(t.type)
        if var.kind == _btf.KIND_VAR:
            tags[var.name] = t.name[len(TAG):]
    return tags


def public_map(name):
    """The public table ``name`` of a BPF object still open in this process, or None."""
    entry = _public.get(name)
    if entry is None:
        return None
    owner, m = entry
    if owner() is None or m.fd is None or m.fd < 0:
        del _public[name]
        return None
    return m


def share_options(spec, reuse_maps=None):
    """(reuse_maps, pin_maps, public table names) for loading ``spec``: the extern
    tables' fds from the registry, the pinned tables' paths; maps the caller passed
    in ``reuse_maps`` stay as given."""
    reuse = dict(reuse_maps or {})
    pins, public = {}, []
    for name, tag in sorted(map_tags(spec).items()):
        if name in reuse:
            continue
        if tag == "extern":
            m = public_map(name)
            if m is None:
                raise LoadError(
                    "BPF_TABLE(\"extern\", ..., %s, ...): no public table '%s' in this "
                    "process (declare it with BPF_TABLE_PUBLIC or BPF_TABLE_SHARED in a "
                    "BPF object loaded before, and keep that object open)" % (name, name))
            reuse[name] = m.fd
        elif tag in ("public", "shared"):
            public.append(name)
        elif tag.startswith("pinned:"):
            pins[name] = tag[len("pinned:"):]
    return reuse, pins, public


def publish(bpf, names):
    """Register the public tables ``names`` of BPF object ``bpf`` (the last one loaded
    under a name is the one extern tables get, as a later BCC module's would be)."""
    for name in names:
        _public[name] = (weakref.ref(bpf), bpf._obj.maps[name])


def withdraw(bpf):
    """Forget the public tables of ``bpf`` (closed): extern tables of objects loaded
    from now on no longer find them; objects already using them keep their fds."""
    for name, (owner, _m) in list(_public.items()):
        if owner() is bpf or owner() is None:
            del _public[name]
