"""Calls and BCC's maps: function calls (helpers, ``bpf_trace_printk``, USDT arguments...),
BCC table methods (``m.lookup()``, ``m.perf_submit()``...) -> helper calls (a mixin of
:class:`.translate.Translator`; map declarations are in :mod:`.mapdecl`)."""
from pycparser import c_ast

from .typemodel import (Void, Prim, Ptr, Fn, Rec, pointee, UNSUPPORTED_CALLS, PROBE_READ)
from .tnodes import TranslateError, R, _id, _call


_PRINTK_ONLY = "only %d %u %x %ld %lu %lx %lld %llu %llx %p %s conversion specifiers allowed"


def printk_format_warning(fmt):
    """BCC's check of a bpf_trace_printk() format (the text between the quotes, escapes
    as written): the warning its front end prints, or None.  The rules are BCC 0.26's:
    at most 3 conversions, one %s, %p/%s followed by a space, punctuation or the end,
    otherwise d/u/x after at most two 'l's."""
    n = 0
    has_s = False
    i = 0
    end = len(fmt)

    def at(k):
        return fmt[k] if k < end else "\0"
    while i < end:
        c = fmt[i]
        if not c.isascii() or not (c.isprintable() or c.isspace()):
            return "unrecognized character"
        if c != "%":
            i += 1
            continue
        if n >= 3:
            return "cannot use more than 3 conversion specifiers"
        n += 1
        i += 1
        if at(i) in "ps" and i < end:
            i += 1
            nxt = at(i)
            if not (nxt.isspace() or (nxt.isascii() and not nxt.isalnum() and
                                      nxt.isprintable()) or nxt == "\0"):
                return _PRINTK_ONLY
            if fmt[i - 1] == "s":
                if has_s:
                    return "cannot use several %s conversion specifiers"
                has_s = True
            continue
        if at(i) == "l":
            i += 1
            if at(i) == "l":
                i += 1
        if at(i) not in "dux" or i >= end:
            return _PRINTK_ONLY
        i += 1
    return None


