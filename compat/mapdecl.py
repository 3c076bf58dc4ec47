"""BCC's map declarations -> libbpf BTF-defined maps (a mixin of
:class:`.translate.Translator`), and the methods of the map kinds that are not plain
key/value tables (local storage, XDP redirect maps, sockmaps).

The prelude turns every BCC map macro into ``struct __bcc_map__NAME { K *key; V *value; }
NAME = { "KIND", SIZE, FLAGS }``; KIND is BCC's table type string, with BCC's own
suffixes: ``"hash_of_maps$INNER"`` (map-in-map: INNER names the template map),
``"hash:/sys/fs/bpf/PATH"`` (BPF_TABLE_PINNED) and the prelude's ``"array@public"`` /
``"array@shared"`` (BPF_TABLE_PUBLIC/SHARED).  How a map is shared between objects is
told to the facade by a BTF decl tag on the map variable (``bcc:public``,
``bcc:shared``, ``bcc:extern``, ``bcc:pinned:PATH``), which libbpf ignores.
"""
from pycparser import c_ast

from .typemodel import Prim, Ptr, Rec, MAP_TYPES, MapDecl
from .tnodes import R, _call, _strip_declname

# kinds whose key and value are 4-byte slots (fds, program or cgroup indexes)
_FD_SLOTS = ("perf_output", "perf_array", "prog", "cgroup_array")
# local storage: no max_entries, BPF_F_NO_PREALLOC, key and value types (BTF required)
_STORAGE = ("sk_storage", "inode_storage", "task_storage")
_NO_MAX_ENTRIES = _STORAGE + ("cgroup_storage", "percpu_cgroup_storage", "perf_output")
SHARE_TAG = "bcc:"

# method -> (helper, argument order): "m" is &map, numbers index the call's arguments
_KIND_METHODS = {
    "sk_storage_get": ("bpf_sk_storage_get", ("m", 0, 1, 2), "value"),
    "sk_storage_delete": ("bpf_sk_storage_delete", ("m", 0), None),
    "inode_storage_get": ("bpf_inode_storage_get", ("m", 0, 1, 2), "value"),
    "inode_storage_delete": ("bpf_inode_storage_delete", ("m", 0), None),
    "task_storage_get": ("bpf_task_storage_get", ("m", 0, 1, 2), "value"),
    "task_storage_delete": ("bpf_task_storage_delete", ("m", 0), None),
    "get_local_storage": ("bpf_get_local_storage", ("m", 0), "value"),
    "redirect_map": ("bpf_redirect_map", ("m", 0, 1), None),
    "sock_map_update": ("bpf_sock_map_update", (0, "m", 1, 2), None),
    "sock_hash_update": ("bpf_sock_hash_update", (0, "m", 1, 2), None),
    "msg_redirect_hash": ("bpf_msg_redirect_hash", (0, "m", 1, 2), None),
    "sk_redirect_hash": ("bpf_sk_redirect_hash", (0, "m", 1, 2), None),
    "msg_redirect_map": ("bpf_msg_redirect_map", (0, "m", 1, 2), None),
    "sk_redirect_map": ("bpf_sk_redirect_map", (0, "m", 1, 2), None),
}


def split_kind(kind):
    """BCC's table type string -> (kind, inner map name, pin path, share scope)."""
    share = None
    base, at, scope = kind.rpartition("@")
    if at and scope in ("public", "shared"):
        kind, share = base, scope
    kind, _, inner = kind.partition("$")
    kind, _, pin = kind.partition(":")
    return kind.strip(), inner.strip() or None, pin.strip() or None, share


