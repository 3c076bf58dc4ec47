/* arrays: multi-dimensional, arrays of structs, flexible arrays, pointer-as-array,
 * out-of-bounds index (poisoned) */
#include "core_test.h"

#ifdef TARGET
struct core_reloc_arrays_substruct { int c; int d; };
struct core_reloc_arrays {
	int a[5];
	char b[2][3][4];
	struct core_reloc_arrays_substruct c[3];
	struct core_reloc_arrays_substruct d[1][2];
	struct core_reloc_arrays_substruct f[][2];
};
struct core_reloc_flex { long n; struct { int pad; int v; } items[]; };
struct core_reloc_ptr_as_arr { long pad; int a; };
struct core_reloc_arrays t1; struct core_reloc_flex t2; struct core_reloc_ptr_as_arr t3;
#else
struct core_reloc_arrays_substruct___local { long pad; int d; int c; };
struct core_reloc_arrays___local {
	long pad0;
	struct core_reloc_arrays_substruct___local c[4];
	char b[3][4][5];
	int a[12];
	struct core_reloc_arrays_substruct___local d[2][3];
	struct core_reloc_arrays_substruct___local f[][3];
};
struct core_reloc_flex { int n; struct { int v; } items[]; };
struct core_reloc_ptr_as_arr { int a; } __attribute__((preserve_access_index));
#endif

#define L struct core_reloc_arrays___local
#define T struct core_reloc_arrays
CHECK(a2, bpf_core_field_offset(L, a[2]), OFF(T, a[2]))
CHECK(a4, bpf_core_field_offset(L, a[4]), OFF(T, a[4]))
CHECK(a_oob, bpf_core_field_offset(L, a[5]), EXPECT_POISON)
CHECK(a_oob_exists, bpf_core_field_exists(L, a[7]), 0)
CHECK(a2_exists, bpf_core_field_exists(L, a[2]), 1)
CHECK(a_sz, bpf_core_field_size(L, a), FSIZE(T, a))
CHECK(a_elem_sz, bpf_core_field_size(L, a[1]), FSIZE(T, a[1]))
CHECK(b123, bpf_core_field_offset(L, b[1][2][3]), OFF(T, b[1][2][3]))
CHECK(b1_sz, bpf_core_field_size(L, b[1]), FSIZE(T, b[1]))
CHECK(c1c, bpf_core_field_offset(L, c[1].c), OFF(T, c[1].c))
CHECK(c2d, bpf_core_field_offset(L, c[2].d), OFF(T, c[2].d))
CHECK(c_oob, bpf_core_field_offset(L, c[3].d), EXPECT_POISON)
CHECK(d00d, bpf_core_field_offset(L, d[0][0].d), OFF(T, d[0][0].d))
CHECK(d01c, bpf_core_field_offset(L, d[0][1].c), OFF(T, d[0][1].c))
CHECK(d10c, bpf_core_field_offset(L, d[1][0].c), EXPECT_POISON)
/* flexible array: any first index is fine, inner dimension is still checked */
CHECK(f10c, bpf_core_field_offset(L, f[1][0].c), OFF(T, f[1][0].c))
CHECK(f71d, bpf_core_field_offset(L, f[7][1].d), OFF(T, f[7][1].d))
CHECK(f02c, bpf_core_field_offset(L, f[0][2].c), EXPECT_POISON)
CHECK(flex5, bpf_core_field_offset(struct core_reloc_flex, items[5].v),
      OFF(struct core_reloc_flex, items[5].v))
/* &p[2].a: first access index is an array index on the root */
CHECK(ptr_as_arr,
      (long)__builtin_preserve_access_index(&((struct core_reloc_ptr_as_arr *)ctx)[2].a),
      2 * sizeof(struct core_reloc_ptr_as_arr) + OFF(struct core_reloc_ptr_as_arr, a))
/* a load of an array element: LDX with the element offset */
#ifndef TARGET
struct core_reloc_arrays___pai { int a[12]; } __attribute__((preserve_access_index));
#endif
CHECK(ldx_a3, ((struct core_reloc_arrays___pai *)ctx)->a[3], OFF(T, a[3]))
