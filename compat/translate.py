"""Translate BCC-dialect BPF C into libbpf CO-RE C: rewrite only what CO-RE needs.

Pipeline (one module per stage):

1. :mod:`.prelude` -- ``clang -E`` the source with a force-included *parse prelude* that
   gives BCC's macros a meaning pycparser can parse: ``BPF_HASH(start, u32, u64)``
   becomes ``struct __bcc_map__start { u32 *key; u64 *value; } start = {"hash", 10240,
   0}``, ``TRACEPOINT_PROBE(cat, ev)`` a function ``__bcc_tracepoint__cat__ev(struct
   __bcc_tp_args__cat__ev *args)``, and kernel macros (``TASK_COMM_LEN``, ``sk_state``,
   ``min()``...) their kernel definitions.  ``#include <...>`` of kernel headers is
   dropped: types come from BTF.
2. :mod:`.mask` -- GNU C that pycparser cannot parse is masked with text of the same
   length (offsets and lines unchanged); typedef names the program uses that exist in
   the kernel's BTF are declared as stubs so the text parses.
3. pycparser parses it; this module's type checker (types: :mod:`.typemodel`) walks
   every function and rewrites the tree in place: reads through kernel pointers become
   ``BPF_CORE_READ()`` (``__bcc_read()`` for the forms it cannot express,
   ``BPF_CORE_READ_BITFIELD_PROBED()`` for bit-fields), explicit ``bpf_probe_read*()``
   of kernel fields become ``bpf_core_read*()`` / ``BPF_CORE_READ_INTO()`` /
   ``BPF_CORE_READ_STR_INTO()``, map methods become helper calls, BCC's map macros
   BTF-defined maps, probe functions get ``SEC()`` and ``BPF_KPROBE``/``BPF_PROG``.
4. :mod:`.splice` -- the output is the preprocessed text with the spans of rewritten
   nodes replaced (each laid out over the lines it replaces), so everything else --
   GNU C included -- reaches clang as written, and clang's diagnostics point into the
   user's file through the preprocessor's line markers.

Anything that cannot be translated raises :class:`TranslateError` with the user's
file:line.
"""
import bisect  # noqa: F401
import os
import re
import subprocess  # noqa: F401

from pycparser import c_ast, c_generator, c_parser  # noqa: F401

from bcc_core import btf as _btf
from bcc_core.errors import BccCoreError  # noqa: F401

# (the names the parts below use stay importable from here, as before the split)
from .clang import ToolMissingError, find_clang  # noqa: F401 -- ToolMissingError re-exported
from .mask import MaskError, Masker  # noqa: F401
from .prelude import (C_WORDS, BASE_STUBS, IDENT, strip_system_includes,  # noqa: F401
    PARSE_LINE_OFFSET, blank_line_markers, linux_version_code, is_user_file,
    drop_preamble, line_map, prelude_dir, kconfig_header)
from .typemodel import (Void, Prim, Ptr, Arr, Fn, MapTy, Rec, prim_from_words,  # noqa: F401
    is_ptrish, pointee, btf_types, helper_returns, EXTRA_FUNCS, UNSUPPORTED_CALLS,
    PROBE_READ, STATEMENTS, MAP_TYPES, MapDecl, same_type)
from .splice import Emitter, Source, apply_edits  # noqa: F401
from .pch import HEAD
# the translator's parts
from .calls import CallRules
from .checker import Checker
from .coreread import KernelReads
from .frontend import Frontend
from .mapdecl import MapDecls
from .packet import PacketRules
from .probes import ProbeRules
from .tnodes import (HERE, COMPAT_HEADER, TranslateError, R, Core, Sym, Hoist,  # noqa: F401
                     _id, _call, _graft, _is_void, _strip_declname, _walk)


