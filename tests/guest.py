"""Boot another kernel (Debian's 6.1 by default) in a qemu guest with virtme-ng and run a
shell script in it: the kernel matrix for what this host cannot do (kprobes, fentry,
real BCC).  The guest sees the host's filesystem read-only, except /tmp (``--rwdir``),
where the script, its output and its exit status live.

    python tests/guest.py                       # why the guest cannot boot, or "ok"
    python tests/guest.py -- uname -a           # boot, run a command, print its output
    python tests/guest.py --pytest [ARGS...]    # run tests/guest_tests in the guest

Environment: BCC_CORE_GUEST=0 disables it; BCC_CORE_GUEST_KERNEL=/boot/vmlinuz-... picks
the kernel; BCC_CORE_GUEST_VNG=/path/to/vng picks virtme-ng.  Every BCC_CORE_GUEST_*
variable is exported into the guest as well (the guest tests read theirs there).

Needs: virtme-ng (``pip install virtme-ng``: vng and virtme-run), qemu-system-x86,
busybox-static and a kernel image in /boot (``linux-image-6.1.0-50-amd64-unsigned``).
No KVM is assumed (``--disable-kvm``: TCG emulation; about 30 s to boot).
"""
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KERNEL_GLOB = "/boot/vmlinuz-6.1.*"
DEFAULT_TIMEOUT = 900


def _version_key(path):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


def find_kernel():
    """The guest kernel image: $BCC_CORE_GUEST_KERNEL, else the newest /boot/vmlinuz-6.1.*."""
    k = os.environ.get("BCC_CORE_GUEST_KERNEL")
    if k:
        return k if os.path.exists(k) else None
    found = sorted(glob.glob(KERNEL_GLOB), key=_version_key)
    return found[-1] if found else None


def find_vng(path=None):
    """vng, from PATH or next to this interpreter (pip's script directory, which pyenv
    keeps off PATH), or $BCC_CORE_GUEST_VNG.  virtme-run must sit beside it: vng runs
    it by name."""
    if os.environ.get("BCC_CORE_GUEST_VNG"):
        cands = [os.environ["BCC_CORE_GUEST_VNG"]]
    else:
        cands = [shutil.which("vng", path=path)]
    if path is None and not os.environ.get("BCC_CORE_GUEST_VNG"):
        bindir = os.path.dirname(os.path.realpath(sys.executable))
        cands += [os.path.join(bindir, "vng"), os.path.join(os.path.dirname(sys.executable), "vng"),
                  os.path.expanduser("~/.local/bin/vng")]
    for c in cands:
        if c and os.access(c, os.X_OK) and os.access(
                os.path.join(os.path.dirname(c), "virtme-run"), os.X_OK):
            return c
    return None


