"""Layer 6: attach loaded programs to the kernel's hooks.  :mod:`~.link` (the Link,
tracepoints, raw tracepoints, perf events, fentry/fexit/LSM), :mod:`~.probe` (kprobes,
uprobes), :mod:`~.auto` (attach by SEC() name), :mod:`~.xdp` (XDP on a network device,
through a link or netlink), :mod:`~.syscall_names` (syscall entry symbol names)."""
