"""How a ported tool ends on an error: one line on stderr naming the failure and what to
do, exit status 1; the traceback only with BCC_CORE_DEBUG=1 (as a user of a C tool
expects: "failed to load BPF object: Operation not permitted", not 30 lines of
Python)."""
import os
import sys

HINT_ROOT = "run it as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)"


def _chain(e):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def one_line(e):
    """The message of ``e`` (a bcc-core or OS error) as one line, with a hint."""
    from bcc_core.errors import PermissionDeniedError, VerifierError
    chain = list(_chain(e))
    if isinstance(e, VerifierError):
        msg = "program '%s' was rejected by the kernel's verifier" % e.program
        if e.source_line:
            msg += " at %s" % " ".join(e.source_line.split())
        return msg + " (BCC_CORE_DEBUG=1 prints the verifier log)"
    msg = " ".join(str(e).split()) or type(e).__name__
    denied = any(isinstance(x, (PermissionDeniedError, PermissionError)) for x in chain)
    if denied and not privileged():
        return "%s: %s" % (msg, HINT_ROOT)
    return msg


def privileged():
    """Whether this process has CAP_SYS_ADMIN or CAP_BPF in effect (a root shell does;
    a root process in a container without them does not)."""
    try:
        with open("/proc/self/status") as f:
            eff = next(int(l.split()[1], 16) for l in f if l.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return os.geteuid() == 0
    return bool(eff & (1 << 21 | 1 << 39))      # CAP_SYS_ADMIN, CAP_BPF


def run(main, name, argv=None):
    """``sys.exit(run(main, "opensnoop"))``: main's status, or 1 after one line."""
    from bcc_core.errors import BccCoreError
    try:
        return main(argv)
    except (BccCoreError, OSError) as e:
        if os.environ.get("BCC_CORE_DEBUG"):
            raise
        sys.stderr.write("%s: %s\n" % (name, one_line(e)))
        return 1