# ----------------------------------------------------------------------------------------
# The translator
# ----------------------------------------------------------------------------------------
class Translator(Frontend, Checker, KernelReads, PacketRules, CallRules, MapDecls,
                 ProbeRules):
    """BCC C -> CO-RE C for one program: the driver (entry point, statements, top level);
    the parts are mixins (:mod:`.frontend`, :mod:`.checker`, :mod:`.coreread`,
    :mod:`.packet`, :mod:`.calls`, :mod:`.mapdecl`, :mod:`.probes`)."""

    def __init__(self, btf=None, cflags=(), filename="<bcc>", clang=None,
                 tracefs=None):
        self.btf = btf if btf is not None else _btf.kernel_btf()
        self.bt = btf_types(self.btf)
        self.cflags = list(cflags)
        self.filename = filename
        self.clang = clang
        self.tracefs = tracefs
        self.masker = Masker()
        self.lmap = []
        self.warnings = []      # BCC's front-end warnings ("file:line:col: warning: ...")

    # -- locations ------------------------------------------------------------------------
    def where(self, node):
        """(file, line) in the user's sources of a node, from the preprocessor's line
        markers; (None, None) if unknown."""
        c = getattr(node, "coord", None) if node is not None else None
        if c is None or not c.line:
            return None, None
        i = c.line - 1 - PARSE_LINE_OFFSET
        if 0 <= i < len(self.lmap):
            return self.lmap[i]
        return None, None

    def err(self, msg, node=None, construct=None):
        file, line = self.where(node)
        raise TranslateError(msg, file or self.filename, line, construct)

    def _err_at_offset(self, msg, off, construct=None):
        i = self.pp.count("\n", 0, off)
        f, l = self.lmap[i] if i < len(self.lmap) else (self.filename, None)
        raise TranslateError(msg, f, l, construct)

    # -- entry point ----------------------------------------------------------------------
    def translate(self, text, src_dir="."):
        ast = self.parse(text, src_dir)
        return self.emit(ast)

    # -- statements -----------------------------------------------------------------------
    def stmt(self, n):
        if n is None:
            return None
        if isinstance(n, c_ast.Compound):
            self.push()
            for i, s in enumerate(n.block_items or []):
                n.block_items[i] = self.stmt(s)
            self.pop()
            return n
        if isinstance(n, c_ast.Decl):
            self.local_decl(n)
            return n
        if isinstance(n, c_ast.DeclList):
            for d in n.decls:
                self.local_decl(d)
            return n
        if isinstance(n, (c_ast.Typedef,)):
            self.typedefs[-1][n.name] = self.rtype(n.type)
            return n
        if isinstance(n, c_ast.If):
            n.cond = self.expr(n.cond).node
            n.iftrue = self.stmt(n.iftrue)
            n.iffalse = self.stmt(n.iffalse)
            return n
        if isinstance(n, c_ast.For):
            self.push()
            if isinstance(n.init, c_ast.DeclList):
                self.stmt(n.init)
            elif n.init is not None:
                n.init = self.expr(n.init).node
            if n.cond is not None:
                n.cond = self.expr(n.cond).node
            if n.next is not None:
                n.next = self.expr(n.next).node
            n.stmt = self.stmt(n.stmt)
            self.pop()
            return n
        if isinstance(n, (c_ast.While, c_ast.DoWhile)):
            n.cond = self.expr(n.cond).node
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, c_ast.Switch):
            n.cond = self.expr(n.cond).node
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, (c_ast.Case, c_ast.Default)):
            n.stmts = [self.stmt(s) for s in n.stmts or []]
            return n
        if isinstance(n, c_ast.Label):
            n.stmt = self.stmt(n.stmt)
            return n
        if isinstance(n, c_ast.Return):
            if n.expr is not None:
                r = self.expr(n.expr)
                n.expr = r.node
                if self.eprov(r) == "kernel":   # callers get a kernel pointer (BCC's rule)
                    self.kernel_returns.add(self.cur_func)
            return n
        if isinstance(n, (c_ast.Break, c_ast.Continue, c_ast.Goto, c_ast.EmptyStatement,
                          c_ast.Pragma, c_ast.StaticAssert)):
            return n
        return self.expr(n).node

    def push(self):
        self.scopes.append({})
        self.typedefs.append({})
        self.tags.append({})

    def pop(self):
        self.scopes.pop()
        self.typedefs.pop()
        self.tags.pop()

    def local_decl(self, d):
        if isinstance(d.type, (c_ast.Struct, c_ast.Union, c_ast.Enum)) and not d.name:
            self.rtype(d.type)
            return
        t = self.rtype(d.type)
        prov = None
        if d.init is not None:
            if isinstance(d.init, c_ast.InitList):
                self.expr(d.init)
            else:
                r = self.expr(d.init)
                d.init = r.node
                prov = self.eprov(r) if isinstance(t, (Ptr, Rec)) else None
        if isinstance(t, Arr):
            prov = "direct"
        if d.name:
            self.declare(d.name, Sym(t, prov))

    # -- top level ------------------------------------------------------------------------
    def emit(self, ast):
        """The CO-RE C: the preprocessed source with the rewritten spans spliced in
        (everything else reaches clang as the user wrote it, GNU C included), after
        the CO-RE headers and the tracepoint argument structs it needs."""
        self.scopes = [{}]
        self.typedefs = [{}]
        self.tags = [{}]
        self.maps = {}
        self.map_bodies = {}         # map -> its BTF definition's members (mapdecl)
        self.funcs = {}
        self.kernel_returns = set()     # functions returning a pointer into the kernel
        self.tp_text = []
        self.stmt_exprs = {}
        self.event_types = {}
        self.em = Emitter(self.source)
        self.em.snapshot(ast)
        calls = set()
        self.user_typedefs = set()
        for node in _walk(ast):
            if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID):
                calls.add(node.name.name)
            elif isinstance(node, c_ast.Typedef) and self.is_user(node):
                self.user_typedefs.add(node.name)
        # BCC: a program may not call a non-static function of its own (each one is a
        # program of its own); static ones become static __always_inline helpers
        self.nonstatic_funcs = {e.decl.name for e in ast.ext if isinstance(e, c_ast.FuncDef)
                                and self.is_user(e) and "static" not in (e.decl.storage or [])}
        self.called = calls
        src = self.source
        items = src.top_items()
        starts = [i[0] for i in items]
        edits = {}
        for ext in ast.ext:
            if not self.is_user(ext) or isinstance(ext, c_ast.Pragma):
                continue
            item = self.item_of(ext, items, starts)
            if isinstance(ext, c_ast.Decl) and ext.name and \
                    ext.name.startswith("__bcc_unsupported__"):
                what = ext.name[len("__bcc_unsupported__"):]
                self.err("%s is not supported by the CO-RE translation" % what, ext, what)
            out = []
            replaced = False
            if isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.TypeDecl) and \
                    isinstance(ext.type.type, c_ast.Struct) and ext.type.type.name and \
                    ext.type.type.name.startswith("__bcc_map__"):
                out.append(self.item_span(item) + (self.map_decl(ext),))
                replaced = True
            elif isinstance(ext, c_ast.FuncDef):
                out = self.funcdef(ext, item)
            elif isinstance(ext, c_ast.Typedef):
                self.typedefs[0][ext.name] = self.rtype(ext.type)
            elif isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.FuncDecl):
                self.funcs[ext.name] = self.rtype(ext.type)
                out.append(self.item_span(item) + ("",))   # the definitions follow
                replaced = True
            elif isinstance(ext, c_ast.Decl):
                self.global_decl(ext)
            if not replaced:
                self.em.collect(ext, out)
            for e in out:
                edits[e[:2]] = e
        head = [HEAD] + self.tp_text
        tail = []
        # the record type of each perf/ring buffer, where BTF keeps it for the facade: a
        # global function in .text is in BTF and is no program (never called or loaded)
        for mname, spelled in sorted(self.event_types.items()):
            tail.append("\n__attribute__((unused)) void __bcc_event__%s(%s *e) {}"
                        % (mname, spelled))
        if not self.has_license:
            tail.append('\nchar _license[] SEC("license") = "GPL";\n')
        body = apply_edits(self.pp, 0, list(edits.values()))
        return "".join(head) + drop_preamble(body, self.filename) + "".join(tail)

    def item_of(self, ext, items, starts):
        k = self.source.token_at(self.source.offset(ext.coord))
        i = bisect.bisect_right(starts, k) - 1
        return items[max(i, 0)]

    def item_span(self, item):
        src = self.source
        return src.tok_start[item[0]], src.tok_end[item[1]]

    has_license = False

    def global_decl(self, d):
        if d.name in ("_license", "LICENSE", "__license", "license"):
            self.has_license = True
        t = self.rtype(d.type) if not isinstance(d.type, (c_ast.Struct, c_ast.Union,
                                                           c_ast.Enum)) else \
            self.rtype(d.type)
        if d.init is not None and not isinstance(d.init, c_ast.InitList):
            d.init = self.expr(d.init).node
        if d.name:
            self.scopes[0][d.name] = Sym(t, "direct" if isinstance(t, Arr) else None)


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------
_BCC_MARKERS = re.compile(
    r"\b(BPF_HASH|BPF_ARRAY|BPF_HISTOGRAM|BPF_PERCPU_ARRAY|BPF_PERCPU_HASH|BPF_LRU_HASH|"
    r"BPF_STACK_TRACE|BPF_PERF_OUTPUT|BPF_RINGBUF_OUTPUT|BPF_TABLE|BPF_F_TABLE|"
    r"BPF_PROG_ARRAY|TRACEPOINT_PROBE|RAW_TRACEPOINT_PROBE|KFUNC_PROBE|KRETFUNC_PROBE|"
    r"LSM_PROBE|kprobe__\w+|kretprobe__\w+|syscall__\w+|bpf_trace_printk)\b")


