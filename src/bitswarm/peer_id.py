"""Peer ids (BEP 20): make ours, and name the client behind someone else's for display.

Ours is Azureus style: ``-BS0100-`` (client code ``BS``, version 0.1.0.0; see version.py)
and 12 random characters from an injected rng, so the L0 layer stays free of global
randomness and tests can be deterministic. The random part uses letters and digits only,
which keeps the id readable in logs and free of escaping in tracker URLs.

`client_name` recognises the common styles from BEP 20: Azureus (``-XXvvvv-``), Shadow /
BitTornado (``Tvvvvv---``), Mainline (``M4-3-6--``), plus BitComet/BitLord, BitSpirit, XBT
and Opera. It is for display only; BEP 10's ``v`` field is the more reliable source when present.
"""

from __future__ import annotations

from typing import Protocol

from .version import AZUREUS_PREFIX

__all__ = ["PEER_ID_PREFIX", "RandomBits", "client_name", "make_peer_id"]

PEER_ID_PREFIX = AZUREUS_PREFIX  # version.py: -BS0100- for 0.1.0
_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHADOW_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"


class RandomBits(Protocol):
    """What we need from an rng (`random.Random` and `random.SystemRandom` fit)."""

    def getrandbits(self, k: int, /) -> int: ...


def make_peer_id(rng: RandomBits, prefix: bytes = PEER_ID_PREFIX) -> bytes:
    """A 20-byte peer id: `prefix` plus random letters and digits."""
    if len(prefix) > 20:
        raise ValueError("peer id prefix longer than 20 bytes")
    out = bytearray(prefix)
    while len(out) < 20:
        value = rng.getrandbits(6)  # 0..63; rejecting 62 and 63 keeps the choice uniform
        if value < len(_ALPHABET):
            out.append(_ALPHABET[value])
    return bytes(out)


# BEP 20's Azureus-style client codes, plus a few common since. Note: BEP 20 lists "BS" as
# BTSlave, which has been gone for many years; bitswarm uses it and we display ours.
_AZUREUS: dict[str, str] = {
    "AG": "Ares", "A~": "Ares", "AR": "Arctic", "AV": "Avicora", "AX": "BitPump",
    "AZ": "Azureus", "BB": "BitBuddy", "BC": "BitComet", "BF": "Bitflu", "BG": "BTG",
    "BI": "BiglyBT", "BR": "BitRocket", "BS": "bitswarm", "BT": "BitTorrent", "BW": "BitWombat",
    "BX": "Bittorrent X", "CD": "Enhanced CTorrent", "CT": "CTorrent", "DE": "Deluge",
    "DP": "Propagate Data Client", "EB": "EBit", "ES": "electric sheep",
    "FD": "Free Download Manager", "FT": "FoxTorrent", "FW": "FrostWire",
    "FX": "Freebox BitTorrent", "GS": "GSTorrent",
    "HL": "Halite", "HN": "Hydranode", "KG": "KGet", "KT": "KTorrent", "LH": "LH-ABC",
    "LP": "Lphant", "LT": "libtorrent", "lt": "libTorrent (rakshasa)", "LW": "LimeWire",
    "MO": "MonoTorrent", "MP": "MooPolice", "MR": "Miro", "MT": "MoonlightTorrent",
    "NX": "Net Transport", "PD": "Pando", "PI": "PicoTorrent", "qB": "qBittorrent",
    "QD": "QQDownload", "QT": "Qt 4 Torrent example", "RT": "Retriever",
    "S~": "Shareaza alpha/beta", "SB": "Swiftbit", "SD": "Thunder", "SS": "SwarmScope",
    "ST": "SymTorrent",
    "st": "sharktorrent", "SZ": "Shareaza", "TN": "TorrentDotNET", "TR": "Transmission",
    "TS": "Torrentstorm", "TT": "TuoTu", "UL": "uLeecher!", "UM": "µTorrent for Mac",
    "UT": "µTorrent", "UW": "µTorrent Web", "VG": "Vagaa", "WD": "WebTorrent Desktop",
    "WT": "BitLet", "WW": "WebTorrent", "WY": "FireTorrent", "XL": "Xunlei", "XT": "XanTorrent",
    "XX": "Xtorrent", "ZT": "ZipTorrent",
}  # fmt: skip
_SHADOW: dict[str, str] = {
    "A": "ABC", "O": "Osprey Permaseed", "Q": "BTQueue", "R": "Tribler", "S": "Shadow's client",
    "T": "BitTornado", "U": "UPnP NAT Bit Torrent",
}  # fmt: skip


def _azureus_version(code: str, digits: str) -> str:
    if code == "TR":  # Transmission: "-TR300Z-" is 3.00 (Z: a development build)
        version = f"{digits[0]}.{digits[1:3]}"
        return version + ("+" if digits[3] == "Z" else "")
    parts = [str(int(c, 36)) for c in digits]  # "-lt0D60-": letters count on from 9
    while len(parts) > 3 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


def client_name(peer_id: bytes) -> str:
    """A human-readable client name and version for `peer_id`, or ``"unknown"`` with its
    printable prefix. Never raises."""
    head = peer_id[:8].decode("latin-1")
    if len(peer_id) == 20:
        if head[0] == "-" and head[7] == "-" and head[3:7].isalnum() and head[3:7].isascii():
            name = _AZUREUS.get(head[1:3])
            if name is not None:
                return f"{name} {_azureus_version(head[1:3], head[3:7])}"
        if peer_id.startswith((b"exbc", b"FUTB")):  # BitComet / BitLord before 0.59
            lord = peer_id[6:10] == b"LORD"
            return f"{'BitLord' if lord else 'BitComet'} {peer_id[4]}.{peer_id[5]:02d}"
        if peer_id[0] == 0 and peer_id[1] in (2, 3) and peer_id[2:4] == b"BS":
            return f"BitSpirit {peer_id[1]}.x"
        if peer_id.startswith(b"XBT") and peer_id[3:6].isdigit():
            return f"XBT Client {'.'.join(head[3:6])}{' (debug)' if head[6] == 'd' else ''}"
        if peer_id.startswith(b"OP") and peer_id[2:6].isdigit():
            return f"Opera (build {head[2:6]})"
        mainline = _mainline(head)
        if mainline is not None:
            return mainline
        shadow = _shadow(peer_id)
        if shadow is not None:
            return shadow
    printable = "".join(c if c.isprintable() and c.isascii() else "." for c in head)
    return f"unknown ({printable})"


def _mainline(head: str) -> str | None:
    """Mainline style: "M4-3-6--" or "M4-20-8-" (a letter, then dash-separated numbers)."""
    if head[0] not in "MQ" or head[1] not in "0123456789":
        return None
    numbers = [n for n in head[1:].split("-") if n]
    if len(numbers) != 3 or not all(n.isdigit() for n in numbers):
        return None
    return f"{'Mainline' if head[0] == 'M' else 'Queen Bee'} {'.'.join(numbers)}"


def _shadow(peer_id: bytes) -> str | None:
    """Shadow style: a client letter, up to five version characters, then "---"."""
    name = _SHADOW.get(chr(peer_id[0]))
    if name is None or peer_id[6:9] != b"---":
        return None
    version = peer_id[1:6].decode("latin-1").rstrip("-")
    if not version or any(c not in _SHADOW_DIGITS for c in version):
        return None
    return f"{name} {'.'.join(str(_SHADOW_DIGITS.index(c)) for c in version)}"
