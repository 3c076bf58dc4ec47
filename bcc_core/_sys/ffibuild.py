"""Generate ``_ffi.py``: the out-of-line, ABI-mode cffi module for the kernel interface.

Run ``python -m bcc_core._sys.ffibuild`` after changing ``CDEF``.  The generated module is
checked in so that importing bcc_core never runs pycparser (an in-line ``FFI().cdef`` costs
~75 ms at every start); a unit test checks that the checked-in file matches ``CDEF``.
"""
import os

CDEF = r"""
long syscall(long number, ...);

/* bpf_attr members used by bcc-core; the union is padded to the kernel's current size. */
struct bpf_map_create_attr {
    uint32_t map_type, key_size, value_size, max_entries, map_flags, inner_map_fd, numa_node;
    char map_name[16];
    uint32_t map_ifindex, btf_fd, btf_key_type_id, btf_value_type_id, btf_vmlinux_value_type_id;
    uint64_t map_extra;
};
struct bpf_map_elem_attr { uint32_t map_fd; uint64_t key; uint64_t value; uint64_t flags; };
struct bpf_map_batch_attr {
    uint64_t in_batch, out_batch, keys, values;
    uint32_t count, map_fd;
    uint64_t elem_flags, flags;
};
struct bpf_prog_load_attr {
    uint32_t prog_type, insn_cnt;
    uint64_t insns, license;
    uint32_t log_level, log_size;
    uint64_t log_buf;
    uint32_t kern_version, prog_flags;
    char prog_name[16];
    uint32_t prog_ifindex, expected_attach_type, prog_btf_fd, func_info_rec_size;
    uint64_t func_info;
    uint32_t func_info_cnt, line_info_rec_size;
    uint64_t line_info;
    uint32_t line_info_cnt, attach_btf_id, attach_btf_obj_fd, core_relo_cnt;
    uint64_t fd_array, core_relos;
    uint32_t core_relo_rec_size, log_true_size;
};
struct bpf_obj_pin_attr { uint64_t pathname; uint32_t bpf_fd, file_flags; int32_t path_fd; };
struct bpf_info_attr { uint32_t bpf_fd, info_len; uint64_t info; };
struct bpf_getid_attr { uint32_t start_id, next_id, open_flags; };
struct bpf_raw_tp_attr { uint64_t name; uint32_t prog_fd; uint32_t pad; uint64_t cookie; };
struct bpf_btf_load_attr {
    uint64_t btf, btf_log_buf;
    uint32_t btf_size, btf_log_size, btf_log_level, btf_log_true_size;
};
struct bpf_link_create_attr {
    uint32_t prog_fd, target_fd, attach_type, flags;
    uint64_t a, b, c, d;   /* attach-type-specific tail, e.g. perf_event.bpf_cookie in a */
};
struct bpf_test_run_attr {
    uint32_t prog_fd, retval, data_size_in, data_size_out;
    uint64_t data_in, data_out;
    uint32_t repeat, duration, ctx_size_in, ctx_size_out;
    uint64_t ctx_in, ctx_out;
    uint32_t flags, cpu, batch_size;
};
union bpf_attr {
    struct bpf_map_create_attr map_create;
    struct bpf_map_elem_attr elem;
    struct bpf_map_batch_attr batch;
    struct bpf_prog_load_attr prog_load;
    struct bpf_obj_pin_attr obj;
    struct bpf_info_attr info;
    struct bpf_getid_attr getid;
    struct bpf_raw_tp_attr raw_tp;
    struct bpf_btf_load_attr btf_load;
    struct bpf_link_create_attr link_create;
    struct bpf_test_run_attr test;
    uint8_t raw[160];
};

struct perf_event_attr {
    uint32_t type, size;
    uint64_t config, sample_period, sample_type, read_format, flags;
    uint32_t wakeup_events, bp_type;
    uint64_t config1, config2, branch_sample_type, sample_regs_user;
    uint32_t sample_stack_user;
    int32_t clockid;
    uint64_t sample_regs_intr;
    uint32_t aux_watermark;
    uint16_t sample_max_stack, reserved2;
    uint32_t aux_sample_size, reserved3;
    uint64_t sig_data, config3;
};
"""


def build(target_dir=None):
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_ffi", None)
    target_dir = target_dir or os.path.dirname(os.path.abspath(__file__))
    return ffi.emit_python_code(os.path.join(target_dir, "_ffi.py"))


if __name__ == "__main__":
    build()