def is_bcc_dialect(text):
    """Whether C text is BCC's dialect (as opposed to libbpf CO-RE C, which includes
    vmlinux.h/bpf_helpers.h and marks programs with SEC())."""
    if re.search(r'\bSEC\s*\(\s*"', text) and re.search(r"bpf/bpf_helpers\.h|vmlinux\.h",
                                                         text):
        return False
    return bool(_BCC_MARKERS.search(text)) or not re.search(r'\bSEC\s*\(', text)


def translate(text, filename="<bcc>", btf=None, cflags=(), src_dir=None, tracefs=None,
              warnings=None):
    """BCC-dialect C text -> CO-RE C text.  Raises TranslateError.  The warnings BCC's
    front end would print (bpf_trace_printk formats) are appended to ``warnings``."""
    import sys
    tr = Translator(btf=btf, cflags=cflags, filename=filename, tracefs=tracefs)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        out = tr.translate(text, src_dir or (os.path.dirname(os.path.abspath(filename))
                                              if not filename.startswith("<") else "."))
        if warnings is not None:
            warnings.extend(tr.warnings)
        return out
    except RecursionError:
        raise TranslateError("expression too deeply nested", filename) from None
    finally:
        sys.setrecursionlimit(old)


def translate_file(path, btf=None, cflags=(), tracefs=None):
    with open(path) as f:
        text = f.read()
    return translate(text, filename=path, btf=btf, cflags=cflags, tracefs=tracefs)
