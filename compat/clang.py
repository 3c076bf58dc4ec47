"""Finding clang, without running it: the one tool the translator (its preprocessing) and
the builder (compiling) both need."""
import os

from bcc_core.errors import NotSupportedError

CLANG_NAMES = ("clang-19", "clang")
CLANG_PACKAGE = "clang-19"


class ToolMissingError(NotSupportedError):
    """clang is needed (to translate and compile BPF C) and is not installed."""


def _which(names):
    """The first of ``names`` found as an executable on $PATH (shutil.which's job,
    without importing shutil on the warm path)."""
    dirs = os.environ.get("PATH", os.defpath).split(os.pathsep)
    for name in names:
        for d in dirs:
            p = os.path.join(d or ".", name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def clang_path():
    """clang-19 or clang on $PATH, or None."""
    return _which(CLANG_NAMES)


def clang_available():
    return clang_path() is not None


def find_clang():
    """Path of clang, or ToolMissingError naming the package to install."""
    import shutil
    for name in CLANG_NAMES:
        p = shutil.which(name)
        if p:
            return p
    raise ToolMissingError("clang is required to build BCC-dialect programs (install "
                           "%s, e.g. apt-get install %s)" % (CLANG_PACKAGE, CLANG_PACKAGE))
