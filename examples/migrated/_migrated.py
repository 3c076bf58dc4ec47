"""Helper for the migrated BCC tools in this directory: build <tool>.c (BCC dialect,
translated to CO-RE C by bcc_core.compat) once, cached by the hash of its text, flags,
kernel BTF, clang and translator (bcc_core.compat.build.compile_text)."""
import os

from bcc_core.compat.build import compile_text

HERE = os.path.dirname(os.path.abspath(__file__))


def bpf_object(tool, cflags=()):
    """Path of the compiled CO-RE object for examples/migrated/<tool>.c.
    $BCC_CORE_PREBUILT_<TOOL> names an object built elsewhere (the guest tests build on
    the host: CO-RE relocates it to the guest's kernel)."""
    pre = os.environ.get("BCC_CORE_PREBUILT_" + tool.upper())
    if pre and not cflags:
        return pre
    src = os.path.join(HERE, tool + ".c")
    with open(src) as f:
        text = f.read()
    return compile_text(text, cflags=list(cflags), filename=src)


def bpf_source(tool):
    """The BCC C of examples/migrated/<tool>.c (what the tools print for --ebpf)."""
    with open(os.path.join(HERE, tool + ".c")) as f:
        return f.read()
