// SPDX-License-Identifier: Apache-2.0
// opensnoop: trace open()/openat()/openat2() through the syscall tracepoints.
// CO-RE: compiled once, relocated by bcc-core at load time.  Filters are read-only
// globals set before load (no source rewriting).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define NAME_MAX 255
#define MAX_ENTRIES 32

enum event_type { EVENT_ENTRY, EVENT_END };

/* same layout as BCC's struct data_t (with FULLPATH and the extended member) */
struct data_t {
	u64 id;
	u64 ts;
	u32 uid;
	int ret;
	char comm[TASK_COMM_LEN];
	enum event_type type;
	char name[NAME_MAX];
	int flags;
};

struct args_t {
	const char *fname;
	int flags;
};

const volatile pid_t targ_pid = 0;
const volatile pid_t targ_tid = 0;
const volatile u32 targ_uid = 0;
const volatile bool filter_uid = false;
const volatile int flags_mask = 0;       /* -f: only calls with one of these flags */
const volatile bool full_path = false;   /* -F */
const volatile bool failed_only = false; /* -x */
const volatile bool filter_cgroup = false;
const volatile bool filter_mntns = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

/* --cgroupmap / --mntnsmap: BCC's pinned filter maps, reused by fd at load time */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, u64);
} cgroupset SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, u32);
} mount_ns_set SEC(".maps");

/* a per-CPU scratch event: struct data_t is too big for the BPF stack with room to spare */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct data_t);
} scratch SEC(".maps");

static __always_inline bool container_filtered(void)
{
	if (filter_cgroup) {
		u64 cg = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&cgroupset, &cg))
			return true;
	}
	if (filter_mntns) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		u64 ns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
		if (!bpf_map_lookup_elem(&mount_ns_set, &ns))
			return true;
	}
	return false;
}

static __always_inline int trace_enter(const char *fname, int flags)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = id;

	if (targ_tid) {
		if (tid != targ_tid)
			return 0;
	} else if (targ_pid && tgid != targ_pid) {
		return 0;
	}
	if (filter_uid && (u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (flags_mask && !(flags & flags_mask))
		return 0;
	if (container_filtered())
		return 0;
	struct args_t args = { .fname = fname, .flags = flags };
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int trace_exit(void *ctx, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, zero = 0;
	struct args_t *ap;
	struct data_t *d;

	ap = bpf_map_lookup_elem(&start, &tid);
	if (!ap)
		return 0;
	if (failed_only && ret >= 0)
		goto cleanup;
	d = bpf_map_lookup_elem(&scratch, &zero);
	if (!d)
		goto cleanup;
	d->id = id;
	d->ts = bpf_ktime_get_ns() / 1000;
	d->uid = bpf_get_current_uid_gid();
	d->ret = ret;
	d->flags = ap->flags;
	bpf_get_current_comm(d->comm, sizeof(d->comm));
	bpf_probe_read_user_str(d->name, sizeof(d->name), ap->fname);
	if (full_path) {
		d->type = EVENT_ENTRY;
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, d, sizeof(*d));
		if (d->name[0] != '/') {
			struct task_struct *task = (struct task_struct *)bpf_get_current_task();
			struct dentry *dentry = BPF_CORE_READ(task, fs, pwd.dentry);

			for (int i = 1; i < MAX_ENTRIES; i++) {
				const unsigned char *nm = BPF_CORE_READ(dentry, d_name.name);
				struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

				bpf_probe_read_kernel_str(d->name, sizeof(d->name), nm);
				d->type = EVENT_ENTRY;
				bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, d, sizeof(*d));
				if (dentry == parent)
					break;
				dentry = parent;
			}
		}
		d->type = EVENT_END;
	} else {
		d->type = EVENT_ENTRY;
	}
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, d, sizeof(*d));
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tracepoint__syscalls__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return trace_enter((const char *)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return trace_enter((const char *)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tracepoint__syscalls__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return trace_enter((const char *)ctx->args[1], (int)how.flags);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
