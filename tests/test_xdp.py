"""XDP through BCC's API in a network namespace of the test's own (``unshare -n``):
``b.load_func(name, BPF.XDP)``, ``BPF.attach_xdp("lo", fn, BPF.XDP_FLAGS_SKB_MODE)``
and ``BPF.remove_xdp("lo", ...)``.  The program counts UDP packets to one port and
drops the ones to another: the receiving sockets see exactly what it let through, its
counts equal what was sent, and after remove_xdp() nothing is dropped."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import need_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

N = 20
SCRIPT = textwrap.dedent(r"""
    import json, socket, subprocess, sys
    from bcc_core import BPF
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    obj, n, route = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def sockets():
        r = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.2)
            r.append(s)
        return r

    def send(port, k):
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(k):
            out.sendto(b"x" * 32, ("127.0.0.1", port))
        out.close()

    def received(s):
        got = 0
        try:
            while True:
                s.recv(64)
                got += 1
        except socket.timeout:
            return got

    keep, drop = sockets()
    kp, dp = keep.getsockname()[1], drop.getsockname()[1]
    res = {}
    b = BPF(src_file=obj, rodata={"pass_port": kp, "drop_port": dp})
    fn = b.load_func("xdp_count", BPF.XDP)
    if route == "link":
        BPF.attach_xdp("lo", fn, BPF.XDP_FLAGS_SKB_MODE)
    else:           # what attach_xdp does on a kernel without XDP links
        from bcc_core.attach import xdp
        xdp.attach("lo", fn.fd, BPF.XDP_FLAGS_SKB_MODE, "xdp_count", route="netlink")
    res["ip"] = subprocess.run(["ip", "link", "show", "lo"], capture_output=True,
                               text=True).stdout
    send(kp, n)
    send(dp, n)
    res["attached"] = [received(keep), received(drop)]
    res["counts"] = [b["counts"][i].value for i in range(2)]
    BPF.remove_xdp("lo", BPF.XDP_FLAGS_SKB_MODE)
    send(dp, 5)
    res["removed"] = received(drop)
    res["counts_after"] = [b["counts"][i].value for i in range(2)]
    b.cleanup()
    print(json.dumps(res))
""")


@pytest.mark.parametrize("route", ["link", "netlink"])
def test_xdp_counts_and_drops_in_a_namespace(bpf_obj, route):
    need_root()
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            pytest.skip("no %s (util-linux, iproute2) for the test's network namespace"
                        % tool)
    obj = bpf_obj("xdp")
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", SCRIPT, obj, str(N), route],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.splitlines()[-1])
    assert res["attached"] == [N, 0], res        # what the program let through
    assert res["counts"] == [N, N], res          # what it saw
    assert res["removed"] == 5 and res["counts_after"] == [N, N], res
    assert "xdpgeneric" in res["ip"], res["ip"]  # the kernel's view of the device


def test_attach_xdp_errors():
    from bcc_core import BPF
    from bcc_core.errors import AttachError
    with pytest.raises(AttachError, match="no network device 'no-such-dev0'"):
        BPF.remove_xdp("no-such-dev0")
