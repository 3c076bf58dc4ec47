"""Mask the GNU C that pycparser cannot parse, keeping every offset.

The translator parses preprocessed C with pycparser, which knows ISO C only.  GNU
constructs are replaced here by text of *exactly the same length* that pycparser
accepts, so a node's line and column in the masked text are its place in the original
text too.  The output is spliced into the original (unmasked) text, so what was masked
reaches clang byte for byte; nothing has to be put back.

Each construct becomes, in the masked text:

* ``__attribute__((...))``, ``__extension__``: spaces;
* ``__volatile__``, ``__signed__``, ``__restrict``, ``__const``, ``__inline__``...:
  the ISO keyword, padded with spaces; ``__int128`` reads as ``long``;
* ``typeof(x)`` / ``__typeof__(x)``: a type name placeholder ``_MT<n>`` (a typedef for
  the parser; the translator types it from ``x``);
* statement expressions ``({ ... })``: an identifier placeholder ``_MS<n>`` (the
  translator parses and rewrites the body on its own, at the same offsets);
* ``asm [volatile] (...)`` statements: ``_MA<n>`` (an expression of type void); an asm
  label after a declarator (``int x asm("y")``): spaces;
* ``__builtin_types_compatible_p(t1, t2)``: ``_MB<n>`` (an int);
* ranges in designators and case labels (``[0 ... 3] =``, ``case 1 ... 5:``): the
  ``... 3`` part is blanked.

Placeholders are padded with spaces to the construct's length (newlines kept, so
lines do not move); they are at most as long as the shortest construct they stand for.
"""
import re

_IDENT = re.compile(r"[A-Za-z_]\w*")
_KEYWORD_SPELLINGS = {
    "__volatile__": "volatile", "__volatile": "volatile", "__signed__": "signed",
    "__signed": "signed", "__restrict": "restrict", "__restrict__": "restrict",
    "__const": "const", "__const__": "const", "__inline__": "inline",
    "__inline": "inline", "__int128": "long", "__int128_t": "long",
    "__uint128_t": "unsigned long", "_Noreturn": "",
}
_BLANK_WORDS = ("__extension__",)
_ATTRIBUTE = ("__attribute__", "__attribute")
_ASM = ("asm", "__asm__", "__asm")
_ASM_QUALS = ("volatile", "__volatile__", "__volatile", "goto", "inline", "__inline")
_TYPEOF = ("typeof", "__typeof__", "__typeof")

KINDS = {"T": "typeof", "S": "statement expression", "A": "asm", "B": "builtin"}
PLACEHOLDER = re.compile(r"\b_M([TSAB])(\d+)\b")


class Region:
    """One masked construct: ``text[lo:hi]`` of kind T/S/A/B, standing in the masked
    text as ``name``.  ``inner`` is the span of what is inside: typeof's operand, the
    ``{...}`` of a statement expression."""
    __slots__ = ("name", "kind", "lo", "hi", "inner")

    def __init__(self, name, kind, lo, hi, inner):
        self.name, self.kind, self.lo, self.hi, self.inner = name, kind, lo, hi, inner


class MaskError(Exception):
    def __init__(self, msg, offset):
        super().__init__(msg)
        self.msg, self.offset = msg, offset


def _blank(s):
    return re.sub(r"[^\n]", " ", s)


def _skip_ws(text, i):
    n = len(text)
    while i < n and text[i] in " \t\r\n\f\v":
        i += 1
    return i


def _prev_sig(text, i):
    """The last significant character of text before position i."""
    j = i - 1
    while j >= 0 and text[j] in " \t\r\n\f\v":
        j -= 1
    return text[j] if j >= 0 else ""


def _skip_literal(text, i):
    q = text[i]
    j = i + 1
    n = len(text)
    while j < n and text[j] != q and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, n)


def _match_close(text, i, limit=None):
    """Index just after the bracket closing the one at text[i] (skipping literals)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    j = i + 1
    n = len(text) if limit is None else limit
    while j < n:
        c = text[j]
        if c in "\"'":
            j = _skip_literal(text, j)
            continue
        if c == "#" and (j == 0 or text[j - 1] == "\n"):
            e = text.find("\n", j)
            j = n if e < 0 else e
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                raise MaskError("unbalanced '%s'" % c, j)
            if not stack:
                return j + 1
        j += 1
    raise MaskError("unterminated '%s'" % text[i], i)


def _range_end(text, i, hi):
    """The end of a range's "... b" at i (designators [a ... b], case a ... b:)."""
    j = i + 3
    depth = 0
    while j < hi:
        d = text[j]
        if d in "([{":
            depth += 1
        elif d in ")}":
            depth -= 1
        elif d == "]" and depth == 0 or d == ":" and depth == 0:
            break
        elif d == "]":
            depth -= 1
        j += 1
    return j


