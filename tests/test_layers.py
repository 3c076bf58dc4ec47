"""The layers (README "Architecture", DESIGN.md): every module of bcc_core -- the compat
translator and the tools installed under it included -- imports only its own layer and
the layers below it, and no modules import each other in a circle.

Imports are read from the source (ast), function-local ones too: a lazy import must point
down like any other.  Pure and fast: nothing is imported, no kernel needed (the test of
the module paths imports a few, which is plain Python too).
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the import packages and where their sources are (pyproject.toml's package-dir)
SOURCES = {"bcc_core": "bcc_core", "bcc_core.compat": "compat", "bcc_core.tools": "tools"}

# module -> layer: the longest prefix listed wins
LAYER_OF = {
    "bcc_core.errors": "errors",     # the exception hierarchy: a leaf everything may use
    "bcc_core._sys": "sys",          # bpf()/perf_event_open() through cffi, ABI constants
    "bcc_core.btf": "btf",           # BTF decode, kernel BTF index, BTF -> ctypes
    "bcc_core.obj": "obj",           # ELF -> ObjectSpec, SEC() names, spec cache
    "bcc_core.core": "core",         # CO-RE relocation: BTF + records in, patches out
    "bcc_core.load": "load",         # maps, programs, Object, kconfig, feature probes
    "bcc_core.attach": "attach",     # links: tracepoints, kprobes/uprobes, fentry...
    "bcc_core.events": "events",     # perf buffer, ring buffer, event records
    "bcc_core.compat": "compat",     # BCC C -> CO-RE C, vmlinux.h, clang
    "bcc_core": "bcc",               # BCC's surface: bpf, table, utils, syscall...
    "bcc_core.bcc": "bcc",           # and the parts of its BPF class and table classes
    "bcc_core.cli": "cli",           # the bcc-core command
    "bcc_core.tools": "tools",       # the ported tools
}
_BELOW_LOAD = {"errors", "sys", "btf", "obj", "core"}
# layer -> the other layers it may import.  btf, obj and core never reach the kernel's
# syscalls; events only read buffers (it needs no loader, no links).
MAY_IMPORT = {
    "errors": set(),
    "sys": {"errors"},
    "btf": {"errors"},
    "obj": {"errors", "btf"},
    "core": {"errors", "btf", "obj"},
    "load": _BELOW_LOAD,
    "attach": _BELOW_LOAD | {"load"},
    "events": {"errors", "sys", "btf"},
    "compat": {"errors", "btf", "load"},
    "bcc": _BELOW_LOAD | {"load", "attach", "events", "compat"},
    "cli": _BELOW_LOAD | {"load", "attach", "events", "compat", "bcc"},
    "tools": {"errors", "bcc"},
}


def layer_of(mod):
    parts = mod.split(".")
    for n in range(len(parts), 0, -1):
        layer = LAYER_OF.get(".".join(parts[:n]))
        if layer:
            return layer
    raise AssertionError("module %s is in no layer: add it to LAYER_OF" % mod)


def modules():
    """{module name: source path} for every .py file of the installed packages."""
    found = {}
    for pkg, rel in SOURCES.items():
        top = os.path.join(ROOT, rel)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"
                           and os.path.exists(os.path.join(dirpath, d, "__init__.py"))]
            sub = os.path.relpath(dirpath, top).replace(os.sep, ".")
            base = pkg if sub == "." else pkg + "." + sub
            for f in filenames:
                if f.endswith(".py"):
                    name = base if f == "__init__.py" else base + "." + f[:-3]
                    found[name] = os.path.join(dirpath, f)
    return found


def imports(mod, path, known):
    """[(imported bcc_core module, line)] of a module: every import statement, wherever
    it is; ``from X import y`` counts as importing X.y where that is a module."""
    tree = ast.parse(open(path).read(), path)
    is_pkg = path.endswith("__init__.py")
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = mod.split(".")
                if not is_pkg:
                    parts.pop()
                if node.level > 1:
                    parts = parts[:-(node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            for a in node.names:
                sub = base + "." + a.name
                out.append((sub if sub in known else base, node.lineno))
    return [(m, line) for m, line in out if m == "bcc_core" or m.startswith("bcc_core.")]


def graph():
    """{module: {imported module: first line}}, with the packages an import runs on the
    way (importing bcc_core.obj.spec runs bcc_core/obj/__init__.py first)."""
    known = modules()
    edges = {}
    unknown = []
    for mod, path in sorted(known.items()):
        out = edges.setdefault(mod, {})
        for target, line in imports(mod, path, known):
            if target not in known:
                unknown.append("%s:%d imports %s, which is not a module here"
                               % (os.path.relpath(path, ROOT), line, target))
                continue
            if target != mod:
                out.setdefault(target, line)
            parts = target.split(".")
            for n in range(2, len(parts)):      # the packages on the way, but not the
                t = ".".join(parts[:n])         # importer's own (already running)
                if t != mod and not mod.startswith(t + "."):
                    out.setdefault(t, line)
    return known, edges, unknown


def test_every_import_names_a_module():
    known, edges, unknown = graph()
    assert not unknown, "\n".join(unknown)
    assert len(known) > 50 and "bcc_core.load.loader" in known


def test_imports_point_down_the_layers():
    known, edges, _ = graph()
    bad = []
    for mod, out in sorted(edges.items()):
        have = layer_of(mod)
        for target, line in sorted(out.items()):
            want = layer_of(target)
            if want != have and want not in MAY_IMPORT[have]:
                bad.append("%s:%d: %s (%s) imports %s (%s)" % (
                    os.path.relpath(known[mod], ROOT), line, mod, have, target, want))
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def find_cycle(edges):
    """One import cycle as [m0, m1, ..., m0], or None (iterative DFS, three colours)."""
    state = {}
    for start in sorted(edges):
        if start in state:
            continue
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(edges.get(nxt, ())))))
    return None


def test_no_import_cycles():
    known, edges, _ = graph()
    cycle = find_cycle(edges)
    if cycle:
        steps = ["%s (%s:%d)" % (a, os.path.relpath(known[a], ROOT), edges[a][b])
                 for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import cycle: %s -> %s" % (" -> ".join(steps), cycle[-1]))


def test_the_checks_see_what_they_must():
    # a circle, a lazy (function-local) import, a relative one: the walker finds them
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 1}}) is None
    known, edges, _ = graph()
    assert "bcc_core.obj.elf" in edges["bcc_core.obj.cache"]       # lazy, in _parse()
    assert "bcc_core.core.relo" in edges["bcc_core.load.relocate"]  # lazy, relative
    assert "bcc_core.obj" in edges["bcc_core.load.loader"]         # the package runs too
    assert layer_of("bcc_core.bpf") == "bcc" and layer_of("bcc_core.cli") == "cli"
    assert layer_of("bcc_core._sys._ffi") == "sys"
    assert set(MAY_IMPORT) == set(LAYER_OF.values())
    for layer, below in MAY_IMPORT.items():
        assert layer not in below
        for other in below:          # the table itself has no circle
            assert layer not in MAY_IMPORT[other], (layer, other)


# the module paths from before the layers became sub-packages (bcc_core.loader, .elf,
# .link...): never released, gone; BCC's own module paths stay
OLD_PATHS = ("check", "ctypes_btf", "elf", "features", "kconfig", "link", "loader", "map",
             "perf_buffer", "probe", "prog", "record", "relo", "relo_insn", "ringbuf", "sec",
             "spec", "struct_view", "syscall_names", "xdp", "_reader")
BCC_PATHS = ("utils", "syscall", "containers", "table", "tcp", "usdt", "perf", "bpf",
             "libbcc", "disassembler")


def test_old_module_paths_are_gone():
    import importlib

    import bcc_core
    for name in OLD_PATHS:
        with pytest.raises(ImportError):
            importlib.import_module("bcc_core." + name)
        with pytest.raises(AttributeError):
            getattr(bcc_core, name)
    assert len(bcc_core.__path__) == 1
    for name in BCC_PATHS:
        mod = importlib.import_module("bcc_core." + name)
        assert getattr(bcc_core, name) is mod and mod.__name__ == "bcc_core." + name


# the BCC facade's BPF class and table classes, split into bcc_core/bcc/ (issue 14): no
# module of theirs grows back into a god-module, no function into a god-function
SPLIT_MODULES = ("bcc_core.bpf", "bcc_core.table", "bcc_core.bcc")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def test_the_split_facade_modules_stay_small():
    known = modules()
    split = {m: p for m, p in known.items()
             if any(m == s or m.startswith(s + ".") for s in SPLIT_MODULES)}
    assert {"bcc_core.bpf", "bcc_core.table", "bcc_core.bcc.attachments"} <= set(split)
    big = []
    for mod, path in sorted(split.items()):
        src = open(path).read()
        if src.count("\n") > MAX_MODULE_LINES:
            big.append("%s: %d lines" % (mod, src.count("\n")))
        for node in ast.walk(ast.parse(src, path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    big.append("%s:%d: %s() is %d lines" % (mod, node.lineno, node.name, n))
    assert not big, "over %d lines a module or %d a function:\n%s" % (
        MAX_MODULE_LINES, MAX_FUNCTION_LINES, "\n".join(big))


# -- size: no module over 600 lines, no function over 80 (issue 14) -----------------------


def test_no_module_is_too_long():
    long = []
    for mod, path in sorted(modules().items()):
        rel = os.path.relpath(path, ROOT)
        with open(path) as f:
            n = sum(1 for _ in f)
        if n > MAX_MODULE_LINES:
            long.append("%s: %d lines" % (rel, n))
    assert not long, "modules over %d lines (split them by concept):\n%s" % (
        MAX_MODULE_LINES, "\n".join(long))


def test_no_function_is_too_long():
    long = []
    for mod, path in sorted(modules().items()):
        rel = os.path.relpath(path, ROOT)
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append("%s:%d: %s, %d lines" % (rel, node.lineno, node.name, n))
    assert not long, "functions over %d lines:\n%s" % (MAX_FUNCTION_LINES, "\n".join(long))


def test_every_package_is_installed():
    """pyproject.toml lists every package directory (an editable install finds them all,
    so only a real ``pip install .`` would show one missing)."""
    import re
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    listed = set(re.findall(r'"(bcc_core[\w.]*)"',
                            re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)))
    found = set()
    for pkg, rel in SOURCES.items():
        top = os.path.join(ROOT, rel)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" in filenames:
                sub = os.path.relpath(dirpath, top).replace(os.sep, ".")
                found.add(pkg if sub == "." else pkg + "." + sub)
    assert found == listed, ("missing from pyproject.toml", found - listed,
                             "listed but absent", listed - found)
