/* CO-RE C translated from BCC dialect by bcc_core.compat: do not edit */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "bcc_compat.h"
# 1 "kprobes.c"







struct val_t {
    u64 ts;
    u32 pid;
    u16 dport;
    u16 family;
    char name[32];
};

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, struct val_t); } start SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } sizes SEC(".maps");

SEC("kprobe/do_sys_openat2") int BPF_KPROBE(kprobe__do_sys_openat2, int dfd, const char *filename) 
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    v.ts = bpf_ktime_get_ns();
    bpf_probe_read_user_str(&v.name, sizeof(v.name), filename);
    bpf_map_update_elem(&start, &pid, &v, BPF_ANY);
    return 0;
}

SEC("kretprobe/do_sys_openat2") int kretprobe__do_sys_openat2(struct pt_regs *ctx) 
{
    u32 pid = bpf_get_current_pid_tgid();
    struct val_t *vp = bpf_map_lookup_elem(&start, &pid);
    if (vp == 0)
        return 0;
    vp->pid = PT_REGS_RC(ctx);
    bpf_map_delete_elem(&start, &pid);
    return 0;
}

SEC("kprobe/tcp_v4_connect") int BPF_KPROBE(kprobe__tcp_v4_connect, struct sock *sk) 
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    v.dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
    v.family = BPF_CORE_READ(sk, __sk_common.skc_family);
    bpf_core_read(&v.ts, sizeof(v.ts), &sk->__sk_common.skc_cookie);
    bpf_map_update_elem(&start, &pid, &v, BPF_ANY);
    return 0;
}

SEC("kprobe/vfs_write") int BPF_KPROBE(kprobe__vfs_write, struct file *file, const char *buf, size_t count) 

{
    u32 pid = bpf_get_current_pid_tgid();
    u64 size = count;
    struct dentry *de = BPF_CORE_READ(file, f_path.dentry);
    struct qstr dn = BPF_CORE_READ(de, d_name);
    char c0 = 0;
    bpf_probe_read_kernel(&c0, 1, dn.name);
    if (c0 == 0)
        size = BPF_CORE_READ(de, d_inode, i_size);
    bpf_map_update_elem(&sizes, &pid, &size, BPF_ANY);
    return 0;
}

SEC("ksyscall/execve") int BPF_KSYSCALL(syscall__execve, const char *filename) 
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    bpf_probe_read_user_str(v.name, sizeof(v.name), (void *)filename);
    bpf_map_update_elem(&start, &pid, &v, BPF_ANY);
    return 0;
}

SEC("kprobe") int trace_readline_ret(struct pt_regs *ctx) 
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 rc = PT_REGS_RC(ctx);
    u64 arg = PT_REGS_PARM1(ctx);
    rc += arg;
    bpf_map_update_elem(&sizes, &pid, &rc, BPF_ANY);
    return 0;
}

SEC("kprobe") int BPF_KPROBE(trace_entry_args, void *a, long b) 
{ struct pt_regs *regs = ctx;
    u32 pid = bpf_get_current_pid_tgid();
    u64 x = b + (long)a + PT_REGS_PARM3(regs);
    bpf_map_update_elem(&sizes, &pid, &x, BPF_ANY);
    return 0;
}






char _license[] __attribute__((section("license"), used)) = "GPL";
