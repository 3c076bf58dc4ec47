"""The translator's model of C types: the program's own and the kernel's (from BTF,
converted lazily), and what the BPF helpers return."""
import re

from pycparser import c_ast

from bcc_core import btf as _btf

# ----------------------------------------------------------------------------------------
# Type model
# ----------------------------------------------------------------------------------------


class Ty:
    kind = "?"

    def __repr__(self):
        return "<%s %s>" % (self.kind, self.spell())

    def spell(self):
        return self.kind


class Void(Ty):
    kind = "void"


class Prim(Ty):
    kind = "prim"

    def __init__(self, name, size=None):
        self.name, self.size = name, size

    def spell(self):
        return self.name


class Ptr(Ty):
    kind = "ptr"

    def __init__(self, to):
        self.to = to

    def spell(self):
        return self.to.spell() + " *"


class Arr(Ty):
    kind = "array"

    def __init__(self, of, n):
        self.of, self.n = of, n

    def spell(self):
        return "%s[%s]" % (self.of.spell(), "" if self.n is None else self.n)


class Fn(Ty):
    kind = "func"

    def __init__(self, ret, params=None):
        self.ret, self.params = ret, params

    def spell(self):
        return "function"


class MapTy(Ty):
    kind = "map"

    def __init__(self, m):
        self.m = m

    def spell(self):
        return "BCC table '%s'" % self.m.name


class Rec(Ty):
    """struct/union: from BTF (``btf_id``, kernel memory) or the program (``fields``)."""
    kind = "record"

    def __init__(self, su, name, btf=None, btf_id=None, fields=None):
        self.su, self.name, self.btf, self.btf_id, self.fields = su, name, btf, btf_id, fields

    @property
    def kernel(self):
        return self.btf_id is not None

    @property
    def complete(self):
        return self.btf_id is not None or self.fields is not None

    def spell(self):
        return "%s %s" % (self.su, self.name or "(anonymous)")


_INT_SIZES = {"char": 1, "short": 2, "int": 4, "long": 8, "_Bool": 1, "float": 4,
              "double": 8}


def prim_from_words(words):
    w = [x for x in words if x not in ("signed", "unsigned", "const", "volatile")]
    if not w:
        return Prim(" ".join(words), 4)
    if w.count("long") >= 1:
        size = 8
    else:
        size = _INT_SIZES.get(w[-1])
    return Prim(" ".join(words), size)


def is_ptrish(t):
    return isinstance(t, (Ptr, Arr))


def pointee(t):
    if isinstance(t, Ptr):
        return t.to
    if isinstance(t, Arr):
        return t.of
    return None


class _BTFTypes:
    """Lazy conversion of BTF types to the model, and name indexes."""

    def __init__(self, btf):
        self.btf = btf
        self.memo = {}
        self._typedefs = None
        self._enumerators = None

    def typedef_names(self):
        """{name: first typedef id} of the BTF's own types."""
        if self._typedefs is None:
            self._load_names()
        return self._typedefs

    def enumerators(self):
        """{enumerator name: value} of the BTF's own enums (the first one wins)."""
        if self._enumerators is None:
            self._load_names()
        return self._enumerators

    def _load_names(self):
        self._typedefs, self._enumerators = _scan_names(self.btf)

    def record(self, su, name):
        kind = _btf.KIND_STRUCT if su == "struct" else _btf.KIND_UNION
        ids = self.btf.find(name, kind)
        for tid in ids:
            return self.conv(tid)
        return None

    def conv(self, tid):
        t = self.memo.get(tid)
        if t is not None:
            return t
        b = self.btf
        bt = b.type(tid)
        k = bt.kind
        if k == _btf.KIND_UNKN:
            t = Void()
        elif k in (_btf.KIND_INT, _btf.KIND_FLOAT):
            t = Prim(bt.name, bt.size)
        elif k in (_btf.KIND_ENUM, _btf.KIND_ENUM64):
            t = Prim("enum " + (bt.name or "(anonymous)"), bt.size)
        elif k == _btf.KIND_PTR:
            t = Ptr(None)
            self.memo[tid] = t
            t.to = self.conv(bt.type)
            return t
        elif k == _btf.KIND_ARRAY:
            t = Arr(self.conv(bt.elem_type), bt.nelems)
        elif k in (_btf.KIND_STRUCT, _btf.KIND_UNION):
            t = Rec("struct" if k == _btf.KIND_STRUCT else "union", bt.name, b, tid)
        elif k == _btf.KIND_FWD:
            su = "union" if bt.kflag else "struct"
            full = self.record(su, bt.name)
            t = full if full is not None else Rec(su, bt.name)
        elif k == _btf.KIND_FUNC_PROTO:
            t = Fn(self.conv(bt.type), [self.conv(p) for _, p in bt.params if p])
        else:   # typedef, cv, type tag
            t = self.conv(bt.type)
        self.memo[tid] = t
        return t

    def member(self, rec, name):
        """(type, bitfield_size) of member ``name`` of a BTF record, searching anonymous
        members; None if absent."""
        b = self.btf
        bt = b.type(rec.btf_id)
        for m in bt.members:
            if m.name == name:
                return self.conv(m.type), m.bitfield_size
        for m in bt.members:
            if not m.name:
                sub = b.skip_mods(m.type)
                if b.kind_of(sub) in (_btf.KIND_STRUCT, _btf.KIND_UNION):
                    r = self.member(self.conv(sub), name)
                    if r is not None:
                        return r
        return None


