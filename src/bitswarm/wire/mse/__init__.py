"""MSE/PE (Message Stream Encryption): the encrypted handshake under the wire codec (L0/L1).

`crypto` holds the primitives (768-bit DH, the hashes, RC4-drop1024 from `cryptography`),
`handshake` the two sans-IO state machines, `policy` the session's `--encryption` level as
pure functions. The asyncio side is `bitswarm.aio.mse`, which runs a handshake on any
transport and then hands the plain byte stream to `PeerProtocol`.
"""

from __future__ import annotations

from .crypto import CRYPTO_PLAINTEXT, CRYPTO_RC4, MAX_PAD, MseError, StreamCipher, req2
from .handshake import (
    PLAINTEXT_HEADER,
    MseInitiator,
    MseReceiver,
    MseResult,
    RandomBytes,
    SkeyLookup,
    is_plaintext_start,
)
from .policy import (
    DEFAULT_ENCRYPTION,
    Encryption,
    accepts_mse,
    accepts_plaintext,
    crypto_provide,
    crypto_select,
    encryption_hint,
    first_attempt_encrypted,
    parse_encryption,
    retry_other_way,
)

__all__ = [
    "CRYPTO_PLAINTEXT",
    "CRYPTO_RC4",
    "DEFAULT_ENCRYPTION",
    "MAX_PAD",
    "PLAINTEXT_HEADER",
    "Encryption",
    "MseError",
    "MseInitiator",
    "MseReceiver",
    "MseResult",
    "RandomBytes",
    "SkeyLookup",
    "StreamCipher",
    "accepts_mse",
    "accepts_plaintext",
    "crypto_provide",
    "crypto_select",
    "encryption_hint",
    "first_attempt_encrypted",
    "is_plaintext_start",
    "parse_encryption",
    "req2",
    "retry_other_way",
]
