#!/usr/bin/env python3
# runqslower  Trace long process scheduling delays.
#             bcc-core port of BCC's runqslower: same options, same output.  Uses
#             tp_btf where the kernel allows it and raw tracepoints otherwise;
#             task_struct fields are read through CO-RE (runqslower.bpf.c).
#
# USAGE: runqslower-core [-p PID] [-t TID] [-P] [min_us]
#
# Options and output follow BCC's runqslower (Copyright 2016 Cloudflare, Inc.,
# Apache License 2.0).
import os
import sys
from time import strftime

# bcc_core.args reads the usual command lines without importing argparse (a third
# of the start-up); help and usage errors are argparse's own
from bcc_core import args as argparse

OBJ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runqslower.bpf.o")
SRC = OBJ[:-2] + ".c"
PROGS = ("sched_wakeup", "sched_wakeup_new", "sched_switch")

examples = """examples:
    ./runqslower         # trace run queue latency higher than 10000 us (default)
    ./runqslower 1000    # trace run queue latency higher than 1000 us
    ./runqslower -p 123  # trace pid 123
    ./runqslower -t 123  # trace tid 123 (use for threads only)
    ./runqslower -P      # also show previous task comm and TID
"""


def make_parser():
    parser = argparse.ArgumentParser(
        description="Trace high run queue latency",
        epilog=examples)
    parser.add_argument("min_us", nargs="?", default=10000, type=argparse.nonnegative_int,
                        help="minimum run queue latency to trace, in us (default 10000)")
    parser.add_argument("-P", "--previous", action="store_true",
                        help="also show previous task name and TID")
    parser.add_argument("-j", "--json", action="store_true",
                        help="print one JSON object per event (fields: docs/json.md)")
    parser.add_argument("--ebpf", action="store_true", help=argparse.SUPPRESS)
    thread_group = parser.add_mutually_exclusive_group()
    thread_group.add_argument("-p", "--pid", metavar="PID", dest="pid",
                              help="trace this PID only", type=argparse.positive_int)
    thread_group.add_argument("-t", "--tid", metavar="TID", dest="tid",
                              help="trace this TID only", type=argparse.positive_int)
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)


def open_bpf(rodata):
    """tp_btf programs where the kernel accepts them, raw tracepoints otherwise."""
    from bcc_core import BPF
    from bcc_core.errors import BccCoreError
    last = None
    for kind in ("tp_btf", "raw_tp"):
        autoload = {"%s_%s" % (k, p): k == kind for k in ("tp_btf", "raw_tp") for p in PROGS}
        try:
            return BPF(src_file=OBJ, rodata=rodata, autoload=autoload,
                       event_types={"events": "data_t"})
        except BccCoreError as e:
            last = e
    raise last


def main(argv=None):
    args = parse_args(argv)
    min_us = int(args.min_us)
    if args.ebpf:
        with open(SRC) as f:
            print(f.read())
        return 0
    b = open_bpf({"min_us": min_us, "targ_pid": args.pid or 0, "targ_tid": args.tid or 0})

    def print_event(cpu, data, size):
        event = b["events"].event(data)
        if args.json:
            _print_json(event)
            return
        if args.previous:
            print("%-8s %-16s %-6s %14s %-16s %-6s" % (
                strftime("%H:%M:%S"), event.task.decode("utf-8", "replace"), event.pid,
                event.delta_us, event.prev_task.decode("utf-8", "replace"), event.prev_pid))
        else:
            print("%-8s %-16s %-6s %14s" % (
                strftime("%H:%M:%S"), event.task.decode("utf-8", "replace"), event.pid,
                event.delta_us))
        sys.stdout.flush()

    if args.json:
        import json
        as_dict = b["events"].record_dict

        def _print_json(event):
            # the event's fields from its BTF (pid is the task's TID), and the time
            d = as_dict(event)
            d["time"] = strftime("%H:%M:%S")
            sys.stdout.write(json.dumps(d) + "\n")
            sys.stdout.flush()

    def header():
        if args.json:
            return
        print("Tracing run queue latency higher than %d us" % min_us)
        if args.previous:
            print("%-8s %-16s %-6s %14s %-16s %-6s" % ("TIME", "COMM", "TID", "LAT(us)",
                                                        "PREV COMM", "PREV TID"))
        else:
            print("%-8s %-16s %-6s %14s" % ("TIME", "COMM", "TID", "LAT(us)"))
        sys.stdout.flush()

    lost = [0]

    def count_lost(n):
        lost[0] += n

    b["events"].open_perf_buffer(print_event, page_cnt=64, lost_cb=count_lost)
    header()        # once the buffer is open: a header means events are seen
    from bcc_core.utils import sigterm_exits
    sigterm_exits()
    try:
        while True:
            b.perf_buffer_poll()
    except KeyboardInterrupt:
        pass
    finally:
        b.cleanup()
        if lost[0]:     # as libbpf-tools do
            sys.stderr.write("lost %d events\n" % lost[0])
    return 0


def cli(argv=None):
    """The command: main(), with bcc-core's errors as one line (tools/_run.py)."""
    from bcc_core.tools._run import run
    return run(main, "runqslower", argv)


if __name__ == "__main__":
    sys.exit(cli())
