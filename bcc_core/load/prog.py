"""BPF programs: load with the right type, BTF func/line info, and turn a verifier
rejection into a VerifierError naming the program, the failing source line and the log."""
import errno
import os
import struct

from .. import _sys
from .._sys import ffi
from ..errors import LoadError, NotSupportedError, VerifierError, syscall_error
from ..obj.sec import EXT, LSM, PROG_TYPE_NAMES, SLEEPABLE, TRACING

F_SLEEPABLE = 1 << 4
F_XDP_HAS_FRAGS = 1 << 5
LOG_BUF_SIZE = 1 << 22
POISON_CALL_IMM = 0xBAD2310


class Program:
    """A loaded (or loadable) program of an Object."""

    def __init__(self, spec, obj=None):
        self.spec = spec
        self.name = spec.name
        self.section = spec.sec_name
        self.prog_type = spec.prog_type
        self.expected_attach_type = spec.sec_def.attach_type if spec.sec_def else 0
        self.obj = obj
        self.fd = -1
        self.insns = None          # final instructions (bytes) after linking and patching
        self._line_info = []       # [(insn_idx, file off, line off, line_col)] (BTF.ext)
        self._line_btf = None      # the BTF those string offsets point into
        self.attach_btf_id = 0
        self.autoload = spec.autoload
        self.error = None          # the exception when load failed and was deferred

    def __repr__(self):
        return "<Program %s %s fd=%d>" % (self.name, PROG_TYPE_NAMES[self.prog_type], self.fd)

    @property
    def line_info(self):
        """[(insn_idx, file, line, col, source text)], for messages (decoded on demand)."""
        b = self._line_btf
        if b is None:
            return []
        return [(i, b.string(fname), col >> 10, col & 0x3FF, b.string(line))
                for i, fname, line, col in self._line_info]

    @property
    def loaded(self):
        return self.fd >= 0

    def test_run(self, data_in=b"", ctx_in=None, repeat=1):
        """BPF_PROG_TEST_RUN: (retval, data_out)."""
        din = ffi.from_buffer(data_in) if data_in else ffi.NULL
        dout = ffi.new("char[]", max(len(data_in) + 256, 256))
        a = _sys.new_attr()
        t = a.test
        t.prog_fd = self.fd
        t.data_in = _sys.ptr(din) if data_in else 0
        t.data_size_in = len(data_in)
        t.data_out = _sys.ptr(dout)
        t.data_size_out = len(dout)
        t.repeat = repeat
        if ctx_in is not None:
            c = ffi.from_buffer(ctx_in)
            t.ctx_in = _sys.ptr(c)
            t.ctx_size_in = len(ctx_in)
        _sys.bpf(_sys.BPF_PROG_TEST_RUN, a, "program '%s'" % self.name)
        return t.retval, ffi.buffer(dout, t.data_size_out)[:]

    def close(self):
        if self.fd >= 0:
            _sys.close(self.fd)
        self.fd = -1


# characters the kernel accepts in a program name (bpf_obj_name_cpy); others become "_"
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


def failing_insn(log):
    """Index of the instruction the verifier stopped at (last 'N: (op)' line)."""
    import re
    idx = None
    for m in re.finditer(r"^(\d+): \([0-9a-f]{2}\)", log, re.M):
        idx = int(m.group(1))
    return idx


def source_line_for(line_info, idx):
    """'file:line: text' of the last line_info record at or before instruction idx."""
    best = None
    for rec in line_info:
        if rec[0] <= idx:
            best = rec
        else:
            break
    if best is None:
        return None
    _, fname, line, col, text = best
    s = "%s:%d" % (fname, line)
    if text:
        s += ": " + text.strip()
    return s


def load(prog, license, kern_version=0, btf_fd=0, func_info=b"", func_info_rec=8,
         line_info=b"", line_info_rec=16, attach_btf_obj_fd=0, fd_array=None,
         sec_def=None):
    """Load ``prog.insns``; sets prog.fd.  Raises VerifierError / NotSupportedError.
    ``sec_def``: load as that section kind instead of the program's own."""
    sd = sec_def or prog.spec.sec_def
    a, keep = _load_attr(prog, sd, license, kern_version, btf_fd, func_info,
                         func_info_rec, line_info, line_info_rec, attach_btf_obj_fd,
                         fd_array)
    fd, err = _sys.bpf_errno(_sys.BPF_PROG_LOAD, a)
    if fd >= 0:
        prog.fd = fd
        return fd
    return _load_refused(prog, sd, a, err)


