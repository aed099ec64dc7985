"""BEP 15 connection ids as keyed MACs: no per-client state, spoofed sources refused.

BEP 15 ("UDP connections / spoofing"): the tracker hands out a connection id that the
client must echo, so a client that forged its source address (and so never saw the
reply) cannot announce; ids "should not be guessable", a client uses one for a minute,
and a tracker "should accept the connection ID until two minutes after it has been send".
It suggests a SYN-cookie-like scheme, which this is:

    id = window (low 16 bits) << 48 | MAC_key(window, client IP)[:48 bits]

with `window = floor(now / 60)`. An id is accepted in its own window and the next two,
so it lives between 2 and 3 minutes. The MAC is BLAKE2b keyed with a secret shared by
the processes that answer one address (the `--workers` of one machine inherit it), and
it covers the client's IP only, not its port: a NAT may move the port between the
connect and the announce. Nothing is stored per client; a forged id fails the MAC.
"""

from __future__ import annotations

import hashlib
import struct

from ..errors import LocalProtocolError

__all__ = ["WINDOW_SECONDS", "ConnectionIds"]

WINDOW_SECONDS = 60.0
_ACCEPTED_AGE = 2  # windows after the one it was issued in
_WINDOW = struct.Struct(">Q")
_MAC_BITS = 48
_MAC_MASK = (1 << _MAC_BITS) - 1


class ConnectionIds:
    """Issue and check connection ids for client IPs (`ip` is the packed address)."""

    __slots__ = ("_key", "_window")

    def __init__(self, key: bytes, *, window: float = WINDOW_SECONDS) -> None:
        if not 16 <= len(key) <= 64:
            raise LocalProtocolError("the connection-id key must be 16 to 64 bytes")
        if window <= 0:
            raise LocalProtocolError("the connection-id window must be positive")
        self._key = key
        self._window = window

    def issue(self, ip: bytes, *, now: float) -> int:
        """A fresh 64-bit connection id for a client at `ip`."""
        window = int(now // self._window)
        return (window & 0xFFFF) << _MAC_BITS | self._mac(window, ip)

    def check(self, connection_id: int, ip: bytes, *, now: float) -> bool:
        """Whether `connection_id` was issued to `ip` within the accepted age."""
        window = int(now // self._window)
        age = (window - (connection_id >> _MAC_BITS)) & 0xFFFF
        if age > _ACCEPTED_AGE:
            return False
        return self._mac(window - age, ip) == connection_id & _MAC_MASK

    def _mac(self, window: int, ip: bytes) -> int:
        digest = hashlib.blake2b(
            _WINDOW.pack(window & 0xFFFFFFFFFFFFFFFF) + ip, digest_size=6, key=self._key
        ).digest()
        return int.from_bytes(digest, "big")
