/* bitfields: byte_off/byte_sz/lshift/rshift/signed, checked by reading the compiler-laid
 * out target_data (test_relo.py extracts each field the way BPF_CORE_READ_BITFIELD does) */
#include "core_test.h"

#ifdef TARGET
struct core_reloc_bitfields {
	__u8 ub1: 1;
	__u8 ub2: 2;
	__u32 ub7: 7;
	__s8 sb4: 4;
	__s32 sb20: 20;
	__u32 u32;
	__s32 s32;
	__u64 ub40: 40;
	__s64 sb33: 33;
	__u16 ub9: 9;
};
struct core_reloc_bitfields target_data = {
	.ub1 = 1, .ub2 = 2, .ub7 = 96, .sb4 = -7, .sb20 = -0x76543,
	.u32 = 0x80000000, .s32 = -0x76543, .ub40 = 0xabcdef1234ULL, .sb33 = -0x12345678LL,
	.ub9 = 0x1a5,
};
#define VALUE(f, v) const volatile long long value_##f = (v);
#else
#define VALUE(f, v)
/* bitfields become plain ints and vice versa, sizes change */
struct core_reloc_bitfields___changed {
	__u64 ub40;
	__u8 ub1: 1;
	__u8 ub2: 2;
	__u8 ub7;
	__s32 sb4: 4;
	__s64 sb20: 20;
	__u32 u32: 32;
	__s16 s32;
	__s64 sb33: 33;
	__u32 ub9: 12;
};
struct core_reloc_bitfields___changed *p;
#endif

#define L struct core_reloc_bitfields___changed
#define BF(f, v) \
	CHECK(f##_off, bpf_core_field_offset(L, f), EXPECT_SEMANTIC) \
	CHECK(f##_sz, bpf_core_field_size(L, f), EXPECT_SEMANTIC) \
	CHECK(f##_lshift, bpf_core_field_lshift(L, f), EXPECT_SEMANTIC) \
	CHECK(f##_rshift, bpf_core_field_rshift(L, f), EXPECT_SEMANTIC) \
	CHECK(f##_signed, bpf_core_field_signed(L, f), (v) < 0) \
	VALUE(f, v)
#define EXPECT_SEMANTIC (-0x7ead0002LL)
BF(ub1, 1)
BF(ub2, 2)
BF(ub7, 96)
BF(sb4, -7)
BF(sb20, -0x76543)
BF(u32, 0x80000000LL)
BF(s32, -0x76543)
BF(ub40, 0xabcdef1234LL)
BF(sb33, -0x12345678LL)
BF(ub9, 0x1a5)

/* the libbpf macro emits its five relocations in one program */
#ifndef TARGET
SEC("kprobe/probed") long probed(void *ctx)
{
	return BPF_CORE_READ_BITFIELD_PROBED(p, sb20);
}
#endif
