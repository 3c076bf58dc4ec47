"""USDT probes as BCC offers them: ``USDT(pid=... | path=...)``, ``enable_probe()``, and
``BPF(text=..., usdt_contexts=[u])``.

A USDT probe is a ``.note.stapsdt`` ELF note: the probe's address, the address of its
semaphore (a counter the program tests before preparing the probe's arguments; 0 for
none) and an argument spec per argument, as the assembler saw them (``-4@%edi``,
``8@-16(%rbp)``, ``4@$5``).  As BCC does, the C that reads argument N of the probe a
function is attached to is generated from those specs (``_bpf_readarg_FN_N()``) and
put before the program's text, where the translator turns ``bpf_usdt_readarg(N, ctx,
&x)`` into a call of it.  Each location is a uprobe at its file offset (only in process
``pid`` for ``USDT(pid=)``); semaphores are counted by the kernel (the uprobe's
``ref_ctr_offset``), so a semaphore-guarded probe fires for ``USDT(path=)`` too.

As in BCC, a context's probe ``provider:name`` is every site of that name in the binary
and, for a process, in the libraries it maps.  Sites that read their arguments
differently get readers that tell them apart (:mod:`bcc_core.bcc.usdt_readers`), and
readers are made once per function for all the contexts given to ``BPF()``, so two
contexts enabling the same probe on the same function (two processes) share them.

The notes are read by :mod:`bcc_core.obj.usdt` (x86-64 argument specs: registers,
memory at base + index * scale + offset, constants; not %rip-relative globals).
"""

import os

from .bcc.usdt_readers import ReaderPlan
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
    if _same_mount_ns(pid):
        # our own view of the files: paths that outlive the process (a tool attaching to
        # every python process must not fail on one that exits meanwhile), as BCC's
        return [p if os.path.exists(p) else root + p for p in out]
    return [root + p if os.path.exists(root + p) else p for p in out]


def _same_mount_ns(pid):
    try:
        a, b = os.stat("/proc/self/ns/mnt"), os.stat("/proc/%d/ns/mnt" % pid)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _merged(probes):
    """Probes of the same provider:name in several binaries as one, with all their sites
    (BCC's Context::add_probe)."""
    out = {}
    for p in probes:
        q = out.get((p.provider, p.name))
        if q is None:
            out[(p.provider, p.name)] = p
        else:
            q.locations.extend(p.locations)
    return list(out.values())


def _b(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def _s(s):
    return s.decode() if isinstance(s, (bytes, bytearray)) else s


def usdt_text(contexts):
    """The argument readers of the probes enabled in contexts, for one ``BPF()``: each
    context keeps the plan, whose cookies its attach_uprobes() gives the sites."""
    plan = ReaderPlan(contexts)
    for u in contexts:
        u._plan = plan
    return plan.text()


class USDT(object):
    """BCC's USDT context: the probes of a binary (``path``) or of a process (``pid``:
    its executable and the libraries it maps; with ``path`` too, only that binary's),
    and the probes enabled on functions."""

    def __init__(self, pid=None, path=None):
        if pid in (0, -1):
            pid = None
        if pid is None and not path:
            raise USDTException("either a pid or a binary path must be specified")
        self.pid = pid
        self.path = path
        if path:
            from .symbols import resolve_module
            p = resolve_module(path, pid or -1) or path
            if not os.path.exists(p):
                raise USDTException("USDT failed to instrument path %s: no such file"
                                    % path)
            binaries = [p]
        else:
            binaries = _process_binaries(pid)
        self.probes = _merged(p for b in binaries for p in read_probes(b))
        self.enabled = []       # (probe, fn_name)
        self._plan = None

    def _where(self):
        return "process %d" % self.pid if self.pid else self.path

    def _find(self, probe):
        """The probe "name" or "provider:name" (str or bytes), or None; a name two
        providers have is an error."""
        want = _b(probe)
        prov, _, name = want.rpartition(b":")
        found = [p for p in self.probes if p.name == name and (not prov or p.provider == prov)]
        if len(found) > 1:
            raise USDTException(
                "USDT probe %s is ambiguous in %s: providers %s have it (give "
                "\"provider:%s\")" % (_s(want), self._where(),
                                       ", ".join(_s(p.provider) for p in found), _s(name)))
        return found[0] if found else None

    def enable_probe(self, probe, fn_name):
        """Attach function fn_name to every site of probe ("name" or "provider:name")
        when this context is given to BPF(usdt_contexts=[...]).  Several probes may be
        enabled on one function."""
        p = self._find(probe)
        if p is None:
            raise USDTException("Failed to enable USDT probe %s: no such probe in %s (the "
                                "tplist tool, or `bcc-core usdt`, lists them)"
                                % (_s(probe), self._where()))
        fn = _s(fn_name)
        if (p, fn) not in self.enabled:
            self.enabled.append((p, fn))

    def enable_probe_or_bail(self, probe, fn_name):
        """enable_probe(), or the reason on stderr and exit(1), as BCC."""
        try:
            self.enable_probe(probe, fn_name)
        except USDTException as e:
            import sys
            print(e, file=sys.stderr)
            sys.exit(1)

    def enable_probe_or_bail_opt(self, probe, fn_name):
        return self.enable_probe_or_bail(probe, fn_name)

    def get_context(self):
        return self

    def get_probe_arg_ctype(self, probe_name, arg_index):
        """The C type of argument arg_index (0-based) of the probe: at the site where it
        is widest ("int32_t", "uint64_t"...), as BCC."""
        p = self._find(probe_name)
        if p is None:
            raise USDTException("no USDT probe %s in %s" % (_s(probe_name), self._where()))
        args = [loc.arguments[arg_index] for loc in p.locations
                if 0 <= arg_index < len(loc.arguments)]
        if not args:
            raise USDTException("USDT probe %s has no argument %d (it has %d)"
                                % (_s(probe_name), arg_index, p.num_arguments))
        return max(args, key=lambda a: a.size).ctype

    def enumerate_probes(self):
        return list(self.probes)

    def enumerate_active_probes(self):
        """[(bin_path, fn_name, file offset, pid)] of the enabled probes' locations."""
        return [(loc.bin_path, fn.encode(), loc.file_offset, self.pid or -1)
                for p, fn in self.enabled for loc in p.locations]

    def get_text(self):
        """The C functions reading the arguments of this context's enabled probes
        (``_bpf_readarg_FN_N(ctx, dest, len)``, 1-based N), put before the program.
        BPF(usdt_contexts=[...]) makes them for all its contexts at once."""
        return usdt_text([self])

    def attach_uprobes(self, bpf, attach_usdt_ignore_pid=False):
        """Attach each enabled probe's function to each of its sites (only in this
        context's process unless attach_usdt_ignore_pid), with the cookie its readers
        tell the site by.  BPF() calls this for each of its usdt_contexts."""
        if self._plan is None:
            usdt_text([self])
        pid = -1 if attach_usdt_ignore_pid or not self.pid else self.pid
        for p, fn in self.enabled:
            for loc in p.locations:
                bpf._attach_usdt(loc.bin_path, loc.file_offset, loc.semaphore_offset, fn,
                                 pid, self._plan.cookie(fn, loc))
