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
import bisect
import os
import re
import subprocess

from pycparser import c_ast, c_generator, c_parser

from bcc_core import btf as _btf
from bcc_core.errors import BccCoreError

from .clang import ToolMissingError, find_clang  # noqa: F401 -- ToolMissingError re-exported
from .mask import MaskError, Masker
from .prelude import (C_WORDS, BASE_STUBS, IDENT, strip_system_includes,
    PARSE_LINE_OFFSET, blank_line_markers, linux_version_code, is_user_file,
    drop_preamble, line_map, prelude_dir, kconfig_header)
from .typemodel import (Void, Prim, Ptr, Arr, Fn, MapTy, Rec, prim_from_words,
    is_ptrish, pointee, btf_types, helper_returns, EXTRA_FUNCS, UNSUPPORTED_CALLS,
    PROBE_READ, STATEMENTS, MAP_TYPES, MapDecl, same_type)
from .splice import Emitter, Source, apply_edits

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT_HEADER = os.path.join(HERE, "bcc_compat.h")


class TranslateError(BccCoreError):
    """BCC-dialect C that cannot be translated; ``file`` and ``line`` locate it in the
    user's source."""

    def __init__(self, msg, file=None, line=None, construct=None):
        self.msg, self.file, self.line, self.construct = msg, file, line, construct
        where = "%s:%s: " % (file, line) if file and line else ("%s: " % file if file else "")
        super().__init__("%serror: %s" % (where, msg))


# ----------------------------------------------------------------------------------------
# Expression results
# ----------------------------------------------------------------------------------------
class R:
    __slots__ = ("node", "type", "prov", "core", "addr_of")

    def __init__(self, node, type, prov=None, core=None, addr_of=None):
        self.node, self.type, self.prov, self.core = node, type, prov, core
        self.addr_of = addr_of      # for &X not through CO-RE: the node of X


class Core:
    """A pending CO-RE access: ``base->segs[0]->...->seg`` (seg None: ``*base``)."""

    def __init__(self, base, seg=None):
        self.base, self.segs, self.seg = base, [], seg
        self.bitfield = 0
        # a member of a *program-defined* record in kernel memory (BCC tools declare
        # partial copies of kernel structs, cpuunclaimed's cfs_rq_partial): the lvalue
        # at the program's own offsets, read with a plain probe read (no relocation)
        self.user = None


class Sym:
    __slots__ = ("type", "prov", "kind")

    def __init__(self, type, prov=None, kind="var"):
        self.type, self.prov, self.kind = type, prov, kind


class Hoist(c_ast.Node):
    """``({ typeof(base) tmp = (base); expr; })``: expr uses tmp for base."""
    __slots__ = ("base", "tmp", "expr", "coord", "__weakref__")
    attr_names = ()

    def __init__(self, base, tmp, expr, coord=None):
        self.base, self.tmp, self.expr, self.coord = base, tmp, expr, coord

    def children(self):
        return (("base", self.base), ("expr", self.expr))


def _id(name, coord=None):
    return c_ast.ID(name, coord)


def _call(name, args, coord=None):
    return c_ast.FuncCall(_id(name, coord), c_ast.ExprList(list(args), coord), coord)


def _graft(p, seg):
    """seg (ID / .field / [i] chain with an ID leftmost) applied to pointer p: p->seg."""
    if isinstance(seg, c_ast.ID):
        return c_ast.StructRef(p, "->", c_ast.ID(seg.name))
    if isinstance(seg, c_ast.StructRef):
        return c_ast.StructRef(_graft(p, seg.name), seg.type, seg.field)
    if isinstance(seg, c_ast.ArrayRef):
        return c_ast.ArrayRef(_graft(p, seg.name), seg.subscript)
    raise AssertionError(seg)


