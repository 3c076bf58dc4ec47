"""TCP socket states and header flag bits, under the names BCC's ``bcc.tcp`` exports.

The numbers are the kernel's: socket states from include/net/tcp_states.h (TCP_ESTABLISHED
is 1, TCP_NEW_SYN_RECV is 12) and header flag bits from include/net/tcp.h (TCPHDR_FIN is
bit 0 ... TCPHDR_CWR is bit 7).
"""

# state number -> name, numbering starts at 1 (there is no state 0)
tcpstate = dict(enumerate((
    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
), start=1))

# header flag names, least significant bit first
_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")

TCPHDR_FIN = 1 << 0
TCPHDR_SYN = 1 << 1
TCPHDR_RST = 1 << 2
TCPHDR_PSH = 1 << 3
TCPHDR_ACK = 1 << 4
TCPHDR_URG = 1 << 5
TCPHDR_ECE = 1 << 6
TCPHDR_CWR = 1 << 7


def flags2str(flags):
    """Names of the TCP header flags set in ``flags``, low bit first, joined by ``|``
    ("SYN|ACK"); an empty string when none of the eight is set."""
    return "|".join(name for bit, name in enumerate(_FLAG_NAMES) if flags & (1 << bit))
