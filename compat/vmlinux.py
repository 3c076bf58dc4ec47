"""BTF -> C header (a ``vmlinux.h``), like ``bpftool btf dump file X format c``.

The output declares every struct, union, enum and typedef of the BTF so that BPF C code
can be compiled against it with ``-target bpf``.  Records are wrapped in the
``preserve_access_index`` pragma region, so every field access in code using them becomes
a CO-RE relocation.

Layout is reproduced exactly: members are placed at their BTF offsets with explicit
anonymous bit-field padding where the natural layout would put them earlier, trailing
padding keeps ``sizeof`` equal to the BTF size, structs whose members are misaligned get
``__attribute__((packed))`` and enums whose size is not 4 get ``mode()``.

Ordering: every named struct/union is forward-declared first; then types are emitted in id
order, each preceded by what it needs complete (by-value members, array elements,
typedef targets, named enums).  Anonymous structs/unions/enums are written inline where
they are used; anonymous enums not used by any type are emitted as standalone
declarations.  Duplicate names get a ``___N`` suffix (CO-RE ignores it), as bpftool does.
"""
import sys

from bcc_core import btf as _btf

K = _btf
_QUAL = {K.KIND_CONST: "const", K.KIND_VOLATILE: "volatile", K.KIND_RESTRICT: "restrict"}
_CV = (K.KIND_CONST, K.KIND_VOLATILE, K.KIND_RESTRICT, K.KIND_TYPE_TAG)
_BUILTIN_TYPEDEFS = ("__builtin_va_list",)
_ENUM_MODE = {1: "QI", 2: "HI", 8: "DI"}

HEADER_START = """\
/* Generated from BTF by bcc_core.compat.vmlinux: do not edit. */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
HEADER_END = """
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""