def _scan_names(b):
    """({typedef name: first id}, {enumerator name: value}) over ``b``'s own types, in
    one pass that reads each type's info word in place and decodes only the enums
    (35-65 ms on vmlinux BTF; a kind_of() call and a decode per type took 0.6 s, tens
    of seconds under emulation)."""
    import struct
    u32 = struct.Struct("<I").unpack_from
    data, names, start = b.data, b._name_offs, b.start_id
    typedefs, vals = {}, {}
    enum_kinds = (_btf.KIND_ENUM, _btf.KIND_ENUM64)
    for i, pos in enumerate(b._offs):
        kind = (u32(data, pos + 4)[0] >> 24) & 0x1F
        if kind == _btf.KIND_TYPEDEF:
            n = b.string(names[i])
            if n not in typedefs:
                typedefs[n] = i + start
        elif kind in enum_kinds:
            for n, v in b.type(i + start).values:
                vals.setdefault(n, v)
    return typedefs, vals


_btf_types = {}


def release_caches():
    """Forget the type models built so far (BPF.free_bcc_memory)."""
    _btf_types.clear()


def btf_types(btf):
    key = id(btf)
    t = _btf_types.get(key)
    if t is None or t.btf is not btf:
        t = _btf_types[key] = _BTFTypes(btf)
    return t


# ----------------------------------------------------------------------------------------
# Helpers' return types (from libbpf's bpf_helper_defs.h)
# ----------------------------------------------------------------------------------------
_HELPER_DEFS = ["/usr/include/bpf/bpf_helper_defs.h"]
_helpers = None


def helper_returns():
    global _helpers
    if _helpers is None:
        _helpers = {}
        for p in _HELPER_DEFS:
            try:
                with open(p) as f:
                    text = f.read()
            except OSError:
                continue
            for m in re.finditer(r"^static (.*?)\(\s*\*\s*(?:const\s+)?(\w+)\)\(", text, re.M):
                _helpers[m.group(2)] = m.group(1).strip()
        for name, ret in (("bpf_get_current_pid_tgid", "__u64"),
                          ("bpf_get_current_uid_gid", "__u64"),
                          ("bpf_ktime_get_ns", "__u64"),
                          ("bpf_get_current_task", "__u64"),
                          ("bpf_get_current_task_btf", "struct task_struct *"),
                          ("bpf_map_lookup_elem", "void *"),
                          ("bpf_ringbuf_reserve", "void *"),
                          ("bpf_get_current_comm", "long"),
                          ("bpf_probe_read", "long"), ("bpf_probe_read_str", "long"),
                          ("bpf_probe_read_kernel", "long"),
                          ("bpf_probe_read_kernel_str", "long"),
                          ("bpf_probe_read_user", "long"),
                          ("bpf_probe_read_user_str", "long"),
                          ("bpf_get_smp_processor_id", "__u32"),
                          ("bpf_get_prandom_u32", "__u32"),
                          ("bpf_perf_event_output", "long"),
                          ("bpf_send_signal", "long"),
                          ("bpf_get_stackid", "long")):
            _helpers.setdefault(name, ret)
    return _helpers


# functions the translated code may call besides the kernel's helpers, with return types
EXTRA_FUNCS = {
    "PT_REGS_PARM1": "u64", "PT_REGS_PARM2": "u64", "PT_REGS_PARM3": "u64",
    "PT_REGS_PARM4": "u64", "PT_REGS_PARM5": "u64", "PT_REGS_PARM6": "u64",
    "PT_REGS_RC": "u64", "PT_REGS_SP": "u64", "PT_REGS_FP": "u64", "PT_REGS_IP": "u64",
    "PT_REGS_RET": "u64",
    "bpf_log2": "unsigned int", "bpf_log2l": "unsigned int", "lock_xadd": "void",
    "bpf_ntohs": "u16", "bpf_htons": "u16", "bpf_ntohl": "u32", "bpf_htonl": "u32",
    "bpf_printk": "long", "memset": "void *", "memcpy": "void *",
    "bpf_core_field_exists": "int", "bpf_core_type_exists": "int",
    "bpf_core_enum_value_exists": "int", "bpf_core_field_size": "u32",
    "bpf_core_field_offset": "u32", "bpf_core_type_size": "u32",
    "bpf_core_enum_value": "u64", "bpf_ksym_exists": "int",
    # BCC's packet dialect (bcc_compat.h)
    "load_byte": "u64", "load_half": "u64", "load_word": "u64", "load_dword": "u64",
    "bpf_dext_pkt": "u64", "bpf_dins_pkt": "void", "bpf_ntohll": "u64", "bpf_htonll": "u64",
    "bpf_l3_csum_replace_": "int", "bpf_l4_csum_replace_": "int",
}

