"""Run BCC 0.26's networking examples (``examples/networking/`` of a BCC source tree)
under BCC or under bcc-core (imports changed, nothing else), each in network namespaces
and veth pairs made here, with traffic made here; tabulate what each one did.

    python3 tests/bcc_net.py --src BCC_SRC -v                   # bcc-core
    /usr/bin/python3 tests/bcc_net.py --src BCC_SRC --bcc -v    # BCC itself (python3-bpfcc)
    python3 tests/bcc_net.py --src BCC_SRC --only xdp_drop_count,simple_tc --json out.json
    python3 tests/bcc_net.py --table BCC.json CORE.json [BCC_GUEST.json CORE_GUEST.json]

Every example runs in a fresh namespace ``M`` (``ip netns exec``) beside a peer
namespace ``P``: veth_a (M, 10.9.0.1/24) -- veth_b (P, 10.9.0.2/24), and veth_c (M) --
veth_d (P) with no address.  No traffic leaves the machine.  The examples that build
their own namespaces (pyroute2's NetNS: neighbor_sharing, vlan_learning) make them
beside ours and remove them when they end.  Each scenario starts the example, waits for
the line it prints when ready, makes its traffic (ping, UDP, HTTP, DNS), stops it as a
user would (Ctrl-C, or Enter at its prompt), and checks what it printed and what
happened to the packets (dropped, redirected to the other veth, answered).

Both runs use the same pyroute2 (Debian's python3-pyroute2: the examples need its
IPDB, which newer releases dropped); bcc-core's is put first on PYTHONPATH.  Verdicts:
``ok``, ``FAIL`` (ran, wrong result), ``ERROR`` (did not run), ``needs`` (this machine
lacks what the example needs: a kernel option or a program; named).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bcc_sweep import SED_EXPRS  # noqa: E402

DEB_PY = "/usr/lib/python3/dist-packages"
# modules the examples import that the bcc-core interpreter takes from Debian's
DEB_MODULES = ("pyroute2", "pr2modules", "pyroute2-0.7.2.dist-info", "dnslib")
M_IP, P_IP = "10.9.0.1", "10.9.0.2"


# -- the machine ------------------------------------------------------------------------
def kernel_config():
    import gzip
    for path in ("/proc/config.gz", "/boot/config-%s" % os.uname().release):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                return dict(line.strip().split("=", 1) for line in f
                            if line.startswith("CONFIG_") and "=" in line)
        except OSError:
            continue
    return {}


def lacks_config(*opts):
    """The first option the running kernel lacks (a module counts when it loads)."""
    cfg = kernel_config()
    for opt, module in opts:
        v = cfg.get(opt)
        if v == "y":
            continue
        if v == "m" and subprocess.run(["modprobe", "-q", module]).returncode == 0:
            continue
        return "the kernel has no %s (%s)" % (opt, "module %s does not load" % module
                                               if v == "m" else "not set")
    return None


def lacks_program(*names):
    for n in names:
        if not shutil.which(n):
            return "no %s program on this machine" % n
    return None


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class Net:
    """Namespaces M and P and their veth pairs (removed by close())."""

    def __init__(self):
        tag = "%d%d" % (os.getpid() % 10000, int(time.time() * 1000) % 100000)
        self.m, self.p = "bccnet-m%s" % tag, "bccnet-p%s" % tag
        for ns in (self.m, self.p):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            # link-local addresses usable at once (no duplicate address detection: the
            # namespaces are ours), for the devices made here and by the examples
            for conf in ("all", "default"):
                self.run(ns, "sysctl", "-qw", "net.ipv6.conf.%s.accept_dad=0" % conf)
        sh("ip", "-n", self.m, "link", "add", "veth_a", "type", "veth", "peer", "name",
           "veth_b", "netns", self.p)
        sh("ip", "-n", self.m, "link", "add", "veth_c", "type", "veth", "peer", "name",
           "veth_d", "netns", self.p)
        sh("ip", "-n", self.m, "addr", "add", M_IP + "/24", "dev", "veth_a")
        sh("ip", "-n", self.p, "addr", "add", P_IP + "/24", "dev", "veth_b")
        for ns, dev in ((self.m, "veth_a"), (self.m, "veth_c"), (self.p, "veth_b"),
                        (self.p, "veth_d")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        # XDP_TX / devmap frames into a veth are dropped unless its peer polls (NAPI:
        # an XDP program or GRO there)
        for dev in ("veth_b", "veth_d"):
            subprocess.run(["ip", "netns", "exec", self.p, "ethtool", "-K", dev, "gro", "on"],
                           capture_output=True)
        # static neighbours: a program that drops ARP must not stop the pings it counts
        for ns, dev, ip, other, odev in ((self.p, "veth_b", M_IP, self.m, "veth_a"),
                                         (self.m, "veth_a", P_IP, self.p, "veth_b")):
            sh("ip", "-n", ns, "neigh", "replace", ip, "lladdr", self.mac(other, odev),
               "dev", dev, "nud", "permanent")
        self.procs = []

    def xdp_pass(self, ns, dev):
        """An XDP program that passes everything on ``dev``: a veth takes XDP_TX'd and
        redirected frames from its peer only while it has one (the examples' own
        xdp_dummy is that, on their output device)."""
        obj = os.path.join(tempfile.gettempdir(), "bcc-net-xdp-pass.o")
        if not os.path.exists(obj):
            clang = shutil.which("clang") or shutil.which("clang-19")
            src = ('__attribute__((section("xdp"), used)) int pass(void *ctx) '
                   '{ return 2; }\nchar _license[] __attribute__((section("license"), '
                   'used)) = "GPL";\n')
            subprocess.run([clang, "-O2", "-target", "bpf", "-c", "-x", "c", "-", "-o",
                            obj + ".tmp"], input=src, text=True, check=True)
            os.replace(obj + ".tmp", obj)
        sh("ip", "-n", ns, "link", "set", "dev", dev, "xdp", "obj", obj, "sec", "xdp")

    def mac(self, ns, dev):
        return self.run(ns, "cat", "/sys/class/net/%s/address" % dev).stdout.strip()

    def run(self, ns, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, **kw)

    def start(self, ns, *cmd):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def rx_packets(self, ns, dev):
        r = self.run(ns, "cat", "/sys/class/net/%s/statistics/rx_packets" % dev)
        return int(r.stdout.strip() or 0)

    def ping(self, count=5, ns=None, dst=M_IP):
        """Pings from P (default) to M; the number of replies."""
        r = self.run(ns or self.p, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1",
                     dst)
        m = re.search(r"(\d+) received", r.stdout)
        return int(m.group(1)) if m else -1

    def udp(self, count=5, port=9999, payload=b"bcc-core", ns=None, dst=M_IP):
        code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "for i in range(%d):\n    s.sendto(%r,(%r,%d)); time.sleep(0.1)\n"
                % (count, payload, dst, port))
        self.run(ns or self.p, sys.executable, "-c", code, check=True)

    def close(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        for ns in (self.m, self.p):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


# -- one example ------------------------------------------------------------------------
class Run:
    """An example started in namespace ``ns``: its output, line by line."""

    def __init__(self, argv, cwd, ns, env):
        self.lines = []
        self.cv = threading.Condition()
        # ``ip netns exec`` mounts a fresh /sys: tracefs and debugfs again (as a machine
        # that runs BCC has them), then the example
        prep = ("mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; "
                "mount -t debugfs nodev /sys/kernel/debug 2>/dev/null; exec \"$@\"")
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", prep, "sh"] + argv,
                                  cwd=cwd, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cv:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_for(self, pattern, timeout):
        """True when a line matching ``pattern`` appeared; False when the example ended
        or the time ran out first."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                if any(rx.search(line) for line in self.lines):
                    return True
                if self.p.poll() is not None and not self.t.is_alive():
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(min(left, 0.5))

    def stop(self, how="int", timeout=20):
        """End it as a user would: Ctrl-C (SIGINT to its process group) or Enter."""
        if self.p.poll() is None:
            if how == "enter":
                try:
                    self.p.stdin.write(b"\n")
                    self.p.stdin.flush()
                except OSError:
                    pass
            else:
                try:
                    os.killpg(self.p.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self.t.join(5)
        return "\n".join(self.lines)

    @property
    def text(self):
        with self.cv:
            return "\n".join(self.lines)


def last_error(out):
    lines = [line for line in out.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"\w[\w.]*(Error|Exception|Interrupt)\b", line) and \
                not line.startswith("KeyboardInterrupt"):
            return line.strip()[:300]
    return (lines[-1].strip() if lines else "no output")[:300]


def counts(out, rx):
    """Sum of the integers the regex's first group catches, over the output."""
    return sum(int(m.group(1)) for m in re.finditer(rx, out))


# -- the scenarios ----------------------------------------------------------------------
# Each: (example file, argv, ready pattern, needs(), traffic(net) -> facts, check(out,
# facts) -> (ok, detail), how to stop).  The checks are what the example is for.
def _nothing(net, run):
    return {}


def _ping_dropped(net, run):
    return {"replies": net.ping(5)}


def _xdp_drop_check(out, f):
    n = counts(out, r"(?m)^1: (\d+) pkt/s")
    return (f["replies"] == 0 and n >= 5,
            "5 pings from the peer: %d answered, %d counted as ICMP drops" % (f["replies"], n))


SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
want, n, end = int(sys.argv[2]), 0, time.monotonic() + float(sys.argv[3])
print("ready", flush=True)
while n < want and time.monotonic() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    ihl = (f[14] & 15) * 4
    if f[23] == 17 and struct.unpack(">H", f[14 + ihl + 2:14 + ihl + 4])[0] == 9999:
        n += 1
print(n)
"""


def _sniffed(net, ns, dev, count, send, seconds=20):
    """UDP frames to port 9999 that ``dev`` in ``ns`` receives while ``send()`` runs and
    after: until ``count`` came, or ``seconds`` passed (a slow machine's senders)."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SNIFF, dev,
                          str(count), str(seconds)], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    send()
    out = p.communicate()[0]
    return int(out.strip() or -1)


def _macswap_traffic(net, run):
    net.xdp_pass(net.p, "veth_b")
    back = _sniffed(net, net.p, "veth_b", 5, lambda: net.udp(5))
    return {"back": back, "replies": net.ping(3)}


def _macswap_check(out, f):
    n = counts(out, r"(?m)^17: (\d+) pkt/s")
    return (n >= 5 and f["back"] >= 5 and f["replies"] == 0,
            "5 UDP datagrams counted %d times, %d came back to the sender (MACs swapped, "
            "XDP_TX); 3 pings: %d answered (sent back too)" % (n, f["back"], f["replies"]))


def _redirect_map_traffic(net, run):
    before = net.rx_packets(net.p, "veth_d")
    replies = net.ping(5)
    time.sleep(0.3)
    return {"replies": replies, "out": net.rx_packets(net.p, "veth_d") - before}


def _redirect_map_check(out, f):
    n = counts(out, r"(?m)^(\d+) pkt/s")
    return (n >= 5 and f["out"] >= 5 and f["replies"] == 0,
            "5 pings into veth_a: %d counted, %d frames out of veth_c (devmap), %d answered"
            % (n, f["out"], f["replies"]))


def _redirect_cpu_check(out, f):
    n = counts(out, r"(?m)^(\d+) pkt/s to CPU 1")
    return (n >= 5 and f["replies"] == 5,
            "5 pings: %d redirected to CPU 1 (cpumap), %d answered by the stack there"
            % (n, f["replies"]))


def _ping6_traffic(net, run):
    for _ in range(40):       # until 'me' has its link-local address (DAD)
        r = net.run(net.m, "ping", "-6", "-n", "-c", "3", "-i", "0.3", "ff02::1%me")
        if r.returncode == 0:
            break
        time.sleep(0.25)
    return {"rc": r.returncode}


def _tc_perf_check(out, f):
    ev = re.findall(r"(?m)^\d+\s+(fe80::\S+)\s+ff02::1\s+0xfaceb00c$", out)
    return (len(ev) >= 3, "3 echo requests to ff02::1 out of 'me': %d events with the "
            "magic 0xfaceb00c and the sender's link-local address" % len(ev))


def _simple_tc_check(out, f):
    return ("BPF tc functionality - SCHED_CLS: OK" in out,
            "SCHED_CLS loaded, tc bpf filters on ingress and on an sfq qdisc")


def _http_traffic(net, run):
    """GETs from the peer until the example prints one (it prints nothing once its
    filter is attached: the first requests may come before)."""
    srv = net.start(net.m, sys.executable, "-m", "http.server", "--bind", M_IP, "8000")
    code = ("import time,urllib.request\nfor i in range(40):\n    try:\n"
            "        print(len(urllib.request.urlopen('http://%s:8000/bcc-core?x=1',"
            " timeout=2).read())); break\n    except OSError as e:\n"
            "        if getattr(e, 'code', 0) == 404: print('404'); break\n"
            "        time.sleep(0.25)\n" % M_IP)
    got = []
    for _ in range(30):
        got.append(net.run(net.p, sys.executable, "-c", code).stdout.strip())
        if run.wait_for(r"GET /bcc-core\?x=1 HTTP/1.1", 1.0):
            break
    srv.kill()
    return {"got": got[-1], "requests": len(got)}


def _http_simple_check(out, f):
    ok = "GET /bcc-core?x=1 HTTP/1.1" in out and re.search(r"(?m)^HTTP/1\.0 404", out)
    return (bool(ok) and f["got"] == "404",
            "an HTTP GET from the peer: the request line and the response line printed")


def _http_complete_check(out, f):
    ok = "GET /bcc-core?x=1 HTTP/1.1" in out
    return (ok and f["got"] == "404", "an HTTP GET from the peer: its request line printed")


def _dns_query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def _dns_traffic(net, run):
    code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "for q in (%r, %r, %r):\n    s.sendto(q,(%r,53)); time.sleep(0.2)\n"
            % (_dns_query("foo.bar", 1), _dns_query("other.example", 2),
               _dns_query("foo.bar", 3), M_IP))
    net.run(net.p, sys.executable, "-c", code, check=True)
    return {}


