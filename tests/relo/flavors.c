/* flavors (___suffix), nesting, anonymous struct/union embedding */
#include "core_test.h"

#ifdef TARGET
struct core_reloc_flavors { int a; int b; int c; };
struct core_reloc_nesting_substruct { int a; };
union core_reloc_nesting_subunion { int b; };
struct core_reloc_nesting {
	union { struct core_reloc_nesting_substruct a; } a;
	struct { union core_reloc_nesting_subunion b; } b;
};
/* target embeds fields in anonymous structs/unions */
struct core_reloc_anon {
	long pad;
	struct {
		int x;
		union { int y; char yy[3]; };
		struct { struct { long z; }; };
	};
	int w;
};
struct core_reloc_flavors t1; struct core_reloc_nesting t2; struct core_reloc_anon t3;
#else
/* a flavor of the target struct, different layout, 'b' inside an anonymous struct */
struct core_reloc_flavors___reversed {
	unsigned int c;
	struct { unsigned int b; };
	unsigned long a;
};
/* deeper, with padding fields */
struct core_reloc_nesting___extra {
	int pad1;
	struct {
		int pad2;
		union {
			long pad3;
			struct { long pad4; int a; };	/* a.a.a found inside an anonymous struct */
		} a;
	} a;
	int pad5;
	union { long pad6; struct { int pad7; int b; } b; } b;	/* struct vs union: fine */
};
/* only the last ___suffix is stripped: essential name core_reloc_flavors___x */
struct core_reloc_flavors___x___y { int a; };
struct core_reloc_anon { int x; int y; long z; long w_pad; int w; };
#endif

CHECK(flav_a, bpf_core_field_offset(struct core_reloc_flavors___reversed, a),
      OFF(struct core_reloc_flavors, a))
CHECK(flav_b, bpf_core_field_offset(struct core_reloc_flavors___reversed, b),
      OFF(struct core_reloc_flavors, b))
CHECK(flav_c, bpf_core_field_offset(struct core_reloc_flavors___reversed, c),
      OFF(struct core_reloc_flavors, c))
CHECK(flav_a_sz, bpf_core_field_size(struct core_reloc_flavors___reversed, a),
      FSIZE(struct core_reloc_flavors, a))
CHECK(nest_aaa, bpf_core_field_offset(struct core_reloc_nesting___extra, a.a.a),
      OFF(struct core_reloc_nesting, a.a.a))
CHECK(nest_bbb, bpf_core_field_offset(struct core_reloc_nesting___extra, b.b.b),
      OFF(struct core_reloc_nesting, b.b.b))
CHECK(flav_double, bpf_core_field_offset(struct core_reloc_flavors___x___y, a), EXPECT_POISON)
CHECK(anon_x, bpf_core_field_offset(struct core_reloc_anon, x), OFF(struct core_reloc_anon, x))
CHECK(anon_y, bpf_core_field_offset(struct core_reloc_anon, y), OFF(struct core_reloc_anon, y))
CHECK(anon_z, bpf_core_field_offset(struct core_reloc_anon, z), OFF(struct core_reloc_anon, z))
CHECK(anon_w, bpf_core_field_offset(struct core_reloc_anon, w), OFF(struct core_reloc_anon, w))
CHECK(anon_y_sz, bpf_core_field_size(struct core_reloc_anon, y), FSIZE(struct core_reloc_anon, y))
/* a load through a preserve_access_index pointer: byte_off on the LDX itself */
#ifndef TARGET
struct core_reloc_anon___pai { int x; int y; long z; long w_pad; int w; }
	__attribute__((preserve_access_index));
#endif
CHECK(anon_ldx_w, ((struct core_reloc_anon___pai *)ctx)->w, OFF(struct core_reloc_anon, w))
