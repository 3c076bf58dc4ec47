/* SPDX-License-Identifier: Apache-2.0 */
/* Support definitions for C translated from BCC's dialect by bcc_core.compat.
 * Included after vmlinux.h and libbpf's bpf_helpers.h, bpf_tracing.h, bpf_core_read.h. */
#ifndef __BCC_COMPAT_H__
#define __BCC_COMPAT_H__

#ifndef offsetof
#define offsetof(TYPE, MEMBER) __builtin_offsetof(TYPE, MEMBER)
#endif

#ifndef PERF_MAX_STACK_DEPTH
#define PERF_MAX_STACK_DEPTH 127	/* BPF_STACK_TRACE values: u64 ip[127] */
#endif

/* BPF_KPROBE with a sixth argument (libbpf before 1.2 stops at five) */
#if defined(__TARGET_ARCH_x86) && !defined(PT_REGS_PARM6)
#define PT_REGS_PARM6(x) (((const struct pt_regs *)(x))->r9)
#endif
#ifndef ___bpf_kprobe_args6
#define ___bpf_kprobe_args6(x, args...) ___bpf_kprobe_args5(args), (void *)PT_REGS_PARM6(ctx)
#endif

/* One read of the object at ptr, a kernel address (field offsets in the address
 * expression are CO-RE relocated: vmlinux.h records have preserve_access_index). */
#define __bcc_read(ptr) ({						\
	typeof(*(ptr)) __bcc_r;						\
	bpf_probe_read_kernel(&__bcc_r, sizeof(__bcc_r), (ptr));	\
	__bcc_r;							\
})

/* map.increment(key[, inc]) */
#define __bcc_map_increment(map, k, inc) ({				\
	typeof(*(map)->key) __bcc_k = (k);				\
	typeof((map)->value) __bcc_v = bpf_map_lookup_elem(map, &__bcc_k); \
	if (__bcc_v) {							\
		__sync_fetch_and_add(__bcc_v, (inc));			\
	} else {							\
		typeof(*(map)->value) __bcc_z = (inc);			\
		if (bpf_map_update_elem(map, &__bcc_k, &__bcc_z, BPF_NOEXIST)) { \
			__bcc_v = bpf_map_lookup_elem(map, &__bcc_k);	\
			if (__bcc_v)					\
				__sync_fetch_and_add(__bcc_v, (inc));	\
		}							\
	}								\
})

/* map.increment on per-CPU maps: no atomics needed */
#define __bcc_map_increment_percpu(map, k, inc) ({			\
	typeof(*(map)->key) __bcc_k = (k);				\
	typeof((map)->value) __bcc_v = bpf_map_lookup_elem(map, &__bcc_k); \
	if (__bcc_v) {							\
		*__bcc_v += (inc);					\
	} else {							\
		typeof(*(map)->value) __bcc_z = (inc);			\
		bpf_map_update_elem(map, &__bcc_k, &__bcc_z, BPF_NOEXIST); \
	}								\
})

/* map.lookup_or_try_init(&key, &zero) */
#define __bcc_lookup_or_try_init(map, keyp, zerop) ({			\
	typeof((map)->value) __bcc_v = bpf_map_lookup_elem(map, keyp);	\
	if (!__bcc_v) {							\
		bpf_map_update_elem(map, keyp, zerop, BPF_NOEXIST);	\
		__bcc_v = bpf_map_lookup_elem(map, keyp);		\
	}								\
	__bcc_v;							\
})

/* map.lookup_or_init(&key, &zero): as BCC, the program returns 0 when the element can
 * be neither found nor created, so the result is never NULL */
#define __bcc_lookup_or_init(map, keyp, zerop) ({			\
	typeof((map)->value) __bcc_vi = __bcc_lookup_or_try_init(map, keyp, zerop); \
	if (!__bcc_vi)							\
		return 0;						\
	__bcc_vi;							\
})

#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))

/* BCC's log2 helpers (used with BPF_HISTOGRAM) */
static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline unsigned int bpf_log2l(unsigned long v)
{
	unsigned int hi = v >> 32;

	if (hi)
		return bpf_log2(hi) + 32 + 1;
	else
		return bpf_log2(v) + 1;
}

/* __data_loc fields of tracepoints (ctx is `args` in TRACEPOINT_PROBE) */
#define TP_DATA_LOC_READ_CONST(dst, field, length)			\
	bpf_probe_read_kernel((void *)(dst), (length),			\
		(char *)args + (args->__data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ(dst, field)					\
	bpf_probe_read_kernel((void *)(dst), (args->__data_loc_##field >> 16), \
		(char *)args + (args->__data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ_STR(dst, field, length)			\
	bpf_probe_read_kernel_str((void *)(dst), (length),		\
		(char *)args + (args->__data_loc_##field & 0xFFFF))

#endif /* __BCC_COMPAT_H__ */