UNSUPPORTED_CALLS = {
    "bpf_lookup_or_init": None,
}

PROBE_READ = {
    # name: (is_str, kernel replacement)
    "bpf_probe_read": (False, "bpf_probe_read_kernel"),
    "bpf_probe_read_kernel": (False, "bpf_probe_read_kernel"),
    "bpf_probe_read_str": (True, "bpf_probe_read_kernel_str"),
    "bpf_probe_read_kernel_str": (True, "bpf_probe_read_kernel_str"),
}

STATEMENTS = (c_ast.Decl, c_ast.DeclList, c_ast.Typedef, c_ast.If, c_ast.For, c_ast.While,
               c_ast.DoWhile, c_ast.Switch, c_ast.Case, c_ast.Default, c_ast.Label,
               c_ast.Return, c_ast.Break, c_ast.Continue, c_ast.Goto, c_ast.Compound,
               c_ast.EmptyStatement, c_ast.Pragma)

MAP_TYPES = {
    "hash": "BPF_MAP_TYPE_HASH", "array": "BPF_MAP_TYPE_ARRAY",
    "percpu_hash": "BPF_MAP_TYPE_PERCPU_HASH", "percpu_array": "BPF_MAP_TYPE_PERCPU_ARRAY",
    "lru_hash": "BPF_MAP_TYPE_LRU_HASH", "lru_percpu_hash": "BPF_MAP_TYPE_LRU_PERCPU_HASH",
    "stacktrace": "BPF_MAP_TYPE_STACK_TRACE", "perf_output": "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
    "perf_array": "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "ringbuf": "BPF_MAP_TYPE_RINGBUF",
    "prog": "BPF_MAP_TYPE_PROG_ARRAY", "cgroup_array": "BPF_MAP_TYPE_CGROUP_ARRAY",
    "queue": "BPF_MAP_TYPE_QUEUE", "stack": "BPF_MAP_TYPE_STACK",
    "lpm_trie": "BPF_MAP_TYPE_LPM_TRIE", "histogram": None,
    "hash_of_maps": "BPF_MAP_TYPE_HASH_OF_MAPS", "array_of_maps": "BPF_MAP_TYPE_ARRAY_OF_MAPS",
    "sk_storage": "BPF_MAP_TYPE_SK_STORAGE", "inode_storage": "BPF_MAP_TYPE_INODE_STORAGE",
    "task_storage": "BPF_MAP_TYPE_TASK_STORAGE",
    "cgroup_storage": "BPF_MAP_TYPE_CGROUP_STORAGE",
    "percpu_cgroup_storage": "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
    "devmap": "BPF_MAP_TYPE_DEVMAP", "devmap_hash": "BPF_MAP_TYPE_DEVMAP_HASH",
    "cpumap": "BPF_MAP_TYPE_CPUMAP", "xskmap": "BPF_MAP_TYPE_XSKMAP",
    "sockmap": "BPF_MAP_TYPE_SOCKMAP", "sockhash": "BPF_MAP_TYPE_SOCKHASH",
    # BPF_TABLE("extern", ...): a public table of another BPF object, whose fd the
    # facade hands to the loader (the type here is a placeholder the fd replaces)
    "extern": "BPF_MAP_TYPE_HASH",
}
_SIZED_ONLY = ("stacktrace", "perf_output", "perf_array", "prog", "cgroup_array")


class MapDecl:
    def __init__(self, name, kind, key_node, value_node, key, value, size, flags, coord):
        self.name, self.kind = name, kind
        self.key_node, self.value_node = key_node, value_node
        self.key, self.value = key, value
        self.size, self.flags, self.coord = size, flags, coord

    @property
    def percpu(self):
        return "percpu" in self.kind


def same_type(a, b):
    if isinstance(a, Prim) and isinstance(b, Prim):
        return a.size is not None and a.size == b.size
    if isinstance(a, Ptr) and isinstance(b, Ptr):
        return True
    if isinstance(a, Arr) and isinstance(b, Arr):
        return a.n == b.n and same_type(a.of, b.of)
    if isinstance(a, Rec) and isinstance(b, Rec):
        return a is b or (a.btf_id is not None and a.btf_id == b.btf_id)
    return False
