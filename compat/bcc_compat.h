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

/* BCC's packet dialect (bcc/proto.h programs: socket filters, tc).  A packet header
 * pointer is an offset from the packet's start (the cursor starts at 0); the translator
 * turns a read of header field F into bpf_dext_pkt(skb, (u64)hdr + BYTE, BIT, BITS)
 * and an assignment into bpf_dins_pkt(...) (BCC's names): bits counted from the most significant
 * bit of byte BYTE, network order.  Reads are LD_ABS/LD_IND (llvm.bpf.load.*: values
 * come back in host order), writes bpf_skb_store_bytes(). */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#ifndef bpf_ntohll
#define bpf_ntohll(x) __builtin_bswap64(x)
#define bpf_htonll(x) __builtin_bswap64(x)
#endif
#define MASK(_n) ((_n) < 64 ? (1ull << (_n)) - 1 : ((u64)-1LL))

static __always_inline u64 load_dword(void *skb, u64 off)
{
	return (load_word(skb, off) << 32) | load_word(skb, off + 4);
}

/* the smallest of 8/16/32/64 bits holding bits [bofs, bofs + bsz) */
#define __BCC_PKT_WIN(bofs, bsz) ((bofs) + (bsz) <= 8 ? 8 : (bofs) + (bsz) <= 16 ? 16 : \
				  (bofs) + (bsz) <= 32 ? 32 : 64)

static __always_inline u64 __bcc_pkt_load(void *skb, u64 off, int win)
{
	if (win == 8)
		return load_byte(skb, off);
	if (win == 16)
		return load_half(skb, off);
	if (win == 32)
		return load_word(skb, off);
	return load_dword(skb, off);
}

static __always_inline u64 bpf_dext_pkt(void *skb, u64 off, u64 bofs, u64 bsz)
{
	int win = __BCC_PKT_WIN(bofs, bsz);

	if (bofs + bsz > 64)
		return 0;
	if (bofs == 0 && bsz == win)
		return __bcc_pkt_load(skb, off, win);
	return (__bcc_pkt_load(skb, off, win) >> (win - (bofs + bsz))) & MASK(bsz);
}

static __always_inline void bpf_dins_pkt(void *skb, u64 off, u64 bofs, u64 bsz, u64 val)
{
	int win = __BCC_PKT_WIN(bofs, bsz);
	u64 v = val;

	if (bofs + bsz > 64)
		return;
	if (!(bofs == 0 && bsz == win)) {	/* keep the window's other bits */
		u64 shift = win - (bofs + bsz);
		v = __bcc_pkt_load(skb, off, win);
		v &= ~(MASK(bsz) << shift);
		v |= (val & MASK(bsz)) << shift;
	}
	if (win == 8) {
		u8 b = v;
		bpf_skb_store_bytes(skb, off, &b, 1, 0);
	} else if (win == 16) {
		u16 h = __builtin_bswap16(v);
		bpf_skb_store_bytes(skb, off, &h, 2, 0);
	} else if (win == 32) {
		u32 w = __builtin_bswap32(v);
		bpf_skb_store_bytes(skb, off, &w, 4, 0);
	} else {
		u64 d = __builtin_bswap64(v);
		bpf_skb_store_bytes(skb, off, &d, 8, 0);
	}
}

/* checksum updates of incr_cksum_l3/l4() (the translator passes the skb and the
 * field's size in the flags' low bits: values are converted to network order) */
static __always_inline int __bcc_csum_value(u64 v, u64 flags, u64 *out)
{
	switch (flags & 0xf) {
	case 2: *out = __builtin_bswap16(v); return 1;
	case 4: *out = __builtin_bswap32(v); return 1;
	case 8: *out = __builtin_bswap64(v); return 1;
	}
	*out = v;
	return 0;
}

static __always_inline int bpf_l3_csum_replace_(void *skb, u64 off, u64 from, u64 to,
						u64 flags)
{
	__bcc_csum_value(from, flags, &from);
	__bcc_csum_value(to, flags, &to);
	return bpf_l3_csum_replace(skb, off, from, to, flags);
}

static __always_inline int bpf_l4_csum_replace_(void *skb, u64 off, u64 from, u64 to,
						u64 flags)
{
	__bcc_csum_value(from, flags, &from);
	__bcc_csum_value(to, flags, &to);
	return bpf_l4_csum_replace(skb, off, from, to, flags);
}

#endif /* __BCC_COMPAT_H__ */