class MapDecls:
    """Map declarations (the translator keeps each map's BTF definition body, the
    template of the map-in-maps naming it) and the map kinds' own methods."""

    def map_decl(self, d):
        st = d.type.type
        name = d.name
        key_decl, val_decl = st.decls[0], st.decls[1]
        key_t = self.rtype(key_decl.type).to
        val_t = self.rtype(val_decl.type).to
        init = d.init.exprs
        raw = init[0].value.strip('"')
        kind, inner, pin, share = split_kind(raw)
        size, flags = init[1], init[2]
        if kind not in MAP_TYPES:
            self.err("BPF_TABLE type \"%s\" is not supported (types: %s)"
                     % (kind, ", ".join(sorted(MAP_TYPES))), d, raw)
        if share and kind == "extern":
            self.err("an extern table cannot also be %s" % share, d, raw)
        for part, t in (("key", key_t), ("value", val_t)):
            if isinstance(t, Rec) and not t.complete:   # BCC needs the sizes here too
                self.err("table %s: its %s type %s is incomplete where the table is "
                         "declared (define it above the table)" % (name, part, t.spell()), d)
        m = MapDecl(name, kind, key_decl.type.type, val_decl.type.type, key_t, val_t,
                    size, flags, d.coord)
        m.key_decl, m.value_decl = key_decl, val_decl
        self.maps[name] = m
        body = self.map_body(m, kind, size, flags, d, inner)
        self.map_bodies[name] = body
        tag = "extern" if kind == "extern" else share or (pin and "pinned:" + pin)
        attr = ' __attribute__((btf_decl_tag("%s%s")))' % (SHARE_TAG, tag) if tag else ""
        return "struct { %s } %s SEC(\".maps\")%s;" % (" ".join(body), name, attr)

    def map_type_name(self, m, kind):
        if kind == "histogram":
            key_t = m.key
            return "BPF_MAP_TYPE_ARRAY" if isinstance(key_t, Prim) and \
                key_t.name in ("int", "signed int") else "BPF_MAP_TYPE_HASH"
        return MAP_TYPES[kind]

    def map_body(self, m, kind, size, flags, d, inner):
        """The members of the map's BTF definition (``__uint(type, ...);`` ...)."""
        g = self.em.printer

        def tyname(node):
            decl = m.key_decl if node is m.key_node else m.value_decl
            offs = self.source.offsets(decl)
            spelled = self.pp[offs[0]:offs[1]] if offs else ""
            if "int128" in spelled:     # masked as long for the parser: spell it again
                return spelled.rsplit("*", 1)[0].strip()
            node = _strip_declname(node)
            return g.visit(c_ast.Typename(None, [], None, node))
        rflags = self.em.render(flags)
        fl = self.const_int(flags)
        lines = ["__uint(type, %s);" % self.map_type_name(m, kind)]
        if kind == "ringbuf":
            lines.append("__uint(max_entries, (%s) * 4096);" % self.em.render(size))
        elif kind not in _NO_MAX_ENTRIES:
            lines.append("__uint(max_entries, %s);" % self.em.render(size))
        if kind in _FD_SLOTS:
            lines += ["__uint(key_size, sizeof(u32));", "__uint(value_size, sizeof(u32));"]
        elif kind == "stacktrace":
            build_id = "BPF_F_STACK_BUILD_ID" in rflags or (fl or 0) & 32
            entry = "struct bpf_stack_build_id" if build_id else "u64"
            lines += ["__uint(key_size, sizeof(u32));",
                      "__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(%s));" % entry]
        elif kind in ("queue", "stack"):
            lines.append("__type(value, %s);" % tyname(m.value_node))
        elif kind in ("hash_of_maps", "array_of_maps"):
            lines.append("__type(key, %s);" % tyname(m.key_node))
            lines.append("__array(values, struct { %s });"
                         % " ".join(self.inner_template(m, inner, d)))
        elif kind != "ringbuf":
            lines.append("__type(key, %s);" % tyname(m.key_node))
            lines.append("__type(value, %s);" % tyname(m.value_node))
        if kind in _STORAGE and not fl:
            lines.append("__uint(map_flags, BPF_F_NO_PREALLOC);")
        elif fl or (fl is None and not isinstance(flags, c_ast.Constant)):
            lines.append("__uint(map_flags, %s);" % rflags)
        return lines

    def inner_template(self, m, inner, d):
        """The definition of the map a map-in-map's slots hold: that of the map BCC's
        macro names by string (declared before it), the template libbpf creates the
        inner map fd from."""
        macro = "BPF_%s_OF_MAPS" % ("HASH" if m.kind == "hash_of_maps" else "ARRAY")
        if not inner:
            self.err("%s(%s, ...) needs the name of its inner map as a string, e.g. "
                     "%s(%s, \"inner\", 8)" % (macro, m.name, macro, m.name), d, macro)
        body = self.map_bodies.get(inner)
        if body is None:
            self.err("%s(%s, ...): no map \"%s\" declared before it (the inner map's "
                     "template)" % (macro, m.name, inner), d, inner)
        if self.maps[inner].kind in ("hash_of_maps", "array_of_maps"):
            self.err("%s(%s, ...): the inner map \"%s\" is itself a map of maps (the "
                     "kernel does not nest them)" % (macro, m.name, inner), d, inner)
        return body

    def kind_call(self, n, m, meth, ref, targs):
        """A method of a map kind's own (storage get/delete, redirect_map, sockmap
        updates and redirects) -> its helper call, or None for other methods."""
        rule = _KIND_METHODS.get(meth)
        if rule is None:
            return None
        helper, order, ret = rule
        want = sum(1 for a in order if a != "m")
        if len(targs) != want:
            self.err("%s.%s() takes %d argument(s)" % (m.name, meth, want), n, meth)
        args = [ref if a == "m" else targs[a] for a in order]
        rtype = Ptr(m.value) if ret == "value" else Prim("long", 8)
        return R(_call(helper, args, n.coord), rtype, "direct" if ret else None)
