"""The translator's small parts: :class:`TranslateError`, expression results (:class:`R`),
pending CO-RE accesses (:class:`Core`), symbols, the ``({ ... })`` hoisting node and AST
helpers (:mod:`.translate` re-exports them)."""
import os

from pycparser import c_ast

from bcc_core.errors import BccCoreError

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
