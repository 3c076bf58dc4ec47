"""Layer 3: a BPF object file as plain data, no kernel.  :mod:`~.elf` parses a ``.bpf.o``
into the :mod:`~.spec` data model (:class:`~.spec.ObjectSpec`), :mod:`~.cache` keeps parsed
specs on disk (:func:`~.cache.load_spec`), :mod:`~.sec` is libbpf's SEC() name table,
:mod:`~.record` the format of bcc-core's on-disk caches."""
