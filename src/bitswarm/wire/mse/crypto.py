"""The primitives of MSE/PE (Message Stream Encryption): DH, the hashes, the RC4 streams.

Message Stream Encryption is the Vuze/Azureus specification ("Message Stream Encryption",
the Vuze wiki; libtorrent's `pe_crypto.cpp` and `bt_peer_connection.cpp` implement it) that
libtorrent, Transmission, qBittorrent and aria2 speak. Its parts, as this module builds them:

* a 768-bit Diffie-Hellman exchange: the prime `P`, generator 2, 96-byte big-endian public
  keys; our private key is 160 random bits (the spec asks for at least 128, libtorrent
  uses 160). A public key outside [2, P-2] is refused, as libtorrent does, because 0, 1
  and P-1 make the shared secret predictable;
* SHA-1 as HASH: HASH('req1', S) is the synchronisation mark, HASH('req2', SKEY) xor
  HASH('req3', S) tells the receiver which torrent (SKEY: its 20-byte info-hash) without
  naming it;
* RC4 keyed with HASH('keyA', S, SKEY) for bytes from the initiator (A) to the receiver
  (B) and HASH('keyB', S, SKEY) the other way, the first 1024 bytes of each key stream
  discarded (RC4-drop1024). RC4 comes from the `cryptography` package (its
  `hazmat.decrepit` module), never written here.

Pure: no randomness of its own (the private key's bytes are given), no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher

from ...errors import RemoteProtocolError

__all__ = [
    "CRYPTO_PLAINTEXT",
    "CRYPTO_RC4",
    "DH_KEY_LENGTH",
    "MAX_PAD",
    "VC",
    "MseError",
    "P",
    "StreamCipher",
    "private_key",
    "public_key",
    "rc4_pair",
    "req1",
    "req2",
    "req3",
    "shared_secret",
]

P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563",
    16,
)
G = 2
DH_KEY_LENGTH = 96  # bytes of a public key and of the shared secret S (768 bits)
PRIVATE_KEY_BYTES = 20  # 160 bits, as libtorrent
VC = bytes(8)  # the verification constant: eight zero bytes, encrypted
CRYPTO_PLAINTEXT = 0x01  # crypto_provide/crypto_select bits
CRYPTO_RC4 = 0x02
MAX_PAD = 512  # PadA, PadB, PadC and PadD are 0..512 bytes
RC4_DISCARD = 1024  # key stream bytes thrown away before the first one used


class MseError(RemoteProtocolError):
    """The peer broke the encryption handshake (or it cannot be completed with it)."""


class StreamCipher(Protocol):
    """One direction's RC4 state (a `cryptography` encryptor or decryptor)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> bytes: ...
    def update_into(
        self, data: bytes | bytearray | memoryview, buf: bytearray | memoryview, /
    ) -> int: ...


def private_key(random_bytes: bytes) -> int:
    """Our DH private key from `PRIVATE_KEY_BYTES` random bytes (big-endian)."""
    if len(random_bytes) < PRIVATE_KEY_BYTES:
        raise ValueError(f"a private key needs {PRIVATE_KEY_BYTES} random bytes")
    return int.from_bytes(random_bytes[:PRIVATE_KEY_BYTES], "big") | 1 << 159


def public_key(private: int) -> bytes:
    """G^private mod P as 96 big-endian bytes: what goes on the wire first."""
    return pow(G, private, P).to_bytes(DH_KEY_LENGTH, "big")


def shared_secret(private: int, remote_public: bytes) -> bytes:
    """S = remote^private mod P as 96 big-endian bytes.

    Raises:
        MseError: the remote key is not in [2, P-2] (degenerate: S would be guessable).
    """
    y = int.from_bytes(remote_public, "big")
    if not 2 <= y <= P - 2:
        raise MseError("the peer's Diffie-Hellman key is degenerate")
    return pow(y, private, P).to_bytes(DH_KEY_LENGTH, "big")


def req1(secret: bytes) -> bytes:
    """HASH('req1', S): where the initiator's encrypted part begins (the sync mark)."""
    return hashlib.sha1(b"req1" + secret).digest()


def req2(skey: bytes) -> bytes:
    """HASH('req2', SKEY): one per torrent, what a receiver indexes its torrents by."""
    return hashlib.sha1(b"req2" + skey).digest()


def req3(secret: bytes) -> bytes:
    """HASH('req3', S): the mask xor-ed over HASH('req2', SKEY) on the wire."""
    return hashlib.sha1(b"req3" + secret).digest()


def xor20(a: bytes, b: bytes) -> bytes:
    """Two 20-byte strings xor-ed."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(20, "big")


def _rc4(key: bytes, *, encrypt: bool) -> StreamCipher:
    cipher = Cipher(ARC4(key), mode=None)
    ctx: StreamCipher = cipher.encryptor() if encrypt else cipher.decryptor()
    ctx.update(bytes(RC4_DISCARD))
    return ctx


def rc4_pair(secret: bytes, skey: bytes, *, initiator: bool) -> tuple[StreamCipher, StreamCipher]:
    """(our encryptor, our decryptor) for one connection, each past its first 1024 bytes.

    The initiator encrypts with keyA and decrypts with keyB; the receiver the reverse.
    """
    key_a = hashlib.sha1(b"keyA" + secret + skey).digest()
    key_b = hashlib.sha1(b"keyB" + secret + skey).digest()
    send, recv = (key_a, key_b) if initiator else (key_b, key_a)
    return _rc4(send, encrypt=True), _rc4(recv, encrypt=False)
