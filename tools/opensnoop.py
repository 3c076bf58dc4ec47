#!/usr/bin/env python3
# opensnoop  Trace open() syscalls.
#            bcc-core port of BCC's opensnoop: same options, same output; the BPF
#            program is CO-RE C compiled once (opensnoop.bpf.c), attached to the
#            syscall tracepoints (kprobes are not available on every kernel).
#
# USAGE: opensnoop-core [-h] [-T] [-U] [-x] [-p PID] [-t TID]
#                       [--cgroupmap CGROUPMAP] [--mntnsmap MNTNSMAP] [-u UID]
#                       [-d DURATION] [-n NAME] [-F] [-e] [-f FLAG_FILTER]
#                       [-b BUFFER_PAGES]
#
# Options and output follow BCC's opensnoop (Copyright (c) 2015 Brendan Gregg,
# Apache License 2.0).
import os
import sys
import time

# bcc_core.args reads the usual command lines without importing argparse (a third
# of the start-up); help and usage errors are argparse's own
from bcc_core import args as argparse

OBJ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "opensnoop.bpf.o")
SRC = OBJ[:-2] + ".c"

examples = """examples:
    ./opensnoop                        # trace all open() syscalls
    ./opensnoop -T                     # include timestamps
    ./opensnoop -U                     # include UID
    ./opensnoop -x                     # only show failed opens
    ./opensnoop -p 181                 # only trace PID 181
    ./opensnoop -t 123                 # only trace TID 123
    ./opensnoop -u 1000                # only trace UID 1000
    ./opensnoop -d 10                  # trace for 10 seconds only
    ./opensnoop -n main                # only print process names containing "main"
    ./opensnoop -e                     # show extended fields
    ./opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing
    ./opensnoop -F                     # show full path for an open file with relative path
    ./opensnoop --cgroupmap mappath    # only trace cgroups in this BPF map
    ./opensnoop --mntnsmap mappath     # only trace mount namespaces in the map
"""


def make_parser():
    parser = argparse.ArgumentParser(
        description="Trace open() syscalls",
        epilog=examples)
    parser.add_argument("-T", "--timestamp", action="store_true",
                        help="include timestamp on output")
    parser.add_argument("-U", "--print-uid", action="store_true",
                        help="print UID column")
    parser.add_argument("-x", "--failed", action="store_true",
                        help="only show failed opens")
    parser.add_argument("-p", "--pid", type=argparse.positive_int, help="trace this PID only")
    parser.add_argument("-t", "--tid", type=argparse.positive_int, help="trace this TID only")
    parser.add_argument("--cgroupmap", help="trace cgroups in this BPF map only")
    parser.add_argument("--mntnsmap", help="trace mount namespaces in this BPF map only")
    parser.add_argument("-u", "--uid", type=argparse.nonnegative_int,
                        help="trace this UID only")
    parser.add_argument("-d", "--duration", type=argparse.positive_int,
                        help="total duration of trace in seconds")
    parser.add_argument("-n", "--name",
                        help="only print process names containing this name")
    parser.add_argument("--ebpf", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-e", "--extended_fields", action="store_true",
                        help="show extended fields")
    parser.add_argument("-f", "--flag_filter", action="append",
                        help="filter on flags argument (e.g., O_WRONLY)")
    parser.add_argument("-F", "--full-path", action="store_true",
                        help="show full path for an open file with relative path")
    parser.add_argument("-j", "--json", action="store_true",
                        help="print one JSON object per event (fields: docs/json.md)")
    parser.add_argument("-b", "--buffer-pages", type=argparse.pages, default=64,
                        help="size of the perf ring buffer "
                        "(must be a power of two number of pages and defaults to 64)")
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)


def _flags_mask(args):
    """-f O_FLAG...: the mask of open flags to trace (BCC's message on a bad one)."""
    mask = 0
    for flag in args.flag_filter or []:
        if not flag.startswith("O_"):
            sys.exit("Bad flag: %s" % flag)
        try:
            mask |= getattr(os, flag)
        except AttributeError:
            sys.exit("Bad flag: %s" % flag)
    return mask


def _open(args, flags_mask):
    """The object loaded and attached, its filters set as read-only globals."""
    from bcc_core import BPF
    rodata = {"targ_pid": int(args.pid or 0), "targ_tid": int(args.tid or 0),
              "targ_uid": int(args.uid or 0), "filter_uid": args.uid is not None,
              "flags_mask": flags_mask, "full_path": bool(args.full_path),
              "failed_only": bool(args.failed),
              "filter_cgroup": bool(args.cgroupmap), "filter_mntns": bool(args.mntnsmap)}
    reuse = {}
    if args.cgroupmap:
        reuse["cgroupset"] = args.cgroupmap
    if args.mntnsmap:
        reuse["mount_ns_set"] = args.mntnsmap
    return BPF(src_file=OBJ, rodata=rodata, reuse_maps=reuse,
               event_types={"events": "data_t"})


