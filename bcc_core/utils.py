# The public names here are those of BCC 0.26's bcc.utils (same signatures and results),
# implemented for bcc-core.
"""BCC's ``bcc.utils`` names.  The symbol helpers (``find_library``, ``which``,
``resolve_symbol``... and the facade's kernel/ELF/process symbol tables) live in
:mod:`bcc_core.symbols` and are loaded on first use."""
import os
import sys

# BCC's bytes/str conventions (shared with bcc_core.symbols, which this module re-exports)
from ._strings import (FILESYSTEMENCODING, ArgString, _assert_is_bytes,  # noqa: F401
                       _str, _strict_bytes)


def _cpu_list(path):
    """CPU numbers listed in a sysfs cpu list file such as "0-3,8,10-11"."""
    with open(path) as f:
        text = f.read().strip()
    cpus = []
    for part in filter(None, text.split(",")):
        lo, sep, hi = part.partition("-")
        first = int(lo)
        last = int(hi) if sep else first
        cpus += range(first, last + 1)
    return cpus


def get_online_cpus():
    """Numbers of the CPUs that are online now."""
    return _cpu_list("/sys/devices/system/cpu/online")


def get_possible_cpus():
    """Numbers of every CPU the kernel could bring online (per-CPU map slots)."""
    return _cpu_list("/sys/devices/system/cpu/possible")


def detect_language(candidates, pid):
    """Like BCC's (which asks libbcc): guess the language of process pid from its
    executable name and mapped libraries."""
    lang = None
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        exe = ""
    for name in ("java", "node", "perl", "php", "python", "ruby"):
        if exe.startswith(name):
            lang = name
            break
    if lang is None:
        try:
            with open("/proc/%d/maps" % pid) as f:
                maps = f.read()
        except OSError:
            maps = ""
        for name, pat in (("java", "libjvm.so"), ("python", "libpython"), ("ruby", "libruby"),
                          ("php", "libphp"), ("perl", "libperl"), ("node", "libnode")):
            if pat in maps:
                lang = name
                break
    if lang is None:
        lang = "c"
    return lang if lang in candidates else None


def printb(s, file=sys.stdout, nl=1):
    """printb(s)

    Write the bytes ``s`` (plus a newline unless ``nl`` is false) to ``file``'s
    binary side and flush, so that probe data is never decoded on its way out."""
    out = getattr(file, "buffer", file)
    out.write(s + b"\n" if nl else s)
    file.flush()


def warn_with_traceback(message, category, filename, lineno, file=None, line=None):
    """A ``warnings.showwarning`` replacement that prints the caller's stack first."""
    import traceback
    import warnings
    text = "".join(traceback.format_stack(sys._getframe(2)))
    text += warnings.formatwarning(message, category, filename, lineno, line)
    (file if hasattr(file, "write") else sys.stderr).write(text)


_STREQ_TEMPLATE = """
static inline bool {name}(char const *unused, uintptr_t ptr)
{{
    char want[] = {literal};
    char got[sizeof(want)];
    int n;

    {reader}(&got, sizeof(got), (void *)ptr);
    for (n = 0; n + 1 < sizeof(want); n++)
        if (got[n] != want[n])
            return false;
    return true;
}}
"""

# STRCMP("literal", expr): with bin_cmp the captured literal has no quotes
_STRCMP_BARE = r'STRCMP\("([^"]+)",(.+?)\)'
_STRCMP_QUOTED = r'STRCMP\(("[^"]+"),(.+?)\)'


class StrcmpRewrite(object):
    """Turns ``STRCMP("text", expr)`` in a trace/argdist filter into a call of a
    generated ``streq_N`` C helper that reads ``expr`` and compares it with "text"."""

    @staticmethod
    def _generate_streq_function(string, probe_read_func, streq_functions,
                                 probeid):
        name = "streq_%d" % probeid
        code = _STREQ_TEMPLATE.format(name=name, literal=string, reader=probe_read_func)
        return name, streq_functions + code

    @staticmethod
    def rewrite_expr(expr, bin_cmp, is_user, probe_user_list, streq_functions,
                     probeid):
        import re
        pattern = _STRCMP_BARE if bin_cmp else _STRCMP_QUOTED
        for m in re.finditer(pattern, expr):
            user = is_user or m.group(2).strip() in probe_user_list
            reader = "bpf_probe_read_user" if user else "bpf_probe_read"
            name, streq_functions = StrcmpRewrite._generate_streq_function(
                m.group(1), reader, streq_functions, probeid)
            probeid += 1
            expr = expr.replace("STRCMP", name, 1)
        return {"expr": expr, "streq_functions": streq_functions, "probeid": probeid}


def sigterm_exits():
    """Make SIGTERM end the program as Ctrl-C does, through sys.exit(0), so ``finally``
    blocks and atexit handlers run and a tool detaches what it attached.  The handler is
    set with the C signal module: signal.py builds enums at import, a measurable part of
    a tool's start."""
    try:
        from _signal import SIGTERM, signal
    except ImportError:
        from signal import SIGTERM, signal
    signal(SIGTERM, lambda *a: sys.exit(0))


def _help_formatter():
    import argparse

    class FastHelpFormatter(argparse.RawDescriptionHelpFormatter):
        """argparse's RawDescriptionHelpFormatter without the shutil import it makes
        for every add_argument (bz2, lzma, fnmatch: ~1/20 of a tool's start-up): the
        width comes from $COLUMNS or the terminal, as shutil.get_terminal_size's."""

        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            if width is None:
                width = _terminal_columns() - 2
            super().__init__(prog, indent_increment, max_help_position, width)
    return FastHelpFormatter


def _terminal_columns():
    try:
        n = int(os.environ.get("COLUMNS", ""))
        if n > 0:
            return n
    except ValueError:
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


_SYMBOLS = ("KernelSymbols", "kernel_symbols", "ElfSymbols", "elf_symbols", "find_library",
            "which", "resolve_module", "resolve_symbol", "ProcessSymbols")


def __getattr__(name):
    if name == "FastHelpFormatter":
        cls = globals()["FastHelpFormatter"] = _help_formatter()
        return cls
    if name in _SYMBOLS:
        from . import symbols
        value = globals()[name] = getattr(symbols, name)
        return value
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