# ----------------------------------------------------------------------------------------
# The translator
# ----------------------------------------------------------------------------------------
class Translator:
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

    # -- front: preprocess + parse ------------------------------------------------------
    def preprocess(self, text, src_dir):
        clang = self.clang or find_clang()
        body, self.dropped_includes = strip_system_includes(text)
        prelude = os.path.join(prelude_dir(), "bcc_parse_prelude.h")
        fname = self.filename.replace("\\", "\\\\").replace('"', '\\"')
        src = '# 1 "%s"\n%s\n' % (fname, body)
        flags = [f for f in self.cflags if f.startswith(("-D", "-U", "-I"))]
        if not any(f.startswith("-DLINUX_VERSION_CODE") for f in flags):
            flags.append("-DLINUX_VERSION_CODE=%d" % linux_version_code())
        kc = kconfig_header()
        if kc:
            flags = ["-include", kc] + flags
        cmd = [clang, "-E", "-x", "c", "-target", "bpf", "-nostdinc",
               "-D__TARGET_ARCH_x86", "-D__BCC_COMPAT_PARSE__", "-include", prelude,
               "-I", src_dir or ".", *flags, "-"]
        r = subprocess.run(cmd, input=src, capture_output=True, text=True)
        if r.returncode:
            msg = r.stderr.strip().splitlines()
            first = next((l for l in msg if "error" in l), msg[0] if msg else "failed")
            m = re.match(r"(.*?):(\d+):\d+: (?:fatal )?error: (.*)", first)
            if m:
                raise TranslateError("preprocessing: " + m.group(3), m.group(1),
                                     int(m.group(2)))
            raise TranslateError("preprocessing failed: " + first, self.filename)
        return r.stdout

    def is_user_line(self, i):
        f = self.lmap[i][0] if 0 <= i < len(self.lmap) else None
        return is_user_file(f, self.filename)

    def parse(self, text, src_dir="."):
        """Preprocess, mask GNU C (same offsets) and parse; sets self.source (the
        preprocessed text with its tokens) for the splicing emitter.  Structs the
        program defines under a kernel type's name are settled first (see
        :meth:`kernel_collisions`) and the text parsed again."""
        pp = self.preprocess(text, src_dir)
        ast = self.parse_pp(pp)
        fixed = self.kernel_collisions(ast)
        if fixed is not None:
            self.masker = Masker()
            ast = self.parse_pp(fixed)
        return ast

    def kernel_collisions(self, ast):
        """The preprocessed text with the program's definitions of kernel-named structs
        settled (vmlinux.h defines every kernel type, so clang would see two):

        * a definition whose members all exist in the kernel's type is the program's
          copy of a type the kernel headers do not export (dcsnoop's ``struct
          nameidata``): its body is dropped and the kernel's type (from BTF, so read
          with CO-RE) is used;
        * any other is the program's own type that happens to share a kernel name: it
          is renamed ``NAME___bcc`` throughout the program.

        None when there is nothing to settle."""
        drop, rename = [], set()
        for node in _walk(ast):
            if not isinstance(node, (c_ast.Struct, c_ast.Union)) or node.decls is None or \
                    not node.name or not self.is_user(node):
                continue
            su = "struct" if isinstance(node, c_ast.Struct) else "union"
            krec = self.bt.record(su, node.name)
            if krec is None:
                continue
            names = [d.name for d in node.decls if isinstance(d, c_ast.Decl) and d.name]
            if names and all(self.bt.member(krec, n) is not None for n in names):
                drop.append(node)
            else:
                rename.add((su, node.name))
        if not drop and not rename:
            return None
        src, pp = self.source, self.pp
        edits = []
        for node in drop:
            k = src.token_at(src.offset(node.coord))
            while k < len(src.tok) and src.tok[k] != "{":
                k += 1
            lo, hi = src.tok_start[k], src.tok_end[src.match[k]]
            edits.append((lo, hi, re.sub(r"[^\n]", " ", pp[lo:hi])))
        toks = src.tok
        for k in range(1, len(toks)):
            if (toks[k - 1], toks[k]) in rename and \
                    self.is_user_line(pp.count("\n", 0, src.tok_start[k])):
                edits.append((src.tok_start[k], src.tok_end[k], toks[k] + "___bcc"))
        return apply_edits(pp, 0, edits)

    def parse_pp(self, pp):
        self.pp = pp
        self.lmap = lmap = line_map(pp)
        try:
            shallow = blank_line_markers(self.masker.mask(pp))
            deep = blank_line_markers(self.masker.mask(pp, deep=True))
        except MaskError as e:
            self._err_at_offset("cannot parse: %s" % e.msg, e.offset)
        self.source = Source(pp, deep, self.masker.regions, PARSE_LINE_OFFSET)
        user_idents = set()
        for i, line in enumerate(shallow.split("\n")):
            if self.is_user_line(i):
                user_idents.update(IDENT.findall(line))
        tdefs = self.bt.typedef_names()
        stubs = set(n for n in user_idents if n in tdefs) | set(BASE_STUBS)
        stubs |= set(n for n, r in self.masker.regions.items() if r.kind == "T")
        tries = 0
        while True:
            try:
                ast = self._parse_text(shallow, stubs)
                break
            except c_parser.ParseError as e:
                m = re.match(r"(.*?):(\d+):(\d+): (.*)", str(e))
                i = int(m.group(2)) - 1 - PARSE_LINE_OFFSET if m else -1
                f, l = lmap[i] if 0 <= i < len(lmap) else (self.filename, None)
                if m and tries < 8 and 0 <= i:
                    # a stubbed typedef name used as an ordinary identifier?
                    line = shallow.split("\n")[i]
                    bad = set(IDENT.findall(line)) & (stubs - set(BASE_STUBS))
                    bad = set(b for b in bad if not b.startswith("_MT"))
                    if bad:
                        stubs -= bad
                        tries += 1
                        continue
                if m:
                    hint = self._unknown_type_hint(shallow, i, m.group(4))
                    if hint:
                        raise TranslateError(hint, f, l) from None
                    what = re.sub(r"^before: (.*)$", r"before '\1'", m.group(4))
                    raise TranslateError("syntax error %s" % what if what.startswith(
                        "before") else "syntax error: %s" % what, f, l) from None
                raise TranslateError("syntax error: %s" % e, self.filename) from None
        self.stubs = stubs
        return ast

    def _parse_text(self, masked, stubs, extra_lines=""):
        """pycparser over masked text, with one line of typedef stubs on top (so coords
        are the text's lines + PARSE_LINE_OFFSET)."""
        stub_line = "".join("typedef int %s; " % n for n in sorted(stubs))
        return c_parser.CParser().parse(stub_line + "\n" + masked, "<bcc>")

    def _unknown_type_hint(self, masked, i, msg):
        m = re.match(r"before: (\w+)", msg)
        lines = masked.split("\n")
        if not m or not 0 <= i < len(lines):
            return None
        mm = re.search(r"\b(\w+)\s+\**\s*%s\b" % re.escape(m.group(1)), lines[i])
        if mm and mm.group(1) not in C_WORDS and not mm.group(1)[0].isdigit() and \
                m.group(1) not in C_WORDS:
            return ("unknown type name '%s' (not a typedef in the kernel's BTF nor "
                    "in the program)" % mm.group(1))
        return None

    # -- masked constructs ------------------------------------------------------------------
    def parse_region_body(self, region):
        """The ``{...}`` of a masked statement expression, parsed at its own place: a
        Compound whose coords are those of the whole source."""
        lo, hi = region.inner
        masked = blank_line_markers(self.masker.mask(self.pp, lo=lo, hi=hi))
        li = self.pp.count("\n", 0, lo)
        ci = lo - (self.pp.rfind("\n", 0, lo) + 1)
        text = "\n" * (li - 1) + "void _MF(void)\n" + " " * ci + masked + "\n"
        try:
            ast = self._parse_text(text, self.stubs | self.user_typedefs)
        except c_parser.ParseError as e:
            self._err_at_offset("syntax error in a statement expression: %s" % e, lo)
        return ast.ext[-1].body

    def region_type(self, region):
        """The type a masked typeof(...) names."""
        lo, hi = region.inner
        masked = self.masker.mask(self.pp, lo=lo, hi=hi).replace("\n", " ")
        try:
            ast = self._parse_text("void _MF(void) { sizeof(%s); }" % masked,
                                   self.stubs | self.user_typedefs)
            e = ast.ext[-1].body.block_items[0].expr
            if isinstance(e, c_ast.Typename):
                return self.rtype(e)
            return self.expr(e).type
        except (c_parser.ParseError, TranslateError, AttributeError, IndexError):
            return Prim("long", 8)

    # -- entry point ----------------------------------------------------------------------
    def translate(self, text, src_dir="."):
        ast = self.parse(text, src_dir)
        return self.emit(ast)

    def is_user(self, node):
        c = getattr(node, "coord", None)
        if c is None or not c.line:
            return False
        return self.is_user_line(c.line - 1 - PARSE_LINE_OFFSET)

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
        return isinstance(p, Rec) and p.kernel

    @classmethod
    def eprov(cls, r):
        if r.prov:
            return r.prov
        return "kernel" if isinstance(r.type, Ptr) and cls.kernel_ptr(r.type, None) else None

    # -- chains ---------------------------------------------------------------------------
    def chain(self, n, mode):
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
        base = self.expr(n)
        cur, t, prov = base.node, base.type, base.prov
        core = None
        for kind, arg, node in steps:
            if kind == ".":
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
                t = ft
                continue
            if kind == "[]" and isinstance(t, Arr):
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
                t = t.of
                continue
            # a dereference: ->, *, or [] on a pointer
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
                t = ft
            else:
                t = to
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
            if name in UNSUPPORTED_CALLS:
                self.err(UNSUPPORTED_CALLS[name] or "%s is not supported" % name, n, name)
            if name in ("TP_DATA_LOC_READ", "TP_DATA_LOC_READ_CONST",
                        "TP_DATA_LOC_READ_STR"):
                return self.tp_data_loc(n, name, args)
            if name == "bpf_trace_printk":
                n.name = _id("bpf_printk", n.name.coord)
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
        prov = "direct" if getattr(n.name, "name", None) in (
            "bpf_map_lookup_elem", "bpf_ringbuf_reserve") else None
        return R(n, ft.ret, prov)

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
            want(2)
            return R(_call("__bcc_lookup_or_try_init", [ref] + targs, c), Ptr(m.value),
                     "direct")
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
            return R(_call(fn, [ref] + targs, c), Void())
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
        self.err("BCC table method '%s.%s()' is not supported" % (m.name, meth), n,
                 "." + meth)

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
                n.expr = self.expr(n.expr).node
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
        self.funcs = {}
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
        head = ["/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */\n",
                '#include "vmlinux.h"\n', "#include <bpf/bpf_helpers.h>\n",
                "#include <bpf/bpf_tracing.h>\n", "#include <bpf/bpf_core_read.h>\n",
                "#include <bpf/bpf_endian.h>\n", '#include "bcc_compat.h"\n']
        head += self.tp_text
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

    def map_decl(self, d):
        st = d.type.type
        name = d.name
        key_decl = st.decls[0]
        val_decl = st.decls[1]
        key_t = self.rtype(key_decl.type).to
        val_t = self.rtype(val_decl.type).to
        init = d.init.exprs
        kind = init[0].value.strip('"')
        size = init[1]
        flags = init[2]
        if kind not in MAP_TYPES:
            self.err("BPF_TABLE type \"%s\" is not supported" % kind, d, kind)
        m = MapDecl(name, kind, key_decl.type.type, val_decl.type.type, key_t, val_t,
                    size, flags, d.coord)
        self.maps[name] = m
        mtype = MAP_TYPES[kind]
        if kind == "histogram":
            mtype = "BPF_MAP_TYPE_ARRAY" if isinstance(key_t, Prim) and \
                key_t.name in ("int", "signed int") else "BPF_MAP_TYPE_HASH"
        g = self.em.printer

        def tyname(node):
            node = _strip_declname(node)
            return g.visit(c_ast.Typename(None, [], None, node))
        lines = ["struct {", "\t__uint(type, %s);" % mtype]
        if kind == "ringbuf":
            lines.append("\t__uint(max_entries, (%s) * 4096);" % self.em.render(size))
        elif kind != "perf_output":
            lines.append("\t__uint(max_entries, %s);" % self.em.render(size))
        if kind in ("perf_output", "perf_array", "prog", "cgroup_array"):
            lines += ["\t__uint(key_size, sizeof(u32));", "\t__uint(value_size, sizeof(u32));"]
        elif kind == "stacktrace":
            lines += ["\t__uint(key_size, sizeof(u32));",
                      "\t__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(u64));"]
        elif kind in ("queue", "stack"):
            lines.append("\t__type(value, %s);" % tyname(m.value_node))
        elif kind != "ringbuf":
            lines.append("\t__type(key, %s);" % tyname(m.key_node))
            lines.append("\t__type(value, %s);" % tyname(m.value_node))
        fl = self.const_int(flags)
        if fl or (fl is None and not (isinstance(flags, c_ast.Constant))):
            lines.append("\t__uint(map_flags, %s);" % self.em.render(flags))
        lines.append('} %s SEC(".maps");' % name)
        return " ".join(l.strip() for l in lines)

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
        storage = list(decl.storage or [])
        sec = None
        macro = None
        out_name = name
        ctx_names = set()
        kernel_params = False
        static = "static" in storage
        first_t = self.rtype(params[0].type) if params and \
            not isinstance(params[0], c_ast.EllipsisParam) else None
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
            if not first_is_regs and params:
                self.err("%s: the first parameter of a kprobe function must be "
                         "struct pt_regs *" % name, f)
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
        # body
        self.push()
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
        f.body = self.stmt(f.body)
        self.pop()
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
        b = self.btf
        out = []
        for off in b._string_offsets("trace_event_raw_", prefix=True):
            for tid in b._ids_with_name_off(off):
                if b.kind_of(tid) == _btf.KIND_STRUCT:
                    out.append(tid)
        return sorted(out)