def unavailable_reason(path=None):
    """None when a guest can boot here, else why not (for pytest.skip)."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return "the guest kernel matrix needs an x86_64 Linux host"
    if os.environ.get("BCC_CORE_GUEST", "1") == "0":
        return "the guest kernel matrix is disabled (BCC_CORE_GUEST=0)"
    if os.geteuid() != 0:
        return "the guest runs BPF as root: run the tests as root"
    if find_vng(path) is None:
        return ("virtme-ng is not installed (no vng with virtme-run beside it on PATH or "
                "next to %s): python3 -m pip install virtme-ng" % sys.executable)
    if shutil.which("qemu-system-x86_64", path=path) is None:
        return "qemu-system-x86_64 is not installed: apt-get install qemu-system-x86"
    if shutil.which("busybox", path=path) is None and not os.path.exists("/bin/busybox"):
        return "busybox is not installed (virtme-ng's initramfs needs it): " \
               "apt-get install busybox-static"
    if find_kernel() is None:
        return ("no guest kernel image (%s): apt-get install "
                "linux-image-6.1.0-50-amd64-unsigned" % (os.environ.get(
                    "BCC_CORE_GUEST_KERNEL") or KERNEL_GLOB))
    if not os.path.isdir("/tmp") or not os.access("/tmp", os.W_OK):
        return "/tmp is not writable (the guest's shared scratch directory)"
    return None


class GuestResult:
    """What one boot gave: ``returncode`` of the script (None if it never finished:
    boot failure, guest crash or timeout), ``output`` (the script's stdout+stderr),
    ``console`` (vng's own output: boot messages), ``seconds`` (wall time of the boot),
    ``workdir`` (the shared directory in /tmp)."""

    def __init__(self, returncode, output, console, seconds, workdir, timed_out=False):
        self.returncode, self.output, self.console = returncode, output, console
        self.seconds, self.workdir, self.timed_out = seconds, workdir, timed_out

    @property
    def ok(self):
        return self.returncode == 0

    def describe(self, tail=40):
        """A failure report: exit status, the script's output and the console's tail."""
        out = ["guest script %s after %.1f s" % (
            "timed out" if self.timed_out else "never finished" if self.returncode is None
            else "exited %d" % self.returncode, self.seconds)]
        if self.output:
            out += ["--- output (tail) ---"] + self.output.splitlines()[-tail:]
        if self.console and (self.returncode is None or not self.output):
            out += ["--- vng console (tail) ---"] + self.console.splitlines()[-tail:]
        return "\n".join(out)


def kernel_release(kernel):
    """The release of a /boot/vmlinuz-<release> image."""
    return os.path.basename(kernel).split("-", 1)[1]


def headers_tar(release, workdir):
    """Pack the guest kernel's headers (what BCC compiles against) into ``workdir`` so
    the guest can unpack them into memory: the guest's root is 9p without a page cache,
    and BCC reads thousands of header files at every start (a third of its start-up
    there).  Returns (tar path, [header directories]) or (None, []) without headers."""
    build = os.path.realpath("/lib/modules/%s/build" % release)
    if not os.path.isdir(build):
        return None, []
    dirs = [build]
    common = re.sub(r"-[^-]+$", "-common", build)      # Debian's arch-independent half
    if common != build and os.path.isdir(common):
        dirs.append(common)
    path = os.path.join(workdir, "headers.tar")
    subprocess.run(["tar", "-C", os.path.dirname(build), "-cf", path] +
                   [os.path.basename(d) for d in dirs], check=True)
    return path, dirs


def headers_in_memory(tar, hdirs):
    """Guest sh commands: unpack headers_tar()'s tar into a tmpfs and bind-mount the
    directories over their 9p copies, then delete the tar."""
    return ("mkdir -p /run/bcc-headers && mount -t tmpfs tmpfs /run/bcc-headers && "
            "tar -C /run/bcc-headers -xf %s && %s && rm -f %s" % (
                shlex.quote(tar), " && ".join(
                    "mount --bind /run/bcc-headers/%s %s" % (
                        shlex.quote(os.path.basename(d)), shlex.quote(d)) for d in hdirs),
                shlex.quote(tar)))


def make_workdir(prefix="bcc-core-guest-"):
    """A fresh directory in /tmp, writable by the guest."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def run(script, workdir=None, timeout=DEFAULT_TIMEOUT, cpus=2, memory="4G", kernel=None,
        env=None, verbose=False, bcc_headers=True):
    """Boot the guest once and run ``script`` (sh text) in it, as root, from the repo.

    ``env`` is exported in the guest (the host's environment does not reach it).  The
    script's output goes to ``workdir``/output.log and its status to ``workdir``/status;
    returns a :class:`GuestResult`.  Raises RuntimeError when the guest cannot boot here
    (see :func:`unavailable_reason`)."""
    why = unavailable_reason()
    if why:
        raise RuntimeError(why)
    vng = find_vng()
    kernel = kernel or find_kernel()
    workdir = workdir or make_workdir()
    out_path = os.path.join(workdir, "output.log")
    status_path = os.path.join(workdir, "status")
    for p in (out_path, status_path):
        if os.path.exists(p):
            os.unlink(p)
    exports = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "BCC_CORE_GUEST_DIR": workdir}
    # the host's BCC_CORE_GUEST_* settings reach the guest's tests (which tests run,
    # e.g. BCC_CORE_GUEST_BCC_TOOLS); the host-side ones are harmless there
    exports.update({k: v for k, v in os.environ.items()
                    if k.startswith("BCC_CORE_GUEST_") and k not in exports})
    exports.update(env or {})
    lines = ["#!/bin/sh", "# generated by tests/guest.py"]
    lines += ["export %s=%s" % (k, shlex.quote(str(v))) for k, v in exports.items()]
    lines += [
        # bcc_core mounts tracefs itself; BCC and bpftool want debugfs/bpffs too
        "mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null",
        "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null",
        "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null",
    ]
    stamp = "echo \"[guest $(cut -d' ' -f1 /proc/uptime) s] %s\""
    pre = [stamp % "booted"]
    tar, hdirs = headers_tar(kernel_release(kernel), workdir) if bcc_headers else (None, [])
    if tar:     # BCC's kernel headers in guest memory (bind-mounted over the 9p copies)
        pre += [headers_in_memory(tar, hdirs), stamp % "kernel headers in memory"]
    lines += [
        "cd %s" % shlex.quote(REPO),
        "( %s ) > %s 2>&1 < /dev/null" % ("\n".join([""] + pre + [script, ""]),
                                           shlex.quote(out_path)),
        "echo $? > %s" % shlex.quote(status_path + ".tmp"),
        "mv %s %s" % (shlex.quote(status_path + ".tmp"), shlex.quote(status_path)),
        "sync",
    ]
    script_path = os.path.join(workdir, "run.sh")
    with open(script_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(script_path, 0o755)
    # Single-threaded TCG: with one host thread per vCPU (qemu's default), a vCPU can
    # keep running a stale translation of kernel text that another vCPU has just
    # patched back.  Attaching or detaching a tracepoint patches its static key in place
    # (int3 first, text_poke_bp); when the stale copy still holds the int3 -- seen at
    # __schedule+0x1bc after runqslower detached sched_switch -- the kernel's int3
    # handler finds the breakpoint gone, rewinds, and both vCPUs loop on it forever:
    # the guest "hangs" with no message.  Round-robin vCPUs on one thread never do.
    cmd = [vng, "--run", kernel, "--disable-kvm", "--user", "root", "--cpus", str(cpus),
           "--memory", memory, "--rwdir", "/tmp",
           "--qemu-opts=-accel tcg,thread=single",
           "--exec", "sh " + shlex.quote(script_path)]
    path = os.path.dirname(vng) + os.pathsep + os.environ.get("PATH", "")
    henv = dict(os.environ, PATH=path)
    if verbose:
        print("guest: %s" % " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=workdir, env=henv,
                         start_new_session=True)
    timed_out = False
    try:
        console, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)   # vng, virtme-run and the qemu they started
        except ProcessLookupError:
            pass
        console, _ = p.communicate()
    seconds = time.monotonic() - t0
    if tar and os.path.exists(tar):
        os.unlink(tar)
    console = console.decode("utf-8", "replace")
    try:        # boot and kernel messages (a stall or oops shows here), kept for later
        with open(os.path.join(workdir, "console.log"), "w") as f:
            f.write(console)
    except OSError:
        pass
    try:
        with open(status_path) as f:
            rc = int(f.read().strip())
    except (OSError, ValueError):
        rc = None
    try:
        with open(out_path, encoding="utf-8", errors="replace") as f:
            output = f.read()
    except OSError:
        output = ""
    return GuestResult(rc, output, console, seconds, workdir, timed_out)


