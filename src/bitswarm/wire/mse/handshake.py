"""The MSE/PE handshake as two sans-IO state machines: `MseInitiator` and `MseReceiver`.

Rules (the Vuze "Message Stream Encryption" specification; A dials, B accepts):

1. A->B: Ya, PadA
2. B->A: Yb, PadB
3. A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
4. B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
5. A->B: ENCRYPT2(payload)

* Pads are 0..512 bytes (PadA/PadB random bytes; PadC/PadD zeros, empty by default as
  libtorrent's peers accept either). Lengths are 2 bytes, crypto fields 4, big-endian.
* B finds the end of PadA by searching HASH('req1', S) within the 512 + 20 bytes after
  Ya (628 bytes from the start); A finds the end of PadB by searching ENCRYPT(VC) within
  the 512 + 8 bytes after Yb (616 bytes). Not found within that: the peer is not speaking
  MSE (or is an attacker), and the handshake fails.
* ENCRYPT is RC4 always: the header fields and IA (the initial payload: our BitTorrent
  handshake, sent with step 3 to save a round trip). ENCRYPT2 is what crypto_select chose:
  RC4 continuing the same key streams, or plaintext.
* B looks the torrent up by HASH('req2', SKEY) (the session keeps one per torrent); an
  unknown one ends the handshake, as does a wrong VC, a pad longer than 512, or a
  crypto_select that is not exactly one of the methods A provided.

Feed bytes with `receive_data`, send what `data_to_send` returns; once `done`, `result`
holds the method, the ciphers to continue with, and the bytes that followed the handshake
(still encrypted if RC4 was selected: the driver decrypts them into its own buffer). Every
failure raises `MseError`, whatever the bytes.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass

from .crypto import (
    CRYPTO_PLAINTEXT,
    CRYPTO_RC4,
    DH_KEY_LENGTH,
    MAX_PAD,
    PRIVATE_KEY_BYTES,
    VC,
    MseError,
    StreamCipher,
    private_key,
    public_key,
    rc4_pair,
    req1,
    req2,
    req3,
    shared_secret,
    xor20,
)

__all__ = [
    "PLAINTEXT_HEADER",
    "MseInitiator",
    "MseReceiver",
    "MseResult",
    "RandomBytes",
    "SkeyLookup",
    "is_plaintext_start",
]

RandomBytes = Callable[[int], bytes]
# HASH('req2', SKEY) -> SKEY, or None when no torrent of ours has it.
SkeyLookup = Callable[[bytes], "bytes | None"]

PLAINTEXT_HEADER = b"\x13BitTorrent protocol"  # BEP 3: what a plain handshake begins with
REQ1_SEARCH = MAX_PAD + 20  # bytes after Ya in which B must find HASH('req1', S)
VC_SEARCH = MAX_PAD + 8  # bytes after Yb in which A must find ENCRYPT(VC)
MAX_IA = 0xFFFF


def is_plaintext_start(first: bytes | bytearray | memoryview) -> bool:
    """Do the first bytes of an incoming stream begin a plain BitTorrent handshake? (The
    first 20 bytes decide: an MSE stream starts with a random DH key.)"""
    n = min(len(first), len(PLAINTEXT_HEADER))
    return bytes(first[:n]) == PLAINTEXT_HEADER[:n]


def pad_length(random_bytes: RandomBytes) -> int:
    """A random pad length, 0..512."""
    return int.from_bytes(random_bytes(2), "big") % (MAX_PAD + 1)


@dataclass(frozen=True, slots=True)
class MseResult:
    """A finished handshake.

    `method` is `CRYPTO_RC4` or `CRYPTO_PLAINTEXT` (what crypto_select chose); with RC4,
    `encryptor` and `decryptor` continue the key streams for everything that follows
    (None for plaintext). `skey` is the torrent's 20-byte info-hash; `initial_payload` is
    IA, decrypted (the receiver's side; b"" on the initiator's); `rest` the bytes received
    after the handshake, as they arrived (encrypted when `method` is RC4).
    """

    method: int
    skey: bytes
    encryptor: StreamCipher | None
    decryptor: StreamCipher | None
    initial_payload: bytes
    rest: bytes


class _State(enum.Enum):
    PUBLIC_KEY = "waiting for the peer's DH key"
    SYNC = "searching the synchronisation mark"
    SKEY = "reading the torrent's obfuscated hash"
    HEADER = "reading VC, crypto field and pad length"
    PAD = "reading the pad"
    IA = "reading the initial payload"
    DONE = "done"


class _Handshake:
    """What both sides share: the input buffer, the output, the DH keys."""

    def __init__(self, random_bytes: RandomBytes) -> None:
        self._random = random_bytes
        self._private = private_key(random_bytes(PRIVATE_KEY_BYTES))
        self._buf = bytearray()
        self._out = bytearray()
        self._state = _State.PUBLIC_KEY
        self._secret = b""
        self._scanned = 0  # bytes after the DH key searched without finding the mark
        self._enc: StreamCipher | None = None
        self._dec: StreamCipher | None = None
        self.result: MseResult | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def state(self) -> str:
        """Where the handshake stands, in words (for logs and errors)."""
        return self._state.value

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the peer.

        Raises:
            MseError: the peer broke the handshake; close the connection.
        """
        if self.result is not None:
            raise MseError("bytes fed to a finished MSE handshake")
        self._buf += data
        try:
            self._advance()
        except MseError:
            raise
        except (ValueError, struct.error) as exc:  # should not happen; never leak others
            raise MseError(f"bad MSE handshake: {exc}") from None

    def _advance(self) -> None:
        raise NotImplementedError

    def _take(self, n: int) -> bytes | None:
        if len(self._buf) < n:
            return None
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk

    def _search(self, mark: bytes, limit: int) -> bool:
        """Drop the bytes before `mark` (and the mark) once found; fail past `limit`."""
        at = self._buf.find(mark, max(0, self._scanned - len(mark) + 1))
        if at < 0:
            self._scanned = len(self._buf)
            if len(self._buf) >= limit:
                raise MseError(f"no MSE synchronisation mark in the first {limit} bytes")
            return False
        if at + len(mark) > limit:
            raise MseError(f"no MSE synchronisation mark in the first {limit} bytes")
        del self._buf[: at + len(mark)]
        return True

    def _decrypt(self, data: bytes) -> bytes:
        assert self._dec is not None
        return self._dec.update(data)

    def _encrypt(self, data: bytes) -> bytes:
        assert self._enc is not None
        return self._enc.update(data)

    def _pad(self, length: int, *, random: bool) -> bytes:
        return self._random(length) if random else bytes(length)