def _is_void(p):
    t = p.type
    return isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType) and \
        t.type.names == ["void"]


def _strip_declname(node, name=None):
    """A copy of a declarator chain with the declared name replaced (None: abstract)."""
    import copy
    node = copy.deepcopy(node)
    t = node
    while not isinstance(t, c_ast.TypeDecl):
        if isinstance(t, c_ast.FuncDecl):
            break
        t = t.type
    if isinstance(t, c_ast.TypeDecl):
        t.declname = name
    return node


def _walk(n):
    if n is None:
        return
    stack = [n]
    while stack:
        x = stack.pop()
        yield x
        for _, c in x.children():
            stack.append(c)


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


def translate(text, filename="<bcc>", btf=None, cflags=(), src_dir=None, tracefs=None):
    """BCC-dialect C text -> CO-RE C text.  Raises TranslateError."""
    import sys
    tr = Translator(btf=btf, cflags=cflags, filename=filename, tracefs=tracefs)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        return tr.translate(text, src_dir or (os.path.dirname(os.path.abspath(filename))
                                               if not filename.startswith("<") else "."))
    except RecursionError:
        raise TranslateError("expression too deeply nested", filename) from None
    finally:
        sys.setrecursionlimit(old)


def translate_file(path, btf=None, cflags=(), tracefs=None):
    with open(path) as f:
        text = f.read()
    return translate(text, filename=path, btf=btf, cflags=cflags, tracefs=tracefs)
