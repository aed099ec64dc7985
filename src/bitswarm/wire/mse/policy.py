"""The session's encryption policy (`--encryption`), as pure functions.

Four levels, like libtorrent's `out_enc_policy`/`in_enc_policy`/`allowed_enc_level`/
`prefer_rc4` settings and Transmission's `encryption` (0 tolerated, 1 preferred,
2 required):

========== ====================================== ============================================
level      outgoing                               incoming
========== ====================================== ============================================
disabled   plaintext only                         plaintext only (an MSE stream is refused)
allowed    plaintext; MSE when the peer closed    both; MSE peers get plaintext after the
           a plain attempt during the handshake   handshake if they offer it (cheaper)
preferred  MSE offering RC4 and plaintext,        both; MSE peers get RC4 when offered
           RC4 chosen; plain when MSE fails       (libtorrent's pe_enabled with prefer_rc4)
required   MSE offering RC4 only, never plain     MSE with RC4 only (plain streams refused)
========== ====================================== ============================================

"Fails" means the peer closed the connection (or sent garbage) before the encrypted
handshake completed: a peer that does not speak MSE. The default is `preferred`, as
Transmission's.
"""

from __future__ import annotations

import enum

from .crypto import CRYPTO_PLAINTEXT, CRYPTO_RC4

__all__ = [
    "DEFAULT_ENCRYPTION",
    "Encryption",
    "accepts_mse",
    "accepts_plaintext",
    "crypto_provide",
    "crypto_select",
    "encryption_hint",
    "first_attempt_encrypted",
    "parse_encryption",
    "retry_other_way",
]


class Encryption(enum.Enum):
    """How a session encrypts its peer connections (see the module's table)."""

    DISABLED = "disabled"
    ALLOWED = "allowed"
    PREFERRED = "preferred"
    REQUIRED = "required"


DEFAULT_ENCRYPTION = Encryption.PREFERRED
# Transmission's and the daemon's other words for the same levels.
_ALIASES = {"tolerated": Encryption.ALLOWED, "forced": Encryption.REQUIRED}


def parse_encryption(word: str) -> Encryption:
    """The level a setting names (`disabled`, `allowed`/`tolerated`, `preferred`,
    `required`/`forced`).

    Raises:
        ValueError: not one of them.
    """
    word = word.strip().lower()
    if word in _ALIASES:
        return _ALIASES[word]
    return Encryption(word)


def first_attempt_encrypted(level: Encryption) -> bool:
    """Does an outgoing connection start with the MSE handshake?"""
    return level in (Encryption.PREFERRED, Encryption.REQUIRED)


def retry_other_way(level: Encryption, *, encrypted: bool) -> bool:
    """After an outgoing attempt failed during its handshake, try once more the other
    way (plain after MSE, MSE after plain)?"""
    if encrypted:
        return level is Encryption.PREFERRED
    return level is Encryption.ALLOWED


def crypto_provide(level: Encryption) -> int:
    """The crypto_provide bits of our outgoing MSE handshake."""
    if level is Encryption.REQUIRED:
        return CRYPTO_RC4
    return CRYPTO_RC4 | CRYPTO_PLAINTEXT


def crypto_select(level: Encryption, provided: int) -> int:
    """crypto_select for what an incoming MSE peer provided (0: nothing acceptable)."""
    rc4, plain = bool(provided & CRYPTO_RC4), bool(provided & CRYPTO_PLAINTEXT)
    match level:
        case Encryption.REQUIRED:
            return CRYPTO_RC4 if rc4 else 0
        case Encryption.PREFERRED:
            return CRYPTO_RC4 if rc4 else CRYPTO_PLAINTEXT if plain else 0
        case Encryption.ALLOWED:
            return CRYPTO_PLAINTEXT if plain else CRYPTO_RC4 if rc4 else 0
        case Encryption.DISABLED:
            return 0


def accepts_plaintext(level: Encryption) -> bool:
    """Is an incoming plain BitTorrent handshake accepted?"""
    return level is not Encryption.REQUIRED


def accepts_mse(level: Encryption) -> bool:
    """Is an incoming MSE handshake answered?"""
    return level is not Encryption.DISABLED


HINT_AFTER = 1  # dialled peers lost during their handshake before the status says why


def _peers(n: int) -> str:
    return "1 peer" if n == 1 else f"{n} peers"


def encryption_hint(level: Encryption, *, plain_lost: int, mse_lost: int, peers: int) -> str | None:
    """Words for a person when the peers we dialled closed our connections during the
    handshake and none is connected: the encryption level is the likely cause (a peer that
    requires encryption closes a plain handshake; one without MSE closes an encrypted one).

    `plain_lost`/`mse_lost` count the dialled peers lost since the last dialled peer
    whose handshake arrived, so the hint appears with the first refusal (a single seeder
    that requires encryption is enough to say why we have no peer) and goes once a peer
    connects."""
    if peers:
        return None
    if level is Encryption.DISABLED and plain_lost >= HINT_AFTER:
        return (
            f"{_peers(plain_lost)} closed plaintext connections: they may require encryption;"
            " try --encryption preferred or required"
        )
    if level is Encryption.REQUIRED and mse_lost >= HINT_AFTER:
        return (
            f"{_peers(mse_lost)} closed encrypted connections: they may not support"
            " encryption; try --encryption preferred"
        )
    return None
