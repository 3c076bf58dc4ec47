"""Kernel memory reads: member/index/dereference chains through kernel pointers become
``BPF_CORE_READ()`` (``__bcc_read()``, ``BPF_CORE_READ_BITFIELD_PROBED()``), explicit
``bpf_probe_read*()``/``memcpy()`` of kernel memory ``bpf_core_read*()``, tracepoint
``__data_loc`` fields (a mixin of :class:`.translate.Translator`)."""
from pycparser import c_ast, c_generator

from .typemodel import Void, Prim, Ptr, Arr, Rec, pointee, PROBE_READ, same_type
from .tnodes import TranslateError, R, Core, Hoist, _id, _call, _graft, _walk


class KernelReads:
    """Reads of kernel memory, through CO-RE."""

    # -- chains ---------------------------------------------------------------------------
    def chain(self, n, mode):
        pr = self.packet_read(n, mode)      # hdr->field of a packet header (.packet)
        if pr is not None:
            return pr
        steps, n = self._chain_steps(n)
        base = self.expr(n)
        st = (base.node, base.type, base.prov, None)      # cur, t, prov, core
        for kind, arg, node in steps:
            if kind == ".":
                st = self._chain_dot(st, arg, node)
            elif kind == "[]" and isinstance(st[1], Arr):
                st = self._chain_index(st, arg, node)
            else:
                st = self._chain_deref(st, kind, arg, node)
        return self._chain_result(st, mode, steps)

    @staticmethod
    def _chain_steps(n):
        """The member/index/dereference steps of an access chain, leftmost first, and the
        chain's base expression."""
        steps = []
        while True:
            if isinstance(n, c_ast.StructRef):
                steps.append((n.type, n.field.name, n))
                n = n.name
            elif isinstance(n, c_ast.ArrayRef):
                steps.append(("[]", n.subscript, n))
                n = n.name
            elif isinstance(n, c_ast.UnaryOp) and n.op == "*":
                steps.append(("*", None, n))
                n = n.expr
            else:
                break
        steps.reverse()
        return steps, n

    def _chain_dot(self, st, arg, node):
        """``.field``: extends a pending CO-RE access, or the plain expression."""
        cur, t, prov, core = st
        ft, bits = self.member(t, arg, node)
        if core is not None and core.user is not None:
            core.user = c_ast.StructRef(core.user, ".", _id(arg))
            core.bitfield = bits
        elif core is not None:
            core.seg = c_ast.StructRef(core.seg, ".", _id(arg)) \
                if core.seg is not None else _id(arg)
            core.bitfield = bits
        else:
            cur = node if cur is node.name else \
                c_ast.StructRef(cur, ".", _id(arg), node.coord)
        return cur, ft, prov, core

    def _chain_index(self, st, arg, node):
        """``[i]`` on an array (not a dereference)."""
        cur, t, prov, core = st
        idx = self.expr(arg).node
        if core is not None and core.user is not None:
            core.user = c_ast.ArrayRef(core.user, idx)
        elif core is not None:
            if core.seg is None:
                self.err("indexing an array through '*' of a kernel pointer is "
                         "not supported; use ->", node)
            core.seg = c_ast.ArrayRef(core.seg, idx)
            core.bitfield = 0
        else:
            cur = node if (cur is node.name and idx is node.subscript) else \
                c_ast.ArrayRef(cur, idx, node.coord)
        return cur, t.of, prov, core

    def _chain_deref(self, st, kind, arg, node):
        """A dereference: ``->``, ``*``, or ``[]`` on a pointer.  Through a kernel pointer
        it starts or extends a CO-RE access."""
        cur, t, prov, core = st
        if not isinstance(t, (Ptr, Arr)):
            self.err("dereference of a value of type %s that is not a pointer"
                     % t.spell(), node)
        to = pointee(t)
        idx = self.expr(arg).node if kind == "[]" else None
        kern = core is not None or self.kernel_ptr(t, prov)
        if kern and kind == "->" and isinstance(to, Rec) and not to.kernel:
            if core is not None:
                cur = self.materialize(core, node)
            core = Core(None)
            core.user = c_ast.StructRef(cur, "->", _id(arg))
            prov = "kernel"
        elif kern:
            if core is not None and kind == "->" and core.seg is not None \
                    and not core.bitfield:
                core.segs.append(core.seg)
                core.seg = _id(arg)
            else:
                if core is not None:
                    cur = self.materialize(core, node)
                if kind == "->":
                    core = Core(cur, _id(arg))
                elif kind == "*":
                    core = Core(cur)
                else:
                    core = Core(c_ast.UnaryOp("&", c_ast.ArrayRef(cur, idx)))
                core.bitfield = 0
            prov = "kernel"
        else:
            if kind == "->":
                cur = node if cur is node.name else \
                    c_ast.StructRef(cur, "->", _id(arg), node.coord)
            elif kind == "*":
                cur = node if cur is node.expr else c_ast.UnaryOp("*", cur, node.coord)
            else:
                cur = node if (cur is node.name and idx is node.subscript) else \
                    c_ast.ArrayRef(cur, idx, node.coord)
            prov = None
        if kind == "->":
            ft, bits = self.member(to, arg, node)
            if core is not None:
                core.bitfield = bits
            return cur, ft, prov, core
        return cur, to, prov, core

    def _chain_result(self, st, mode, steps):
        cur, t, prov, core = st
        if core is None:
            if mode == "addr":
                return R(c_ast.UnaryOp("&", cur), Ptr(t), "direct", addr_of=cur)
            return R(cur, t, prov)
        if mode == "addr":
            if core.bitfield:
                self.err("cannot take the address of a bit-field", steps[-1][2])
            return R(self.core_addr(core), Ptr(t), "kernel", core)
        if mode == "lvalue":
            self.err("cannot write to kernel memory through a pointer: BPF programs may "
                     "only read it (translation would need bpf_probe_write_kernel)",
                     steps[-1][2], "kernel write")
        if isinstance(t, Arr):
            return R(self.core_lval(core), t, "kernel", core)
        return R(self.materialize(core, steps[-1][2]), t, "kernel", core)

    # A CO-RE read's base expression lands inside __builtin_preserve_access_index: an
    # access to the program's own memory there (valp->fp) would become a relocation
    # against a type the kernel does not have.  Such bases are evaluated first:
    # ({ typeof(B) __bcc_bN = (B); READ(__bcc_bN, ...); }).
    def hoisted(self, core, build):
        base = core.base
        if not any(isinstance(x, (c_ast.StructRef, c_ast.ArrayRef)) for x in _walk(base)):
            return build(base)
        self.n_hoist = getattr(self, "n_hoist", 0) + 1
        tmp = _id("__bcc_b%d" % self.n_hoist)
        return Hoist(base, tmp, build(tmp))

    def core_ptr(self, core, base=None):
        base = core.base if base is None else base
        if core.segs:
            return _call("BPF_CORE_READ", [base] + core.segs)
        return base

    def core_addr(self, core):
        if core.user is not None:
            return c_ast.UnaryOp("&", core.user)
        if core.seg is None:
            return core.base
        return self.hoisted(core, lambda b: c_ast.UnaryOp("&", _graft(self.core_ptr(core, b),
                                                                      core.seg)))

    def core_lval(self, core):
        if core.user is not None:
            return core.user
        if core.seg is None:
            return c_ast.UnaryOp("*", core.base)
        return self.hoisted(core, lambda b: _graft(self.core_ptr(core, b), core.seg))

    def materialize(self, core, node):
        if core.user is not None:
            if core.bitfield:
                self.err("bit-field of a program-defined struct in kernel memory: not "
                         "supported", node)
            return _call("__bcc_read", [c_ast.UnaryOp("&", core.user)])
        if core.seg is None:
            return _call("__bcc_read", [core.base])
        if core.bitfield:
            seg = core.seg
            if not (isinstance(seg, c_ast.ID) or
                    isinstance(seg, c_ast.StructRef) and seg.type == "."):
                self.err("unsupported bit-field access", node)

            def build(b):
                p = self.core_ptr(core, b)
                if isinstance(seg, c_ast.ID):
                    return _call("BPF_CORE_READ_BITFIELD_PROBED", [p, seg])
                return _call("BPF_CORE_READ_BITFIELD_PROBED",
                             [c_ast.UnaryOp("&", _graft(p, seg.name)), seg.field])
            return self.hoisted(core, build)
        return self.hoisted(core, lambda b: _call("BPF_CORE_READ",
                                                  [b] + core.segs + [core.seg]))

    # -- special calls --------------------------------------------------------------------
    def tp_data_loc(self, n, name, args):
        need = 2 if name == "TP_DATA_LOC_READ" else 3
        if len(args) != need or not isinstance(args[1], c_ast.ID):
            self.err("%s(dst, field%s) expects %d arguments" % (
                name, "" if need == 2 else ", length", need), n)
        s = self.lookup("args")
        if s is None or not isinstance(s.type, Ptr):
            self.err("%s is only available in TRACEPOINT_PROBE" % name, n)
        self.member(s.type.to, "__data_loc_" + args[1].name, n)
        args[0] = self.expr(args[0]).node
        if need == 3:
            args[2] = self.expr(args[2]).node
        return R(n, Prim("long", 8))

    def probe_read(self, n, name, args):
        is_str, kname = PROBE_READ[name]
        dst, size, src = args
        d = self.expr(dst)
        sz = self.expr(size)
        s = src
        while isinstance(s, c_ast.Cast):
            s = s.expr
        core = None
        if isinstance(s, c_ast.UnaryOp) and s.op == "&" and isinstance(
                s.expr, (c_ast.StructRef, c_ast.ArrayRef, c_ast.UnaryOp)) and \
                not (isinstance(s.expr, c_ast.UnaryOp) and s.expr.op != "*"):
            r = self.chain(s.expr, "addr")
            core = r.core
        elif isinstance(s, (c_ast.StructRef, c_ast.ArrayRef)):
            r = self.chain(s, "value")
            if isinstance(r.type, Arr):
                core = r.core
                if core is not None:
                    r = R(self.core_addr(core), Ptr(r.type.of), "kernel", core)
        else:
            r = None
        args[0], args[1] = d.node, sz.node
        if core is not None:
            # a kernel field: CO-RE
            field_t = r.type.to if isinstance(r.type, Ptr) else r.type
            if core.seg is not None and self._reads_whole(dst, size, field_t, is_str):
                fn = "BPF_CORE_READ_STR_INTO" if is_str else "BPF_CORE_READ_INTO"
                return R(self.hoisted(core, lambda b: _call(
                    fn, [d.node, b] + core.segs + [core.seg], n.coord)), Prim("long", 8))
            if core.segs or core.seg is None:
                # the address holds a BPF_CORE_READ (no nested preserve_access_index):
                # the field access itself is relocated by vmlinux.h's attribute
                fn = kname
            else:
                fn = "bpf_core_read_str" if is_str else "bpf_core_read"
            if fn.startswith("bpf_core_read") and isinstance(r.node, Hoist):
                h = r.node      # the read itself goes inside the hoisted base's scope
                return R(Hoist(h.base, h.tmp, _call(fn, [d.node, sz.node, h.expr], n.coord)),
                         Prim("long", 8))
            return R(_call(fn, [d.node, sz.node, r.node], n.coord), Prim("long", 8))
        rs = self.expr(src) if r is None else r
        args[2] = rs.node
        if self.eprov(rs) == "kernel":
            n.name = _id(kname, n.name.coord)
        return R(n, Prim("long", 8))

    def kernel_memcpy(self, n, args):
        """memcpy(dst, src, size) from kernel memory is a probe read (as BCC rewrites
        it); between the program's own buffers it stays a memcpy."""
        dst, src, size = args
        probe = _call("__bcc_memcpy", [dst, size, src], n.coord)
        r = self.probe_read(probe, "bpf_probe_read_kernel", probe.args.exprs)
        if r.node is probe and probe.name.name == "__bcc_memcpy":
            d, sz, sr = probe.args.exprs
            args[0], args[1], args[2] = d, sr, sz
            return R(n, Ptr(Void()), "direct")
        return r

    def _reads_whole(self, dst, size, field_t, is_str):
        """dst is &X (or array X) and size is sizeof(X), and X has the field's type:
        then the BPF_CORE_READ_*INTO form reads exactly what the user asked for."""
        if not (isinstance(size, c_ast.UnaryOp) and size.op == "sizeof"):
            return False
        target = dst.expr if isinstance(dst, c_ast.UnaryOp) and dst.op == "&" else dst
        gen = c_generator.CGenerator()
        if gen.visit(size.expr) != gen.visit(target):
            return False
        try:
            tt = self.expr(target).type if not isinstance(target, c_ast.ID) else \
                self.lookup(target.name).type
        except TranslateError:
            return False
        if is_str:
            return isinstance(tt, Arr) and isinstance(field_t, Arr) and \
                tt.n is not None and field_t.n is not None and tt.n >= field_t.n
        return same_type(tt, field_t)
