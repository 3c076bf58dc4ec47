"""The translator's type checker: scopes and symbol tables, types from the AST, provenance
(which pointers point into the kernel) and the expression walk (``x_<Node>``; calls are in
:mod:`.calls`, kernel reads in :mod:`.coreread`) -- a mixin of :class:`.translate.Translator`."""
from pycparser import c_ast

from .typemodel import (Void, Prim, Ptr, Arr, Fn, MapTy, Rec, prim_from_words, is_ptrish,
                        pointee, helper_returns, EXTRA_FUNCS, STATEMENTS)
from .tnodes import R, Sym


# The uapi structs programs get as their context (the verifier rewrites their member
# accesses to the kernel's objects): read directly wherever they are -- a helper
# function's parameter, a cast, a local -- never with CO-RE / probe reads.  pt_regs is
# not one of them everywhere (a syscall's user registers are kernel memory): a probe's
# own pt_regs context is direct by the parameter rules (compat.probes).
CTX_TYPES = frozenset((
    "__sk_buff", "xdp_md", "bpf_sock_ops", "sk_msg_md", "bpf_sock", "bpf_sock_addr",
    "sk_reuseport_md", "bpf_sk_lookup", "bpf_sockopt", "bpf_sysctl", "bpf_cgroup_dev_ctx",
    "bpf_perf_event_data", "bpf_raw_tracepoint_args", "bpf_flow_keys", "xdp_sock",
    "bpf_tcp_sock", "bpf_xdp_sock"))


