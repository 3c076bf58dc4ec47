/* enum and enum64 value relocations */
#include "core_test.h"

#ifdef TARGET
enum named_enum { NAMED_ENUM_VAL1 = 1, NAMED_ENUM_VAL2 = 2, NAMED_ENUM_VAL3 = 3 };
typedef enum { ANON_ENUM_VAL1 = 0x10, ANON_ENUM_VAL2 = 0x20, ANON_ENUM_VAL3 = 0x30 } anon_enum;
enum signed_enum { SIGNED_NEG = -5, SIGNED_POS = 7 };
enum named_enum64 {
	NAMED_ENUM64_VAL1 = 0x1ffffffffULL,
	NAMED_ENUM64_VAL2 = 0x2ffffffffULL,
	NAMED_ENUM64_VAL3 = 0x3ffffffffULL,
};
enum named_senum64 { SENUM64_NEG = -0x100000000LL, SENUM64_POS = 0x100000000LL };
/* enum64 in the target for what is a 32-bit enum locally */
enum grown_enum { GROWN_SMALL = 3, GROWN_BIG = 0x500000000ULL };
enum named_enum t1; anon_enum t2; enum signed_enum t3; enum named_enum64 t4;
enum named_senum64 t5; enum grown_enum t6;
#else
enum named_enum___flavor { NAMED_ENUM_VAL1 = 100, NAMED_ENUM_VAL2___flav = 200,
			   NAMED_ENUM_VAL4 = 400 };
typedef enum { ANON_ENUM_VAL1 = 0x1, ANON_ENUM_VAL3 = 0x3, ANON_ENUM_VAL4 = 0x4 } anon_enum;
enum signed_enum { SIGNED_NEG = -1, SIGNED_POS = 1 };
enum named_enum64___x {
	NAMED_ENUM64_VAL1 = 0x1ffffffffULL,
	NAMED_ENUM64_VAL3 = 0x3ffffffffULL,
	NAMED_ENUM64_VAL4 = 0x4ffffffffULL,
};
enum named_senum64 { SENUM64_NEG = -0x200000000LL, SENUM64_POS = 0x200000000LL };
enum grown_enum { GROWN_SMALL = 1, GROWN_BIG = 2 };
#endif

#define ENUM_CHECKS(n, T, V, expect) \
	CHECK(exists_##n, bpf_core_enum_value_exists(T, V), (expect) != EXPECT_POISON) \
	CHECK(value_##n, bpf_core_enum_value(T, V), expect)
ENUM_CHECKS(named1, enum named_enum___flavor, NAMED_ENUM_VAL1, NAMED_ENUM_VAL1)
ENUM_CHECKS(named2, enum named_enum___flavor, NAMED_ENUM_VAL2___flav, NAMED_ENUM_VAL2)
ENUM_CHECKS(named4, enum named_enum___flavor, NAMED_ENUM_VAL4, EXPECT_POISON)
ENUM_CHECKS(anon1, anon_enum, ANON_ENUM_VAL1, ANON_ENUM_VAL1)
ENUM_CHECKS(anon3, anon_enum, ANON_ENUM_VAL3, ANON_ENUM_VAL3)
ENUM_CHECKS(anon4, anon_enum, ANON_ENUM_VAL4, EXPECT_POISON)
ENUM_CHECKS(neg, enum signed_enum, SIGNED_NEG, SIGNED_NEG)
ENUM_CHECKS(pos, enum signed_enum, SIGNED_POS, SIGNED_POS)
ENUM_CHECKS(e64_1, enum named_enum64___x, NAMED_ENUM64_VAL1, NAMED_ENUM64_VAL1)
ENUM_CHECKS(e64_3, enum named_enum64___x, NAMED_ENUM64_VAL3, NAMED_ENUM64_VAL3)
ENUM_CHECKS(e64_4, enum named_enum64___x, NAMED_ENUM64_VAL4, EXPECT_POISON)
ENUM_CHECKS(se64_neg, enum named_senum64, SENUM64_NEG, SENUM64_NEG)
ENUM_CHECKS(se64_pos, enum named_senum64, SENUM64_POS, SENUM64_POS)
ENUM_CHECKS(grown_small, enum grown_enum, GROWN_SMALL, GROWN_SMALL)
ENUM_CHECKS(grown_big, enum grown_enum, GROWN_BIG, GROWN_BIG)