def pytest_script(args=(), junit=None, python=None, budget=None):
    """The guest-side command for running tests/guest_tests with this interpreter;
    ``budget``: seconds since the guest's boot by which the session must be done (see
    tests/guest_tests/guestlib.py)."""
    python = python or sys.executable
    # --capture=sys: fd capture keeps an unlinked temp file, which the guest's shared
    # /tmp (9p) cannot truncate; hypothesis and benchmark plugins only slow start-up;
    # guestlib is the session's plugin (test order, timing lines, the time budget, and
    # the traceback of a test still running when the budget ends).  No
    # faulthandler_timeout: its watchdog thread walks the frames of running threads
    # without the GIL, and CPython 3.11 can crash doing so (python/cpython#116008): a
    # slow BCC start (> 300 s when six tools compile at once) then killed the session
    # with SIGSEGV mid-dump, and every test after it "did not run in the guest".
    cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
           "-p", "no:benchmark", "-p", "guestlib", "--capture=sys", "-rA", "-v",
           "-o", "console_output_style=classic"]
    if junit:
        cmd += ["--junitxml", junit]
    cmd += list(args) or [os.path.join(HERE, "guest_tests")]
    env = "PYTHONPATH=%s " % shlex.quote(os.path.join(HERE, "guest_tests"))
    if budget:
        env += "BCC_CORE_GUEST_BUDGET=%d " % budget
    return env + " ".join(shlex.quote(c) for c in cmd)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    why = unavailable_reason()
    if not argv:
        print(why or "ok: %s, kernel %s" % (find_vng(), find_kernel()))
        return 1 if why else 0
    if why:
        print("cannot boot the guest: %s" % why, file=sys.stderr)
        return 2
    if argv[0] == "--pytest":
        script = pytest_script(argv[1:])
    else:
        if argv[0] == "--":
            argv = argv[1:]
        script = " ".join(shlex.quote(a) for a in argv)
    r = run(script, verbose=True)
    sys.stdout.write(r.output)
    print("guest: %s" % r.describe(tail=0).splitlines()[0], file=sys.stderr)
    if r.returncode is None:
        print(r.describe(), file=sys.stderr)
        return 3
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