def _dns_check(out, f):
    hit = len(re.findall(r"<DNS Question: 'foo\.bar\.'", out))
    miss = len(re.findall(r"other\.example", out))
    return (hit == 2 and miss == 0, "DNS queries for foo.bar (twice) and other.example: "
            "%d foo.bar and %d other.example packets passed the filter" % (hit, miss))


def _net_monitor_check(out, f):
    """It prints a key only when ``len(str(key)) == 30``, which no c_ulong's repr is on
    Python 3 (at most 29 characters): every interval's output is blank, under BCC too."""
    n = counts(out, r"source address : %s destination address : %s (\d+) "
               % (re.escape(P_IP), re.escape(M_IP)))
    blank = out.count("\n\n")
    return (f["replies"] == 5 and "Traceback" not in out and blank >= 2,
            "5 pings answered (a socket filter sees copies); %d intervals printed, %d pairs "
            "(it prints only keys whose repr is 30 characters long: none on Python 3)"
            % (blank // 2, n))


def cgroup2():
    """A cgroup2 mount point for sockmap.py's -c, outside /sys (``ip netns exec`` mounts
    a fresh /sys): the hierarchy's root, which every process is in."""
    d = "/run/bcc-net-cgroup2"
    os.makedirs(d, exist_ok=True)
    if subprocess.run(["mountpoint", "-q", d]).returncode:
        sh("mount", "-t", "cgroup2", "none", d)
    return d


def _sockmap_traffic(net, run):
    """A TCP connection on M's loopback, a message each way."""
    code = ("import socket\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n"
            "c=socket.create_connection(s.getsockname()); a,_=s.accept()\n"
            "c.sendall(b'ping'); a.settimeout(3); x=a.recv(16)\n"
            "a.sendall(b'pong'); c.settimeout(3); y=c.recv(16)\n"
            "print(c.getsockname()[1], s.getsockname()[1], x.decode(), y.decode())\n")
    for _ in range(READY_TIMEOUT):      # it prints nothing before: until it traces one
        if run.p.poll() is not None or run.wait_for(r"Sockhash op", 0.1):
            break
        net.run(net.m, sys.executable, "-c", code)
        time.sleep(0.9)
    r = net.run(net.m, sys.executable, "-c", code)      # the connection checked
    time.sleep(1.0)
    return {"got": r.stdout.split(), "err": r.stderr.strip().splitlines()[-1:]}


def _sockmap_check(out, f):
    got = f["got"]
    if len(got) != 4:
        return False, "the connection: %s" % (f["err"] or got)
    cport, sport = got[0], got[1]
    ops = set(re.findall(r"Sockhash op: (\d+), port (\d+) --> (\d+)", out))
    redirects = set(re.findall(r"try redirect port (\d+) --> (\d+)", out))
    failed = "failed" in out
    ok = (got[2:] == ["ping", "pong"] and {("4", cport, sport), ("5", sport, cport)} <= ops
          and {(cport, sport), (sport, cport)} <= redirects and not failed)
    return ok, ("a TCP connection on loopback (ports %s, %s): both sockets added to the "
                "sockhash (active and passive established: %d), %d messages redirected "
                "between them, data delivered: %s%s"
                % (cport, sport, len(ops), len(redirects), " ".join(got[2:]),
                   "; a redirect failed" if failed else ""))


def _neighbor_traffic(net, run):
    """From wan0: a ping to each neighbor and local host, then a timed TCP upload to a
    neighbor (throttled, 128kbit) and to a local host (1024kbit)."""
    facts = {}
    for host in ("172.16.1.100", "172.16.1.150"):
        facts[host] = net.ping(2, ns="wan0", dst=host)
    code = ("import socket,time,sys\nh=sys.argv[1]\nc=socket.create_connection((h,12865),5)\n"
            "t=time.monotonic(); c.sendall(b'x'*%d); c.shutdown(socket.SHUT_WR); c.recv(1)\n"
            "print(time.monotonic()-t)\n" % (96 * 1024))
    for host in ("172.16.1.100", "172.16.1.150"):
        r = net.run("wan0", sys.executable, "-c", code, host, timeout=60)
        try:
            facts["t" + host] = float(r.stdout.strip())
        except ValueError:
            facts["t" + host] = None
    return facts


def _neighbor_check(out, f):
    tn, tl = f.get("t172.16.1.100"), f.get("t172.16.1.150")
    ok = f["172.16.1.100"] == 2 and f["172.16.1.150"] == 2 and tn and tl and tn > 2 * tl
    return (bool(ok), "pings to a neighbor and a local host: %s, %s answered; 96 KiB "
            "upload from wan0: %s s to the neighbor (128kbit police), %s s to the local host"
            % (f["172.16.1.100"], f["172.16.1.150"],
               "%.2f" % tn if tn else "-", "%.2f" % tl if tl else "-"))


def _vlan_check(out, f):
    """Each of its 3 clients (a VLAN on the trunk) curls its worker 8 times; the
    program learns the client's MAC from the VLAN and counts both directions."""
    stats = re.findall(r"mac ([0-9a-f]{12}) rx pkts = (\d+), rx bytes = \d+\s+"
                       r"tx pkts = (\d+)", out)
    busy = [m for m, rx, tx in stats if int(rx) > 0 and int(tx) > 0]
    return (len(busy) == 3, "3 VLAN clients curl their workers: %d MACs with packets "
            "counted both ways (%s)" % (len(busy), ", ".join(
                "%s rx %s tx %s" % s for s in stats)))


SCENARIOS = {
    "simple_tc": ("simple_tc.py", [], None, lambda: lacks_config(
        ("CONFIG_NET_SCH_SFQ", "sch_sfq"), ("CONFIG_NET_CLS_BPF", "cls_bpf")),
        _nothing, _simple_tc_check, "wait"),
    "tc_perf_event": ("tc_perf_event.py", [], r"^CPU\s+SRC IP", lambda: lacks_config(
        ("CONFIG_NET_SCH_INGRESS", "sch_ingress"), ("CONFIG_NET_CLS_BPF", "cls_bpf")),
        _ping6_traffic, _tc_perf_check, "int"),
    "xdp_drop_count": ("xdp/xdp_drop_count.py", ["veth_a"], r"^Printing drops", None,
                       _ping_dropped, _xdp_drop_check, "int"),
    "xdp_drop_count -S": ("xdp/xdp_drop_count.py", ["-S", "veth_a"], r"^Printing drops",
                          None, _ping_dropped, _xdp_drop_check, "int"),
    "xdp_macswap_count": ("xdp/xdp_macswap_count.py", ["veth_a"], r"^Printing drops", None,
                          _macswap_traffic, _macswap_check, "int"),
    "xdp_redirect_map": ("xdp/xdp_redirect_map.py", ["veth_a", "veth_c"],
                         r"^Printing redirected", None, _redirect_map_traffic,
                         _redirect_map_check, "int"),
    "xdp_redirect_cpu": ("xdp/xdp_redirect_cpu.py", ["veth_a", "1"], r"^Printing redirected",
                         lambda: None if os.cpu_count() >= 2 else "one CPU only",
                         lambda net, run: {"replies": net.ping(5)}, _redirect_cpu_check, "int"),
    "http-parse-simple": ("http_filter/http-parse-simple.py", ["-i", "veth_a"],
                          r"^binding socket", None, _http_traffic, _http_simple_check, "int"),
    "http-parse-complete": ("http_filter/http-parse-complete.py", ["-i", "veth_a"],
                            r"^binding socket", None, _http_traffic, _http_complete_check,
                            "int"),
    "dns_matching": ("dns_matching/dns_matching.py", ["-i", "veth_a", "-d", "foo.bar"],
                     r"Hit Ctrl\+C", lambda: None if _has_module("dnslib") else
                     "no dnslib (python3-dnslib)", _dns_traffic, _dns_check, "int"),
    "net_monitor": ("net_monitor.py", ["veth_a"], r"", None,
                    lambda net, run: (time.sleep(2.5), {"replies": net.ping(5)})[1],
                    _net_monitor_check, "int"),
    "sockmap": ("sockmap.py", ["-c", "{cgroup2}"], None, lambda: lacks_config(
        ("CONFIG_BPF_STREAM_PARSER", "-"), ("CONFIG_CGROUP_BPF", "-")),
        _sockmap_traffic, _sockmap_check, "int"),
    "vlan_learning": ("vlan_learning/vlan_learning.py", [], r"Press enter to exit",
                      lambda: lacks_program("curl") or lacks_config(
                          ("CONFIG_VLAN_8021Q", "8021q")), _nothing, _vlan_check, "enter"),
    "neighbor_sharing": ("neighbor_sharing/tc_neighbor_sharing.py", [],
                         r"Press enter when finished", lambda: lacks_program("netserver") or
                         lacks_config(("CONFIG_NET_ACT_POLICE", "act_police")),
                         _neighbor_traffic, _neighbor_check, "enter"),
}
READY_TIMEOUT = 240


def _has_module(name):
    return any(os.path.exists(os.path.join(d, name)) for d in (DEB_PY,) + tuple(sys.path))


def prepare(src, core):
    tmp = tempfile.mkdtemp(prefix="bcc-net-")
    shutil.copytree(os.path.join(src, "examples", "networking"), tmp, dirs_exist_ok=True)
    if core:
        for dirpath, _, files in os.walk(tmp):
            for name in files:
                if name.endswith(".py"):
                    subprocess.run(["sed", "-E", "-i"] + sum((["-e", e] for e in SED_EXPRS),
                                                             []) + [os.path.join(dirpath, name)],
                                   check=True)
    return tmp


def core_env(tmp):
    """PYTHONPATH for the bcc-core interpreter: Debian's pyroute2 (and dnslib) first."""
    d = os.path.join(tmp, ".debian-modules")
    os.makedirs(d, exist_ok=True)
    for n in DEB_MODULES:
        src = os.path.join(DEB_PY, n)
        if os.path.exists(src) and not os.path.exists(os.path.join(d, n)):
            os.symlink(src, os.path.join(d, n))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([d] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    return env


def run_one(name, tmp, python, env, verbose=False):
    fname, args, ready, needs, traffic, check, how = SCENARIOS[name]
    why = needs() if needs else None
    if why:
        return "needs", why
    path = os.path.join(tmp, fname)
    net = Net()
    run = None
    try:
        args = [a.replace("{cgroup2}", cgroup2()) if "{cgroup2}" in a else a for a in args]
        run = Run([python, "-u", os.path.basename(path)] + args, os.path.dirname(path),
                  net.m, env)
        if ready is not None and not run.wait_for(ready, READY_TIMEOUT):
            out = run.stop()
            return "ERROR", last_error(out)
        facts = traffic(net, run)
        if how == "wait":
            run.p.wait(READY_TIMEOUT)
        else:
            time.sleep(2.5)          # the examples print once a second
        out = run.stop(how)
        if verbose:
            print("---- %s\n%s" % (name, out[-3000:]))
        ok, detail = check(out, facts)
        if ok:
            return "ok", detail
        if run.p.returncode not in (0, None, -signal.SIGINT, 130, 1) or "Traceback" in out \
                and "KeyboardInterrupt" not in out:
            return "ERROR", last_error(out)
        return "FAIL", detail + " | " + last_error(out)
    except Exception as e:       # the harness's own failure: say it, go on
        if run is not None:
            run.stop()
        return "ERROR", "harness: %s: %s" % (type(e).__name__, e)
    finally:
        net.close()


def _load(paths):
    """One column: JSON files, later ones overriding (a scenario run again)."""
    out = {}
    for p in paths.split(","):
        with open(p) as f:
            out.update(json.load(f))
    return out


def _needed(why):
    """What a "needs" verdict names: the kernel option or the program."""
    m = re.search(r"CONFIG_\w+|no (\S+) program", why)
    return (m.group(1) or m.group(0)) if m else why


def table(bcc_json, core_json, bcc_guest=None, core_guest=None):
    """Markdown: each example's verdict under BCC and bcc-core on this host (and in
    the 6.1 guest), and what the run showed (bcc-core's detail where it passed).  Each
    argument is a comma-separated list of --json files."""
    cols = [_load(p) for p in (bcc_json, core_json, bcc_guest, core_guest) if p]
    heads = ["example", "BCC, host", "bcc-core, host", "BCC, 6.1 guest",
             "bcc-core, 6.1 guest"][:1 + len(cols)] + ["what the run showed"]
    rows = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for name in SCENARIOS:
        got = [c.get(name, ("-", "")) for c in cols]
        cells = [v if v in ("ok", "-", "FAIL", "ERROR") else "needs `%s`" % _needed(d)
                 for v, d in got]
        core_first = got[1::2] + got[0::2]
        shown = next((d for v, d in core_first if v == "ok"), "")
        if not shown:       # the first run that did not pass says what it saw
            shown = next((d.replace("|", "/") for v, d in core_first
                          if v not in ("ok", "needs", "-")), "")
        if not shown:
            shown = next((d for v, d in got if v == "needs"), "")
        rows.append("| `%s` | %s | %s |" % (name, " | ".join(cells), shown))
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", help="a BCC source tree (0.26)")
    ap.add_argument("--bcc", action="store_true", help="run under BCC, not bcc-core")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--json", help="write {scenario: [verdict, detail]} here")
    ap.add_argument("--table", nargs="+", metavar="JSON[,JSON]",
                    help="print the markdown table of BCC.json CORE.json "
                    "[BCC_GUEST.json CORE_GUEST.json]")
    ap.add_argument("-v", action="store_true", help="print each example's output")
    a = ap.parse_args(argv)
    if a.table:
        print(table(*a.table))
        return 0
    if not a.src:
        ap.error("--src is required")
    if os.geteuid() != 0:
        sys.exit("bcc_net.py: run as root (network namespaces, XDP, tc)")
    tmp = prepare(a.src, core=not a.bcc)
    env = dict(os.environ) if a.bcc else core_env(tmp)
    python = "/usr/bin/python3" if a.bcc else sys.executable
    # vlan_learning starts "python -m http.server" in its namespaces: a `python` on
    # PATH, as Debian's python-is-python3 gives
    bindir = os.path.join(tmp, ".bin")
    os.makedirs(bindir, exist_ok=True)
    os.symlink(python, os.path.join(bindir, "python"))
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    names = a.only.split(",") if a.only else list(SCENARIOS)
    results = {}
    try:
        for name in names:
            t0 = time.monotonic()
            v, d = run_one(name, tmp, python, env, a.v)
            results[name] = (v, d)
            print("%-22s %-6s %5.1fs %s" % (name, v, time.monotonic() - t0, d), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    n = {}
    for v, _ in results.values():
        n[v] = n.get(v, 0) + 1
    print("== %s: %s" % ("BCC" if a.bcc else "bcc-core",
                         ", ".join("%d %s" % (c, v) for v, c in sorted(n.items()))))
    return 0 if not n.get("ERROR") and not n.get("FAIL") else 1


if __name__ == "__main__":
    sys.exit(main())
