"""XDP on a network device, with BCC's semantics (``BPF.attach_xdp(dev, fn, flags)``
... ``BPF.remove_xdp(dev, flags)``): a BPF link on the device where the kernel has XDP
links (5.9+), released by remove_xdp(), by close_all() or when the process exits; on
older kernels the netlink route (RTM_SETLINK with IFLA_XDP, as iproute2 and libbpf's
bpf_xdp_attach do), which stays until remove_xdp().

The flags are the kernel's XDP_FLAGS_* (BCC's BPF.XDP_FLAGS_SKB_MODE...)."""
import errno
import socket
import struct

from .. import _sys
from ..errors import AttachError, syscall_error

XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE = 1, 2, 4
XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE = 8, 16
_MODES = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE
BPF_XDP = 37                       # enum bpf_attach_type
_RTM_SETLINK, _NLM_F_REQUEST, _NLM_F_ACK, _NLMSG_ERROR = 19, 1, 4, 2
_IFLA_XDP, _IFLA_XDP_FD, _IFLA_XDP_FLAGS, _NLA_F_NESTED = 43, 1, 3, 1 << 15

_SOL_NETLINK, _NETLINK_EXT_ACK, _NETLINK_CAP_ACK, _NLM_F_ACK_TLVS = 270, 11, 10, 0x200
_NLMSGERR_ATTR_MSG = 1

_links = {}                        # ifindex -> bpf_link fd this process holds


def ifindex(dev):
    """The index of device ``dev`` (a name, str or bytes, or an index)."""
    if isinstance(dev, int):
        return dev
    name = dev.decode() if isinstance(dev, (bytes, bytearray)) else dev
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise AttachError("XDP: no network device %r in this network namespace" % name) \
            from None


def attach(dev, prog_fd, flags=0, prog_name="?", route="link"):
    """Attach the XDP program ``prog_fd`` to ``dev``.  A second attach to the same
    device replaces the first (BCC's behaviour) unless XDP_FLAGS_UPDATE_IF_NOEXIST.
    ``route="netlink"`` skips the link (what a kernel without XDP links gets)."""
    idx = ifindex(dev)
    what = "XDP program %s on %s" % (prog_name, dev)
    if idx in _links:
        if flags & XDP_FLAGS_UPDATE_IF_NOEXIST:
            raise syscall_error(errno.EBUSY, "BPF_LINK_CREATE", what)
        detach(idx)
    if route == "netlink":
        _netlink_set(idx, prog_fd, flags, what)
        return
    a = _sys.new_attr()
    lc = a.link_create
    lc.prog_fd, lc.target_fd, lc.attach_type = prog_fd, idx, BPF_XDP
    lc.flags = flags & _MODES          # a link takes the mode only
    fd, err = _sys.bpf_errno(_sys.BPF_LINK_CREATE, a)
    if fd >= 0:
        _links[idx] = fd
        return
    if err not in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBUSY) or (
            err == errno.EBUSY and flags & XDP_FLAGS_UPDATE_IF_NOEXIST):
        raise syscall_error(err, "BPF_LINK_CREATE", what)
    # no XDP links on this kernel, or a program already attached through netlink
    # (which a link cannot replace): the netlink route
    _netlink_set(idx, prog_fd, flags, what)


def detach(dev, flags=0):
    """Remove the XDP program of ``dev``: this process's link, else through netlink."""
    idx = ifindex(dev)
    fd = _links.pop(idx, None)
    if fd is not None:
        _sys.close(fd)
        return
    _netlink_set(idx, -1, flags & _MODES, "XDP on %s" % (dev,))


def close_all():
    for idx in list(_links):
        _sys.close(_links.pop(idx))


def _netlink_set(idx, prog_fd, flags, what):
    xdp = struct.pack("=HHi", 8, _IFLA_XDP_FD, prog_fd)
    if flags:
        xdp += struct.pack("=HHI", 8, _IFLA_XDP_FLAGS, flags)
    attr = struct.pack("=HH", 4 + len(xdp), _IFLA_XDP | _NLA_F_NESTED) + xdp
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, idx, 0, 0) + attr
    msg = struct.pack("=IHHII", 16 + len(body), _RTM_SETLINK, _NLM_F_REQUEST | _NLM_F_ACK,
                      1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)     # the kernel's reason, too
        s.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        s.bind((0, 0))
        s.send(msg)
        while True:
            data = s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                ln, typ, fl, seq, _ = struct.unpack_from("=IHHII", data, off)
                if typ == _NLMSG_ERROR and seq == 1:
                    err = -struct.unpack_from("=i", data, off + 16)[0]
                    if err:
                        why = _extack_msg(data[off + 36:off + ln]) if fl & _NLM_F_ACK_TLVS \
                            else None
                        raise syscall_error(err, "RTM_SETLINK IFLA_XDP", what +
                                            (": " + why if why else ""))
                    return
                off += (ln + 3) & ~3
                if ln == 0:
                    break


def _extack_msg(tlvs):
    """The kernel's message in an extended ack's attributes (NLMSGERR_ATTR_MSG)."""
    off = 0
    while off + 4 <= len(tlvs):
        ln, typ = struct.unpack_from("=HH", tlvs, off)
        if ln < 4:
            break
        if typ & 0x3fff == _NLMSGERR_ATTR_MSG:
            return tlvs[off + 4:off + ln].split(b"\0")[0].decode("utf-8", "replace")
        off += (ln + 3) & ~3
    return None


__all__ = ["attach", "detach", "close_all", "ifindex", "XDP_FLAGS_SKB_MODE",
           "XDP_FLAGS_DRV_MODE", "XDP_FLAGS_HW_MODE", "XDP_FLAGS_UPDATE_IF_NOEXIST",
           "XDP_FLAGS_REPLACE"]
