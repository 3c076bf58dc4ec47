"""Where each AST node stands in the source text, and the output spliced from it.

The translator rewrites pycparser's AST in place (a rewritten expression is a new node
in its parent's slot).  Output is *not* regenerated from the tree: the original text is
kept, and only the spans of nodes whose slot now holds a different node are replaced by
that node's text.  A new node is printed by pycparser's public ``CGenerator``, except
that any original node inside it prints as its own source span (with the edits inside
it) -- so a user's expression keeps its spelling, comments aside, even when it becomes
an argument of ``BPF_CORE_READ()``.

pycparser gives a node only the line and column of one token (for ``&x`` and ``-x``, the
operand's; for a call, its name's; nothing for parentheses).  :class:`Source` tokenizes
the text and derives a node's extent: the tokens of all its descendants, widened to
its operator, call parentheses, adjacent string literals and balanced brackets.
"""
import bisect
import re

from pycparser import c_ast, c_generator

from .mask import PLACEHOLDER

_TOKEN = re.compile(r"""
    (?P<str>(?:L|u8|u|U)?"(?:[^"\\\n]|\\.)*")
  | (?P<chr>(?:L|u|U)?'(?:[^'\\\n]|\\.)*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<op>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=]=|[][(){}.,;:?~!%^&*+\-/<>=|\\])
""", re.X)
_WS = re.compile(r"[ \t\r\f\v\n]+")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}
_PREFIX_OPS = {"&", "*", "-", "+", "!", "~", "++", "--"}
_TAG_WORDS = {"struct", "union", "enum"}
_DECL_WORDS = {"const", "volatile", "restrict", "static", "extern", "register", "inline",
               "auto", "signed", "unsigned", "_Thread_local"} | _TAG_WORDS
_PRIMARY = (c_ast.ID, c_ast.Constant, c_ast.FuncCall, c_ast.StructRef, c_ast.ArrayRef)


