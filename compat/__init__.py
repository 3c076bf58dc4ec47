"""BCC-dialect C -> libbpf CO-RE C, compiled once at build time (``bcc_core.compat``).

* :mod:`.vmlinux` -- BTF to a vmlinux.h;
* :mod:`.translate` -- the translator (pycparser AST), :class:`TranslateError`;
* :mod:`.build` -- ``build(src, out)``, ``compile_text(text)`` with clang;
* :mod:`.cli` -- ``bcc-core vmlinux|build|translate``.

Imports are lazy: ``bcc_core.compat`` costs nothing until used (pycparser is an optional
dependency, the ``compat`` extra).
"""
import importlib

__all__ = ["TranslateError", "BuildError", "compile_text"]


def __getattr__(name):
    if name == "TranslateError":
        return importlib.import_module(__name__ + ".translate").TranslateError
    if name in ("BuildError", "compile_text"):
        return getattr(importlib.import_module(__name__ + ".build"), name)
    raise AttributeError(name)
