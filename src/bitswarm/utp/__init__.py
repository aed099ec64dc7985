"""uTP, the uTorrent transport protocol (BEP 29), as a sans-IO core (L0/L1).

`packet` encodes and decodes datagrams (the 20-byte header and its extension chain,
selective ACK included); `UtpSocket` (socket.py) is one connection's state machine:
datagrams and `now` go in, datagrams and events come out, and `get_timer()` tells the
driver when to call `handle_timer`. Its parts: `sender` (the send half: window, acks,
loss, resends), `receiver` (the receive half: reorder buffer, in-order delivery, the
selective ACK we send), `sent` (a packet awaiting its ack), `config` (`UtpConfig`),
`state` (`UtpState`), `rtt` (the retransmission timeout), `ledbat` (the delay-based
congestion window), `mtu` (path MTU discovery), `sendbuf` (bytes written and not yet
sent). No I/O here: the asyncio driver is `aio/utp.py`.
"""

from .config import UtpConfig
from .events import Closed, Connected, DataReceived, Eof, UtpEvent, Writable
from .packet import (
    ST_DATA,
    ST_FIN,
    ST_RESET,
    ST_STATE,
    ST_SYN,
    Packet,
    UtpPacketError,
    decode_packet,
    encode_packet,
    looks_like_utp,
)
from .socket import UtpSocket, UtpState

__all__ = [
    "ST_DATA",
    "ST_FIN",
    "ST_RESET",
    "ST_STATE",
    "ST_SYN",
    "Closed",
    "Connected",
    "DataReceived",
    "Eof",
    "Packet",
    "UtpConfig",
    "UtpEvent",
    "UtpPacketError",
    "UtpSocket",
    "UtpState",
    "Writable",
    "decode_packet",
    "encode_packet",
    "looks_like_utp",
]
