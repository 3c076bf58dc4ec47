"""Command lines for tools: argparse's interface, without importing argparse to parse
the common ones.

Importing argparse costs more than anything else a bcc-core tool does before its header
(it brings re, enum, gettext and locale: about a third of the start-up on the host, more
under emulation).  :class:`ArgumentParser` takes the same calls as argparse's
(``add_argument``, ``add_mutually_exclusive_group``, ``add_argument_group``,
``parse_args``) and records them.  ``parse_args`` reads the usual command lines itself:
flags, options with a value (``-p 1``, ``-p1``, ``--pid 1``, ``--pid=1``, unique
prefixes of long options), combined short flags (``-TU``), ``append``/``count``
options, positionals of ``nargs`` None or ``"?"``, ``type``, ``choices``, ``default``.
Anything else -- ``-h``, a usage error, a value that fails its ``type`` or ``choices``,
an option form or action it does not know -- goes to a real ``argparse.ArgumentParser``
built from the same calls, so help, error messages and exit codes are argparse's own.
"""
import sys

SUPPRESS = "==SUPPRESS=="       # argparse.SUPPRESS


class RawDescriptionHelpFormatter:
    """Stands for argparse.RawDescriptionHelpFormatter (what BCC's tools pass) without
    importing argparse; the help is formatted by bcc-core's FastHelpFormatter, which is
    that formatter."""


def positive_int(text):
    """An argument ``type``: an integer > 0 ("-d 0.5" is argparse's usage error,
    "invalid positive_int value: '0.5'", not a traceback later)."""
    v = int(text)
    if v <= 0:
        raise ValueError(text)
    return v


def nonnegative_int(text):
    """An argument ``type``: an integer >= 0 (a UID, a threshold)."""
    v = int(text)
    if v < 0:
        raise ValueError(text)
    return v


def pages(text):
    """An argument ``type``: a power-of-two number of pages (perf buffer sizes)."""
    v = positive_int(text)
    if v & (v - 1):
        raise ValueError(text)
    return v


def __getattr__(name):
    # the rest of argparse (ArgumentTypeError, FileType, other formatters...), from
    # argparse itself when a tool reaches for it
    import argparse
    return getattr(argparse, name)

_FLAG_ACTIONS = ("store_true", "store_false", "store_const", "count")
_ACTIONS = ("store", "append") + _FLAG_ACTIONS
_PARSER_KWARGS = ("prog", "usage", "description", "epilog", "formatter_class",
                  "add_help", "allow_abbrev")


class Namespace:
    """The parsed arguments (argparse.Namespace's behaviour: attributes, ==, in)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __eq__(self, other):
        if not hasattr(other, "__dict__"):
            return NotImplemented
        return vars(self) == vars(other)

    def __contains__(self, key):
        return key in self.__dict__

    def __repr__(self):
        return "Namespace(%s)" % ", ".join("%s=%r" % kv for kv in self.__dict__.items())


class _Fallback(Exception):
    """This command line is argparse's to read."""


class _Arg:
    def __init__(self, names, kwargs, group):
        self.names, self.kwargs, self.group = names, kwargs, group
        self.optional = bool(names) and names[0][:1] == "-"
        self.action = kwargs.get("action") or "store"
        self.nargs = kwargs.get("nargs")
        self.type = kwargs.get("type")
        self.choices = kwargs.get("choices")
        self.const = kwargs.get("const")
        self.required = kwargs.get("required", False)
        if "dest" in kwargs:
            self.dest = kwargs["dest"]
        elif not self.optional:
            self.dest = names[0]
        else:   # argparse: the first long option, else the first short one
            long_ = [n for n in names if n.startswith("--")]
            self.dest = (long_ or names)[0].lstrip("-").replace("-", "_")
        if "default" in kwargs:
            self.default = kwargs["default"]
        else:
            self.default = {"store_true": False, "store_false": True}.get(self.action)
        # what the fast path reads; anything else always goes to argparse
        self.simple = (isinstance(self.action, str) and self.action in _ACTIONS and
                       (self.nargs is None or (self.nargs == "?" and not self.optional)) and
                       (self.optional or self.action == "store"))

    @property
    def takes_value(self):
        return self.action in ("store", "append")


class _Group:
    def __init__(self, parser, kind, args, kwargs):
        self._parser, self.kind, self.args, self.kwargs = parser, kind, args, kwargs

    def add_argument(self, *names, **kwargs):
        return self._parser._add(names, kwargs, self)


