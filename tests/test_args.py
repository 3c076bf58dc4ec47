"""bcc_core.args: every command line it reads itself gives what argparse gives; the rest
(help, usage errors, forms it does not know) is argparse's, output and exit code."""
import contextlib
import io
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st

from bcc_core import args as fastargs

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
sys.path.insert(0, TOOLS)
import opensnoop  # noqa: E402
import runqslower  # noqa: E402

VOCAB = {
    "opensnoop": ["-T", "-U", "-x", "-p", "12", "-t", "-u", "1000", "-d", "3", "-n",
                  "main", "-e", "-f", "O_WRONLY", "-F", "-b", "8", "--pid", "--pid=7",
                  "--dur", "--duration=2", "--time", "--timestamp", "-TU", "-Tx", "-p5",
                  "-b16", "x", "--", "-1", "--ebpf", "--full-path", "--full", "--f",
                  "--print-uid", "--print-uid=1", "--cgroupmap", "/sys/fs/bpf/m", "-h",
                  "-Z", "--nope", "-", "-b=4", "-xTp", "--he"],
    "runqslower": ["-P", "-p", "1", "-t", "2", "500", "1000", "--pid", "--pid=3",
                   "--tid=4", "--prev", "--previous", "-Pp1", "x", "--", "-5", "--ebpf",
                   "foo", "-Pt", "--p", "--t=1", "-h"],
}
PARSERS = {"opensnoop": opensnoop.make_parser, "runqslower": runqslower.make_parser}


def _argparse_result(parser, argv):
    """What argparse makes of argv: ("ok", vars) or ("exit", code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return ("ok", vars(parser.argparse_parser().parse_args(argv)))
    except SystemExit as e:
        return ("exit", e.code, out.getvalue(), err.getvalue())


def _same(tool, argv):
    parser = PARSERS[tool]()
    want = _argparse_result(parser, argv)
    try:
        got = parser._parse(list(argv))
    except fastargs._Fallback:
        got = None
    if got is not None:
        assert want == ("ok", vars(got)), argv
    # and parse_args as a whole (fast path or argparse) behaves as argparse
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            whole = ("ok", vars(PARSERS[tool]().parse_args(list(argv))))
    except SystemExit as e:
        whole = ("exit", e.code, out.getvalue(), err.getvalue())
    assert whole == want, argv
    return got is not None


@pytest.mark.parametrize("tool,argv,fast", [
    ("opensnoop", [], True),
    ("opensnoop", ["-TUx", "-p", "12", "--dur=3", "-fO_WRONLY", "-f", "O_RDWR"], True),
    ("opensnoop", ["--time", "--print-uid", "-b", "16", "-n", "main"], True),
    ("opensnoop", ["-p12", "-e", "-F", "--cgroupmap", "/sys/fs/bpf/m"], True),
    ("opensnoop", ["-h"], False),
    ("opensnoop", ["-b", "x"], False),          # type error: argparse's message
    ("opensnoop", ["-Z"], False),               # unknown option
    ("opensnoop", ["--f"], False),              # ambiguous prefix
    ("opensnoop", ["-p"], False),               # missing value
    ("runqslower", [], True),
    ("runqslower", ["500"], True),
    ("runqslower", ["500", "-P", "-p", "3"], True),
    ("runqslower", ["-P", "500"], False),       # "?" positional after an option
    ("runqslower", ["-p", "1", "-t", "2"], False),  # mutually exclusive
    ("runqslower", ["-p", "x"], False),
    ("runqslower", ["1", "2"], False),          # unrecognized arguments
])
def test_command_lines(tool, argv, fast):
    assert _same(tool, argv) == fast


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(VOCAB)).flatmap(
    lambda t: st.tuples(st.just(t), st.lists(st.sampled_from(VOCAB[t]), max_size=6))))
def test_random_command_lines(case):
    tool, argv = case
    _same(tool, argv)


def test_tools_do_not_import_argparse_for_a_usual_command_line():
    import subprocess
    # (the interpreter's site hooks may have imported some already: only new ones count)
    code = ("import sys; before = set(sys.modules); sys.path.insert(0, %r); "
            "import opensnoop, runqslower; "
            "opensnoop.parse_args(['-T', '-p', '1']); runqslower.parse_args(['500']); "
            "print(sorted(m for m in ('argparse', 're', 'enum', 'signal', 'collections') "
            "if m in sys.modules and m not in before))" % TOOLS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.path.dirname(TOOLS)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_suppressed_help_stays_hidden():
    text = opensnoop.make_parser().format_help()
    assert "--ebpf" not in text and "-T, --timestamp" in text


@pytest.mark.parametrize("tool", ["opensnoop", "runqslower"])
def test_installed_scripts(tool):
    """The tools install as plain scripts (pip's console_scripts wrapper imports re)."""
    import shutil
    import subprocess
    with open(os.path.join(TOOLS, tool + "-core")) as f:
        text = f.read()
    assert "import re" not in text and "from bcc_core.tools.%s import cli" % tool in text
    path = shutil.which(tool + "-core")
    if path is None:
        pytest.skip("%s-core is not installed here (pip install .)" % tool)
    out = subprocess.run([path, "-h"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("usage: %s-core" % tool), out


def test_bcc_tool_spellings():
    """What BCC's tools take from argparse works through bcc_core.args."""
    def positive(v):
        if int(v) <= 0:
            raise fastargs.ArgumentTypeError("must be positive")
        return int(v)
    p = fastargs.ArgumentParser(description="x", epilog="examples:\n  x -i 1",
                                formatter_class=fastargs.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--interval", type=positive, default=1)
    p.add_argument("--ebpf", action="store_true", help=fastargs.SUPPRESS)
    assert p.parse_args(["-i", "3"]).interval == 3
    assert "examples:\n  x -i 1" in p.format_help() and "--ebpf" not in p.format_help()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        p.parse_args(["-i", "0"])
    assert e.value.code == 2 and "must be positive" in err.getvalue()


@pytest.mark.parametrize("tool,argv,what", [
    ("opensnoop", ["-d", "0.5"], "-d/--duration"), ("opensnoop", ["-d", "0"], "-d/--duration"),
    ("opensnoop", ["-p", "abc"], "-p/--pid"), ("opensnoop", ["-t", "-3"], "-t/--tid"),
    ("opensnoop", ["-u", "-1"], "-u/--uid"), ("opensnoop", ["-b", "3"], "-b/--buffer-pages"),
    ("opensnoop", ["-b", "0"], "-b/--buffer-pages"),
    ("runqslower", ["1.5"], "min_us"), ("runqslower", ["-p", "0"], "-p/--pid"),
    ("runqslower", ["-t", "x"], "-t/--tid"),
])
def test_bad_values_are_usage_errors(tool, argv, what):
    """A value a flag cannot take ends in argparse's usage error naming the flag (exit
    status 2), before anything runs -- not in a traceback later."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as ei, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        PARSERS[tool]().parse_args(argv)
    assert ei.value.code == 2
    assert "error: argument %s: invalid" % what in err.getvalue()
    assert "Traceback" not in err.getvalue()