class _Dumper:
    def __init__(self, btf):
        self.btf = btf
        self.t = btf.type
        self.names = {}          # tid -> emitted name (tags, typedefs)
        self.enumerators = {}    # (tid, index) -> emitted enumerator name (renamed only)
        self.state = {}          # tid -> 1 in progress, 2 done
        self.out = []
        self._align = {}
        self._packed = {}

    # -- naming ------------------------------------------------------------------------
    def assign_names(self):
        t = self.t
        tags = {}       # name -> count, per tag kind namespace
        idents = {}     # typedef names and enumerators
        fwd = {}
        self.anon_enum_used = set()
        self.ids = []
        for tid in range(self.btf.start_id, self.btf.nr_types):
            ty = t(tid)
            k = ty.kind
            if k in (K.KIND_STRUCT, K.KIND_UNION, K.KIND_ENUM, K.KIND_ENUM64) and ty.name:
                key = ty.name      # struct, union and enum tags share one namespace
                if k in (K.KIND_ENUM, K.KIND_ENUM64) and ty.vlen == 0:
                    fwd[tid] = ty.name      # enum forward declaration
                    continue
                n = tags.get(key, 0) + 1
                tags[key] = n
                self.names[tid] = ty.name if n == 1 else "%s___%d" % (ty.name, n)
            elif k == K.KIND_FWD:
                fwd[tid] = ty.name
            elif k == K.KIND_TYPEDEF:
                if ty.name in _BUILTIN_TYPEDEFS:
                    self.names[tid] = ty.name
                    self.state[tid] = 2      # the compiler's own; never redefined
                    continue
                n = idents.get(ty.name, 0) + 1
                idents[ty.name] = n
                self.names[tid] = ty.name if n == 1 else "%s___%d" % (ty.name, n)
            if k in (K.KIND_STRUCT, K.KIND_UNION):
                for m in ty.members:
                    self._note_anon_enum(m.type)
            elif k in (K.KIND_TYPEDEF, K.KIND_PTR) or k in _CV:
                self._note_anon_enum(ty.type)
            elif k == K.KIND_ARRAY:
                self._note_anon_enum(ty.elem_type)
            elif k == K.KIND_FUNC_PROTO:
                self._note_anon_enum(ty.type)
                for _, p in ty.params:
                    self._note_anon_enum(p)
            self.ids.append(tid)
        for tid, name in fwd.items():
            self.names[tid] = name
        # enumerators share the ordinary identifier namespace with typedefs
        for tid in self.ids:
            ty = t(tid)
            if ty.kind in (K.KIND_ENUM, K.KIND_ENUM64):
                for i, (nm, _) in enumerate(ty.values):
                    n = idents.get(nm, 0) + 1
                    idents[nm] = n
                    if n > 1:
                        self.enumerators[(tid, i)] = "%s___%d" % (nm, n)

    def _note_anon_enum(self, tid):
        if tid and self.btf.kind_of(tid) in (K.KIND_ENUM, K.KIND_ENUM64) and \
                not self.t(tid).name:
            self.anon_enum_used.add(tid)

    # -- layout --------------------------------------------------------------------------
    def align(self, tid):
        a = self._align.get(tid)
        if a is not None:
            return a
        ty = self.t(tid)
        k = ty.kind
        if k in (K.KIND_INT, K.KIND_ENUM, K.KIND_ENUM64, K.KIND_FLOAT):
            a = min(8, max(1, ty.size))
        elif k == K.KIND_PTR:
            a = 8
        elif k == K.KIND_TYPEDEF or k in _CV:
            a = self.align(ty.type)
        elif k == K.KIND_ARRAY:
            a = self.align(ty.elem_type)
        elif k in (K.KIND_STRUCT, K.KIND_UNION):
            a = 1 if self.packed(tid) else max([self.align(m.type) for m in ty.members
                                                if not m.bitfield_size or True] or [1])
        else:
            a = 1
        self._align[tid] = a
        return a

    def packed(self, tid):
        p = self._packed.get(tid)
        if p is not None:
            return p
        self._packed[tid] = False
        ty = self.t(tid)
        p = False
        maxa = 1
        for m in ty.members:
            a = self.align(m.type)
            if m.bitfield_size:
                if m.name:
                    maxa = max(maxa, a)
                # a bit-field straddling its type's storage unit only happens when packed
                unit = self.btf.resolve_size(m.type) * 8
                if unit and (m.bit_offset % unit) + m.bitfield_size > unit:
                    p = True
                continue
            maxa = max(maxa, a)
            if m.bit_offset % (8 * a):
                p = True
        if ty.size % maxa:
            p = True
        self._packed[tid] = p
        if p:
            self._align[tid] = 1
        return p

    # -- dependency ordering ---------------------------------------------------------------
    def need(self, tid, strong):
        """Make sure what a use of type ``tid`` needs is already emitted."""
        while True:
            k = self.btf.kind_of(tid)
            if k in _CV:
                tid = self.t(tid).type
                continue
            if k == K.KIND_PTR:
                tid, strong = self.t(tid).type, False
                continue
            if k == K.KIND_ARRAY:
                tid, strong = self.t(tid).elem_type, True
                continue
            break
        if k == K.KIND_TYPEDEF:
            self.emit(tid)
            if strong:
                self.need(self.t(tid).type, True)
        elif k in (K.KIND_STRUCT, K.KIND_UNION):
            ty = self.t(tid)
            if not ty.name:
                for m in ty.members:
                    self.need(m.type, True)
            elif strong:
                self.emit(tid)
        elif k in (K.KIND_ENUM, K.KIND_ENUM64):
            if self.t(tid).name:
                self.emit(tid)
        elif k == K.KIND_FUNC_PROTO:
            ty = self.t(tid)
            self.need(ty.type, False)
            for _, p in ty.params:
                if p:
                    self.need(p, False)

    def emit(self, tid):
        if self.state.get(tid):
            return
        self.state[tid] = 1
        ty = self.t(tid)
        k = ty.kind
        if k in (K.KIND_STRUCT, K.KIND_UNION):
            for m in ty.members:
                self.need(m.type, True)
            self.out.append(self.struct_def(tid, 0) + ";\n\n")
        elif k in (K.KIND_ENUM, K.KIND_ENUM64):
            if ty.vlen == 0:
                self.out.append("enum %s;\n\n" % self.names[tid])
            else:
                self.out.append(self.enum_def(tid, 0) + ";\n\n")
        elif k == K.KIND_TYPEDEF:
            self.need(ty.type, False)
            self.out.append("typedef %s;\n\n" % self.decl(ty.type, self.names[tid], 0))
        self.state[tid] = 2

    # -- rendering -----------------------------------------------------------------------
    def decl(self, tid, inner, lvl):
        """C text declaring ``inner`` (a declarator, possibly empty) of type ``tid``."""
        t = self.t
        while True:
            ty = t(tid)
            k = ty.kind
            if k == K.KIND_PTR:
                inner = "*" + inner
                tid = ty.type
            elif k == K.KIND_ARRAY:
                if inner.startswith("*"):
                    inner = "(" + inner + ")"
                inner = "%s[%d]" % (inner, ty.nelems)
                tid = ty.elem_type
            elif k == K.KIND_FUNC_PROTO:
                if inner.startswith("*"):
                    inner = "(" + inner + ")"
                ps = []
                for i, (pn, pt) in enumerate(ty.params):
                    if pt == 0 and i == len(ty.params) - 1:
                        ps.append("...")
                    else:
                        ps.append(self.decl(pt, pn, lvl))
                inner = "%s(%s)" % (inner, ", ".join(ps) or "void")
                tid = ty.type
            elif k == K.KIND_TYPE_TAG:
                tid = ty.type
            elif k in _QUAL:
                under = self.btf.skip_cv(ty.type)
                if self.btf.kind_of(under) == K.KIND_PTR:
                    inner = _QUAL[k] + " " + inner if inner else _QUAL[k]
                    tid = ty.type
                else:
                    r = self.decl(ty.type, inner, lvl)
                    return r if r.startswith(_QUAL[k] + " ") else _QUAL[k] + " " + r
            else:
                base = self.base(tid, lvl)
                if not inner:
                    return base
                if inner.startswith("*") or base.endswith("*"):
                    return base + " " + inner
                return base + " " + inner

    def base(self, tid, lvl):
        ty = self.t(tid)
        k = ty.kind
        if k == K.KIND_UNKN:
            return "void"
        if k in (K.KIND_INT, K.KIND_FLOAT):
            return ty.name
        if k == K.KIND_TYPEDEF:
            return self.names[tid]
        if k in (K.KIND_STRUCT, K.KIND_UNION):
            if ty.name:
                return ("struct " if k == K.KIND_STRUCT else "union ") + self.names[tid]
            return self.struct_def(tid, lvl)
        if k == K.KIND_FWD:
            return ("union " if ty.kflag else "struct ") + self.names[tid]
        if k in (K.KIND_ENUM, K.KIND_ENUM64):
            if ty.name:
                return "enum " + self.names[tid]
            return self.enum_def(tid, lvl)
        raise _btf.BTFError("type %d (%s) cannot be used in a declaration"
                            % (tid, ty.kind_name), self.btf.where)

    def enum_def(self, tid, lvl):
        ty = self.t(tid)
        ind = "\t" * (lvl + 1)
        lines = []
        for i, (nm, v) in enumerate(ty.values):
            nm = self.enumerators.get((tid, i), nm)
            if v > 0x7fffffffffffffff:
                sv = "%dULL" % v
            elif v > 0xffffffff or v < -0x80000000:
                sv = "%dLL" % v
            else:
                sv = "%d" % v
            lines.append("%s%s = %s,\n" % (ind, nm, sv))
        mode = ""
        natural = 4
        if any(v > 0xffffffff or v < -0x80000000 for _, v in ty.values):
            natural = 8
        if ty.size != natural and ty.size in _ENUM_MODE:
            mode = "__attribute__((mode(%s))) " % _ENUM_MODE[ty.size]
        name = (" " + self.names[tid]) if ty.name else ""
        return "enum %s%s{\n%s%s}" % (mode, name.lstrip() + " " if name else "",
                                      "".join(lines), "\t" * lvl)

    def struct_def(self, tid, lvl):
        ty = self.t(tid)
        kw = "struct" if ty.kind == K.KIND_STRUCT else "union"
        packed = self.packed(tid)
        ind = "\t" * (lvl + 1)
        lines = []
        cur = 0
        is_union = ty.kind == K.KIND_UNION
        for m in ty.members:
            off = 0 if is_union else m.bit_offset
            if m.bitfield_size:
                if off > cur:
                    self._pad(lines, ind, cur, off)
                lines.append("%s%s: %d;\n" % (ind, self.decl(m.type, m.name, lvl + 1),
                                              m.bitfield_size))
                end = off + m.bitfield_size
            else:
                a = 8 if packed else 8 * self.align(m.type)
                natural = (cur + a - 1) // a * a
                if off > natural:
                    self._pad(lines, ind, cur, off)
                lines.append("%s%s;\n" % (ind, self.decl(m.type, m.name, lvl + 1)))
                end = off + 8 * self.btf.resolve_size(m.type)
            cur = end if is_union is False else max(cur, end)
        if not is_union:
            a = 8 * self.align(tid)
            natural = (cur + a - 1) // a * a
            if ty.size * 8 > natural:
                self._pad(lines, ind, cur, ty.size * 8)
        name = (" " + self.names[tid]) if ty.name else ""
        attr = " __attribute__((packed))" if packed else ""
        return "%s%s {\n%s%s}%s" % (kw, name, "".join(lines), "\t" * lvl, attr)

    @staticmethod
    def _pad(lines, ind, cur, target):
        while cur < target:
            chunk = min(target - cur, 64 - cur % 64)
            lines.append("%slong: %d;\n" % (ind, chunk))
            cur += chunk

    # -- whole file ----------------------------------------------------------------------
    def dump(self):
        self.assign_names()
        t = self.t
        fwds = []
        seen = set()
        for tid in self.ids:
            ty = t(tid)
            k = ty.kind
            if k in (K.KIND_STRUCT, K.KIND_UNION, K.KIND_FWD) and ty.name:
                kw = "union" if (k == K.KIND_UNION or (k == K.KIND_FWD and ty.kflag)) \
                    else "struct"
                key = (kw, self.names[tid])
                if key not in seen:
                    seen.add(key)
                    fwds.append("%s %s;\n" % key)
        self.out.append("".join(fwds) + "\n")
        for tid in self.ids:
            ty = t(tid)
            k = ty.kind
            if k in (K.KIND_STRUCT, K.KIND_UNION, K.KIND_TYPEDEF) and \
                    (ty.name or k == K.KIND_TYPEDEF):
                self.emit(tid)
            elif k in (K.KIND_ENUM, K.KIND_ENUM64):
                if ty.name:
                    self.emit(tid)
                elif tid not in self.anon_enum_used:
                    self.out.append(self.enum_def(tid, 0) + ";\n\n")
        return HEADER_START + "".join(self.out) + HEADER_END


def generate(btf=None, path=None):
    """The C header text for ``btf`` (a :class:`bcc_core.btf.BTF`), or for the BTF file
    at ``path``, or for the running kernel."""
    if btf is None:
        btf = _btf.kernel_btf(path) if path is None or path == _btf.VMLINUX \
            else _btf.load_file(path)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return _Dumper(btf).dump()
    finally:
        sys.setrecursionlimit(old)


def write(out_path, btf_path=None):
    """Write a vmlinux.h for ``btf_path`` (default: the running kernel) to out_path."""
    import os
    text = generate(path=btf_path)
    tmp = "%s.%d.tmp" % (out_path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out_path)
    return out_path
