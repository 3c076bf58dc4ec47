"""BPF's maps as BCC's tables (a mixin of :class:`bcc_core.bpf.BPF`): b["name"], get_table
with key/leaf ctypes types from the object's BTF, and the struct of a perf/ring buffer's
records (see the module doc of bcc_core.bpf for how it is found)."""
from ..errors import BccCoreError
from ..load import map as _map
from ..table import PerfEventArray, Table
from ..utils import _str
from .lazy_ctypes import _class_attr_once, ct

_KERNEL_STRUCT_PREFIXES = ("trace_event_raw_", "trace_entry", "bpf_", "perf_", "pt_regs",
                           "task_struct", "sk_buff")


class Tables(dict):
    """BPF's table methods: b["name"] and get_table().

    The BPF object is the dict of its tables (what b["name"] returned, by that key; also
    reachable as ``b.tables``, as in BCC), so that ``b["events"]`` -- in every event
    callback of a BCC tool -- is a dict look-up in C; a name not looked up before goes
    through ``__missing__`` to get_table() once.  It is not a dict otherwise: compared,
    hashed and printed as an object, and ``key in b`` also answers for maps not opened
    yet, as BCC's does."""

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__
    __repr__ = object.__repr__

    @property
    def tables(self):
        return self

    # C type names as BCC's table type descriptions spell them -> ctypes types
    @_class_attr_once
    def str2ctype():
        pairs = ((u"char", (ct.c_byte, ct.c_ubyte)), (u"short", (ct.c_short, ct.c_ushort)),
                 (u"int", (ct.c_int, ct.c_uint)), (u"long", (ct.c_long, ct.c_ulong)),
                 (u"long long", (ct.c_longlong, ct.c_ulonglong)),
                 (u"__int128", (ct.c_int64 * 2, ct.c_uint64 * 2)))
        return dict(
            [(u"_Bool", ct.c_bool), (u"char", ct.c_char), (u"wchar_t", ct.c_wchar)]
            + [(u"unsigned " * unsigned + name, typ) for name, pair in pairs
               for unsigned, typ in enumerate(pair) if (name, unsigned) != (u"char", 0)]
            + [(u"float", ct.c_float), (u"double", ct.c_double),
               (u"long double", ct.c_longdouble)])

    # -- tables ------------------------------------------------------------------------
    def _btf_ctype(self, m, tid, size):
        from ..btf.ctypes_btf import ctype_for, sized_int
        b = self._obj.btf
        if tid and b is not None:
            try:
                c = ctype_for(b, tid)
                if ct.sizeof(c) == size:
                    return c
            except (TypeError, BccCoreError):
                pass
        return sized_int(size)

    def _default_types(self, m):
        t = m.type
        if t in (_map.PERF_EVENT_ARRAY, _map.RINGBUF, _map.CGROUP_ARRAY, _map.PROG_ARRAY,
                 _map.ARRAY_OF_MAPS):
            return "c_int", "c_int"         # resolved by the table when first used
        if t == _map.HASH_OF_MAPS:          # the declared key; values are inner map fds
            return self._btf_ctype(m, m.key_type_id, m.key_size), ct.c_int
        if t == _map.STACK_TRACE:
            key = ct.c_int
            if m.map_flags & (1 << 5):     # BPF_F_STACK_BUILD_ID
                class bpf_stack_build_id(ct.Structure):
                    _fields_ = [("status", ct.c_int32), ("build_id", ct.c_ubyte * 20),
                                ("offset", ct.c_uint64)]
                n = max(m.value_size // ct.sizeof(bpf_stack_build_id), 1)
                leaf = type("stack_trace", (ct.Structure,),
                            {"_fields_": [("trace", bpf_stack_build_id * n)]})
            else:
                leaf = type("stack_trace", (ct.Structure,),
                            {"_fields_": [("ip", ct.c_ulonglong * (m.value_size // 8))]})
            return key, leaf
        if t in (_map.QUEUE, _map.STACK):
            return None, self._btf_ctype(m, m.value_type_id, m.value_size)
        leaf_size = m.value_size
        return (self._btf_ctype(m, m.key_type_id, m.key_size),
                self._btf_ctype(m, m.value_type_id, leaf_size))

    def get_table(self, name, keytype=None, leaftype=None, reducer=None):
        name = _str(name)
        m = self._obj.maps.get(name) if self._obj else None
        if m is None:
            raise KeyError(name)
        dk, dl = self._default_types(m)
        return Table(self, m, keytype or dk, leaftype or dl, name, reducer=reducer)

    # b["name"]: the table objects, created on first use (here) and then found by
    # dict.__getitem__; b[key] = leaf, len(b), iter(b) are the dict's own
    def __missing__(self, key):
        table = self[key] = self.get_table(key)
        return table

    def __delitem__(self, key):
        t = self.pop(key)
        if isinstance(t, PerfEventArray):
            t.close()

    def __contains__(self, key):
        return dict.__contains__(self, key) or (self._obj is not None and
                                                _str(key) in self._obj.maps)

    def _event_class_for(self, table, name=None):
        """The record class of a perf/ring buffer table's records (see module doc)."""
        from .. import btf as _btf
        from ..events.struct_view import record_for
        mname = table._name
        want = name if name is not None else self._event_types.get(mname)
        if want is not None and not isinstance(want, (str, bytes)):
            return want
        b = self._obj.btf
        if b is None:
            raise Exception("cannot decode events of '%s': the object has no BTF; pass a "
                            "ctypes type with table.set_event_type(cls)" % mname)
        structs = {}
        ptr_targets = []
        for t in b.types():
            if t.kind in (_btf.KIND_STRUCT, _btf.KIND_UNION) and t.name:
                structs.setdefault(t.name, t.id)
            elif t.kind == _btf.KIND_TYPEDEF and t.name and \
                    b.kind_of(b.skip_mods(t.type)) == _btf.KIND_STRUCT:
                structs.setdefault(t.name, t.id)
            elif t.kind == _btf.KIND_VAR and t.name.startswith("unused"):
                pt = b.type(b.skip_mods(t.type))
                if pt.kind == _btf.KIND_PTR:
                    tgt = b.skip_mods(pt.type)
                    if b.kind_of(tgt) == _btf.KIND_STRUCT:
                        ptr_targets.append(tgt)
        if want is not None:
            want = _str(want)
            for n in (want, want.replace("struct ", "")):
                if n in structs:
                    return record_for(b, structs[n])
            raise Exception("no struct '%s' in the BTF of the object (it has: %s)"
                            % (want, ", ".join(sorted(structs)) or "none"))
        hint = b.find("__bcc_event__" + mname, _btf.KIND_FUNC)
        if hint:        # bcc_core.compat names the type perf_submit() gave this map
            proto = b.type(b.type(hint[0]).type)
            if proto.params:
                pt = b.type(b.skip_mods(proto.params[0][1]))
                if pt.kind == _btf.KIND_PTR:
                    return record_for(b, b.skip_mods(pt.type))
        sing = mname[:-1] if mname.endswith("s") else mname
        tiers = [[mname, sing, mname + "_t", sing + "_t"],
                 ["event", "event_t", "data_t", "data"]]
        for tier in tiers:
            found = [n for n in dict.fromkeys(tier) if n in structs]
            if found:
                return record_for(b, structs[found[0]])
        own = [n for n in structs if not n.startswith(_KERNEL_STRUCT_PREFIXES)]
        found = [n for n in own if n.endswith(("_event", "_event_t", "_data_t"))]
        if len(found) == 1:
            return record_for(b, structs[found[0]])
        if len(set(ptr_targets)) == 1:
            return record_for(b, ptr_targets[0])
        raise Exception(
            "cannot tell which struct the records of '%s' are%s: declare one in the "
            "BPF C so that it is in BTF (e.g. `struct event *unused_event "
            "__attribute__((unused));`), or name it: BPF(..., event_types={'%s': "
            "'struct_name'}) or b['%s'].set_event_type(ctypes_type)"
            % (mname, " (candidates: %s)" % ", ".join(found) if found else "",
               mname, mname))
