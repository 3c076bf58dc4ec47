"""One exception hierarchy for bcc-core.  Every error names what it concerns."""
import errno as _errno
import os as _os


class BccCoreError(Exception):
    """Base of every error raised by bcc-core."""


class SyscallError(BccCoreError, OSError):
    """A bpf()/perf_event_open()/ioctl call failed.  ``errno`` is set; ``cmd`` names the
    command and ``what`` the object it was acting on."""

    def __init__(self, err, cmd, what=""):
        self.cmd = cmd
        self.what = what
        msg = "%s%s: %s" % (cmd, " (%s)" % what if what else "", _os.strerror(err))
        OSError.__init__(self, err, msg)

    def __str__(self):
        return self.strerror

    def __reduce__(self):
        return (type(self), (self.errno, self.cmd, self.what))


class PermissionDeniedError(SyscallError):
    """EPERM/EACCES: bpf() needs root (CAP_BPF/CAP_SYS_ADMIN) or the kernel forbids it."""


def syscall_error(err, cmd, what=""):
    cls = PermissionDeniedError if err in (_errno.EPERM, _errno.EACCES) else SyscallError
    return cls(err, cmd, what)


class SourceFileError(BccCoreError, OSError):
    """``BPF(src_file=...)``: the file is missing, a directory or unreadable.  ``errno``
    and ``filename`` are set as for OSError."""

    def __str__(self):
        return self.strerror


class ObjectFormatError(BccCoreError, ValueError):
    """The BPF object file is malformed or uses something bcc-core does not understand."""

    def __init__(self, msg, where=None):
        self.where = where
        BccCoreError.__init__(self, "%s: %s" % (where, msg) if where else msg)


class ELFError(ObjectFormatError):
    """Corrupt, truncated or non-BPF ELF file, unknown section, missing license..."""


class BTFError(ObjectFormatError):
    """Corrupt or unsupported BTF or BTF.ext data."""


class MapDefinitionError(ObjectFormatError):
    """A BTF-defined map in ``.maps`` is malformed (unknown field, bad type...)."""


class ConfigError(BccCoreError, KeyError):
    """User-supplied read-only configuration does not match the object's globals."""

    def __str__(self):
        return str(self.args[0])


class ExternError(BccCoreError):
    """A ``__kconfig``/``__ksym`` extern cannot be resolved on this kernel."""


class RelocationError(BccCoreError):
    """A CO-RE or instruction relocation cannot be applied."""


class NotSupportedError(BccCoreError):
    """The running kernel lacks a feature the object or call needs (kprobes, trampolines...)."""


class LoadError(BccCoreError):
    """A map or program could not be created in the kernel."""


class VerifierError(LoadError):
    """The verifier rejected a program.  ``program``, ``log`` (full verifier log),
    ``source_line`` ("file.c:12: code") of the failing instruction when BTF line info has it."""

    def __init__(self, program, err, log, source_line=None, tail_lines=20, extra=None):
        self.program = program
        self.errno = err
        self.log = log
        self.source_line = source_line
        tail = "\n".join(log.rstrip("\n").splitlines()[-tail_lines:])
        msg = "program '%s' rejected by the verifier (%s)" % (program, _os.strerror(err))
        if source_line:
            msg += "\n  at %s" % source_line
        if extra:
            msg += "\n  " + extra
        msg += "\n  verifier log (tail):\n    " + tail.replace("\n", "\n    ")
        LoadError.__init__(self, msg)


class AttachError(BccCoreError):
    """A program could not be attached."""
