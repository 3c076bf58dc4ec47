"""USDT probes as BCC offers them: ``USDT(pid=... | path=...)``, ``enable_probe()``, and
``BPF(text=..., usdt_contexts=[u])``.

A USDT probe is a ``.note.stapsdt`` ELF note: the probe's address, the address of its
semaphore (a counter the program tests before preparing the probe's arguments; 0 for
none) and an argument spec per argument, as the assembler saw them (``-4@%edi``,
``8@-16(%rbp)``, ``4@$5``).  As BCC does, the C that reads argument N of the probe a
function is attached to is generated from those specs (``_bpf_readarg_FN_N()``) and
put before the program's text, where the translator turns ``bpf_usdt_readarg(N, ctx,
&x)`` into a call of it.  Each location is a uprobe at its file offset; semaphores are
counted by the kernel (the uprobe's ``ref_ctr_offset``).

The notes are read by :mod:`bcc_core.obj.usdt` (x86-64 argument specs: registers,
memory at base + index * scale + offset, constants; not %rip-relative globals); a
probe whose locations read an argument differently is read as its first location does
(BCC tells them apart by address).
"""

import os

from .errors import BccCoreError
from .obj.usdt import Argument, Location, Probe, read_probes  # noqa: F401 (BCC's names)


class USDTException(BccCoreError):
    pass


def _process_binaries(pid):
    """The executable and the mapped files of process pid."""
    out = []
    try:
        out.append(os.readlink("/proc/%d/exe" % pid))
    except OSError as e:
        raise USDTException("cannot read the executable of process %d: %s"
                            % (pid, e.strerror)) from None
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("/") and "x" in parts[1]:
                    if parts[5] not in out:
                        out.append(parts[5])
    except OSError:
        pass
    root = "/proc/%d/root" % pid
    return [root + p if os.path.exists(root + p) else p for p in out]


class USDT(object):
    """BCC's USDT context: the probes of a binary (``path``) or of a process (``pid``:
    its executable and the libraries it maps), and the probes enabled on functions."""

    def __init__(self, pid=None, path=None):
        if pid is None and path is None:
            raise USDTException("USDT() needs pid= or path=")
        self.pid = pid
        self.path = path
        if path is not None:
            from .symbols import resolve_module
            p = resolve_module(path, pid or -1) or path
            binaries = [p]
        else:
            binaries = _process_binaries(pid)
        self.probes = []
        for b in binaries:
            self.probes.extend(read_probes(b))
        self.enabled = []       # (probe, fn_name)

    def _find(self, probe):
        want = probe.encode() if isinstance(probe, str) else bytes(probe)
        prov, _, name = want.rpartition(b":")
        for p in self.probes:
            if p.name == name and (not prov or p.provider == prov):
                return p
        return None

    def enable_probe(self, probe, fn_name):
        p = self._find(probe)
        if p is None:
            raise USDTException("Failed to enable USDT probe %s: no such probe in %s"
                                % (probe if isinstance(probe, str) else probe.decode(),
                                   "process %d" % self.pid if self.pid else self.path))
        fn = fn_name.decode() if isinstance(fn_name, bytes) else fn_name
        self.enabled.append((p, fn))

    def enable_probe_or_bail(self, probe, fn_name):
        try:
            self.enable_probe(probe, fn_name)
        except USDTException as e:
            import sys
            print(e)
            sys.exit(1)

    def enable_probe_or_bail_opt(self, probe, fn_name):
        return self.enable_probe_or_bail(probe, fn_name)

    def get_context(self):
        return self

    def get_probe_arg_ctype(self, probe_name, arg_index):
        p = self._find(probe_name)
        if p is None or not p.locations or arg_index >= len(p.locations[0].arguments):
            raise USDTException("no argument %d of USDT probe %s" % (arg_index, probe_name))
        return p.locations[0].arguments[arg_index].ctype

    def enumerate_probes(self):
        return list(self.probes)

    def enumerate_active_probes(self):
        """[(bin_path, fn_name, file offset, pid)] of the enabled probes' locations."""
        return [(p.bin_path, fn.encode(), loc.file_offset, self.pid or -1)
                for p, fn in self.enabled for loc in p.locations]

    def get_text(self):
        """The C functions reading each enabled probe's arguments (BCC's
        ``_bpf_readarg_FN_N(ctx, dest, len)``, 1-based N), put before the program."""
        out = []
        for p, fn in self.enabled:
            if not p.locations:
                continue
            args = p.locations[0].arguments
            for i, a in enumerate(args, 1):
                out.append(
                    "static __always_inline int _bpf_readarg_%s_%d(struct pt_regs *ctx, "
                    "void *dest, unsigned long len) {\n"
                    "    s64 __bcc_a = (s64)%s;\n"
                    "    if (len == 8) *(u64 *)dest = __bcc_a;\n"
                    "    else if (len == 4) *(u32 *)dest = __bcc_a;\n"
                    "    else if (len == 2) *(u16 *)dest = __bcc_a;\n"
                    "    else if (len == 1) *(u8 *)dest = __bcc_a;\n"
                    "    else return -1;\n"
                    "    return 0;\n}\n" % (fn, i, a.c_value()))
        return "".join(out)

    def attach_uprobes(self, bpf, attach_usdt_ignore_pid=False):
        pid = -1 if attach_usdt_ignore_pid or not self.pid else self.pid
        for p, fn in self.enabled:
            for loc in p.locations:
                bpf._attach_usdt(p.bin_path, loc.file_offset, loc.semaphore_offset, fn, pid)
