"""USDT probes of a C program and of its shared library (tests/usdt/, systemtap's
<sys/sdt.h>, built here with gcc as PIE and PIC), traced by a BCC-style script through
``BPF(text=..., usdt_contexts=[USDT(...)])``: each argument (int, negative long, a string
through an indexed memory operand, char, unsigned short, a 64-bit shift) reads as the
program passed it, and a probe guarded by its semaphore fires only while bcc-core has it
counted up (the kernel's uprobe reference counter)."""
import os
import shutil
import subprocess
import textwrap
import time

import pytest

from conftest import CLANG, HERE, need_root

SRC = os.path.join(HERE, "usdt")
CC = shutil.which("gcc") or shutil.which("cc")
SDT = any(os.path.exists(os.path.join(d, "sys", "sdt.h")) for d in
          ("/usr/include", "/usr/include/x86_64-linux-gnu"))
pytestmark = [pytest.mark.skipif(CC is None, reason="no C compiler (apt-get install gcc)"),
              pytest.mark.skipif(not SDT, reason="no <sys/sdt.h> (apt-get install "
                                 "systemtap-sdt-dev)")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("usdt")
    lib = d / "libusdt_lib.so"
    exe = d / "usdt_app"
    subprocess.run([CC, "-O2", "-fPIC", "-shared", "-o", str(lib),
                    os.path.join(SRC, "usdt_lib.c")], check=True)
    subprocess.run([CC, "-O2", "-pie", "-fPIE", "-o", str(exe), os.path.join(SRC, "usdt_app.c"),
                    "-L", str(d), "-lusdt_lib", "-Wl,-rpath," + str(d)], check=True)
    return str(exe), str(lib)


def test_notes_of_a_c_program(app):
    from bcc_core.usdt import read_probes
    exe, lib = app
    probes = {(p.provider, p.name): p for p in read_probes(exe)}
    tick = probes[(b"myapp", b"tick")]
    assert tick.num_arguments == 4
    loc = tick.locations[0]
    assert loc.semaphore and [a.size for a in loc.arguments] == [4, 8, 8, 1]
    assert [a.signed for a in loc.arguments] == [True, True, False, True]
    fire = {(p.provider, p.name): p for p in read_probes(lib)}[(b"mylib", b"fire")]
    assert fire.num_arguments == 2 and not fire.locations[0].semaphore


def _start(exe, seconds):
    p = subprocess.Popen([exe, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


TEXT = r"""
struct tick_t { int n; long neg; char name[8]; char c; };
struct args_t { u16 lo; u64 hi; };
BPF_PERF_OUTPUT(ticks);
BPF_HASH(args_seen, u64, u64, 4096);
BPF_HASH(fires, int, int, 4096);

int on_tick(struct pt_regs *ctx) {
    struct tick_t t = {};
    u64 name = 0;
    bpf_usdt_readarg(1, ctx, &t.n);
    bpf_usdt_readarg(2, ctx, &t.neg);
    bpf_usdt_readarg(3, ctx, &name);
    bpf_probe_read_user_str(&t.name, sizeof(t.name), (void *)name);
    bpf_usdt_readarg(4, ctx, &t.c);
    ticks.perf_submit(ctx, &t, sizeof(t));
    return 0;
}

int on_args(struct pt_regs *ctx) {
    u16 lo = 0;
    u64 hi = 0;
    bpf_usdt_readarg(1, ctx, &lo);
    bpf_usdt_readarg(2, ctx, &hi);
    u64 key = hi >> 33, val = lo;
    args_seen.update(&key, &val);
    return 0;
}

int on_fire(struct pt_regs *ctx) {
    int x = 0, y = 0;
    bpf_usdt_readarg(1, ctx, &x);
    bpf_usdt_readarg(2, ctx, &y);
    fires.update(&x, &y);
    return 0;
}
"""


def test_arguments_and_semaphore(app, tmp_path, monkeypatch):
    need_root()
    if CLANG is None:
        pytest.skip("clang-19 not installed (BPF(text=) compiles with it)")
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    from bcc_core import BPF, USDT
    exe, lib = app
    work = _start(exe, 4)
    try:
        u = USDT(pid=work.pid)
        u.enable_probe(probe="tick", fn_name="on_tick")
        u.enable_probe(probe="args", fn_name="on_args")
        u.enable_probe(probe="fire", fn_name="on_fire")   # in libusdt_lib.so
        ticks = []
        with BPF(text=textwrap.dedent(TEXT), usdt_contexts=[u]) as b:
            b["ticks"].open_perf_buffer(lambda cpu, data, size: ticks.append(
                (lambda e: (e.n, e.neg, e.name, e.c))(b["ticks"].event(data))))
            end = time.time() + 1.0
            while time.time() < end:
                b.perf_buffer_poll(timeout=100)
            args = {k.value: v.value for k, v in b["args_seen"].items()}
            fires = {k.value: v.value for k, v in b["fires"].items()}
        out, _ = work.communicate(timeout=10)
    finally:
        if work.poll() is None:
            work.kill()
            work.wait()
    assert len(ticks) > 50, ticks[:5]
    names = [b"zero", b"one", b"two", b"three"]
    for n, neg, name, c in ticks:
        assert 0 <= n <= 3 and name == names[n] and c == b"abcd"[n:n + 1], (n, neg, name, c)
        assert neg <= 0 and neg % 1000 == 0 and (-neg // 1000) % 4 == n, (n, neg)
    # "tick" fired only while the semaphore was counted up (1 s of the 4): the program
    # counted its own firings, the tracer saw them all
    fired = int(out.split()[-1])
    assert len(ticks) <= fired < 3000, (len(ticks), fired)
    assert len(args) > 50 and all(lo == i & 0xffff for i, lo in args.items()), args
    assert len(fires) > 50 and all(y == 2 * x for x, y in fires.items()), fires


def test_path_form_and_listing(app):
    from bcc_core import USDT
    exe, lib = app
    u = USDT(path=exe)
    names = sorted((p.provider, p.name) for p in u.enumerate_probes())
    assert (b"myapp", b"args") in names and (b"myapp", b"tick") in names
    assert u.get_probe_arg_ctype("tick", 0) == "int32_t"
    assert u.get_probe_arg_ctype("tick", 1) == "int64_t"
    assert u.get_probe_arg_ctype("tick", 2) == "uint64_t"


def test_argument_specs():
    """x86-64 operand forms gcc emits into stapsdt notes."""
    from bcc_core.errors import NotSupportedError
    from bcc_core.usdt import Argument
    a = Argument("8@0(%r13,%rax,8)")
    assert (a.kind, a.reg, a.index, a.scale, a.offset) == ("mem", "r13", "ax", 8, 0)
    assert "(s64)ctx->r13 + (s64)ctx->ax * 8 + (0)" in a.c_value()
    a = Argument("-4@-16(,%rcx,4)")
    assert (a.kind, a.reg, a.index, a.scale, a.offset, a.signed) == ("mem", "", "cx", 4, -16,
                                                                     True)
    assert Argument("2@%bx").c_value() == "(u16)ctx->bx"
    assert Argument("-1@$-3").c_value() == "(s8)-3"
    assert Argument("4@8(%rsp)").c_value().endswith("(void *)((s64)ctx->sp + (8))); __bcc_v; })")
    with pytest.raises(NotSupportedError, match="rip"):
        Argument("8@foo(%rip)").c_value()


def test_cli_lists_probes(app):
    """``bcc-core usdt PATH`` / ``-p PID`` (BCC's tplist -l): the binary's probes, and
    for a process those of the libraries it maps too."""
    import sys
    exe, lib = app
    r = subprocess.run([sys.executable, "-m", "bcc_core.cli", "usdt", "-v", exe],
                       capture_output=True, text=True, check=True)
    assert "%s myapp:tick" % exe in r.stdout and "%s myapp:args" % exe in r.stdout
    assert "(8@0(%r13,%rax,8))" in r.stdout or "argument #3 64 unsigned" in r.stdout
    work = _start(exe, 2)
    try:
        r = subprocess.run([sys.executable, "-m", "bcc_core.cli", "usdt", "-p",
                            str(work.pid)], capture_output=True, text=True, check=True)
    finally:
        work.kill()
        work.wait()
    assert "myapp:tick" in r.stdout and "mylib:fire" in r.stdout, r.stdout


# -- several sites per probe, several probes per function, several processes --------

@pytest.fixture(scope="module")
def sites_app(tmp_path_factory):
    exe = tmp_path_factory.mktemp("usdt_sites") / "usdt_sites"
    subprocess.run([CC, "-O2", "-pie", "-fPIE", "-o", str(exe),
                    os.path.join(SRC, "usdt_sites.c")], check=True)
    return str(exe)


SITES_TEXT = r"""
struct key_t { u32 pid; u32 site; };
BPF_HASH(hits, struct key_t, u64, 1024);
BPF_HASH(sums, struct key_t, s64, 1024);
BPF_HASH(third, u32, s64, 1024);
BPF_HASH(no_third, u32, u64, 1024);
BPF_HASH(guarded, u32, u64, 1024);

int on_val(struct pt_regs *ctx) {
    struct key_t k = {};
    int site = 0;
    long v = 0, w = 0;
    k.pid = bpf_get_current_pid_tgid() >> 32;
    if (bpf_usdt_readarg(1, ctx, &site) < 0)
        return 0;
    k.site = site;
    bpf_usdt_readarg(2, ctx, &v);
    hits.increment(k);
    sums.increment(k, v);
    if (bpf_usdt_readarg(3, ctx, &w) == 0)
        third.increment(k.pid, w);
    else
        no_third.increment(k.pid);
    return 0;
}

int on_guarded(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    guarded.increment(pid);
    return 0;
}
"""
N_ITER = 300


def _start_sites(exe, base):
    p = subprocess.Popen([exe, str(base), str(N_ITER)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().split() == ["ready", "0"]
    return p


def _run(procs):
    """Let the processes run their loops; {pid: (guarded firings, semaphore at the end)}."""
    out = {}
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        text, _ = p.communicate(timeout=30)
        word, fired, sema = text.split()
        out[p.pid] = (int(fired), int(sema))
    return out


def _enable(u):
    u.enable_probe("sites:val", "on_val")
    u.enable_probe("sites:other", "on_val")          # two probes, one function
    u.enable_probe("sites:guarded", "on_guarded")
    return u


def _counts(b):
    hits = {(k.pid, k.site): v.value for k, v in b["hits"].items()}
    sums = {(k.pid, k.site): v.value for k, v in b["sums"].items()}
    return (hits, sums, {k.value: v.value for k, v in b["third"].items()},
            {k.value: v.value for k, v in b["no_third"].items()},
            {k.value: v.value for k, v in b["guarded"].items()})


def _expect_traced(pid, base, counts):
    hits, sums, third, no_third, guarded = counts
    vs = sum(base + i for i in range(N_ITER))
    # each site fired once per iteration, read its own site number and its own value
    assert {s: hits.get((pid, s)) for s in (1, 2, 3, 4)} == dict.fromkeys((1, 2, 3, 4), N_ITER)
    assert {s: sums.get((pid, s)) for s in (1, 2, 3, 4)} == {1: vs, 2: 3 * vs, 3: 5 * vs,
                                                             4: vs}
    # argument 3 exists only at sites:other's site; val's sites say they have none
    assert third.get(pid) == -vs and no_third.get(pid) == 3 * N_ITER
    assert guarded.get(pid) == N_ITER


def _cleanup(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sites_read_differently(sites_app):
    """The probe's sites pass their arguments through different operands, so the
    readers must tell the sites apart; one reader per function for all contexts."""
    from bcc_core import USDT, USDTException
    from bcc_core.usdt import read_probes, usdt_text
    probes = {(p.provider, p.name): p for p in read_probes(sites_app)}
    val = probes[(b"sites", b"val")]
    assert val.num_locations == 3 and len({loc.arg_specs for loc in val.locations}) == 3
    assert probes[(b"sites", b"guarded")].semaphore
    assert val.short_name() == "sites:val" and val.get_location(2).num_arguments == 2
    assert val.get_location(0).bin_path == sites_app.encode()
    u1, u2 = _enable(USDT(path=sites_app)), _enable(USDT(path=sites_app))
    text = usdt_text([u1, u2])
    for n in (1, 2, 3):
        assert text.count("_bpf_readarg_on_val_%d(" % n) == 1, text
    assert "_bpf_readarg_on_val_4(" not in text and text.count("_bpf_readarg_on_guarded_") == 1
    assert "bpf_get_attach_cookie" in u1.get_text()
    # the cookie of each site is the variant its readers switch on
    cookies = sorted(u1._plan.cookie("on_val", loc) for loc in val.locations)
    assert cookies == [0, 1, 2]
    assert u1.get_probe_arg_ctype("sites:val", 0) == "int32_t"
    assert u1.get_probe_arg_ctype("other", 2) == "int64_t"
    with pytest.raises(USDTException, match="ambiguous.*other_prov"):
        USDT(path=sites_app).enable_probe("val", "on_val")
    with pytest.raises(USDTException, match="no argument 3"):
        u1.get_probe_arg_ctype("sites:val", 3)


def test_two_contexts_two_processes(sites_app, tmp_path, monkeypatch):
    """USDT(pid=A) and USDT(pid=B) enable the same probes on the same functions: each
    process's sites fire exactly once per iteration with their own values; a third
    process running the same binary is not traced and its semaphore stays 0."""
    need_root()
    if CLANG is None:
        pytest.skip("clang-19 not installed (BPF(text=) compiles with it)")
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    from bcc_core import BPF, USDT
    procs = [_start_sites(sites_app, base) for base in (1000, 50000, 900000)]
    try:
        a, b_, c = procs
        us = [_enable(USDT(pid=a.pid)), _enable(USDT(pid=b_.pid))]
        with BPF(text=textwrap.dedent(SITES_TEXT), usdt_contexts=us) as b:
            ran = _run(procs)
            counts = _counts(b)
    finally:
        _cleanup(procs)
    _expect_traced(a.pid, 1000, counts)
    _expect_traced(b_.pid, 50000, counts)
    assert ran[a.pid][0] == ran[b_.pid][0] == N_ITER and ran[a.pid][1] > 0
    assert ran[c.pid] == (0, 0)
    assert not [k for k in counts[0] if k[0] == c.pid] and c.pid not in counts[4]


def test_path_context_every_process(sites_app, tmp_path, monkeypatch):
    """USDT(path=) traces every process running the binary, its semaphore counted up
    in each by the kernel; attach_usdt_ignore_pid does the same for USDT(pid=)."""
    need_root()
    if CLANG is None:
        pytest.skip("clang-19 not installed (BPF(text=) compiles with it)")
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "cache"))
    from bcc_core import BPF, USDT
    for ignore_pid in (False, True):
        procs = [_start_sites(sites_app, base) for base in (7, 300000)]
        try:
            u = USDT(pid=procs[0].pid) if ignore_pid else USDT(path=sites_app)
            with BPF(text=textwrap.dedent(SITES_TEXT), usdt_contexts=[_enable(u)],
                     attach_usdt_ignore_pid=ignore_pid) as b:
                ran = _run(procs)
                counts = _counts(b)
        finally:
            _cleanup(procs)
        for p, base in zip(procs, (7, 300000)):
            _expect_traced(p.pid, base, counts)
            assert ran[p.pid][0] == N_ITER
