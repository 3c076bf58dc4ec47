"""Probe functions: ``kprobe__``/``kretprobe__``/``syscall__`` names, ``TRACEPOINT_PROBE``,
``RAW_TRACEPOINT_PROBE``, ``KFUNC_PROBE``/``LSM_PROBE``... and context-typed functions get
``SEC()`` and ``BPF_KPROBE``/``BPF_PROG``; helper functions are inlined; tracepoint argument
structs (a mixin of :class:`.translate.Translator`)."""
import os
import re

from pycparser import c_ast

from bcc_core import btf as _btf

from .prelude import IDENT
from .typemodel import Void, Prim, Ptr, Arr, Rec
from .tnodes import Sym, _is_void, _strip_declname, _walk


class ProbeRules:
    """Function definitions and tracepoint records."""

    # -- functions ------------------------------------------------------------------------
    def funcdef(self, f, item):
        decl = f.decl
        name = decl.name
        self.cur_func = name
        fdecl = decl.type
        if not isinstance(fdecl, c_ast.FuncDecl):
            self.err("cannot parse the definition of '%s' as a function" % name, f)
        params = list(fdecl.args.params) if fdecl.args is not None else []
        params = [p for p in params if not (isinstance(p, c_ast.Typename) and
                                            _is_void(p))]
        self.funcs[name] = self.rtype(fdecl)
        # the socket buffer of packet header accesses (compat.packet): the first parameter
        self.cur_ctx = params[0].name if params and \
            not isinstance(params[0], c_ast.EllipsisParam) else None
        static = "static" in list(decl.storage or [])
        first_t = self.rtype(params[0].type) if params and \
            not isinstance(params[0], c_ast.EllipsisParam) else None
        sec, macro, out_name, ctx_names, kernel_params = self._probe_kind(
            f, name, fdecl, params, first_t, static)
        # body
        self.push()
        self._declare_params(params, ctx_names, kernel_params, macro, first_t)
        f.body = self.stmt(f.body)
        self.pop()
        return self._funcdef_edits(f, item, params, sec, macro, out_name)

    def _probe_kind(self, f, name, fdecl, params, first_t, static):
        """What a function definition is: (SEC() name or None for a helper function,
        BPF_KPROBE/BPF_KSYSCALL/BPF_PROG macro or None, output name, the names of its
        context parameters, whether its pointer parameters point into the kernel)."""
        sec = None
        macro = None
        out_name = name
        ctx_names = set()
        kernel_params = False
        first_is_regs = isinstance(first_t, Ptr) and isinstance(first_t.to, Rec) and \
            first_t.to.name == "pt_regs"
        if name.startswith("__bcc_tracepoint__"):
            rest = name[len("__bcc_tracepoint__"):]
            cat, _, ev = rest.partition("__")
            out_name = "tracepoint__%s__%s" % (cat, ev)
            sec = "tracepoint/%s/%s" % (cat, ev)
            # args: the kernel's trace_event_raw_* type (read with CO-RE: a direct load
            # at a relocated offset can become "modified ctx" access) or a struct made
            # from the format file (constant offsets, read directly)
            ctx_names.add("args")
            kernel_params = True
        elif name.startswith("__bcc_raw_tracepoint__"):
            ev = name[len("__bcc_raw_tracepoint__"):]
            out_name = "raw_tracepoint__" + ev
            sec = "raw_tp/" + ev
            ctx_names.add("ctx")
        elif name.startswith(("__bcc_kfunc__", "__bcc_kretfunc__", "__bcc_lsm__",
                              "__bcc_kmod_ret__")):
            pre, _, ev = name[len("__bcc_"):].partition("__")
            out_name = "%s__%s" % (pre, ev)
            sec = {"kfunc": "fentry/", "kretfunc": "fexit/", "lsm": "lsm/",
                   "kmod_ret": "fmod_ret/"}[pre] + ev
            macro = "BPF_PROG"
        elif name.startswith(("kprobe__", "kretprobe__")):
            kernel_params = True
            ret = name.startswith("kretprobe__")
            ev = name.split("__", 1)[1]
            sec = ("kretprobe/" if ret else "kprobe/") + ev
            if params and not first_is_regs and not (isinstance(first_t, Ptr) and
                                                     isinstance(first_t.to, Void)):
                self.err("%s: the first parameter of a kprobe function must be "
                         "struct pt_regs * (or void *)" % name, f)
            if len(params) > 1:
                if ret:
                    self.err("%s: kretprobe functions take only the struct pt_regs * "
                             "context (use PT_REGS_RC(ctx))" % name, params[1], "kretprobe")
                macro = "BPF_KPROBE"
            if params:
                ctx_names.add(params[0].name)
        elif name.startswith("syscall__"):
            ev = name[len("syscall__"):]
            sec = "ksyscall/" + ev
            if len(params) > 1:
                macro = "BPF_KSYSCALL"
            if params:
                ctx_names.add(params[0].name)
        elif not static and params and name not in self.called and \
                isinstance(first_t, Ptr):
            to = first_t.to
            tn = to.name if isinstance(to, Rec) else None
            sec = {"pt_regs": "kprobe", "bpf_perf_event_data": "perf_event",
                   "__sk_buff": "socket", "xdp_md": "xdp",
                   "bpf_raw_tracepoint_args": "raw_tp"}.get(tn, "kprobe")
            kernel_params = tn == "pt_regs"
            if tn == "pt_regs" and len(params) > 1:
                macro = "BPF_KPROBE"
            ctx_names.add(params[0].name)
        elif not static and not params and name not in self.called and \
                isinstance(self.rtype(fdecl.type), Prim):
            # int f() that nothing calls: a program the script attaches by name (runqlen's
            # do_perf_event()); loaded as the type its attach call implies
            sec = "kprobe"
        return sec, macro, out_name, ctx_names, kernel_params

    def _declare_params(self, params, ctx_names, kernel_params, macro, first_t):
        """The parameters' symbols: a probe's context is read directly, a kprobe's other
        pointer arguments point into the kernel."""
        for p in params:
            if isinstance(p, c_ast.EllipsisParam) or not p.name:
                continue
            t = self.rtype(p.type)
            if p.name in ctx_names and not (kernel_params and isinstance(t, Ptr) and
                                            isinstance(t.to, Rec) and t.to.kernel):
                prov = "direct"
            elif isinstance(t, Ptr) and isinstance(t.to, Rec) and t.to.name == "pt_regs":
                prov = "direct"         # a probe's context passed on (BCC's rule)
            elif kernel_params and isinstance(t, Ptr) and p.name not in ctx_names:
                prov = "kernel"         # a kprobe's arguments point into the kernel
            else:
                prov = None
            self.declare(p.name, Sym(t, prov))
        if macro in ("BPF_KPROBE", "BPF_KSYSCALL") and params[0].name != "ctx":
            self.declare("ctx", Sym(first_t, "direct"))
        elif macro == "BPF_PROG":
            # KFUNC_PROBE/KRETFUNC_PROBE/LSM_PROBE bodies use ctx (BPF_PROG's u64 *ctx),
            # as in BCC (opensnoop passes it to perf_submit)
            self.declare("ctx", Sym(Ptr(Prim("unsigned long long", 8)), "direct"))

    def _funcdef_edits(self, f, item, params, sec, macro, out_name):
        """The edits of a function definition's head: SEC() and the macro signature for a
        probe, static __always_inline for a helper function."""
        decl = f.decl
        name = decl.name
        fdecl = decl.type
        em = self.em
        src = self.source
        head_lo = src.tok_start[item[0]]
        if item[2] is None:
            self.err("%s: cannot find the function's body" % name, f)
        body_lo = src.tok_start[item[2]]
        edits = []
        if macro in ("BPF_KPROBE", "BPF_KSYSCALL") and params[0].name != "ctx":
            # BPF_KPROBE names the context ctx; keep the user's name working
            edits.append((body_lo + 1, body_lo + 1,
                          " %s = ctx;" % em.render_original(params[0])))
        if sec is None:
            # a helper function: always inlined (storage words before its name dropped)
            name_lo = src.offset(decl.coord)
            lead = re.sub(r"\b(static|extern|inline|__inline|__inline__)\b|"
                          r"__attribute__\s*\(\(\s*always_inline\s*\)\)", "",
                          self.pp[head_lo:name_lo]).lstrip()
            header = "static __always_inline " + lead + self.pp[name_lo:body_lo]
            return [(head_lo, body_lo, header)] + edits
        g = em.printer
        ret = g.visit(c_ast.Typename(None, [], None, _strip_declname(fdecl.type)))
        if ret.strip() == "void":
            # a void probe (oomkill's): programs return a value -- int, 0 on every path
            ret = "int"
            for node in _walk(f.body):
                if isinstance(node, c_ast.Return) and node.expr is None:
                    lo, hi = src.offsets(node)
                    edits.append((lo, hi, "return 0"))
            close = src.tok_start[src.match[item[2]]]
            edits.append((close, close, "return 0; "))
        if name.startswith("__bcc_tracepoint__"):
            rec = self.rtype(params[0].type)
            ps = ["struct %s *%s" % (rec.to.name, params[0].name)]
        else:
            ps = [em.render(p) for p in params]
        if macro:
            rest = ps[1:] if macro in ("BPF_KPROBE", "BPF_KSYSCALL") else ps
            sig = "%s %s(%s)" % (ret, macro, ", ".join([out_name] + rest))
        else:
            sig = "%s %s(%s)" % (ret, out_name, ", ".join(ps or ["void"]))
        if ret.strip() != "int" and macro:
            self.err("%s: probe functions must return int" % out_name, f)
        return [(head_lo, body_lo, 'SEC("%s") %s ' % (sec, sig))] + edits

    # -- tracepoints ----------------------------------------------------------------------
    def tp_record(self, n):
        key = n.name
        r = self.tags[0].get(("struct", key))
        if r is not None:
            return r
        rest = key[len("__bcc_tp_args__"):]
        cat, _, ev = rest.partition("__")
        rec, cname, text = self.tp_struct(cat, ev, n)
        self.tags[0][("struct", key)] = rec
        self.tags[0][("struct", cname)] = rec
        n.name = cname
        if text:
            self.tp_text.append(text)
        return rec

    def read_format(self, cat, ev):
        tf = self.tracefs
        if tf is None:
            from bcc_core.load import features
            tf = features.tracefs(mount=True)
        if not tf:
            return None
        p = os.path.join(tf, "events", cat, ev, "format")
        try:
            with open(p) as fh:
                text = fh.read()
        except OSError:
            return None
        fields = []
        for m in re.finditer(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);",
                             text):
            fields.append((m.group(1).strip(), int(m.group(2)), int(m.group(3)),
                           int(m.group(4))))
        return fields

    def tp_struct(self, cat, ev, node):
        """The record for TRACEPOINT_PROBE(cat, ev)'s args: the kernel's
        trace_event_raw_* type in BTF when one matches the tracepoint's format,
        else a struct generated from the tracefs format file."""
        fmt = self.read_format(cat, ev)
        want = None
        if fmt is not None:
            want = []
            for decl, off, size, sgn in fmt:
                nm = IDENT.findall(re.sub(r"\[\d*\]", "", decl))[-1]
                if nm.startswith("common_"):
                    continue
                if decl.startswith("__data_loc"):
                    nm = "__data_loc_" + nm
                want.append((nm, off))
        cands = self.btf.find("trace_event_raw_" + ev, _btf.KIND_STRUCT)
        if want is not None and not cands:
            cands = self._tp_candidates(len(want) + 2)
        for tid in cands:
            bt = self.btf.type(tid)
            have = [(m.name, m.bit_offset // 8) for m in bt.members
                    if m.name not in ("ent", "__data")]
            if want is None or have == want:
                return self.bt.conv(tid), bt.name, ""
        if fmt is None:
            self.err("tracepoint %s:%s not found (no trace_event_raw_%s in BTF and no "
                     "tracefs format file)" % (cat, ev, ev), node, "TRACEPOINT_PROBE")
        # generate from the format file
        cname = "tracepoint__%s__%s" % (cat, ev)
        lines = ["struct %s {" % cname]
        fields = {}
        cur = 0
        npad = 0
        for decl, off, size, sgn in fmt:
            if off > cur:
                lines.append("\tchar __pad_%d[%d];" % (npad, off - cur))
                npad += 1
            decl = decl.replace("__user", "").strip()
            nm = IDENT.findall(re.sub(r"\[\d*\]", "", decl))[-1]
            if decl.startswith("__data_loc"):
                c, t = "u32 __data_loc_%s" % nm, Prim("u32", 4)
                nm = "__data_loc_" + nm
            elif "[" in decl:
                n_el = re.search(r"\[(\d*)\]", decl)
                cnt = int(n_el.group(1)) if n_el and n_el.group(1) else 0
                if cnt and size % cnt == 0 and size // cnt in (1, 2, 4, 8):
                    es = size // cnt
                    et = ("s" if sgn else "u") + str(es * 8)
                    if decl.split()[0] == "char":
                        et = "char"
                    c, t = "%s %s[%d]" % (et, nm, cnt), Arr(Prim(et, es), cnt)
                else:
                    c, t = "u8 %s[%d]" % (nm, size), Arr(Prim("u8", 1), size)
            elif "*" in decl:
                base = decl[:decl.rindex("*") + 1]
                c = "%s%s" % (base, nm) if base.endswith("*") else base + " " + nm
                t = self.type_from_text(base)
            else:
                ty = {1: "8", 2: "16", 4: "32", 8: "64"}.get(size)
                if ty is None:
                    c, t = "u8 %s[%d]" % (nm, size), Arr(Prim("u8", 1), size)
                else:
                    et = ("s" if sgn else "u") + ty
                    c, t = "%s %s" % (et, nm), Prim(et, size)
            lines.append("\t%s;" % c)
            fields[nm] = (t, 0)
            cur = off + size
        lines.append("};\n")
        rec = Rec("struct", cname, fields=fields)
        return rec, cname, "\n".join(lines) + "\n"

    def _tp_candidates(self, max_members):
        """trace_event_raw_* structs with at most ``max_members`` members (the event's
        fields, ``ent`` and ``__data``): the record of an event whose class is named
        otherwise (softirq_entry's is trace_event_raw_softirq).  The list of all of them
        is made once per translation."""
        every = getattr(self, "_tp_every", None)
        if every is None:
            b = self.btf
            every = self._tp_every = [(tid, b.vlen_of(tid)) for tid in
                                      b.find_prefix("trace_event_raw_", _btf.KIND_STRUCT)]
        return [tid for tid, vlen in every if vlen <= max_members]
