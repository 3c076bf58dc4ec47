"""``filter_by_containers(args)``: the --cgroupmap / --mntnsmap helper BCC tools call.

In BCC this returns C text defining ``container_should_be_filtered()`` over pinned maps,
which the tool splices into the C source it compiles at run time.  bcc-core loads
compiled objects and compiles nothing at run time, so there is no text to splice into:
a bcc-core tool filters by container with read-only globals plus the pinned maps reused at
load time, e.g. (tools/opensnoop.py)::

    BPF(src_file=OBJ, rodata={"filter_cgroup": True, ...},
        reuse_maps={"cgroupset": args.cgroupmap, "mount_ns_set": args.mntnsmap})

Without either option nothing is filtered, and the function returns a definition that
says so, keeping the spliced text well-formed C.  With either option the filter could not
take effect, so it raises instead of letting the tool run unfiltered.
"""
from .errors import NotSupportedError

_NO_FILTER = """
static inline int container_should_be_filtered(void)
{
    return 0;   /* no --cgroupmap / --mntnsmap given */
}
"""


def filter_by_containers(args):
    """C text for a BCC tool's ``CONTAINER_FILTER``; ``args`` carries the parsed
    ``cgroupmap`` and ``mntnsmap`` options (paths of pinned maps, or None)."""
    given = [opt for opt, path in (("--cgroupmap", args.cgroupmap),
                                   ("--mntnsmap", args.mntnsmap)) if path]
    if given:
        raise NotSupportedError(
            "%s: this tool filters by container in C text compiled at run time, which "
            "bcc-core cannot do; use a compiled object that reads the pinned map through "
            "BPF(reuse_maps={...}) and a read-only flag, as tools/opensnoop.py does"
            % " and ".join(given))
    return _NO_FILTER
