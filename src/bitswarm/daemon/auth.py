"""The remote-control password: stored as a slow hash, checked with a lockout.

The config file keeps ``rpc_password_hash`` as
``scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>`` (`hash_password` makes one; the daemon
never stores the password itself). scrypt is slow and memory-hard on purpose, so a leaked
config file does not give the password away cheaply. A client (an IP address) that fails
`max_failures` times in a row is locked out for `lockout_seconds`: guessing over the
network stops being worth it (the issue's security checklist). Pure but for the injected
clock: the HTTP middleware (daemon/http_app.py) calls `Authenticator.verify`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .model import DaemonError

__all__ = [
    "MAX_TRACKED_CLIENTS",
    "Authenticator",
    "LockedOut",
    "check_password",
    "hash_password",
]

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_TRACKED_CLIENTS = 10_000
_REMEMBERED = 4  # digests of credentials that passed
# Refuse absurd parameters from a tampered file: scrypt needs 128 * n * r bytes.
_MAX_MEMORY = 256 * 2**20


def hash_password(password: str) -> str:
    """A new salted scrypt hash of `password`, in the config file's format."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        (
            "scrypt",
            str(SCRYPT_N),
            str(SCRYPT_R),
            str(SCRYPT_P),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(digest).decode("ascii"),
        )
    )


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches the `stored` hash (constant-time compare); False for a
    malformed or unusable hash, never an exception."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    try:
        digest = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        _utf8(password),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_MAX_MEMORY + 2**20,
        dklen=length,
    )


def _utf8(text: str) -> bytes:
    # surrogatepass: a header decoded with surrogateescape must not raise here
    return text.encode("utf-8", "surrogatepass")


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = (int(part, 10) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and 1 <= r <= 64 and 1 <= p <= 16 and salt and 16 <= len(expected) <= 64):
        return None
    if 128 * n * r > _MAX_MEMORY:
        return None
    return n, r, p, salt, expected


class LockedOut(DaemonError):
    """Too many failed logins from this client; `seconds_left` until it may try again."""

    def __init__(self, client: str, seconds_left: float) -> None:
        self.client = client
        self.seconds_left = seconds_left
        shown = max(1, math.ceil(seconds_left))
        super().__init__(
            f"too many failed logins from {client}: try again in {shown} second"
            + ("" if shown == 1 else "s")
        )


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until: float = 0.0


class Authenticator:
    """Checks a username and password per request, locking out a client after failures.

    Failures are counted per client; a success clears them. While a client is locked out
    even the right password is refused with `LockedOut` (otherwise the lockout would tell
    a guesser when it hit). At most `max_clients` clients are tracked, the least recently
    seen dropped first, so a flood of addresses cannot grow memory without bound.
    """

    def __init__(
        self,
        username: str,
        password_hash: str,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        if max_failures < 1 or lockout_seconds < 0 or max_clients < 1:
            raise ValueError("max_failures and max_clients must be >= 1, lockout_seconds >= 0")
        self.username = username
        self._hash = password_hash
        self._max_failures = max_failures
        self._lockout = lockout_seconds
        self._clock = clock
        self._max_clients = max_clients
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        # Clients send Basic auth with every request, and scrypt takes tens of milliseconds:
        # credentials that passed once are remembered as a keyed digest (never in clear), so
        # a poll of torrent-get does not pay for a hash each time.
        self._key = os.urandom(32)
        self._passed: OrderedDict[bytes, None] = OrderedDict()
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a password is set (no password: every request is let in)."""
        return bool(self._hash)

    def verify(self, client: str, username: str, password: str) -> bool:
        """Whether `username` and `password` are right.

        Raises:
            LockedOut: `client` failed too often lately; nothing was checked.
        """
        now = self._clock()
        state = self._clients.get(client)
        if state is not None:
            self._clients.move_to_end(client)
            if state.locked_until > now:
                raise LockedOut(client, state.locked_until - now)
            if state.locked_until:  # the lockout ran out: a fresh start
                state.count = 0
                state.locked_until = 0.0
        name = _utf8(username)
        token = hmac.digest(self._key, b"%d:%s%s" % (len(name), name, _utf8(password)), "sha256")
        if any(hmac.compare_digest(token, known) for known in self._passed):
            self._clients.pop(client, None)
            return True
        # Check both, always, so the time taken does not tell which one was wrong.
        name_ok = hmac.compare_digest(name, _utf8(self.username))
        password_ok = check_password(password, self._hash)
        if name_ok and password_ok:
            self._clients.pop(client, None)
            self._passed[token] = None
            while len(self._passed) > _REMEMBERED:
                self._passed.popitem(last=False)
            return True
        if state is None:
            state = self._clients[client] = _Failures()
            while len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        state.count += 1
        if state.count >= self._max_failures:
            state.locked_until = now + self._lockout
        return False

    async def verify_async(self, client: str, username: str, password: str) -> bool:
        """`verify` off the event loop (a scrypt check costs tens of milliseconds), one
        call at a time (the failure counts are not thread-safe)."""
        async with self._lock:
            return await asyncio.to_thread(self.verify, client, username, password)

    def failures(self, client: str) -> int:
        """Failed attempts counted for `client` now (for logs and tests)."""
        state = self._clients.get(client)
        return 0 if state is None else state.count

    def __len__(self) -> int:
        """How many clients are being tracked."""
        return len(self._clients)
