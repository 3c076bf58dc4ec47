/* field sizes and type-based relocations: type exists/size/matches, target type ids */
#include "core_test.h"
#define EXPECT_LOCAL_ID (-0x7ead0003LL)

#ifdef TARGET
struct core_reloc_size {
	int int_field;
	struct { int x; } struct_field;
	union { int x; } union_field;
	int arr_field[4];
	void *ptr_field;
	enum { VALUE = 123 } enum_field;
	float float_field;
};
struct a_struct { int x; };
union a_union { int y; int z; };
typedef struct a_struct named_struct_typedef;
typedef struct { int x, y, z; } anon_struct_typedef;
typedef struct { int a, b, c; } *struct_ptr_typedef;
enum an_enum { AN_ENUM_VAL1 = 1, AN_ENUM_VAL2 = 2, AN_ENUM_VAL3 = 3 };
typedef int int_typedef;
typedef enum { TYPEDEF_ENUM_VAL1, TYPEDEF_ENUM_VAL2 } enum_typedef;
typedef void *void_ptr_typedef;
typedef void *char_vs_void_ptr;
typedef int (*func_proto_typedef)(long);
typedef char arr_typedef[20];
/* only differ from the local ones in ways TYPE_MATCHES notices */
struct match_struct { int a; long b; struct a_struct *p; };
struct match_struct_diff { int a; int b; };
struct match_struct_fwd { struct fwd_only *p; };
union match_union { int a; char b; };
enum match_enum { M1, M2, M3 };
typedef int (*match_func)(int, long);
struct core_reloc_size t1;
struct a_struct t2; union a_union t3; named_struct_typedef t4; anon_struct_typedef t5;
struct_ptr_typedef t6; enum an_enum t7; int_typedef t8; enum_typedef t9;
void_ptr_typedef t10; char_vs_void_ptr t10b; func_proto_typedef t11; arr_typedef t12;
struct match_struct t13; struct match_struct_diff t14; struct match_struct_fwd t15;
union match_union t16; enum match_enum t17; match_func t18;
#else
struct core_reloc_size___diff_sz {
	long int_field;
	struct { int x; int y; int z; } struct_field;
	union { int x; long y; } union_field;
	long arr_field[1];
	char *ptr_field;
	enum { OTHER_VALUE = 0xFFFFFFFFFF } enum_field;
	double float_field;
};
struct a_struct { long x; long more; };
union a_union___flavor { char y; };
typedef struct a_struct named_struct_typedef;
typedef struct { int x; } anon_struct_typedef;
typedef struct { int a; } *struct_ptr_typedef;
enum an_enum___local { AN_ENUM_VAL1___local = 100 };
typedef long int_typedef;
typedef enum { TYPEDEF_ENUM_VAL1___x } enum_typedef;
typedef void *void_ptr_typedef;
typedef char *char_vs_void_ptr;
typedef int (*func_proto_typedef)(long);
typedef char arr_typedef[2];
struct not_in_target { int x; };
typedef int typedef_not_in_target;
struct match_struct { long b; int a; struct a_struct *p; };     /* members reordered: match */
struct match_struct_diff { int a; long b; };    /* b differs in size: no match */
struct match_struct_fwd { struct fwd_only *p; };
union match_union___x { int a; };               /* subset of members: match */
enum match_enum { M3, M1 };                     /* names matter, values don't */
enum match_enum___bad { M1___bad, M4 };         /* M4 missing in target */
typedef int (*match_func)(int, long);
typedef int (*match_func___bad)(int, int);
#endif

#define S struct core_reloc_size
#define L struct core_reloc_size___diff_sz
CHECK(sz_int, bpf_core_field_size(L, int_field), FSIZE(S, int_field))
CHECK(sz_struct, bpf_core_field_size(L, struct_field), FSIZE(S, struct_field))
CHECK(sz_union, bpf_core_field_size(L, union_field), FSIZE(S, union_field))
CHECK(sz_arr, bpf_core_field_size(L, arr_field), FSIZE(S, arr_field))
CHECK(sz_arr_elem, bpf_core_field_size(L, arr_field[0]), FSIZE(S, arr_field[0]))
CHECK(sz_ptr, bpf_core_field_size(L, ptr_field), FSIZE(S, ptr_field))
CHECK(sz_enum, bpf_core_field_size(L, enum_field), FSIZE(S, enum_field))
CHECK(sz_float, bpf_core_field_size(L, float_field), FSIZE(S, float_field))
CHECK(off_float, bpf_core_field_offset(L, float_field), OFF(S, float_field))

#define TYPE_CHECKS(n, T) \
	CHECK(exists_##n, bpf_core_type_exists(T), 1) \
	CHECK(size_##n, bpf_core_type_size(T), sizeof(T)) \
	CHECK_TYPE_ID(n, bpf_core_type_id_kernel(T), T)
TYPE_CHECKS(struct, struct a_struct)
TYPE_CHECKS(named_struct_typedef, named_struct_typedef)
TYPE_CHECKS(anon_struct_typedef, anon_struct_typedef)
TYPE_CHECKS(struct_ptr_typedef, struct_ptr_typedef)
TYPE_CHECKS(int_typedef, int_typedef)
TYPE_CHECKS(enum_typedef, enum_typedef)
TYPE_CHECKS(void_ptr_typedef, void_ptr_typedef)
TYPE_CHECKS(func_proto_typedef, func_proto_typedef)
TYPE_CHECKS(arr_typedef, arr_typedef)
#ifdef TARGET
TYPE_CHECKS(union, union a_union)
TYPE_CHECKS(enum, enum an_enum)
#else
TYPE_CHECKS(union, union a_union___flavor)
TYPE_CHECKS(enum, enum an_enum___local)
#endif
/* missing types: exists 0, size 0, target id 0 (never poisoned) */
CHECK(exists_missing_struct, bpf_core_type_exists(struct not_in_target), 0)
CHECK(size_missing_struct, bpf_core_type_size(struct not_in_target), 0)
CHECK(tid_missing_struct, bpf_core_type_id_kernel(struct not_in_target), 0)
CHECK(matches_missing, bpf_core_type_matches(struct not_in_target), 0)
CHECK(exists_missing_typedef, bpf_core_type_exists(typedef_not_in_target), 0)
CHECK(local_tid, bpf_core_type_id_local(struct a_struct), EXPECT_LOCAL_ID)
/* pointee kinds differ (char vs void): not compatible for libbpf */
CHECK(exists_char_vs_void_ptr, bpf_core_type_exists(char_vs_void_ptr), 0)
/* TYPE_MATCHES */
CHECK(match_struct, bpf_core_type_matches(struct match_struct), 1)
CHECK(match_struct_diff, bpf_core_type_matches(struct match_struct_diff), 0)
CHECK(match_struct_fwd, bpf_core_type_matches(struct match_struct_fwd), 1)
CHECK(match_union, bpf_core_type_matches(union match_union___x), 1)
CHECK(match_enum, bpf_core_type_matches(enum match_enum), 1)
CHECK(match_enum_bad, bpf_core_type_matches(enum match_enum___bad), 0)
CHECK(match_func, bpf_core_type_matches(match_func), 1)
CHECK(match_func_bad, bpf_core_type_matches(match_func___bad), 0)
CHECK(match_a_struct, bpf_core_type_matches(struct a_struct), 0)
CHECK(match_int_typedef, bpf_core_type_matches(int_typedef), 0)
CHECK(match_arr_typedef, bpf_core_type_matches(arr_typedef), 0)
CHECK(match_func_proto_typedef, bpf_core_type_matches(func_proto_typedef), 1)
