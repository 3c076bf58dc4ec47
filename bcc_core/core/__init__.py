"""Layer 4: CO-RE relocation with libbpf's semantics, pure functions, no kernel: object BTF
+ target BTF + relocation records in, instruction patches out.  :mod:`~.relo` computes the
decisions, :mod:`~.relo_insn` patches instructions (the only part a warm start needs),
:mod:`~.check` reports an object's relocations against BTF files (``bcc-core check``)."""