class Source:
    """The source text (preprocessed, original spelling), its masked twin (same length,
    what pycparser parsed) and the tokens of the masked text.

    Coordinates: a pycparser coord (line, column) counts lines of the *parsed* text,
    which is ``line_offset`` lines longer at the top than this text."""

    def __init__(self, text, masked, regions, line_offset=1):
        assert len(text) == len(masked)
        self.text, self.masked, self.regions = text, masked, regions
        self.line_offset = line_offset
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._tokenize()
        self._spans = {}

    # -- tokens ---------------------------------------------------------------------------
    def _tokenize(self):
        t = self.masked
        n = len(t)
        starts, ends, vals = [], [], []
        i = 0
        while i < n:
            m = _WS.match(t, i)
            if m:
                i = m.end()
                continue
            if t[i] == "#" and (i == 0 or t[i - 1] == "\n" or not t[self._bol(i):i].strip()):
                e = t.find("\n", i)
                i = n if e < 0 else e
                continue
            m = _TOKEN.match(t, i)
            if m is None:
                e = i + 1          # a stray character: let the parser complain
            else:
                e = m.end()
            v = t[i:e]
            if m is not None and m.lastgroup == "id" and v in self.regions:
                e = self.regions[v].hi
            starts.append(i)
            ends.append(e)
            vals.append(v)
            i = e
        self.tok_start, self.tok_end, self.tok = starts, ends, vals
        match = [-1] * len(vals)
        stack = []
        for k, v in enumerate(vals):
            if v in _OPEN:
                stack.append(k)
            elif v in _CLOSE and stack:
                o = stack.pop()
                match[o], match[k] = k, o
        self.match = match

    def _bol(self, i):
        return self.text.rfind("\n", 0, i) + 1

    def top_items(self):
        """The top-level declarations as (first token, last token, body) -- body is
        the token of a function definition's opening brace, else None."""
        items = []
        tok, match = self.tok, self.match
        n = len(tok)
        start = None
        k = 0
        while k < n:
            v = tok[k]
            if start is None:
                start = k
            if v in _OPEN and match[k] > k:
                j = match[k]
                if v == "{" and k > start and tok[k - 1] == ")":
                    items.append((start, j, k))
                    start = None
                k = j + 1
                continue
            if v == ";":
                items.append((start, k, None))
                start = None
            k += 1
        if start is not None:
            items.append((start, n - 1, None))
        return items

    def offset(self, coord):
        ln = coord.line - 1 - self.line_offset
        if ln < 0 or ln >= len(self.line_starts):
            return None
        return self.line_starts[ln] + max(coord.column, 1) - 1

    def token_at(self, off):
        """Index of the token starting at (or first after) offset off."""
        k = bisect.bisect_left(self.tok_start, off)
        return k if k < len(self.tok_start) else None

    def line_of(self, coord):
        """0-based line of this text a coord is on."""
        return coord.line - 1 - self.line_offset

    # -- node extents -----------------------------------------------------------------------
    def span(self, node):
        """(first token, last token) of node, inclusive; None if it has no place."""
        key = id(node)
        r = self._spans.get(key)
        if r is None:
            r = self._span(node)
            self._spans[key] = (node, r)
            return r
        return r[1]

    def _span(self, node):
        lo = hi = None
        own = None
        c = getattr(node, "coord", None)
        if c is not None and c.line and not isinstance(node, c_ast.Compound):
            off = self.offset(c)
            if off is not None:
                own = self.token_at(off)
        if own is not None:
            lo = hi = own
        for _, ch in node.children():
            s = self.span(ch)
            if s is None:
                continue
            lo = s[0] if lo is None else min(lo, s[0])
            hi = s[1] if hi is None else max(hi, s[1])
        if lo is None:
            return None
        tok = self.tok
        if isinstance(node, c_ast.UnaryOp):
            if node.op in ("p++", "p--"):
                k = hi + 1
                while k < len(tok) and tok[k] == ")":
                    k += 1
                if k < len(tok) and tok[k] == node.op[1:]:
                    hi = k
            elif node.op in _PREFIX_OPS:
                k = lo - 1
                while k >= 0 and tok[k] == "(":
                    k -= 1
                if k >= 0 and tok[k] == node.op:
                    lo = k
        elif isinstance(node, (c_ast.Struct, c_ast.Union, c_ast.Enum)):
            if lo > 0 and tok[lo - 1] in _TAG_WORDS:
                lo -= 1
        elif isinstance(node, (c_ast.Decl, c_ast.Typename)):
            while lo > 0 and tok[lo - 1] in _DECL_WORDS:
                lo -= 1
        elif isinstance(node, c_ast.FuncCall) and node.args is None:
            k = hi + 1
            while k < len(tok) and tok[k] == ")" and self.match[k] <= lo:
                k += 1
            if k < len(tok) and tok[k] == "(" and self.match[k] > 0:
                hi = self.match[k]
        elif isinstance(node, c_ast.Constant) and node.type == "string":
            while hi + 1 < len(tok) and tok[hi + 1][-1:] == '"':
                hi += 1
        return self._balance(lo, hi)

    def _balance(self, lo, hi):
        m = self.match
        changed = True
        while changed:
            changed = False
            for k in range(lo, hi + 1):
                j = m[k]
                if j < 0:
                    continue
                if j < lo:
                    lo, changed = j, True
                    break
                if j > hi:
                    hi, changed = j, True
                    break
        return lo, hi

    def offsets(self, node):
        s = self.span(node)
        if s is None:
            return None
        return self.tok_start[s[0]], self.tok_end[s[1]]


def fit_lines(original, replacement):
    """The replacement laid out over as many lines as the original text it replaces,
    so that every line after it keeps its number (and #line mappings stay exact)."""
    n = original.count("\n")
    r = replacement.count("\n")
    if r > n and not re.search(r"^\s*#", replacement, re.M):
        replacement = replacement.replace("\n", " ")
        r = 0
    if r < n:
        replacement += "\n" * (n - r)
    return replacement


