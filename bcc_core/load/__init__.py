"""Layer 5: put an object into the kernel.  :mod:`~.loader` (:class:`~.loader.Object`:
maps, global data, externs, subprograms, CO-RE patches, programs), :mod:`~.map` and
:mod:`~.prog` (one map, one program), :mod:`~.kconfig` (``__kconfig`` externs),
:mod:`~.features` (what the running kernel supports, tracefs and bpffs mounts)."""
