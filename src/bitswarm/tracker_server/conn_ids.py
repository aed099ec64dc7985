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

A client sends many requests with one id, so the ids that checked out are remembered
with the window they were issued in (a bounded cache, emptied when full): checking a
known id costs one dictionary lookup instead of a MAC. Only a verified (id, IP) pair is
remembered, so the cache accepts exactly what the MAC would.
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
_KNOWN_MAX = 65_536  # (id, IP) pairs remembered; the cache is emptied when it is full


class ConnectionIds:
    """Issue and check connection ids for client IPs (`ip` is the packed address)."""

    __slots__ = ("_key", "_known", "_window")

    def __init__(self, key: bytes, *, window: float = WINDOW_SECONDS) -> None:
        if not 16 <= len(key) <= 64:
            raise LocalProtocolError("the connection-id key must be 16 to 64 bytes")
        if window <= 0:
            raise LocalProtocolError("the connection-id window must be positive")
        self._key = key
        self._window = window
        self._known: dict[tuple[int, bytes], int] = {}  # verified (id, IP) -> its window

    def issue(self, ip: bytes, *, now: float) -> int:
        """A fresh 64-bit connection id for a client at `ip`."""
        window = int(now // self._window)
        return (window & 0xFFFF) << _MAC_BITS | self._mac(window, ip)

    def check(self, connection_id: int, ip: bytes, *, now: float) -> bool:
        """Whether `connection_id` was issued to `ip` within the accepted age."""
        window = int(now // self._window)
        issued = self._known.get((connection_id, ip))
        if issued is not None:
            return 0 <= window - issued <= _ACCEPTED_AGE
        age = (window - (connection_id >> _MAC_BITS)) & 0xFFFF
        if age > _ACCEPTED_AGE:
            return False
        issued = window - age
        if self._mac(issued, ip) != connection_id & _MAC_MASK:
            return False
        if len(self._known) >= _KNOWN_MAX:
            self._known.clear()
        self._known[connection_id, ip] = issued
        return True

    def _mac(self, window: int, ip: bytes) -> int:
        digest = hashlib.blake2b(
            _WINDOW.pack(window & 0xFFFFFFFFFFFFFFFF) + ip, digest_size=6, key=self._key
        ).digest()
        return int.from_bytes(digest, "big")
