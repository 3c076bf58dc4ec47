/* primitives and modifiers (typedef/const/volatile), ints of all sizes and signedness,
 * an anonymous struct reached through a typedef */
#include "core_test.h"

#ifdef TARGET
enum core_reloc_primitives_enum { A = 0, B = 1 };
struct core_reloc_primitives {
	char a;
	int b;
	enum core_reloc_primitives_enum c;
	void *d;
	int (*f)(const char *);
};
struct core_reloc_ints {
	__u8 u8_field; __s8 s8_field;
	__u16 u16_field; __s16 s16_field;
	__u32 u32_field; __s32 s32_field;
	__u64 u64_field; __s64 s64_field;
};
typedef struct { int pad; int a; int b; } core_reloc_anon_td;
struct core_reloc_primitives t1; struct core_reloc_ints t2; core_reloc_anon_td t3;
#else
typedef int int_t;
typedef const volatile int_t cv_int_t;
typedef char *char_ptr_t;
typedef int (*func_t)(const char *);
typedef enum { X = 1, Y = 2 } anon_enum_t;
enum core_reloc_primitives_enum___local { A___local = 0, B___local = 1 };
typedef volatile enum core_reloc_primitives_enum___local enum_t;
struct core_reloc_primitives___mods {
	func_t f;
	const char_ptr_t d;
	enum_t c;
	cv_int_t b;
	const volatile char a;
};
/* signedness and sizes swapped */
struct core_reloc_ints___flipped {
	__s64 u64_field; __u64 s64_field;
	__s32 u32_field; __u32 s32_field;
	__s16 u16_field; __u16 s16_field;
	__s8 u8_field; __u8 s8_field;
};
typedef struct { long a; long b; } core_reloc_anon_td;
#endif

#define L struct core_reloc_primitives___mods
#define T struct core_reloc_primitives
CHECK(prim_a, bpf_core_field_offset(L, a), OFF(T, a))
CHECK(prim_b, bpf_core_field_offset(L, b), OFF(T, b))
CHECK(prim_c, bpf_core_field_offset(L, c), OFF(T, c))
CHECK(prim_d, bpf_core_field_offset(L, d), OFF(T, d))
CHECK(prim_f, bpf_core_field_offset(L, f), OFF(T, f))
CHECK(prim_b_sz, bpf_core_field_size(L, b), FSIZE(T, b))
CHECK(prim_c_sz, bpf_core_field_size(L, c), FSIZE(T, c))
CHECK(prim_a_signed, bpf_core_field_signed(L, a), (char)-1 < 0)
CHECK(prim_c_signed, bpf_core_field_signed(L, c), 0)
#undef L
#undef T
#define L struct core_reloc_ints___flipped
#define T struct core_reloc_ints
#define INT_CHECKS(f) \
	CHECK(f##_off, bpf_core_field_offset(L, f), OFF(T, f)) \
	CHECK(f##_sz, bpf_core_field_size(L, f), FSIZE(T, f)) \
	CHECK(f##_signed, bpf_core_field_signed(L, f), (__typeof__(((T *)0)->f))-1 < 0)
INT_CHECKS(u8_field)
INT_CHECKS(s8_field)
INT_CHECKS(u16_field)
INT_CHECKS(s16_field)
INT_CHECKS(u32_field)
INT_CHECKS(s32_field)
INT_CHECKS(u64_field)
INT_CHECKS(s64_field)
/* relocation rooted at a typedef of an anonymous struct */
CHECK(td_a, bpf_core_field_offset(core_reloc_anon_td, a), OFF(core_reloc_anon_td, a))
CHECK(td_b, bpf_core_field_offset(core_reloc_anon_td, b), OFF(core_reloc_anon_td, b))
