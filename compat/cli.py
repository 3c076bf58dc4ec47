"""``bcc-core`` subcommands for BCC-dialect sources: vmlinux, build, translate.

Wire into bcc_core.cli with ``from bcc_core.compat.cli import add_subcommands;
add_subcommands(sub)``; each subcommand sets ``fn`` to a callable taking the parsed args
and returning an exit status.
"""
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
    return subparsers


def main(argv=None):
    """Standalone entry (python -m bcc_core.compat.cli)."""
    import argparse
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