def _print_header(args):
    if args.timestamp:
        print("%-14s" % ("TIME(s)"), end="")
    if args.print_uid:
        print("%-6s" % ("UID"), end="")
    print("%-6s %-16s %4s %3s " % ("TID" if args.tid else "PID", "COMM", "FD", "ERR"),
          end="")
    if args.extended_fields:
        print("%-9s" % ("FLAGS"), end="")
    print("PATH")
    sys.stdout.flush()


def _event_printer(b, args):
    """The perf buffer callback: BCC's opensnoop's print_event()."""
    from bcc_core.utils import printb
    EVENT_ENTRY, EVENT_END = 0, 1
    entries = {}
    state = {"initial_ts": 0}
    name_filter = args.name.encode() if args.name else None

    def print_line(event):
        fd_s, err = (event.ret, 0) if event.ret >= 0 else (-1, -event.ret)
        if args.timestamp:
            delta = event.ts - state["initial_ts"]
            printb(b"%-14.9f" % (float(delta) / 1000000), nl="")
        if args.print_uid:
            printb(b"%-6d" % event.uid, nl="")
        printb(b"%-6d %-16s %4d %3d " %
               (event.id & 0xffffffff if args.tid else event.id >> 32,
                event.comm, fd_s, err), nl="")
        if args.extended_fields:
            printb(b"%08o " % event.flags, nl="")
        if not args.full_path:
            printb(b"%s" % event.name)
        else:
            paths = entries.get(event.id, [])
            paths.reverse()
            printb(b"%s" % os.path.join(*paths) if paths else event.name)

    if args.json:
        print_line = _json_printer(b, args, entries, state)

    def print_event(cpu, data, size):
        event = b["events"].event(data)
        if not args.full_path or event.type == EVENT_END:
            if not state["initial_ts"]:
                state["initial_ts"] = event.ts
            skip = (args.failed and event.ret >= 0) or \
                (name_filter and name_filter not in event.comm)
            if not skip:
                print_line(event)
            if args.full_path:
                entries.pop(event.id, None)
        elif event.type == EVENT_ENTRY:
            entries.setdefault(event.id, []).append(event.name)
    return print_event


def _json_printer(b, args, entries, state):
    """--json: the event's own fields as its BTF types them (record_dict()), and
    what the text columns show: pid, tid, fd, err, path (the full path with -F), and
    time_s (seconds since the first event)."""
    import json
    as_dict = b["events"].record_dict

    def print_json(event):
        d = as_dict(event)
        fd, err = (event.ret, 0) if event.ret >= 0 else (-1, -event.ret)
        path = event.name
        if args.full_path:
            paths = list(reversed(entries.get(event.id, [])))
            path = os.path.join(*paths) if paths else event.name
        d.update(pid=event.id >> 32, tid=event.id & 0xffffffff, fd=fd, err=err,
                 path=path.decode("utf-8", "backslashreplace"),
                 time_s=(event.ts - state["initial_ts"]) / 1e9)
        sys.stdout.write(json.dumps(d) + "\n")
        sys.stdout.flush()
    return print_json


def _poll(b, duration):
    """Poll until Ctrl-C (or for ``duration`` seconds, then drain)."""
    deadline = time.monotonic() + duration if duration else None
    try:
        while True:
            if deadline is None:
                b.perf_buffer_poll()
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                b.perf_buffer_poll(timeout=max(1, int(min(left, 1.0) * 1000)))
    except KeyboardInterrupt:
        pass
    finally:
        if deadline is not None:
            b.perf_buffer_consume()


def main(argv=None):
    args = parse_args(argv)
    duration = float(args.duration) if args.duration else None
    flags_mask = _flags_mask(args)
    if args.ebpf:
        with open(SRC) as f:
            print(f.read())
        return 0
    from bcc_core.utils import sigterm_exits
    b = _open(args, flags_mask)
    lost = [0]

    def count_lost(n):
        lost[0] += n

    b["events"].open_perf_buffer(_event_printer(b, args), page_cnt=args.buffer_pages,
                                 lost_cb=count_lost)
    if not args.json:       # once the buffer is open: a header means events are seen
        _print_header(args)
    sigterm_exits()
    try:
        _poll(b, duration)
    finally:
        b.cleanup()
        if lost[0]:     # as libbpf-tools do; -b raises the buffer's size
            sys.stderr.write("lost %d events\n" % lost[0])
    return 0


def cli(argv=None):
    """The command: main(), with bcc-core's errors as one line (tools/_run.py)."""
    from bcc_core.tools._run import run
    return run(main, "opensnoop", argv)


if __name__ == "__main__":
    sys.exit(cli())