class MseInitiator(_Handshake):
    """A's side: we dialled, we know the torrent (`skey`, its 20-byte info-hash).

    `provide` is the crypto_provide bits (`CRYPTO_RC4`, `CRYPTO_PLAINTEXT` or both);
    `initial_payload` (IA) goes encrypted with step 3, normally our BitTorrent handshake.
    """

    def __init__(
        self,
        skey: bytes,
        *,
        provide: int,
        initial_payload: bytes,
        random_bytes: RandomBytes,
        pad_a: int | None = None,
        pad_c: int = 0,
    ) -> None:
        super().__init__(random_bytes)
        if len(skey) != 20 or not provide or provide & ~(CRYPTO_RC4 | CRYPTO_PLAINTEXT):
            raise ValueError("MseInitiator needs a 20-byte SKEY and crypto bits to provide")
        if len(initial_payload) > MAX_IA or not 0 <= pad_c <= MAX_PAD:
            raise ValueError("IA longer than 65535 bytes or PadC longer than 512")
        self._skey = skey
        self._provide = provide
        self._ia = initial_payload
        self._pad_c = pad_c
        pad = pad_length(random_bytes) if pad_a is None else pad_a
        self._out += public_key(self._private) + self._pad(pad, random=True)
        self._select = 0
        self._pad_d = 0

    def _advance(self) -> None:
        while True:
            match self._state:
                case _State.PUBLIC_KEY:
                    key = self._take(DH_KEY_LENGTH)
                    if key is None:
                        return
                    self._secret = shared_secret(self._private, key)
                    self._send_step3()
                    self._state = _State.SYNC
                case _State.SYNC:
                    if not self._search(self._vc_mark, VC_SEARCH):
                        return
                    self._state = _State.HEADER
                case _State.HEADER:
                    head = self._take(6)
                    if head is None:
                        return
                    select, self._pad_d = struct.unpack(">IH", self._decrypt(head))
                    if select not in (CRYPTO_RC4, CRYPTO_PLAINTEXT) or not select & self._provide:
                        raise MseError(f"the peer selected crypto {select:#x}, not one provided")
                    if self._pad_d > MAX_PAD:
                        raise MseError(f"PadD of {self._pad_d} bytes (at most 512)")
                    self._select = select
                    self._state = _State.PAD
                case _State.PAD:
                    pad = self._take(self._pad_d)
                    if pad is None:
                        return
                    self._decrypt(pad)
                    self._finish()
                    return
                case _:
                    return

    def _send_step3(self) -> None:
        secret = self._secret
        self._enc, self._dec = rc4_pair(secret, self._skey, initiator=True)
        # B's reply begins, after PadB, with ENCRYPT(VC): the first 8 bytes of B's key
        # stream. Computing it through our decryptor also moves it past VC.
        self._vc_mark = self._decrypt(VC)
        header = VC + struct.pack(">IH", self._provide, self._pad_c)
        header += self._pad(self._pad_c, random=False) + struct.pack(">H", len(self._ia))
        self._out += req1(secret) + xor20(req2(self._skey), req3(secret))
        self._out += self._encrypt(header + self._ia)

    def _finish(self) -> None:
        rc4 = self._select == CRYPTO_RC4
        self._state = _State.DONE
        self.result = MseResult(
            method=self._select,
            skey=self._skey,
            encryptor=self._enc if rc4 else None,
            decryptor=self._dec if rc4 else None,
            initial_payload=b"",
            rest=bytes(self._buf),
        )
        self._buf.clear()


