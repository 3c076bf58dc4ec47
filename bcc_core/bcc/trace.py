"""BPF's trace_pipe readers (a mixin of :class:`bcc_core.bpf.BPF`): the lines
bpf_trace_printk() writes, raw or split into their fields."""
import fcntl
import os
import sys

from ..load import features as _features
from .constants import TRACEFS


class TracePipe(object):
    """BPF's trace_open, trace_fields, trace_readline and trace_print."""

    def trace_open(self, nonblocking=False):
        """The trace_pipe file (opened on first use, non-blocking if asked then)."""
        if self.tracefile:
            return self.tracefile
        tf = _features.tracefs(mount=True) or TRACEFS
        self.tracefile = open(os.path.join(tf, "trace_pipe"), "rb")
        if nonblocking:
            fd = self.tracefile.fileno()
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        return self.tracefile

    def trace_fields(self, nonblocking=False):
        """One bpf_trace_printk() line from trace_pipe as (task, pid, cpu, flags,
        timestamp, message); (None,) * 6 when nonblocking and nothing is there."""
        while True:
            line = self.trace_readline(nonblocking)
            if not line and nonblocking:
                return (None,) * 6
            if line.startswith(b"CPU:"):
                continue        # "CPU:N [LOST x EVENTS]" notes are not records
            # "<task, 16 wide>-<pid> [<cpu>] <flags> <time>: <function>: <message>"
            task, rest = line[:16].lstrip(), line[17:]
            head, _, tail = rest.partition(b":")
            fields = head.split()
            if len(fields) != 4:
                continue
            pid, cpu, flags, ts = fields
            # after the timestamp comes "<function>: " and then the message
            msg = tail[tail.find(b":") + 2:]
            try:
                return (task, int(pid), int(cpu[1:-1]), flags, float(ts), msg)
            except ValueError:
                return ("Unknown", 0, 0, "Unknown", 0.0, "Unknown")

    def trace_readline(self, nonblocking=False):
        """One line (bytes, without the line end) from trace_pipe; None on a read
        error (nothing there yet in non-blocking mode)."""
        pipe = self.trace_open(nonblocking)
        try:
            return pipe.readline(1024).rstrip()
        except IOError:
            return None

    def trace_print(self, fmt=None):
        """Copy trace_pipe to stdout forever; with ``fmt``, each line is printed as
        fmt.format(task, pid, cpu, flags, timestamp, message)."""
        while True:
            if not fmt:
                out = self.trace_readline(nonblocking=False)
            else:
                fields = self.trace_fields(nonblocking=False)
                if not fields:
                    continue
                out = fmt.format(*fields)
            print(out)
            sys.stdout.flush()

