"""The ``bcc-core`` command: inspect, check and load BPF objects; with
bcc_core.compat.cli, translate and build BCC C (vmlinux, build, translate) and
record a script's objects for machines without clang (bundle)."""
import argparse
import sys

from .errors import BccCoreError


def cmd_info(args):
    from .load.map import TYPE_NAMES
    from .obj.cache import load_spec
    from .obj.sec import PROG_TYPE_NAMES
    spec = load_spec(args.obj)
    print("object %s  license %s" % (spec.path, spec.license))
    for p in spec.programs:
        print("  program %-24s SEC(\"%s\")  %s  %d insns" % (
            p.name, p.section, PROG_TYPE_NAMES[p.prog_type], p.insn_cnt))
    for p in spec.subprogs:
        print("  subprog %-24s %d insns" % (p.name, p.insn_cnt))
    for m in spec.maps:
        print("  map     %-24s %s key %d value %d max %d" % (
            m.name, TYPE_NAMES[m.type] if m.type < len(TYPE_NAMES) else m.type,
            m.key_size, m.value_size, m.max_entries))
    for e in spec.externs:
        print("  extern  %-24s %s%s" % (e.name, e.kind, " (weak)" if e.weak else ""))
    return 0


def cmd_load(args):
    from .load.loader import Object
    with Object(args.obj, btf=args.btf) as o:
        for p in o.programs.values():
            print("loaded %s fd %d (%d insns)" % (p.name, p.fd, len(p.insns or b"") // 8))
    return 0


def cmd_check(args):
    from .core import check
    return check.main(args.obj, args.btf, args.json,
                      summary=True if args.summary else False if args.full else None)


def cmd_export(args):
    from . import export
    return export.main(args.obj, args.port, args.addr, args.args)


def cmd_usdt(args):
    """tplist -l: the USDT probes of a binary/library or of a process's mappings."""
    from .usdt import USDT
    if (args.pid is None) == (args.path is None):
        print("bcc-core usdt: give a PATH or -p PID", file=sys.stderr)
        return 2
    u = USDT(pid=args.pid) if args.pid is not None else USDT(path=args.path)
    for p in u.enumerate_probes():
        loc = p.locations
        print("%s %s:%s" % (p.bin_path.decode(), p.provider.decode(), p.name.decode()))
        if args.verbose:
            for i, l in enumerate(loc):
                print("  location #%d 0x%x%s%s" % (
                    i + 1, l.address, "  semaphore 0x%x" % l.semaphore if l.semaphore else "",
                    "  in " + l.bin_path.decode() if l.bin_path != p.bin_path else ""))
                for j, a in enumerate(l.arguments):
                    print("    argument #%d %d %s bits (%s)" % (
                        j + 1, a.size * 8, "signed" if a.signed else "unsigned", a.spec))
    return 0


def cmd_cache(args):
    """Show (or empty, or prune) bcc-core's cache."""
    from .btf import cache
    d = cache.cache_dir()
    if args.clear:
        n, freed = cache.clear()
        print("%s: removed %d entries, %.1f MiB" % (d, n, freed / 1048576.0))
        return 0
    if args.prune:
        n, freed = cache.prune()
        print("%s: pruned %d entries, %.1f MiB" % (d, n, freed / 1048576.0))
    n, size = cache.usage()
    max_bytes, max_age, max_n = cache.limits()
    print("%s: %d entries, %.1f MiB (bound: %.0f MiB and %d entries, unused for %.0f "
          "days; $BCC_CORE_CACHE_MAX, $BCC_CORE_CACHE_MAX_ENTRIES, $BCC_CORE_CACHE_MAX_AGE)"
          % (d, n, size / 1048576.0, max_bytes / 1048576.0, max_n, max_age / 86400))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bcc-core", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("info", help="list an object's programs, maps and externs")
    p.add_argument("obj")
    p.set_defaults(fn=cmd_info)
    p = sub.add_parser("load", help="load every program of an object, then unload")
    p.add_argument("obj")
    p.add_argument("--btf", help="relocate against this BTF instead of the kernel's")
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("check", help="show what each CO-RE relocation becomes on a kernel "
                       "(no root needed, nothing is loaded)")
    p.add_argument("obj")
    p.add_argument("--btf", action="append", metavar="FILE|DIR",
                   help="target BTF: raw BTF or an ELF with .BTF such as a vmlinux, or a "
                   "directory of them (a fleet: one verdict per kernel) (repeatable; "
                   "default: the running kernel's %s)" % "/sys/kernel/btf/vmlinux")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per relocation and target BTF (per target BTF "
                   "with --summary), one per line")
    p.add_argument("--summary", action="store_true",
                   help="one verdict per target BTF and the relocations behind it (the "
                   "default for a directory)")
    p.add_argument("--full", action="store_true",
                   help="every relocation of every target, also for a directory")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("export", help="load an object (or run a BCC script) and publish "
                       "its maps as Prometheus metrics (needs prometheus_client: pip "
                       "install 'bcc-core[export]')")
    p.add_argument("--port", type=int, default=9435)
    p.add_argument("--addr", default="127.0.0.1", help="the address to listen on")
    p.add_argument("obj", metavar="OBJECT|SCRIPT")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("cache", help="show bcc-core's cache directory and size "
                       "($BCC_CORE_CACHE_DIR, $XDG_CACHE_HOME)")
    p.add_argument("--clear", action="store_true", help="remove everything in it")
    p.add_argument("--prune", action="store_true", help="apply the bound now")
    p.set_defaults(fn=cmd_cache)
    p = sub.add_parser("usdt", help="list the USDT probes of a binary or library, or of "
                       "a process's executable and libraries (BCC's tplist -l)")
    p.add_argument("path", nargs="?")
    p.add_argument("-p", "--pid", type=int)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="locations, semaphores and argument specs")
    p.set_defaults(fn=cmd_usdt)
    try:
        from .compat.cli import add_subcommands as _compat_subcommands
    except ImportError:      # a package built without bcc_core.compat
        _compat_subcommands = None
    if _compat_subcommands is not None:
        _compat_subcommands(sub)
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except BccCoreError as e:
        print("bcc-core: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
