"""``bcc-core`` subcommands for BCC-dialect sources: vmlinux, build, translate, bundle.

Wire into bcc_core.cli with ``from bcc_core.compat.cli import add_subcommands;
add_subcommands(sub)``; each subcommand sets ``fn`` to a callable taking the parsed args
and returning an exit status.
"""
import argparse
import os
import sys


def _write(text, output):
    """Write to the -o file, or stdout for none / '-'."""
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(output, "w") as f:
            f.write(text)
    return 0


def cmd_vmlinux(args):
    from . import vmlinux
    return _write(vmlinux.generate(path=args.btf), args.output)


def cmd_build(args):
    from . import build
    out = args.output
    if out is None:
        base = args.src[:-2] if args.src.endswith(".c") else args.src
        out = (base[:-4] if base.endswith(".bpf") else base) + ".bpf.o"
    build.build(args.src, out, cflags=args.cflags or (), btf_path=args.btf)
    print(out)
    return 0


def cmd_translate(args):
    from . import build
    with open(args.src) as f:
        text = f.read()
    core = build.translate_text(text, args.src, args.cflags or (), args.btf,
                                os.path.dirname(os.path.abspath(args.src)))
    return _write(core, args.output)


def _runs_with_python(path):
    """Whether ``path`` is a Python script (a .py file or a python #! line): run with
    this interpreter, which has bcc_core."""
    if path.endswith(".py"):
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def cmd_bundle(args):
    """Run a script with $BCC_CORE_BUNDLE set: each BPF(text=) / BPF(src_file="x.c") it
    makes records its object as OUT/<bundle key>.bpf.o (+ OUT/index.json)."""
    import json
    import subprocess
    import time
    from . import build
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("bcc-core bundle: no script given (bcc-core bundle -o DIR -- script.py "
              "ARGS...)", file=sys.stderr)
        return 2
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ)
    env[build.BUNDLE_ENV] = out
    env.pop(build.OBJECTS_ENV, None)        # compile here, do not reuse other bundles
    if args.run:
        env[build.BUNDLE_RUN_ENV] = "1"
    else:
        env.pop(build.BUNDLE_RUN_ENV, None)
    shown = " ".join(command)
    if _runs_with_python(command[0]):
        command = [sys.executable] + command
    start = time.time()
    child = subprocess.Popen(command, env=env)
    while True:
        try:
            rc = child.wait()
            break
        except KeyboardInterrupt:       # the script got the Ctrl-C too: let it finish
            continue
    try:
        with open(os.path.join(out, build.INDEX)) as f:
            entries = json.load(f).get("objects", {})
    except (OSError, ValueError):
        entries = {}
    new = sorted((e for e in entries.values()
                  if isinstance(e, dict) and e.get("recorded", 0) >= start - 1),
                 key=lambda e: e.get("recorded", 0))
    for e in new:
        print("%s  %6d bytes of C  cflags %s  %s" % (
            e.get("object"), e.get("text_size", 0), " ".join(e.get("cflags") or []) or "-",
            e.get("text_first_line", "")))
    if not new:
        if rc:
            why = "exited with status %d before a BPF() recorded an object" % rc
        else:
            why = ("made no BPF(text=...) or BPF(src_file=\"x.c\"): does it import "
                   "bcc_core (from bcc_core import BPF), and do these arguments reach "
                   "its BPF() call?")
        print("bcc-core bundle: %s %s" % (shown, why), file=sys.stderr)
        return rc or 1
    print("bcc-core bundle: %d object(s) in %s; on the target: %s=%s"
          % (len(new), out, build.OBJECTS_ENV, out), file=sys.stderr)
    return 0 if not args.run else rc


def add_subcommands(subparsers):
    p = subparsers.add_parser("vmlinux", help="write a vmlinux.h generated from BTF")
    p.add_argument("--btf", help="BTF file (raw or ELF with .BTF; default: the running "
                   "kernel's /sys/kernel/btf/vmlinux)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.set_defaults(fn=cmd_vmlinux)
    p = subparsers.add_parser("build", help="compile BPF C (BCC dialect is translated to "
                              "CO-RE first) into a .bpf.o with clang")
    p.add_argument("src")
    p.add_argument("-o", "--output", help="object file (default: SRC with .bpf.o)")
    p.add_argument("--btf", help="generate vmlinux.h and resolve types from this BTF")
    p.add_argument("--cflag", dest="cflags", action="append", metavar="FLAG",
                   help="extra clang flag, e.g. --cflag=-DFOO=1 (repeatable)")
    p.set_defaults(fn=cmd_build)
    p = subparsers.add_parser("translate", help="print the CO-RE C a BCC-dialect program "
                              "translates to")
    p.add_argument("src")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--btf", help="resolve kernel types from this BTF")
    p.add_argument("--cflag", dest="cflags", action="append", metavar="FLAG",
                   help="extra preprocessor flag, e.g. --cflag=-DFOO=1 (repeatable)")
    p.set_defaults(fn=cmd_translate)
    p = subparsers.add_parser(
        "bundle", help="run a BCC script on a machine with clang and record the objects "
        "its BPF(text=...) compiles, for machines without clang (BCC_CORE_OBJECTS=DIR)",
        description="Run SCRIPT ARGS... with $BCC_CORE_BUNDLE=DIR: each BPF(text=...) or "
        "BPF(src_file=\"x.c\") it makes is compiled (or taken from the cache) and the "
        "object recorded as DIR/<bundle key>.bpf.o, described in DIR/index.json.  By "
        "default the script stops right after its first BPF() compile (nothing is "
        "loaded: no root, no Ctrl-C needed); run it once per command line whose BPF "
        "text differs.  On the target, BCC_CORE_OBJECTS=DIR lets BPF(text=...) use "
        "them with no compiler.")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="bundle directory (created; objects are added to it)")
    p.add_argument("--run", action="store_true",
                   help="let the script go on after recording (it loads and runs its "
                   "programs as usual; every BPF() it makes is recorded)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- SCRIPT ARGS",
                   help="the script (Python scripts run with this interpreter) and its "
                   "arguments")
    p.set_defaults(fn=cmd_bundle)
    return subparsers


def main(argv=None):
    """Standalone entry (python -m bcc_core.compat.cli)."""
    from bcc_core.errors import BccCoreError
    ap = argparse.ArgumentParser(prog="bcc-core-compat", description=__doc__)
    add_subcommands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except BccCoreError as e:
        print("bcc-core: error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
