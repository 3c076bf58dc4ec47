/* relocations against the running kernel's BTF (tests/test_relo.py::test_kernel_btf) */
#include "core_test.h"

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));
struct task_struct___new { unsigned int __state; } __attribute__((preserve_access_index));
struct task_struct___old { long state; } __attribute__((preserve_access_index));

CHECK(tgid_off, bpf_core_field_offset(struct task_struct, tgid), 0)
CHECK(pid_ldx, ((struct task_struct *)ctx)->pid, 0)
CHECK(comm_sz, bpf_core_field_size(struct task_struct, comm), 0)
CHECK(comm_3, bpf_core_field_offset(struct task_struct, comm[3]), 0)
CHECK(parent_off, bpf_core_field_offset(struct task_struct, real_parent), 0)
CHECK(new_state_exists, bpf_core_field_exists(struct task_struct___new, __state), 0)
CHECK(old_state_exists, bpf_core_field_exists(struct task_struct___old, state), 0)
CHECK(new_state_off, bpf_core_field_offset(struct task_struct___new, __state), 0)
CHECK(old_state_off, bpf_core_field_offset(struct task_struct___old, state), 0)
CHECK(task_exists, bpf_core_type_exists(struct task_struct), 0)
CHECK(task_size, bpf_core_type_size(struct task_struct), 0)
CHECK(task_id, bpf_core_type_id_kernel(struct task_struct), 0)
