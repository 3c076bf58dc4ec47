/* field existence; missing or incompatible fields poison the other field kinds */
#include "core_test.h"

#ifdef TARGET
struct core_reloc_existence {
	int a;
	struct { int x; } b;
	int c;
	int arr[1];
	struct { int x; } s;
	int *p;
	enum { EX1 } e;
};
struct core_reloc_existence t1;
#else
struct core_reloc_existence___minimal {
	int a;
	struct { int x; } b;
	int c;
	int arr[1];
	struct { int x; } s;
	int *p;
	enum { EX1___x } e;
	int missing;
	int arr_missing[2];
};
struct core_reloc_existence___wrong_types {
	struct { int x; } a;	/* int in target */
	int b;			/* struct in target */
	int c[2];		/* int in target */
	int arr;		/* array in target */
	int *s;			/* struct in target */
	long p;			/* pointer in target */
};
#endif
#define L struct core_reloc_existence___minimal
#define W struct core_reloc_existence___wrong_types
CHECK(ex_a, bpf_core_field_exists(L, a), 1)
CHECK(ex_b, bpf_core_field_exists(L, b), 1)
CHECK(ex_bx, bpf_core_field_exists(L, b.x), 1)
CHECK(ex_arr0, bpf_core_field_exists(L, arr[0]), 1)
CHECK(ex_p, bpf_core_field_exists(L, p), 1)
CHECK(ex_e, bpf_core_field_exists(L, e), 1)
CHECK(ex_missing, bpf_core_field_exists(L, missing), 0)
CHECK(ex_arr_missing, bpf_core_field_exists(L, arr_missing), 0)
CHECK(off_missing, bpf_core_field_offset(L, missing), EXPECT_POISON)
CHECK(sz_missing, bpf_core_field_size(L, arr_missing[1]), EXPECT_POISON)
CHECK(ex_wrong_a, bpf_core_field_exists(W, a), 0)
CHECK(ex_wrong_b, bpf_core_field_exists(W, b), 0)
CHECK(ex_wrong_c, bpf_core_field_exists(W, c), 0)
CHECK(ex_wrong_arr, bpf_core_field_exists(W, arr), 0)
CHECK(ex_wrong_s, bpf_core_field_exists(W, s), 0)
CHECK(off_wrong_a, bpf_core_field_offset(W, a), EXPECT_POISON)
CHECK(off_wrong_p, bpf_core_field_offset(W, p), EXPECT_POISON)
CHECK(ex_wrong_p, bpf_core_field_exists(W, p), 0)