class Masker:
    """Masks text; regions are numbered across every text masked by one Masker (the
    bodies of statement expressions are masked again when they are parsed)."""

    def __init__(self):
        self.regions = {}       # name -> Region
        self._names = {}        # offset -> name: a construct has one name in every pass

    def _region(self, out, kind, text, lo, hi, inner):
        name = self._names.get(lo)
        if name is None:
            name = self._names[lo] = "_M%s%d" % (kind, len(self._names))
            if len(name) > hi - lo:
                raise MaskError("construct too short to mask", lo)
            self.regions[name] = Region(name, kind, lo, hi, inner)
        out.append(name + _blank(text[lo + len(name):hi]))
        return name

    def mask(self, text, lo=0, hi=None, deep=False):
        """Masked copy of text[lo:hi] (offsets unchanged: the result has the same
        length).  ``deep``: statement expressions keep their brackets and their bodies
        are masked in place (the view the tokenizer needs), instead of becoming
        placeholders (the view the parser needs)."""
        hi = len(text) if hi is None else hi
        out = []
        i = lo
        while i < hi:
            c = text[i]
            if c == "#" and (i == 0 or text[i - 1] == "\n"):
                e = text.find("\n", i, hi)
                e = hi if e < 0 else e
                out.append(text[i:e])
                i = e
                continue
            if c in "\"'":
                j = _skip_literal(text, i)
                out.append(text[i:j])
                i = j
                continue
            if c == "(":
                k = _skip_ws(text, i + 1)
                if k < hi and text[k] == "{":
                    i = self._stmt_expr(out, text, i, k, hi, deep)
                    continue
            if c == "." and text.startswith("...", i) and _prev_sig(text, i) not in (",", "("):
                j = _range_end(text, i, hi)     # [a ... b] or case a ... b: blank "... b"
                out.append(_blank(text[i:j]))
                i = j
                continue
            if c.isalpha() or c == "_":
                i = self._word(out, text, i, hi)
                continue
            out.append(c)
            i += 1
        masked = "".join(out)
        assert len(masked) == hi - lo, (len(masked), hi - lo)
        return masked

    def _stmt_expr(self, out, text, i, k, hi, deep):
        """A statement expression ``({ ... })`` at i (its brace at k): a placeholder
        region, or (``deep``) its brackets kept and its body masked in place.  Returns
        the offset after it."""
        end = _match_close(text, i, hi)
        body_end = end - 1
        while text[body_end - 1] in " \t\r\n":
            body_end -= 1
        if text[body_end - 1] != "}":
            raise MaskError("malformed statement expression", i)
        if deep:
            self._region([], "S", text, i, end, (k, body_end))
            out.append(text[i:k])
            out.append(self.mask(text, k, body_end, deep=True))
            out.append(text[body_end:end])
        else:
            self._region(out, "S", text, i, end, (k, body_end))
        return end

    def _word(self, out, text, i, hi):
        """The identifier at i: kept, blanked (attributes, __extension__...), respelled
        (GNU keyword spellings), or the start of a masked region (typeof(),
        __builtin_types_compatible_p(), asm()).  Returns the offset after it."""
        m = _IDENT.match(text, i)
        word, j = m.group(0), m.end()
        if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            out.append(word)        # inside a number such as 0x1f
            return j
        k = _skip_ws(text, j)
        paren = k < hi and text[k] == "("
        if word in _ATTRIBUTE and paren:
            e = _match_close(text, k, hi)
            out.append(_blank(text[i:e]))
            return e
        if word in _BLANK_WORDS:
            out.append(" " * len(word))
            return j
        rep = _KEYWORD_SPELLINGS.get(word)
        if rep is not None:
            out.append(rep.ljust(len(word)))
            return j
        kind = "T" if word in _TYPEOF else \
            "B" if word == "__builtin_types_compatible_p" else None
        if kind and paren:
            e = _match_close(text, k, hi)
            self._region(out, kind, text, i, e, (k + 1, e - 1))
            return e
        if word in _ASM:
            return self._asm(out, text, i, j, hi)
        out.append(word)
        return j

    def _asm(self, out, text, i, j, hi):
        """``asm [qualifiers] (...)`` at i (the word ends at j): a masked region, or
        blanked when it is an asm label after a declarator.  Returns the offset after."""
        k = _skip_ws(text, j)
        while True:
            mq = _IDENT.match(text, k)
            if mq and mq.group(0) in _ASM_QUALS:
                k = _skip_ws(text, mq.end())
                continue
            break
        if not (k < hi and text[k] == "("):
            out.append(text[i:j])
            return j
        e = _match_close(text, k, hi)
        prev = _prev_sig(text, i)
        if prev.isalnum() or prev in "_]":
            out.append(_blank(text[i:e]))      # asm label
        else:
            self._region(out, "A", text, i, e, (k + 1, e - 1))
        return e
