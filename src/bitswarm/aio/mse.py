"""MSE/PE under `PeerProtocol`: a protocol/transport pair that runs the encrypted handshake
and then decrypts what arrives and encrypts what is written (L2).

`MseStream` is the protocol the transport (a TCP socket's, or any transport that behaves
like asyncio's for a `BufferedProtocol`, such as the uTP one) talks to; the `PeerProtocol`
above it sees `EncryptingTransport`, which forwards everything to the real transport and
encrypts on `write`. So the wire codec and the torrent never know whether the bytes were
encrypted, and TCP and uTP get the same layer.

Reading stays one copy: the transport reads into this layer's scratch buffer and RC4
decrypts it straight into the `PeerProtocol`'s own read buffer (`update_into`; the
cipher refuses to work in place), where the codec parses it as before.

An incoming stream is sniffed first: 20 bytes of "\\x13BitTorrent protocol" are a plain
handshake, anything else an MSE one (the policy says whether each is accepted). The
handshake cores are `bitswarm.wire.mse`; the policy `bitswarm.wire.mse.policy`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from ..wire.handshake import HANDSHAKE_LENGTH
from ..wire.mse import (
    PLAINTEXT_HEADER,
    Encryption,
    MseError,
    MseInitiator,
    MseReceiver,
    MseResult,
    StreamCipher,
    accepts_mse,
    accepts_plaintext,
    crypto_provide,
    crypto_select,
    is_plaintext_start,
)
from .peer import PeerProtocol

__all__ = ["EncryptingTransport", "MseStream", "incoming_stream"]

log = logging.getLogger("bitswarm.mse")

SCRATCH = 16 * 1024  # the scratch buffer's first size; it grows to the PeerProtocol's


class EncryptingTransport(asyncio.Transport):
    """The transport a `PeerProtocol` over MSE writes to: RC4 on `write` once the handshake
    chose it, plain otherwise; bytes written during the handshake wait (the first
    `HANDSHAKE_LENGTH` of an initiator's go into the handshake itself as IA)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._t = transport
        self._enc: StreamCipher | None = None
        self._held: bytearray | None = bytearray()  # None once the handshake is over

    def start(self, encryptor: StreamCipher | None) -> None:
        """The handshake is over: write what waited, encrypted with `encryptor` if any."""
        self._enc = encryptor
        held, self._held = self._held, None
        if held:
            self.write(bytes(held))

    def take_held(self, n: int) -> bytes:
        """The first `n` bytes written so far (the initiator's IA), taken out."""
        assert self._held is not None
        chunk = bytes(self._held[:n])
        del self._held[:n]
        return chunk

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            self._held += data
        elif self._enc is not None:
            self._t.write(self._enc.update(data))
        else:
            self._t.write(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    # ------------------------------------------------------------ forwarded as they are
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._t.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._t.is_closing()

    def close(self) -> None:
        self._t.close()

    def abort(self) -> None:
        self._t.abort()

    def pause_reading(self) -> None:
        self._t.pause_reading()

    def resume_reading(self) -> None:
        self._t.resume_reading()

    def is_reading(self) -> bool:
        return self._t.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._t.set_write_buffer_limits(high=high, low=low)

    def get_write_buffer_size(self) -> int:
        return self._t.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._t.get_write_buffer_limits()

    def can_write_eof(self) -> bool:
        return self._t.can_write_eof()

    def write_eof(self) -> None:
        self._t.write_eof()


class MseStream(asyncio.BufferedProtocol):
    """One connection's encryption layer, between a transport and its `PeerProtocol`.

    Outgoing (`initiator` with the torrent's 20-byte info-hash as `skey`): the MSE
    handshake with our BitTorrent handshake as IA. Incoming (`incoming_stream`): sniff,
    then plain or the receiver's handshake, finding the torrent with `lookup`
    (HASH('req2', SKEY) -> SKEY). `outcome` resolves once the handshake is over: None when
    it succeeded, else why it failed (the dialer retries plain on a failure).
    """

    def __init__(
        self,
        peer: PeerProtocol,
        *,
        level: Encryption,
        skey: bytes | None = None,
        lookup: Callable[[bytes], bytes | None] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.peer = peer
        self.level = level
        self._skey = skey
        self._lookup = lookup
        self._random = random_bytes
        self._transport: asyncio.Transport | None = None
        self._wrapper: EncryptingTransport | None = None
        self._core: MseInitiator | MseReceiver | None = None
        self._dec: StreamCipher | None = None
        self._passthrough = False  # handshake over: reads go to `peer`
        self._sniff = bytearray()
        self._scratch = bytearray(SCRATCH)
        self._scratch_view = memoryview(self._scratch)
        self._target: memoryview | None = None
        self.outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    # ---------------------------------------------------------------- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._wrapper = EncryptingTransport(transport)
        self.peer.carrier = transport  # what the peer's bytes travel on (TCP or uTP)
        self.peer.connection_made(self._wrapper)  # an outgoing peer queues its handshake
        if self.peer.closing:
            self._resolve("closed before the encryption handshake")
            return
        if self._skey is not None:
            ia = self._wrapper.take_held(HANDSHAKE_LENGTH)
            self._core = MseInitiator(
                self._skey,
                provide=crypto_provide(self.level),
                initial_payload=ia,
                random_bytes=self._random,
            )
            self.peer.encryption = "mse"
            self._flush_core()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._passthrough:
            if self._dec is None:
                return self.peer.get_buffer(sizehint)
            target = self.peer.get_buffer(sizehint)
            if len(self._scratch) < len(target):
                self._scratch = bytearray(len(target))
                self._scratch_view = memoryview(self._scratch)
            self._target = target
            return self._scratch_view[: len(target)]
        return self._scratch_view

    def buffer_updated(self, nbytes: int) -> None:
        if self._passthrough:
            if self._dec is not None:
                target = self._target
                assert target is not None
                self._target = None
                self._dec.update_into(self._scratch_view[:nbytes], target[:nbytes])
            self.peer.buffer_updated(nbytes)
            return
        self.data_received(self._scratch_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        """Handshake bytes (the buffered path: `buffer_updated` forwards after it)."""
        if self._passthrough:
            self._deliver(bytes(data))
            return
        if self._core is None:
            self._sniff += data
            if not self._choose_incoming():
                return
            data, self._sniff = bytes(self._sniff), bytearray()
            if self._passthrough:  # plain: the sniffed bytes are the handshake's start
                self.peer.data_received(data)
                return
        core = self._core
        assert core is not None
        try:
            core.receive_data(data)
        except MseError as exc:
            self._flush_core()
            self._fail(f"encryption handshake failed: {exc}")
            return
        self._flush_core()
        if core.result is not None:
            self._finish(core.result)

    def eof_received(self) -> bool | None:
        if self._passthrough:
            return self.peer.eof_received()
        return None  # closes the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.outcome.done():
            self._resolve("the peer closed the connection during the encryption handshake")
        self.peer.connection_lost(exc)

    def pause_writing(self) -> None:
        self.peer.pause_writing()

    def resume_writing(self) -> None:
        self.peer.resume_writing()

    # ---------------------------------------------------------------- internals
    def _choose_incoming(self) -> bool:
        """Sniffed enough? Then set up plain passthrough or the receiver (True)."""
        sniff = self._sniff
        if is_plaintext_start(sniff):
            if len(sniff) < len(PLAINTEXT_HEADER):
                return False
            if not accepts_plaintext(self.level):
                self._fail("refused a plaintext connection (encryption is required)")
                return False
            self.peer.encryption = "none"
            self._start_passthrough(None)
            return True
        if not accepts_mse(self.level):
            self._fail("refused an encrypted connection (encryption is disabled)")
            return False
        assert self._lookup is not None
        level = self.level
        self.peer.encryption = "mse"
        self._core = MseReceiver(
            self._lookup,
            choose=lambda provided: crypto_select(level, provided),
            random_bytes=self._random,
        )
        return True

    def _flush_core(self) -> None:
        core, transport = self._core, self._transport
        if core is None or transport is None or transport.is_closing():
            return
        out = core.data_to_send()
        if out:
            transport.write(out)

    def _finish(self, result: MseResult) -> None:
        self.peer.encrypted = result.encryptor is not None
        self.peer.mse_skey = result.skey
        self._core = None
        self._start_passthrough(result.decryptor, result.encryptor)
        self._resolve(None)
        if result.initial_payload:
            self.peer.data_received(result.initial_payload)
        if result.rest and not self.peer.closing:
            self._deliver(result.rest)

    def _start_passthrough(
        self, decryptor: StreamCipher | None, encryptor: StreamCipher | None = None
    ) -> None:
        self._passthrough = True
        self._dec = decryptor
        self._resolve(None)
        assert self._wrapper is not None
        self._wrapper.start(encryptor)

    def _deliver(self, data: bytes) -> None:
        if self._dec is not None:
            data = self._dec.update(data)
        self.peer.data_received(data)

    def _fail(self, reason: str) -> None:
        log.debug("%s:%d: %s", *self.peer.address, reason)
        self._resolve(reason)
        self.peer.close(reason)

    def _resolve(self, reason: str | None) -> None:
        if not self.outcome.done():
            self.outcome.set_result(reason)


def incoming_stream(
    peer: PeerProtocol, *, level: Encryption, lookup: Callable[[bytes], bytes | None]
) -> MseStream:
    """The layer for an accepted connection: plain or MSE, as the first bytes and the
    session's `level` decide."""
    return MseStream(peer, level=level, lookup=lookup)