class ArgumentParser:
    """argparse.ArgumentParser's interface; see the module's text for what is read
    without argparse.  ``formatter_class`` defaults to bcc-core's FastHelpFormatter
    (argparse's RawDescriptionHelpFormatter, as BCC's tools use)."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._args = []
        self._groups = []
        self._simple = all(k in _PARSER_KWARGS for k in kwargs)

    def _add(self, names, kwargs, group=None):
        a = _Arg(names, kwargs, group)
        self._args.append(a)
        self._simple = self._simple and a.simple
        return a

    def add_argument(self, *names, **kwargs):
        return self._add(names, kwargs)

    def add_mutually_exclusive_group(self, **kwargs):
        g = _Group(self, "mutex", (), kwargs)
        self._groups.append(g)
        if kwargs.get("required"):
            self._simple = False
        return g

    def add_argument_group(self, *args, **kwargs):
        g = _Group(self, "group", args, kwargs)
        self._groups.append(g)
        return g

    # -- the real thing ----------------------------------------------------------------
    def argparse_parser(self):
        """An argparse.ArgumentParser made from the same calls."""
        import argparse
        kwargs = dict(self._kwargs)
        if kwargs.get("formatter_class", RawDescriptionHelpFormatter) is \
                RawDescriptionHelpFormatter:
            from .utils import FastHelpFormatter
            kwargs["formatter_class"] = FastHelpFormatter
        p = argparse.ArgumentParser(**kwargs)
        made = {}
        for g in self._groups:
            if g.kind == "mutex":
                made[g] = p.add_mutually_exclusive_group(**g.kwargs)
            else:
                made[g] = p.add_argument_group(*g.args, **g.kwargs)
        for a in self._args:
            # argparse tells SUPPRESS by identity
            kw = {k: argparse.SUPPRESS if v == SUPPRESS and isinstance(v, str) else v
                  for k, v in a.kwargs.items()}
            (made[a.group] if a.group is not None else p).add_argument(*a.names, **kw)
        return p

    def print_help(self, file=None):
        self.argparse_parser().print_help(file)

    def print_usage(self, file=None):
        self.argparse_parser().print_usage(file)

    def format_help(self):
        return self.argparse_parser().format_help()

    def error(self, message):
        self.argparse_parser().error(message)

    def parse_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        if namespace is None and self._simple:
            try:
                return self._parse(args)
            except _Fallback:
                pass
        return self.argparse_parser().parse_args(args, namespace)

    # -- the common command lines ------------------------------------------------------
    def _option(self, text):
        """The optional argument ``text`` names (an exact name or, for --long, a unique
        prefix as argparse allows); _Fallback otherwise."""
        for a in self._args:
            if a.optional and text in a.names:
                return a
        if text.startswith("--") and self._kwargs.get("allow_abbrev", True):
            found = [a for a in self._args if a.optional and
                     any(n.startswith(text) for n in a.names if n.startswith("--"))]
            if len(found) == 1:
                return found[0]
        raise _Fallback

    @staticmethod
    def _convert(a, text):
        value = text
        if a.type is not None:
            try:
                value = a.type(text)
            except Exception:
                raise _Fallback from None
        if a.choices is not None and value not in a.choices:
            raise _Fallback
        return value

    def _parse(self, args):
        if self._kwargs.get("add_help", True) and any(
                t in ("-h", "--help") or (t.startswith("--h") and "--help".startswith(
                    t.partition("=")[0])) for t in args if t != "--"):
            raise _Fallback
        values = self._defaults()
        seen = []
        positional = []
        i, n = 0, len(args)
        optional_positional = any(not a.optional and a.nargs == "?" for a in self._args)

        def value_after(a, i):
            if i >= n or args[i][:1] == "-":
                raise _Fallback     # a missing value, or one argparse reads its own way
            return args[i]

        def apply(a, text=None):
            seen.append(a)
            self._apply(values, a, text)

        while i < n:
            t = args[i]
            i += 1
            if t == "-" or t[:1] != "-":
                if seen and optional_positional:
                    raise _Fallback     # argparse may have given the "?" its default
                positional.append(t)
                continue
            if t == "--":
                raise _Fallback     # argparse's own rules for what follows
            if t[1:2].isdigit() or t[1:2] == ".":
                raise _Fallback     # a negative number: argparse's rules
            if t.startswith("--"):
                name, eq, text = t.partition("=")
                a = self._option(name)
                if a.takes_value:
                    if not eq:
                        text = value_after(a, i)
                        i += 1
                    apply(a, text)
                elif eq:
                    raise _Fallback     # an explicit value for a flag: argparse's error
                else:
                    apply(a)
                continue
            j = 1
            while j < len(t):
                a = self._option("-" + t[j])
                if a.takes_value:
                    text = t[j + 1:]
                    if not text:
                        text = value_after(a, i)
                        i += 1
                    elif text[0] == "=":
                        raise _Fallback
                    apply(a, text)
                    break
                apply(a)
                j += 1
        return self._finish(values, seen, positional)

    def _defaults(self):
        values = {}
        for a in self._args:
            if a.default is SUPPRESS:
                continue
            d = a.default
            if isinstance(d, str) and a.type is not None and a.takes_value:
                d = self._convert(a, d)     # argparse converts string defaults
            values[a.dest] = d
        return values

    def _apply(self, values, a, text):
        """Option ``a`` seen (with ``text`` when it takes a value): its action."""
        if a.action == "store":
            values[a.dest] = self._convert(a, text)
        elif a.action == "append":
            old = values.get(a.dest)
            values[a.dest] = (list(old) if old else []) + [self._convert(a, text)]
        elif a.action == "store_true":
            values[a.dest] = True
        elif a.action == "store_false":
            values[a.dest] = False
        elif a.action == "store_const":
            values[a.dest] = a.const
        else:   # count
            values[a.dest] = (values.get(a.dest) or 0) + 1

    def _finish(self, values, seen, positional):
        """Positionals, then what argparse checks after reading (required options,
        mutually exclusive groups): anything unusual goes to argparse itself."""
        positionals = [a for a in self._args if not a.optional]
        for a in positionals:
            if positional:
                values[a.dest] = self._convert(a, positional.pop(0))
                seen.append(a)
            elif a.nargs is None:
                raise _Fallback     # missing: argparse's error
        if positional:
            raise _Fallback         # unrecognized arguments: argparse's error
        for a in self._args:
            if a.required and a not in seen:
                raise _Fallback
        for g in self._groups:
            if g.kind == "mutex" and len({a for a in seen if a.group is g}) > 1:
                raise _Fallback     # "not allowed with argument": argparse's error
        return Namespace(**values)