def _load_attr(prog, sd, license, kern_version, btf_fd, func_info, func_info_rec,
               line_info, line_info_rec, attach_btf_obj_fd, fd_array):
    """The BPF_PROG_LOAD attr for ``prog`` and the buffers it points into (keep them
    alive while it is used)."""
    insns = prog.insns
    a = _sys.new_attr()
    p = a.prog_load
    p.prog_type = sd.prog_type
    p.expected_attach_type = sd.attach_type
    p.insn_cnt = len(insns) // 8
    ibuf = ffi.from_buffer(insns)
    p.insns = _sys.ptr(ibuf)
    lic = ffi.new("char[]", license.encode())
    p.license = _sys.ptr(lic)
    p.kern_version = kern_version
    flags = 0
    if sd.flags & SLEEPABLE:
        flags |= F_SLEEPABLE
    if sd.flags & 4:  # XDP_FRAGS
        flags |= F_XDP_HAS_FRAGS
    p.prog_flags = flags
    nm = "".join(c if c in _NAME_CHARS else "_" for c in prog.name)[:15].encode()
    ffi.memmove(p.prog_name, nm, len(nm))
    keep = [ibuf, lic]
    if btf_fd:
        p.prog_btf_fd = btf_fd
        if func_info:
            fb = ffi.from_buffer(func_info)
            keep.append(fb)
            p.func_info = _sys.ptr(fb)
            p.func_info_rec_size = func_info_rec
            p.func_info_cnt = len(func_info) // func_info_rec
        if line_info:
            lb = ffi.from_buffer(line_info)
            keep.append(lb)
            p.line_info = _sys.ptr(lb)
            p.line_info_rec_size = line_info_rec
            p.line_info_cnt = len(line_info) // line_info_rec
    if prog.attach_btf_id:
        p.attach_btf_id = prog.attach_btf_id
        p.attach_btf_obj_fd = attach_btf_obj_fd
    if fd_array:
        fa = ffi.new("int[]", fd_array)
        keep.append(fa)
        p.fd_array = _sys.ptr(fa)
    return a, keep


def _load_refused(prog, sd, a, err):
    """BPF_PROG_LOAD failed with ``err``: the typed error that says why (a kernel
    without the feature, no privileges, or the verifier's log and source line), after
    one retry with a verifier log (which returns the fd if that load succeeds)."""
    insns, p = prog.insns, a.prog_load
    what = "program '%s' (%s, SEC(\"%s\"))" % (prog.name, PROG_TYPE_NAMES[sd.prog_type],
                                              prog.spec.section)
    # kernel lacks the feature?
    if sd.prog_type in (TRACING, LSM, EXT) and err in (errno.EPERM, 524, errno.EOPNOTSUPP):
        from . import features
        ok, why = features.trampolines()
        if not ok:
            alt = "a tracepoint (SEC(\"tp/...\")) or raw tracepoint (SEC(\"raw_tp/...\"))"
            raise NotSupportedError("%s cannot load: %s; use %s instead"
                                    % (what, why, alt)) from syscall_error(
                                        err, "BPF_PROG_LOAD", what)
    if err == errno.EPERM and os.geteuid() != 0:
        raise LoadError("%s: permission denied: loading BPF programs needs root "
                        "(CAP_BPF + CAP_PERFMON)" % what) from syscall_error(
                            err, "BPF_PROG_LOAD", what)
    # retry with a verifier log
    log = ffi.new("char[]", LOG_BUF_SIZE)
    p.log_level = 1
    p.log_size = LOG_BUF_SIZE
    p.log_buf = _sys.ptr(log)
    fd2, err2 = _sys.bpf_errno(_sys.BPF_PROG_LOAD, a)
    if fd2 >= 0:   # flaky first failure; take it
        prog.fd = fd2
        return fd2
    text = ffi.string(log).decode("utf-8", "replace")
    if not text.strip():
        raise LoadError("%s: BPF_PROG_LOAD failed: %s" % (what, os.strerror(err))) \
            from syscall_error(err, "BPF_PROG_LOAD", what)
    idx = failing_insn(text)
    src = source_line_for(prog.line_info, idx) if idx is not None else None
    extra = None
    if idx is not None and 0 <= idx < len(insns) // 8:
        code, regs, off, imm = struct.unpack_from("<BBhi", insns, idx * 8)
        if code == 0x85 and imm == POISON_CALL_IMM and prog.obj is not None:
            extra = prog.obj.poison_reason(prog, idx)
    raise VerifierError(prog.name, err, text, src, extra=extra)
