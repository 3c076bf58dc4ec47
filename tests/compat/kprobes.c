// kprobe__/kretprobe__ functions with BCC's extra arguments, syscall__ wrappers,
// generic pt_regs programs (attached from Python, e.g. uprobes), PT_REGS_* and
// user-space pointers (left alone), sockets through kernel pointer chains.
#include <uapi/linux/ptrace.h>
#include <net/sock.h>
#include <linux/fs.h>

struct val_t {
    u64 ts;
    u32 pid;
    u16 dport;
    u16 family;
    char name[32];
};

BPF_HASH(start, u32, struct val_t);
BPF_HASH(sizes, u32, u64);

int kprobe__do_sys_openat2(struct pt_regs *ctx, int dfd, const char __user *filename)
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    v.ts = bpf_ktime_get_ns();
    bpf_probe_read_user_str(&v.name, sizeof(v.name), filename);
    start.update(&pid, &v);
    return 0;
}

int kretprobe__do_sys_openat2(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    struct val_t *vp = start.lookup(&pid);
    if (vp == 0)
        return 0;
    vp->pid = PT_REGS_RC(ctx);
    start.delete(&pid);
    return 0;
}

int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    v.dport = sk->__sk_common.skc_dport;
    v.family = sk->__sk_common.skc_family;
    bpf_probe_read_kernel(&v.ts, sizeof(v.ts), &sk->__sk_common.skc_cookie);
    start.update(&pid, &v);
    return 0;
}

int kprobe__vfs_write(struct pt_regs *ctx, struct file *file, const char __user *buf,
                      size_t count)
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 size = count;
    struct dentry *de = file->f_path.dentry;
    struct qstr dn = de->d_name;
    char c0 = 0;
    bpf_probe_read_kernel(&c0, 1, dn.name);
    if (c0 == 0)
        size = de->d_inode->i_size;
    sizes.update(&pid, &size);
    return 0;
}

int syscall__execve(struct pt_regs *ctx, const char __user *filename)
{
    struct val_t v = {};
    u32 pid = bpf_get_current_pid_tgid();

    bpf_probe_read_user_str(v.name, sizeof(v.name), (void *)filename);
    start.update(&pid, &v);
    return 0;
}

int trace_readline_ret(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 rc = PT_REGS_RC(ctx);
    u64 arg = PT_REGS_PARM1(ctx);
    rc += arg;
    sizes.update(&pid, &rc);
    return 0;
}

int trace_entry_args(struct pt_regs *regs, void *a, long b)
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 x = b + (long)a + PT_REGS_PARM3(regs);
    sizes.update(&pid, &x);
    return 0;
}
