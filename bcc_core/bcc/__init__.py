"""The parts of BCC's ``BPF`` class (bcc_core.bpf), one module per concept, and of its
table classes (bcc_core.table).  BCC's module names stay the public ones: import from
bcc_core.bpf and bcc_core.table, not from here."""
