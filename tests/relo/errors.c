/* failure modes: ambiguous candidates (load error), candidates that agree, candidate
 * pruning, missing types (poisoned), bitfields too wide for a 64-bit load (load error) */
#include "core_test.h"

#ifdef TARGET
struct core_reloc_amb___a { int a; int b; };
struct core_reloc_amb___b { int b; int a; };
struct core_reloc_dup___1 { int a; long x; };
struct core_reloc_dup___2 { int a; int y; };
struct core_reloc_bf_wide { char c; __u64 x: 63; } __attribute__((packed));
struct core_reloc_memsz { __u64 u; __s64 s; int *p; __u16 small; };
struct core_reloc_amb___a t1; struct core_reloc_amb___b t2;
struct core_reloc_dup___1 t3; struct core_reloc_dup___2 t4; struct core_reloc_bf_wide t5;
struct core_reloc_memsz t6;
#else
struct core_reloc_amb { int a; };
struct core_reloc_dup { int a; long x; int y; };
struct core_reloc_missing { int a; };
struct core_reloc_bf_wide___local { __u64 x: 63; };
struct core_reloc_memsz { __u32 u; __s32 s; int *p; __u32 small; }
	__attribute__((preserve_access_index));
#endif

CHECK(amb_field, bpf_core_field_offset(struct core_reloc_amb, a), 0)
CHECK(amb_exists, bpf_core_field_exists(struct core_reloc_amb, a), 0)
CHECK(dup_a, bpf_core_field_offset(struct core_reloc_dup, a), 0)
CHECK(dup_x, bpf_core_field_exists(struct core_reloc_dup, x), 0)
CHECK(dup_y, bpf_core_field_exists(struct core_reloc_dup, y), 0)
CHECK(dup_tid, bpf_core_type_id_kernel(struct core_reloc_dup), 0)
CHECK(dup_size, bpf_core_type_size(struct core_reloc_dup), 0)
CHECK(missing_off, bpf_core_field_offset(struct core_reloc_missing, a), 0)
CHECK(bf_wide, bpf_core_field_lshift(struct core_reloc_bf_wide___local, x), 0)
/* loads whose size changes: u32 -> u64 is fine, s32 -> s64 is not, u32 -> u16 fine */
CHECK(memsz_u, ((struct core_reloc_memsz *)ctx)->u, 0)
CHECK(memsz_s, ((struct core_reloc_memsz *)ctx)->s, 0)
CHECK(memsz_small, ((struct core_reloc_memsz *)ctx)->small, 0)
CHECK(memsz_p, (long)((struct core_reloc_memsz *)ctx)->p, 0)