class CallRules:
    """Function calls and map methods."""

    def x_FuncCall(self, n, mode):
        args = n.args.exprs if n.args is not None else []
        if isinstance(n.name, c_ast.StructRef) and n.name.type == "." and \
                isinstance(n.name.name, c_ast.ID) and n.name.name.name in self.maps and \
                self.lookup(n.name.name.name) is None:
            return self.map_call(n, self.maps[n.name.name.name], n.name.field.name, args)
        if isinstance(n.name, c_ast.ID):
            name = n.name.name
            if name == "offsetof":
                return R(n, Prim("unsigned long", 8))
            if name in self.nonstatic_funcs and self.lookup(name) is None:
                self.err("cannot call non-static helper function '%s' (as in BCC, every "
                         "non-static function is a program: declare it static)" % name, n,
                         name)
            if name in UNSUPPORTED_CALLS:
                self.err(UNSUPPORTED_CALLS[name] or "%s is not supported" % name, n, name)
            if name in ("TP_DATA_LOC_READ", "TP_DATA_LOC_READ_CONST",
                        "TP_DATA_LOC_READ_STR"):
                return self.tp_data_loc(n, name, args)
            if name == "bpf_trace_printk":
                n.name = _id("bpf_printk", n.name.coord)
                self.check_printk(n, args)
            if name in ("incr_cksum_l3", "incr_cksum_l4"):
                return self.cksum_call(n, name, args)      # compat.packet
            if name in ("bpf_usdt_readarg", "bpf_usdt_readarg_p"):
                return self.usdt_readarg(n, name, args)
            if name in ("memcpy", "__builtin_memcpy") and len(args) == 3:
                return self.kernel_memcpy(n, args)
            if name in PROBE_READ and len(args) == 3:
                return self.probe_read(n, name, args)
        fr = self.expr(n.name)
        for i, a in enumerate(args):
            args[i] = self.expr(a).node
        ft = fr.type
        if isinstance(ft, Ptr):
            ft = ft.to
        if not isinstance(ft, Fn):
            self.err("called object is not a function", n)
        callee = getattr(n.name, "name", None)
        prov = "direct" if callee in ("bpf_map_lookup_elem", "bpf_ringbuf_reserve") else \
            "kernel" if callee in self.kernel_returns and isinstance(ft.ret, Ptr) else None
        return R(n, ft.ret, prov)

    def macro_arg(self, node):
        """An argument of one of bcc_compat.h's macros: parenthesized when its text has
        a comma (a compound literal key, ``(struct key_t){a, b}``), which would split it."""
        text = self.em.render(node)
        return _id("(%s)" % text, node.coord) if "," in text else node

    def check_printk(self, n, args):
        """BCC's format warnings for bpf_trace_printk() (printed, not fatal)."""
        if not args or not isinstance(args[0], c_ast.Constant) or args[0].type != "string":
            return
        lit = args[0].value
        w = printk_format_warning(lit[1:-1] if lit.startswith('"') else lit)
        if w:
            f, line = self.where(args[0])
            col = getattr(args[0].coord, "column", 0) or 0
            self.warnings.append("%s:%s:%d: warning: %s" % (f or self.filename, line or 0,
                                                            col, w))

    def note_event(self, m, t):
        """Remember the record type a perf/ring buffer map carries: the facade decodes
        b["map"].event(data) with it (emitted as a BTF-visible hint, see emit)."""
        if isinstance(t, Rec) and t.name and not t.kernel:
            self.event_types.setdefault(m.name, t.spell())

    def sizeof_type(self, n):
        if isinstance(n, c_ast.UnaryOp) and n.op == "sizeof":
            e = n.expr
            try:
                return self.rtype(e) if isinstance(e, c_ast.Typename) else self.expr(e).type
            except TranslateError:
                return None
        return None

    def usdt_readarg(self, n, name, args):
        """bpf_usdt_readarg(N, ctx, &x) -> _bpf_readarg_FN_N(ctx, &x, sizeof(x)), the
        reader bcc_core.usdt generated for the probe enabled on this function (BCC's
        rewrite); bpf_usdt_readarg_p(N, ctx, buf, len) reads the user memory the
        argument points to."""
        want = 3 if name == "bpf_usdt_readarg" else 4
        idx = self.const_int(args[0]) if args else None
        if len(args) != want or idx is None:
            self.err("%s(N, ctx, %s) takes a constant argument number" % (
                name, "&dst" if want == 3 else "buf, len"), n, name)
        fn = "_bpf_readarg_%s_%d" % (self.cur_func, idx)
        if self.lookup(fn) is None and fn not in self.funcs:
            self.err("%s(%d, ...) in %s: no USDT probe with an argument %d is enabled on "
                     "this function (USDT.enable_probe(probe, fn_name=\"%s\") and "
                     "BPF(..., usdt_contexts=[usdt]))" % (name, idx, self.cur_func, idx,
                                                          self.cur_func), n, name)
        rs = [self.expr(a).node for a in args[1:]]
        em = self.em
        if want == 3:
            size = c_ast.UnaryOp("sizeof", c_ast.UnaryOp("*", rs[1]))
            return R(_call(fn, [rs[0], rs[1], size], n.coord), Prim("int", 4))
        text = ("({ u64 __bcc_p = 0; %s(%s, &__bcc_p, sizeof(__bcc_p)); "
                "bpf_probe_read_user(%s, %s, (void *)__bcc_p); })"
                % (fn, em.render(rs[0]), em.render(rs[1]), em.render(rs[2])))
        return R(_id(text, n.coord), Prim("long", 8))

    def map_call(self, n, m, meth, args):
        c = n.coord
        ref = c_ast.UnaryOp("&", _id(m.name), c)
        rargs = [self.expr(a) for a in args]
        targs = [r.node for r in rargs]
        if meth in ("perf_submit", "perf_submit_skb") and len(rargs) >= 2:
            self.note_event(m, pointee(rargs[1].type))
        elif meth == "ringbuf_output" and rargs:
            self.note_event(m, pointee(rargs[0].type))
        elif meth == "ringbuf_reserve" and rargs:
            self.note_event(m, self.sizeof_type(args[0]))

        def want(k):
            if len(targs) not in (k if isinstance(k, tuple) else (k,)):
                self.err("%s.%s() takes %s argument(s)" % (m.name, meth, k), n, meth)
        long_ = Prim("long", 8)
        if meth == "lookup":
            want(1)
            return R(_call("bpf_map_lookup_elem", [ref] + targs, c), Ptr(m.value), "direct")
        if meth in ("lookup_or_try_init", "lookup_or_init"):
            # BCC: lookup_or_init() returns 0 from the BPF function when the element
            # cannot be had (so programs use the result unchecked); try_init gives NULL
            want(2)
            targs = [self.macro_arg(a) for a in targs]
            return R(_call("__bcc_" + meth, [ref] + targs, c), Ptr(m.value), "direct")
        if meth in ("update", "insert"):
            want(2)
            flag = "BPF_ANY" if meth == "update" else "BPF_NOEXIST"
            return R(_call("bpf_map_update_elem", [ref] + targs + [_id(flag)], c), long_)
        if meth == "delete":
            want(1)
            return R(_call("bpf_map_delete_elem", [ref] + targs, c), long_)
        if meth in ("increment", "atomic_increment"):
            want((1, 2))
            if len(targs) == 1:
                targs.append(c_ast.Constant("int", "1"))
            fn = "__bcc_map_increment_percpu" if m.percpu and meth == "increment" \
                else "__bcc_map_increment"
            # macro arguments: a compound-literal key's commas must not split them
            targs = [self.macro_arg(a) for a in targs]
            return R(_call(fn, [ref] + targs, c), Void())
        r = self.output_call(m, meth, ref, targs, want, c)
        if r is not None:
            return r
        if meth == "get_stackid":
            want(2)
            return R(_call("bpf_get_stackid", [targs[0], ref, targs[1]], c), long_)
        if meth == "perf_read":
            want(1)
            return R(_call("bpf_perf_event_read", [ref, targs[0]], c), Prim("u64", 8))
        if meth == "call":
            want(2)
            return R(_call("bpf_tail_call", [targs[0], ref, targs[1]], c), long_)
        if meth in ("push", "peek", "pop"):
            want((1, 2) if meth == "push" else 1)
            if meth == "push" and len(targs) == 1:
                targs.append(c_ast.Constant("int", "0"))
            return R(_call("bpf_map_%s_elem" % meth, [ref] + targs, c), long_)
        r = self.kind_call(n, m, meth, ref, targs)      # compat.mapdecl
        if r is not None:
            return r
        self.err("BCC table method '%s.%s()' is not supported" % (m.name, meth), n,
                 "." + meth)

    def output_call(self, m, meth, ref, targs, want, c):
        """The event output methods (perf_submit, perf_submit_skb, ringbuf_*) -> their
        helper calls, or None for other methods."""
        long_ = Prim("long", 8)
        if meth == "perf_submit":
            want(3)
            return R(_call("bpf_perf_event_output",
                           [targs[0], ref, _id("BPF_F_CURRENT_CPU"), targs[1], targs[2]], c),
                     long_)
        if meth == "perf_submit_skb":
            want(4)
            flags = c_ast.BinaryOp("|", c_ast.BinaryOp("<<", c_ast.Cast(
                c_ast.Typename(None, [], None, c_ast.TypeDecl(None, [], None,
                               c_ast.IdentifierType(["u64"]))), targs[1]),
                c_ast.Constant("int", "32")), _id("BPF_F_CURRENT_CPU"))
            return R(_call("bpf_perf_event_output", [targs[0], ref, flags, targs[2],
                                                     targs[3]], c), long_)
        if meth == "ringbuf_output":
            want(3)
            return R(_call("bpf_ringbuf_output", [ref] + targs, c), long_)
        if meth == "ringbuf_reserve":
            want(1)
            return R(_call("bpf_ringbuf_reserve", [ref, targs[0], c_ast.Constant("int", "0")],
                           c), Ptr(Void()), "direct")
        if meth in ("ringbuf_submit", "ringbuf_discard"):
            want(2)
            return R(_call("bpf_" + meth, targs, c), Void())
        return None
