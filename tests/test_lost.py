"""Lost perf-buffer records are reported, and the count is the kernel's: a program that
counts the records the kernel refused (buffer full) floods a one-page buffer that nobody
reads; then the reader's lost count (lost_cb, or BCC's "Possibly lost N samples" line on
stderr when there is no lost_cb) equals that count, and received + lost = sent."""
import ctypes
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import need_root

N_CALLS = 5000


def _flood(b, n):
    libc = ctypes.CDLL(None)
    for _ in range(n):
        libc.syscall(110)                 # getppid


def _drain(b, count):
    while True:
        before = count()
        b.perf_buffer_poll(timeout=100)
        if count() == before:
            return


def test_lost_cb_gets_the_kernels_count(bpf_obj):
    need_root()
    from bcc_core import BPF
    obj = bpf_obj("flood")
    os.sched_setaffinity(0, {0})        # one CPU's buffer: all records in one ring
    try:
        got, lost = [], []
        with BPF(src_file=obj, rodata={"target_tgid": os.getpid()}) as b:
            b["events"].open_perf_buffer(lambda cpu, data, size: got.append(size),
                                         page_cnt=1, lost_cb=lost.append)
            _flood(b, N_CALLS)
            _drain(b, lambda: len(got))
            # the kernel reports the losses with the next record it can write
            _flood(b, 1)
            _drain(b, lambda: len(got))
            sent, refused = b.module.bss["sent"], b.module.bss["refused"]
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count())))
    assert sent == N_CALLS + 1
    assert refused > 0 and sum(lost) == refused, (sum(lost), refused)
    assert len(got) + sum(lost) == sent


def test_lost_without_lost_cb_is_printed(bpf_obj):
    """BCC prints "Possibly lost N samples" when the script gave no lost_cb."""
    need_root()
    obj = bpf_obj("flood")
    code = textwrap.dedent("""
        import ctypes, os, sys
        from bcc_core import BPF
        os.sched_setaffinity(0, {0})
        libc = ctypes.CDLL(None)
        b = BPF(src_file=sys.argv[1], rodata={"target_tgid": os.getpid()})
        n = [0]
        b["events"].open_perf_buffer(lambda cpu, data, size: n.__setitem__(0, n[0] + 1),
                                     page_cnt=1)
        for calls in (%d, 1):       # the losses are reported with the next record
            for _ in range(calls):
                libc.syscall(110)
            while True:
                before = n[0]
                b.perf_buffer_poll(timeout=100)
                if n[0] == before:
                    break
        print(n[0], b.module.bss["sent"], b.module.bss["refused"])
        b.cleanup()
        """ % N_CALLS)
    r = subprocess.run([sys.executable, "-c", code, obj], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    got, sent, refused = map(int, r.stdout.split())
    lines = [l for l in r.stderr.splitlines() if l.startswith("Possibly lost ")]
    reported = sum(int(l.split()[2]) for l in lines)
    assert lines and all(l.endswith(" samples") for l in lines), r.stderr
    assert refused > 0 and reported == refused, (reported, refused, r.stderr)
    assert got + reported == sent