def apply_edits(text, base, edits):
    """text (which starts at offset base) with (lo, hi, replacement) edits applied;
    edits must not overlap."""
    out = []
    pos = base
    for lo, hi, rep in sorted(edits, key=lambda e: (e[0], e[1])):
        if lo < pos:
            raise AssertionError("overlapping edits at %d" % lo)
        out.append(text[pos - base:lo - base])
        out.append(fit_lines(text[lo - base:hi - base], rep))
        pos = hi
    out.append(text[pos - base:])
    return "".join(out)


class Emitter:
    """Renders AST nodes as text: original nodes as their source span with the edits
    their changed descendants call for, new nodes through :class:`Printer`.

    ``snapshot(root)`` records, before any rewriting, each node's children; a node is
    *original* if it was seen there.  ``extra[id(node)]`` lists more (slot, node) pairs
    whose text lies inside an original node (the parsed body of a masked statement
    expression inside its placeholder identifier)."""

    def __init__(self, source):
        self.src = source
        self.orig = {}          # id(node) -> (node, [(slot, child)])
        self.printer = Printer(self)

    def snapshot(self, root, extra=()):
        stack = [root]
        while stack:
            n = stack.pop()
            kids = list(n.children()) + list(extra if n is root else ())
            self.orig[id(n)] = (n, kids)
            stack.extend(c for _, c in kids)

    def attach(self, node, slot, child):
        """Make child part of node's original text (see ``extra``)."""
        n, kids = self.orig[id(node)]
        kids.append((slot, child))
        self.snapshot(child)

    def is_original(self, node):
        return id(node) in self.orig

    def render(self, node):
        if id(node) in self.orig:
            return self.render_original(node)
        return self.printer.visit(node)

    def render_original(self, node):
        offs = self.src.offsets(node)
        if offs is None:
            return self.printer.generic_print(node)
        lo, hi = offs
        edits = []
        self.collect(node, edits)
        return apply_edits(self.src.text[lo:hi], lo, edits)

    def collect(self, node, edits):
        """Edits inside original node for children that changed (recursively)."""
        n, kids = self.orig[id(node)]
        cur = dict(node.children())
        for slot, oc in kids:
            cc = cur.get(slot) if not slot.startswith("@") else oc
            if cc is oc:
                if id(oc) in self.orig:
                    self.collect(oc, edits)
                continue
            offs = self.src.offsets(oc)
            if offs is None:
                raise AssertionError("no source span for %s" % type(oc).__name__)
            rep = "" if cc is None else self.render(cc)
            if isinstance(oc, _PRIMARY) and cc is not None and \
                    not isinstance(cc, _PRIMARY) and not self.is_original(cc):
                rep = "(" + rep + ")"
            edits.append((offs[0], offs[1], rep))
        for slot in cur:
            if not any(s == slot for s, _ in kids):
                raise AssertionError("a child was added to an original %s"
                                     % type(node).__name__)


class Printer(c_generator.CGenerator):
    """pycparser's generator for new nodes; original nodes inside them print as their
    source text."""

    def __init__(self, emitter):
        super().__init__()
        self.em = emitter

    def visit(self, node):
        if self.em.is_original(node) and self.em.src.offsets(node) is not None:
            return self.em.render_original(node)
        return self.restore(super().visit(node))

    def visit_Hoist(self, n):
        base = self.visit(n.base)
        return "({ typeof(%s) %s = (%s); %s; })" % (base, n.tmp.name, base,
                                                     self.visit(n.expr))

    def generic_print(self, node):
        return self.restore(super().visit(node))

    def restore(self, text):
        """Placeholders of masked constructs (in declarations printed from the AST)
        back to their source text."""
        if "_M" not in text:
            return text
        regions = self.em.src.regions
        src = self.em.src.text

        def back(m):
            r = regions.get(m.group(0))
            return src[r.lo:r.hi] if r is not None else m.group(0)
        return PLACEHOLDER.sub(back, text)
