"""DHT node ids: 160-bit identifiers, the XOR metric, and the BEP 42 id/IP check.

BEP 5 ("Overview"): node ids live in the same 160-bit space as info-hashes, and the
distance between two ids is their XOR read as an unsigned integer. Ids travel as 20
bytes; the routing table and lookups compare them as Python ints, which makes XOR and
range tests one operation each.

BEP 42 ties an id to its node's external IP (the top 21 bits of the id must equal the
top 21 bits of a CRC32C of the masked IP). We only *report* whether a node complies
(`bep42_compliant`), as BEP 42 asks during its transition period ("Backwards
Compatibility"); nothing here refuses a node for it. Local addresses are exempt.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING

from ..errors import LocalProtocolError

if TYPE_CHECKING:
    from random import Random

__all__ = [
    "ID_BITS",
    "ID_BYTES",
    "ID_SPACE",
    "bep42_compliant",
    "bep42_exempt",
    "bep42_node_id",
    "crc32c",
    "distance",
    "id_from_int",
    "id_to_int",
    "random_id_in_range",
    "random_node_id",
    "shared_prefix_bits",
]

ID_BYTES = 20
ID_BITS = 160
ID_SPACE = 1 << ID_BITS


def id_to_int(node_id: bytes) -> int:
    """The id as an unsigned big-endian integer."""
    if len(node_id) != ID_BYTES:
        raise LocalProtocolError(f"a node id is {ID_BYTES} bytes, not {len(node_id)}")
    return int.from_bytes(node_id, "big")


def id_from_int(value: int) -> bytes:
    """The 20-byte id of an integer in [0, 2**160)."""
    if not 0 <= value < ID_SPACE:
        raise LocalProtocolError("node id out of range")
    return value.to_bytes(ID_BYTES, "big")


def distance(a: bytes, b: bytes) -> int:
    """BEP 5's metric: ``|a xor b|`` as an unsigned integer (smaller is closer)."""
    return id_to_int(a) ^ id_to_int(b)


def shared_prefix_bits(a: bytes, b: bytes) -> int:
    """How many leading bits `a` and `b` share (160 when equal)."""
    return ID_BITS - distance(a, b).bit_length()


def random_node_id(rng: Random) -> bytes:
    """A uniformly random id (BEP 5: ids are chosen at random)."""
    return id_from_int(rng.getrandbits(ID_BITS))


def random_id_in_range(lo: int, hi: int, rng: Random) -> bytes:
    """A random id in [lo, hi): the target of a bucket refresh (BEP 5, "Routing Table")."""
    if not 0 <= lo < hi <= ID_SPACE:
        raise LocalProtocolError(f"empty or invalid id range [{lo}, {hi})")
    return id_from_int(lo + rng.randrange(hi - lo))


# --- BEP 42 -----------------------------------------------------------------------------

_CRC32C_POLY = 0x82F63B78  # Castagnoli, reflected


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the hash BEP 42 prescribes."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_V4_MASK = bytes((0x03, 0x0F, 0x3F, 0xFF))
_V6_MASK = bytes((0x01, 0x03, 0x07, 0x0F, 0x1F, 0x3F, 0x7F, 0xFF))

# BEP 42 "Enforcement": local-network addresses are exempt from the check.
_EXEMPT_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
              "127.0.0.0/8", "::1/128", "fe80::/10", "fc00::/7")
)  # fmt: skip


def _bep42_crc(ip: str, r: int) -> int:
    addr = ipaddress.ip_address(ip)
    raw = addr.packed if addr.version == 4 else addr.packed[:8]  # v6: the high 64 bits
    mask = _V4_MASK if addr.version == 4 else _V6_MASK
    masked = bytearray(b & m for b, m in zip(raw, mask, strict=True))
    masked[0] |= (r & 0x07) << 5
    return crc32c(bytes(masked))


@functools.lru_cache(maxsize=65536)
def bep42_exempt(ip: str) -> bool:
    """Whether `ip` is a local address, which BEP 42 does not check (cached: every answer
    a node receives is checked, and `ipaddress` parsing is slow)."""
    addr = ipaddress.ip_address(ip)
    return any(addr in net for net in _EXEMPT_NETWORKS if net.version == addr.version)


def bep42_node_id(ip: str, rng: Random) -> bytes:
    """A random id that complies with BEP 42 for the external address `ip`."""
    rand = rng.getrandbits(8)
    crc = _bep42_crc(ip, rand & 0x07)
    out = bytearray(rng.getrandbits(ID_BITS).to_bytes(ID_BYTES, "big"))
    out[0] = (crc >> 24) & 0xFF
    out[1] = (crc >> 16) & 0xFF
    out[2] = ((crc >> 8) & 0xF8) | (out[2] & 0x07)
    out[19] = rand
    return bytes(out)


def bep42_compliant(node_id: bytes, ip: str) -> bool:
    """Whether `node_id` matches `ip` under BEP 42 (always True for local addresses)."""
    if len(node_id) != ID_BYTES:
        return False
    try:
        if bep42_exempt(ip):
            return True
        crc = _bep42_crc(ip, node_id[19] & 0x07)
    except ValueError:
        return False
    top21 = 0xFFFFF800
    return (int.from_bytes(node_id[:4], "big") & top21) == (crc & top21)
