"""The translator's front end: ``clang -E`` with the parse prelude, masking, pycparser,
collisions with kernel type names, and the masked regions' bodies (a mixin of
:class:`.translate.Translator`)."""
import os
import re
import subprocess

from pycparser import c_ast, c_parser

from .clang import find_clang
from .mask import MaskError, Masker
from .prelude import (C_WORDS, BASE_STUBS, IDENT, strip_system_includes, PARSE_LINE_OFFSET,
                      blank_line_markers, linux_version_code, is_user_file, line_map,
                      prelude_dir, kconfig_header)
from .packet import packet_struct_names
from .uapi import macros_path
from .typemodel import Prim
from .splice import Source, apply_edits
from .tnodes import TranslateError, _walk


# a program defining its own struct sock/inet_sock (with no net header) gets none of
# the kernel's sk_*/inet_* member aliases (they would rename its members)
_OWN_SOCK = re.compile(r"\bstruct\s+(?:sock|inet_sock)\s*\{")


# BCC's footer: the license is the program's BPF_LICENSE (GPL when it defines none),
# appended after its last line (its line numbers do not change)
_OWN_LICENSE = re.compile(r"\b_license\s*\[")
_LICENSE_FOOTER = ('\n#ifndef BPF_LICENSE\n#define BPF_LICENSE GPL\n#endif\n'
                   '#define __BCC_LICENSE_STR(s) #s\n#define __BCC_LICENSE(s) __BCC_LICENSE_STR(s)\n'
                   'char _license[] __attribute__((section("license"), used)) = '
                   '__BCC_LICENSE(BPF_LICENSE);\n')


class Frontend:
    """Preprocess and parse: the text the checker walks."""

    # -- front: preprocess + parse ------------------------------------------------------
    def preprocess(self, text, src_dir):
        clang = self.clang or find_clang()
        body, self.dropped_includes = strip_system_includes(text)
        if any(f.startswith("-DBPF_LICENSE") for f in self.cflags):
            raise TranslateError("BPF_LICENSE cannot be specified through cflags (as in "
                                 "BCC: #define BPF_LICENSE in the program)", self.filename)
        if not _OWN_LICENSE.search(body):
            body += _LICENSE_FOOTER
        prelude = os.path.join(prelude_dir(), "bcc_parse_prelude.h")
        fname = self.filename.replace("\\", "\\\\").replace('"', '\\"')
        src = '# 1 "%s"\n%s\n' % (fname, body)
        flags = [f for f in self.cflags if f.startswith(("-D", "-U", "-I"))]
        if not any(f.startswith("-DLINUX_VERSION_CODE") for f in flags):
            flags.append("-DLINUX_VERSION_CODE=%d" % linux_version_code())
        if _OWN_SOCK.search(body):
            flags.append("-D__BCC_OWN_SOCK")
        kc = kconfig_header()
        if kc:
            flags = ["-include", kc] + flags
        for _, line in self.dropped_includes:      # uapi headers' macros (compat.uapi)
            path = macros_path(line, clang)
            if path:
                flags = ["-include", path] + flags
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
        self.packet_structs = packet_struct_names(pp)
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

    def is_user(self, node):
        c = getattr(node, "coord", None)
        if c is None or not c.line:
            return False
        return self.is_user_line(c.line - 1 - PARSE_LINE_OFFSET)