class MseReceiver(_Handshake):
    """B's side: a peer dialled us; `lookup` finds the torrent by HASH('req2', SKEY).

    `choose(provided)` returns the crypto_select for the bits A provided (0: none is
    acceptable, the handshake fails): the session's policy.
    """

    def __init__(
        self,
        lookup: SkeyLookup,
        *,
        choose: Callable[[int], int],
        random_bytes: RandomBytes,
        pad_b: int | None = None,
        pad_d: int = 0,
    ) -> None:
        super().__init__(random_bytes)
        if not 0 <= pad_d <= MAX_PAD:
            raise ValueError("PadD is at most 512 bytes")
        self._lookup = lookup
        self._choose = choose
        self._pad_b = pad_length(random_bytes) if pad_b is None else pad_b
        self._pad_d = pad_d
        self._skey = b""
        self._provide = 0
        self._pad_c = 0
        self._ia_length = 0

    def _advance(self) -> None:
        while True:
            match self._state:
                case _State.PUBLIC_KEY:
                    key = self._take(DH_KEY_LENGTH)
                    if key is None:
                        return
                    self._secret = shared_secret(self._private, key)
                    self._out += public_key(self._private) + self._pad(self._pad_b, random=True)
                    self._req1 = req1(self._secret)
                    self._state = _State.SYNC
                case _State.SYNC:
                    if not self._search(self._req1, REQ1_SEARCH):
                        return
                    self._state = _State.SKEY
                case _State.SKEY:
                    masked = self._take(20)
                    if masked is None:
                        return
                    skey = self._lookup(xor20(masked, req3(self._secret)))
                    if skey is None:
                        raise MseError("the peer asked for a torrent we do not have")
                    self._skey = skey
                    self._enc, self._dec = rc4_pair(self._secret, skey, initiator=False)
                    self._state = _State.HEADER
                case _State.HEADER:
                    head = self._take(14)
                    if head is None:
                        return
                    vc, self._provide, self._pad_c = struct.unpack(">8sIH", self._decrypt(head))
                    if vc != VC:
                        raise MseError("wrong MSE verification constant")
                    if self._pad_c > MAX_PAD:
                        raise MseError(f"PadC of {self._pad_c} bytes (at most 512)")
                    self._state = _State.PAD
                case _State.PAD:
                    pad = self._take(self._pad_c + 2)
                    if pad is None:
                        return
                    (self._ia_length,) = struct.unpack(">H", self._decrypt(pad)[-2:])
                    self._state = _State.IA
                case _State.IA:
                    ia = self._take(self._ia_length)
                    if ia is None:
                        return
                    self._finish(self._decrypt(ia))
                    return
                case _:
                    return

    def _finish(self, ia: bytes) -> None:
        select = self._choose(self._provide & (CRYPTO_RC4 | CRYPTO_PLAINTEXT))
        if select not in (CRYPTO_RC4, CRYPTO_PLAINTEXT) or not select & self._provide:
            raise MseError(f"no crypto method in common (the peer provides {self._provide:#x})")
        header = VC + struct.pack(">IH", select, self._pad_d) + self._pad(self._pad_d, random=False)
        self._out += self._encrypt(header)
        rc4 = select == CRYPTO_RC4
        self._state = _State.DONE
        self.result = MseResult(
            method=select,
            skey=self._skey,
            encryptor=self._enc if rc4 else None,
            decryptor=self._dec if rc4 else None,
            initial_payload=ia,
            rest=bytes(self._buf),
        )
        self._buf.clear()
