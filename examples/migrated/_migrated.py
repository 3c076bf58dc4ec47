"""Helper for the migrated BCC tools in this directory: build <tool>.c (BCC dialect,
translated to CO-RE C by bcc_core.compat) once, cached by the hash of its text, flags,
kernel BTF, clang and translator (bcc_core.compat.build.compile_text)."""
import json
import os

from bcc_core.compat.build import compile_text

HERE = os.path.dirname(os.path.abspath(__file__))


def prebuilt_key(tool, cflags=()):
    """The key of a (tool, cflags) variant in $BCC_CORE_PREBUILT_INDEX."""
    return " ".join([tool] + list(cflags))


def bpf_object(tool, cflags=()):
    """Path of the compiled CO-RE object for examples/migrated/<tool>.c.
    Objects built elsewhere (the guest tests build on the host: CO-RE relocates them to
    the guest's kernel) are named by $BCC_CORE_PREBUILT_<TOOL> (no cflags) or by
    $BCC_CORE_PREBUILT_INDEX, a JSON file {prebuilt_key(tool, cflags): path}."""
    pre = os.environ.get("BCC_CORE_PREBUILT_" + tool.upper())
    if pre and not cflags:
        return pre
    index = os.environ.get("BCC_CORE_PREBUILT_INDEX")
    if index:
        with open(index) as f:
            pre = json.load(f).get(prebuilt_key(tool, cflags))
        if pre:
            return pre
    src = os.path.join(HERE, tool + ".c")
    with open(src) as f:
        text = f.read()
    return compile_text(text, cflags=list(cflags), filename=src)


def bpf_source(tool):
    """The BCC C of examples/migrated/<tool>.c (what the tools print for --ebpf)."""
    with open(os.path.join(HERE, tool + ".c")) as f:
        return f.read()
