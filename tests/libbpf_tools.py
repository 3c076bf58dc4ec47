"""Helpers for tests that use objects compiled by someone else: the .bpf.o files embedded
in Debian's libbpf-tools binaries, and a libbpf-based oracle built from tests/oracle."""
import glob
import os
import shutil
import struct
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BCC_CORE_TEST_BUILD") or os.path.join(HERE, ".build")
EM_BPF = 247


def tool_binaries():
    try:
        out = subprocess.run(["dpkg", "-L", "libbpf-tools"], capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(p for p in out if p.startswith("/usr/sbin/") and os.path.isfile(p))


def embedded_object(data):
    """The BPF ELF object a libbpf skeleton embeds in a binary, or None."""
    i = data.find(b"\x7fELF", 1)
    while i >= 0:
        if data[i + 4] == 2 and data[i + 5] == 1 and \
                struct.unpack_from("<H", data, i + 18)[0] == EM_BPF:
            shoff, = struct.unpack_from("<Q", data, i + 0x28)
            shentsize, shnum = struct.unpack_from("<HH", data, i + 0x3A)
            return data[i:i + shoff + shentsize * shnum]
        i = data.find(b"\x7fELF", i + 1)
    return None


def extract_objects():
    """{tool name: path of its extracted .bpf.o}; skips when libbpf-tools is missing."""
    bins = tool_binaries()
    if not bins:
        pytest.skip("Debian's libbpf-tools is not installed")
    d = os.path.join(BUILD, "libbpf-tools")
    os.makedirs(d, exist_ok=True)
    out = {}
    for b in bins:
        with open(b, "rb") as f:
            obj = embedded_object(f.read())
        if obj is None:
            continue
        name = os.path.basename(b)
        path = os.path.join(d, name + ".bpf.o")
        if not os.path.exists(path) or open(path, "rb").read() != obj:
            with open(path, "wb") as f:
                f.write(obj)
        out[name] = path
    return out


def oracle():
    """Path of the libbpf oracle binary, built with gcc against libbpf-dev."""
    src = os.path.join(HERE, "oracle", "libbpf_load.c")
    exe = os.path.join(BUILD, "libbpf_load")
    if not shutil.which("gcc") or not os.path.exists("/usr/include/bpf/libbpf.h"):
        pytest.skip("gcc and libbpf-dev are needed for the libbpf oracle")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(BUILD, exist_ok=True)
        subprocess.run(["gcc", "-O1", "-o", exe + ".tmp", src, "-lbpf"], check=True)
        os.replace(exe + ".tmp", exe)
    return exe


def libbpf_loadable(obj_path, btf=None):
    """{program name: True/False} as libbpf loads each program alone."""
    cmd = [oracle(), "progs", obj_path] + ([btf] if btf else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    res = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            res[parts[0]] = parts[1] == "ok"
    return res
