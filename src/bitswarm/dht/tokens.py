"""Announce tokens (BEP 5 "Overview", "get_peers", "announce_peer").

A get_peers reply carries a token; an announce_peer must bring it back from the same IP,
so nobody can sign up a third party's address for a torrent. BEP 5 leaves the scheme to
the implementation and describes BitTorrent's: the SHA-1 of the IP address and a secret
that changes every five minutes, with tokens up to ten minutes old accepted. We do the
same: the token is the first 8 bytes of SHA-1(secret || packed IP); the secret comes from
the injected rng and rotates every `rotate_every` seconds; a token made with the current
or the previous secret is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import TYPE_CHECKING

from ..errors import LocalProtocolError

if TYPE_CHECKING:
    from random import Random

__all__ = ["TOKEN_BYTES", "TokenSecrets"]

TOKEN_BYTES = 8
_SECRET_BITS = 128


class TokenSecrets:
    """Issues and checks announce tokens; `rotate(now)` when `next_rotation` comes."""

    __slots__ = ("_current", "_previous", "_rng", "next_rotation", "rotate_every")

    def __init__(self, rng: Random, *, now: float, rotate_every: float = 300.0) -> None:
        if rotate_every <= 0:
            raise LocalProtocolError("rotate_every must be positive")
        self._rng = rng
        self.rotate_every = rotate_every
        self._current = self._new_secret()
        self._previous = self._current
        self.next_rotation = now + rotate_every

    def _new_secret(self) -> bytes:
        return self._rng.getrandbits(_SECRET_BITS).to_bytes(_SECRET_BITS // 8, "big")

    @staticmethod
    def _digest(secret: bytes, host: str) -> bytes:
        try:
            packed = ipaddress.ip_address(host).packed
        except ValueError:
            packed = host.encode("utf-8", "replace")
        return hashlib.sha1(secret + packed).digest()[:TOKEN_BYTES]

    def issue(self, host: str) -> bytes:
        """The token for a get_peers reply to `host`."""
        return self._digest(self._current, host)

    def check(self, token: bytes, host: str) -> bool:
        """Whether `token` was issued to `host` under the current or previous secret."""
        return hmac.compare_digest(token, self._digest(self._current, host)) or (
            hmac.compare_digest(token, self._digest(self._previous, host))
        )

    def rotate_if_due(self, now: float) -> bool:
        """Rotate if `next_rotation` has come; a late call rotates once, then catches up."""
        if now < self.next_rotation:
            return False
        if now - self.next_rotation >= self.rotate_every:
            self._previous = self._new_secret()  # two periods missed: the old one is stale too
        else:
            self._previous = self._current
        self._current = self._new_secret()
        self.next_rotation = now + self.rotate_every
        return True
