"""Layer 6 (beside attach): read what programs submit.  :mod:`~.perf_buffer` (perf event
arrays), :mod:`~.ringbuf` (BPF ring buffers), both over :mod:`~._reader` (mmap + epoll);
:mod:`~.struct_view` decodes records as the BTF structs they are."""
