/* Shared by the CO-RE relocation tests (tests/test_relo.py).
 *
 * Every test file is compiled twice: normally (the "local" BPF object, whose CO-RE
 * relocations are under test) and with -DTARGET (a made-up "kernel": its BTF is the
 * relocation target, and its .rodata holds the expected values, computed by the
 * compiler from the target types with offsetof/sizeof/enum constants).
 *
 * CHECK(name, local_expr, target_expr): the local build gets a program in section
 * "kprobe/name" whose only CO-RE relocation is the one in local_expr; the target build
 * gets `expect_name = target_expr`.  EXPECT_POISON means "the instruction must be
 * poisoned".
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define EXPECT_POISON (-0x7ead0001LL)
#define OFF(T, f) __builtin_offsetof(T, f)
#define FSIZE(T, f) sizeof(((T *)0)->f)
#define FIELD_INFO(T, f, kind) __builtin_preserve_field_info(((T *)0)->f, kind)
#define bpf_core_field_signed(T, f) FIELD_INFO(T, f, BPF_FIELD_SIGNED)
#define bpf_core_field_lshift(T, f) FIELD_INFO(T, f, BPF_FIELD_LSHIFT_U64)
#define bpf_core_field_rshift(T, f) FIELD_INFO(T, f, BPF_FIELD_RSHIFT_U64)

#ifdef TARGET
#define CHECK(name, local_expr, target_expr) \
	const volatile long long expect_##name = (long long)(target_expr);
/* type ids: the target build's own type_id_local relocation names the target id */
#define CHECK_TYPE_ID(name, local_expr, target_type) \
	SEC("kprobe/tid_" #name) long tid_##name(void *ctx) \
	{ return bpf_core_type_id_local(target_type); }
#else
#define CHECK(name, local_expr, target_expr) \
	SEC("kprobe/" #name) long check_##name(void *ctx) { return (local_expr); }
#define CHECK_TYPE_ID(name, local_expr, target_type) CHECK(name, local_expr, 0)
#endif

char LICENSE[] SEC("license") = "GPL";