class Checker:
    """Scopes, types and the expression walk."""

    # -- scopes -------------------------------------------------------------------------------
    def lookup(self, name):
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        return None

    def declare(self, name, sym):
        self.scopes[-1][name] = sym

    def tag(self, su, name):
        for s in reversed(self.tags):
            r = s.get((su, name))
            if r is not None:
                return r
        r = self.bt.record(su, name)
        if r is None:
            r = Rec(su, name)       # unknown: an error only when its members are used
        return r

    # -- types from the AST ---------------------------------------------------------------
    def rtype(self, n):
        if isinstance(n, (c_ast.Typename, c_ast.Decl)):
            return self.rtype(n.type)
        if isinstance(n, c_ast.PtrDecl):
            return Ptr(self.rtype(n.type))
        if isinstance(n, c_ast.ArrayDecl):
            return Arr(self.rtype(n.type), self.const_int(n.dim))
        if isinstance(n, c_ast.FuncDecl):
            ps = []
            if n.args is not None:
                for p in n.args.params:
                    if isinstance(p, c_ast.EllipsisParam):
                        continue
                    ps.append(self.rtype(p))
            return Fn(self.rtype(n.type), ps)
        if isinstance(n, c_ast.TypeDecl):
            return self.rtype(n.type)
        if isinstance(n, c_ast.IdentifierType):
            names = n.names
            if len(names) == 1:
                nm = names[0]
                t = self.lookup_typedef(nm)
                if t is not None:
                    return t
                if nm == "void":
                    return Void()
            return prim_from_words(names)
        if isinstance(n, (c_ast.Struct, c_ast.Union)):
            su = "struct" if isinstance(n, c_ast.Struct) else "union"
            if n.decls is not None:
                return self.define_record(su, n)
            if n.name and n.name.startswith("__bcc_tp_args__"):
                return self.tp_record(n)
            return self.tag(su, n.name)
        if isinstance(n, c_ast.Enum):
            if n.values is not None:
                v = 0
                for e in n.values.enumerators:
                    if e.value is not None:
                        v = self.const_int(e.value)
                    self.scopes[-1][e.name] = Sym(Prim("int", 4), None, "enum")
                    v = (v or 0) + 1
            return Prim("enum " + (n.name or ""), 4)
        return Prim("int", 4)

    def lookup_typedef(self, name):
        for s in reversed(self.typedefs):
            if name in s:
                return s[name]
        region = self.masker.regions.get(name)
        if region is not None and region.kind == "T":
            t = self.region_type(region)
            self.typedefs[0][name] = t
            return t
        tid = self.bt.typedef_names().get(name)
        if tid is not None:
            return self.bt.conv(tid)
        return None

    def define_record(self, su, n):
        fields = {}
        rec = Rec(su, n.name, fields=fields)
        if n.name:
            self.tags[-1][(su, n.name)] = rec
        for d in n.decls:
            if isinstance(d, c_ast.Pragma):
                continue
            t = self.rtype(d.type)
            if d.name:
                fields[d.name] = (t, 0)
            elif isinstance(t, Rec) and t.fields is not None:
                fields.update(t.fields)     # anonymous struct/union member
        if n.name in self.packet_structs:
            self.packet_layout(rec, n.decls)
        return rec

    def const_int(self, n):
        if n is None:
            return None
        try:
            if isinstance(n, c_ast.Constant) and n.type in ("int", "unsigned int", "long int",
                                                            "unsigned long int",
                                                            "long long int",
                                                            "unsigned long long int"):
                return int(n.value.rstrip("uUlL"), 0)
            if isinstance(n, c_ast.BinaryOp):
                a, b = self.const_int(n.left), self.const_int(n.right)
                if a is None or b is None:
                    return None
                return {"+": a + b, "-": a - b, "*": a * b, "<<": a << b, ">>": a >> b,
                        "/": a // b if b else None, "|": a | b, "&": a & b}.get(n.op)
            if isinstance(n, c_ast.UnaryOp) and n.op == "-":
                v = self.const_int(n.expr)
                return None if v is None else -v
        except (ValueError, TypeError):
            return None
        return None

    def member(self, rec, name, node):
        if not isinstance(rec, Rec):
            self.err("member reference '%s' on a value of type %s that is not a struct "
                     "or union" % (name, rec.spell() if rec else "?"), node)
        if rec.btf_id is not None:
            r = self.bt.member(rec, name)
            if r is None:
                self.err("no member named '%s' in %s (kernel BTF)" % (name, rec.spell()),
                         node)
            return r
        if rec.fields is None:
            self.err("unknown type '%s': not in the kernel's BTF nor defined in the "
                     "program" % rec.spell(), node)
        r = rec.fields.get(name)
        if r is None:
            self.err("no member named '%s' in %s" % (name, rec.spell()), node)
        return r

    # -- provenance ----------------------------------------------------------------------
    @staticmethod
    def kernel_ptr(t, prov):
        if prov == "direct":
            return False
        if prov == "kernel":
            return True
        p = pointee(t)
        return isinstance(p, Rec) and p.kernel and p.name not in CTX_TYPES

    @classmethod
    def eprov(cls, r):
        if r.prov:
            return r.prov
        return "kernel" if isinstance(r.type, Ptr) and cls.kernel_ptr(r.type, None) else None

    # -- expressions ----------------------------------------------------------------------
    def expr(self, n, mode="value"):
        m = getattr(self, "x_" + type(n).__name__, None)
        if m is None:
            self.err("unsupported expression (%s)" % type(n).__name__, n)
        return m(n, mode)

    def x_StructRef(self, n, mode):
        return self.chain(n, mode)

    x_ArrayRef = x_StructRef

    def x_ID(self, n, mode):
        s = self.lookup(n.name)
        if s is None and n.name in self.masker.regions:
            return self.masked_expr(n, self.masker.regions[n.name])
        if s is None:
            if n.name in self.maps:
                return R(n, MapTy(self.maps[n.name]), "direct")
            ev = self.bt.enumerators().get(n.name)
            if ev is not None:
                return R(n, Prim("int", 4))
            if n.name in self.funcs:
                return R(n, self.funcs[n.name])
            rt = self.func_ret(n.name)
            if rt is not None:
                return R(n, Fn(rt))
            self.err("use of undeclared identifier '%s' (kernel macros and functions "
                     "are not available: only types and enum values from BTF)"
                     % n.name, n, n.name)
        if s.kind == "enum":
            return R(n, s.type)
        prov = s.prov
        if isinstance(s.type, Arr):
            prov = prov if prov == "kernel" else "direct"
        return R(n, s.type, prov)

    def masked_expr(self, n, region):
        """A masked construct standing as an expression: asm and builtins are typed
        only; a statement expression's body is parsed at its place, rewritten like any
        block, and typed by its last statement."""
        if region.kind == "A":
            return R(n, Void())
        if region.kind != "S":
            return R(n, Prim("int", 4))
        done = self.stmt_exprs.get(region.name)
        if done is not None:
            return done
        body = self.parse_region_body(region)
        self.em.attach(n, "@body", body)
        items = body.block_items or []
        self.push()
        last = R(n, Void())
        for i, st in enumerate(items):
            if i == len(items) - 1 and not isinstance(st, STATEMENTS):
                r = self.expr(st)
                items[i] = r.node
                last = R(n, r.type, r.prov)
            else:
                items[i] = self.stmt(st)
        self.pop()
        self.stmt_exprs[region.name] = last
        return last

    def x_Constant(self, n, mode):
        if n.type == "string":
            return R(n, Arr(Prim("char", 1), None), "direct")
        if n.type in ("float", "double"):
            return R(n, Prim("double", 8))
        if n.type == "char":
            return R(n, Prim("int", 4))
        return R(n, prim_from_words(n.type.split()))

    def x_UnaryOp(self, n, mode):
        op = n.op
        if op == "*":
            return self.chain(n, mode)
        if op == "sizeof":
            return R(n, Prim("unsigned long", 8))
        if op == "&":
            e = n.expr
            if isinstance(e, (c_ast.StructRef, c_ast.ArrayRef)) or \
                    (isinstance(e, c_ast.UnaryOp) and e.op == "*"):
                r = self.chain(e, "addr")
                if r.core is None and r.addr_of is e:
                    return R(n, r.type, r.prov)       # unchanged: keep the node
                return r
            r = self.expr(e, "lvalue")
            n.expr = r.node
            return R(n, Ptr(r.type), "direct")
        if op in ("++", "--", "p++", "p--"):
            r = self.expr(n.expr, "lvalue")
            n.expr = r.node
            return R(n, r.type, r.prov)
        r = self.expr(n.expr)
        n.expr = r.node
        if op == "!":
            return R(n, Prim("int", 4))
        return R(n, r.type)

    def x_BinaryOp(self, n, mode):
        a = self.expr(n.left)
        b = self.expr(n.right)
        n.left, n.right = a.node, b.node
        op = n.op
        if op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            return R(n, Prim("int", 4))
        if op in ("+", "-"):
            if is_ptrish(a.type) and not is_ptrish(b.type):
                t = a.type if isinstance(a.type, Ptr) else Ptr(a.type.of)
                return R(n, t, self.eprov(R(None, t, a.prov)))
            if is_ptrish(b.type) and not is_ptrish(a.type):
                t = b.type if isinstance(b.type, Ptr) else Ptr(b.type.of)
                return R(n, t, self.eprov(R(None, t, b.prov)))
            if is_ptrish(a.type):
                return R(n, Prim("long", 8))
        ta, tb = a.type, b.type
        prov = "kernel" if op in ("+", "-", "&", "|") and "kernel" in (a.prov, b.prov) \
            else None
        if isinstance(ta, Prim) and isinstance(tb, Prim):
            return R(n, ta if (ta.size or 4) >= (tb.size or 4) else tb, prov)
        return R(n, ta, prov)

    def x_Assignment(self, n, mode):
        pw = self.packet_write(n)
        if pw is not None:
            return pw
        lv = self.expr(n.lvalue, "lvalue")
        rv = self.expr(n.rvalue)
        n.lvalue, n.rvalue = lv.node, rv.node
        if n.op == "=" and isinstance(n.lvalue, c_ast.ID):
            s = self.lookup(n.lvalue.name)
            if s is not None and s.kind == "var" and isinstance(s.type, (Ptr, Rec)):
                s.prov = self.eprov(rv)
        return R(n, lv.type, lv.prov)

    def x_TernaryOp(self, n, mode):
        c = self.expr(n.cond)
        a = self.expr(n.iftrue)
        b = self.expr(n.iffalse)
        n.cond, n.iftrue, n.iffalse = c.node, a.node, b.node
        return R(n, a.type, a.prov if a.prov == b.prov else None)

    def x_Cast(self, n, mode):
        t = self.rtype(n.to_type)
        r = self.expr(n.expr)
        n.expr = r.node
        prov = None
        if isinstance(r.type, (Ptr, Arr)) and isinstance(t, Ptr):
            prov = self.eprov(r)
        elif isinstance(t, (Ptr, Prim)) and (r.prov == "kernel" or self.eprov(r) == "kernel"):
            # an address in kernel memory (or a value read from it) as a number, or a
            # number made a pointer again: still kernel memory (BCC's rule)
            prov = "kernel"
        return R(n, t, prov)

    def x_ExprList(self, n, mode):
        last = R(n, Void())
        for i, e in enumerate(n.exprs):
            last = self.expr(e)
            n.exprs[i] = last.node
        return R(n, last.type, last.prov)

    def x_InitList(self, n, mode):
        for i, e in enumerate(n.exprs):
            n.exprs[i] = self.expr(e).node
        return R(n, Void())

    def x_NamedInitializer(self, n, mode):
        n.expr = self.expr(n.expr).node
        return R(n, Void())

    def x_CompoundLiteral(self, n, mode):
        t = self.rtype(n.type)
        self.expr(n.init)
        return R(n, t, "direct")

    def x_Typename(self, n, mode):
        return R(n, self.rtype(n))

    def func_ret(self, name):
        ret = EXTRA_FUNCS.get(name)
        if ret is None:
            ret = helper_returns().get(name)
        if ret is None:
            if name.startswith(("__builtin_", "__sync_", "__atomic_")):
                return Prim("long", 8)
            return None
        return self.type_from_text(ret)

    def type_from_text(self, text):
        stars = text.count("*")
        words = text.replace("*", " ").replace("const", " ").split()
        if words[:1] in (["struct"], ["union"]):
            t = self.tag(words[0], words[1])
        elif words == ["void"]:
            t = Void()
        elif len(words) == 1 and self.lookup_typedef(words[0]) is not None:
            t = self.lookup_typedef(words[0])
        else:
            t = prim_from_words(words)
        for _ in range(stars):
            t = Ptr(t)
        return t
