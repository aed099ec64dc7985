"""MSE under PeerProtocol (aio/mse.py) and the session's policy, bitswarm against itself and
against raw sockets on loopback: each level accepts and refuses what wire/mse/policy.py says."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bitswarm.metainfo import Metainfo
from bitswarm.wire.handshake import encode_handshake
from bitswarm.wire.mse import CRYPTO_RC4, Encryption, MseInitiator

from ..session.helpers import digest_tree, make_multifile, make_torrent, start_session

MiB = 2**20


async def _exchange(port: int, first: bytes, *, within: float = 5.0) -> bytes:
    """Send `first` to 127.0.0.1:`port`; everything received until the peer closes (or
    `within` seconds pass)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    got = b""
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                got += chunk
                if len(got) >= 68:
                    break
    except TimeoutError:
        pass
    finally:
        writer.close()
    return got


def _seed(tmp_path: Path) -> Metainfo:
    content = make_multifile(tmp_path / "seed", [2 * MiB + 7])
    return make_torrent(content, version="v1")


@pytest.mark.parametrize(
    ("level", "plain_ok", "mse_ok"),
    [
        (Encryption.DISABLED, True, False),
        (Encryption.ALLOWED, True, True),
        (Encryption.PREFERRED, True, True),
        (Encryption.REQUIRED, False, True),
    ],
)
def test_incoming_plain_and_mse_per_level(
    tmp_path: Path, level: Encryption, plain_ok: bool, mse_ok: bool
) -> None:
    meta = _seed(tmp_path)
    key = meta.info.info_hashes.wire

    async def run() -> tuple[bytes, bytes]:
        s = await start_session(encryption=level)
        try:
            await s.add(meta, tmp_path / "seed")
            plain = await _exchange(s.listen_port, encode_handshake(key, os.urandom(20), bytes(8)))
            mse = MseInitiator(
                key, provide=CRYPTO_RC4, initial_payload=b"", random_bytes=os.urandom
            )
            reply = await _exchange(s.listen_port, mse.data_to_send())
            return plain, reply
        finally:
            await s.close()

    plain, reply = asyncio.run(run())
    # a plain handshake is answered with ours (it names the torrent) or not at all
    assert (plain[:20] == b"\x13BitTorrent protocol") is plain_ok, plain[:20]
    assert (key in plain) is plain_ok
    # an MSE Ya is answered with Yb (96 bytes and PadB) or the connection is closed
    assert (len(reply) >= 96) is mse_ok, len(reply)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("seeder", "leecher", "encrypted"),
    [
        (Encryption.REQUIRED, Encryption.PREFERRED, True),
        (Encryption.PREFERRED, Encryption.REQUIRED, True),
        (Encryption.ALLOWED, Encryption.PREFERRED, False),  # MSE, then plaintext selected
        (Encryption.DISABLED, Encryption.PREFERRED, False),  # MSE refused: retried plain
        (Encryption.REQUIRED, Encryption.ALLOWED, True),  # plain refused: retried with MSE
    ],
)
def test_bitswarm_pairs_transfer_and_report_encryption(
    tmp_path: Path, seeder: Encryption, leecher: Encryption, encrypted: bool
) -> None:
    meta = _seed(tmp_path)

    async def run() -> list[bool]:
        a = await start_session(encryption=seeder)
        b = await start_session(encryption=leecher, download_limit=1 * MiB)  # 2 s: see peers
        try:
            await a.add(meta, tmp_path / "seed")
            rt = await b.add(meta, tmp_path / "leech", peers=[("127.0.0.1", a.listen_port)])
            seen: list[bool] = []
            async with asyncio.timeout(30):
                while not rt.completed.is_set():
                    seen += [p.encrypted for p in rt.peers()]
                    await asyncio.sleep(0.05)
            return seen
        finally:
            await b.close()
            await a.close()

    seen = asyncio.run(run())
    assert seen and set(seen) == {encrypted}
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(tmp_path / "seed" / "content")


@pytest.mark.timeout(60)
def test_a_peer_that_stalls_mid_mse_is_closed_after_the_handshake_timeout(
    tmp_path: Path,
) -> None:
    """The handshake timeout (peer slots) starts when the transport connects, under the MSE
    layer: a peer that sends Ya, gets Yb and then says nothing more is closed."""
    meta = _seed(tmp_path)
    key = meta.info.info_hashes.wire

    async def run() -> tuple[int, float]:
        s = await start_session(handshake_timeout=1.0)
        try:
            await s.add(meta, tmp_path / "seed")
            reader, writer = await asyncio.open_connection("127.0.0.1", s.listen_port)
            mse = MseInitiator(
                key, provide=CRYPTO_RC4, initial_payload=b"", random_bytes=os.urandom
            )
            writer.write(mse.data_to_send())  # Ya and PadA, then nothing
            t0 = asyncio.get_running_loop().time()
            got = b""
            async with asyncio.timeout(20):
                while chunk := await reader.read(65536):
                    got += chunk
            writer.close()
            return len(got), asyncio.get_running_loop().time() - t0
        finally:
            await s.close()

    answered, took = asyncio.run(run())
    assert answered >= 96  # Yb: the MSE handshake had begun
    assert 0.5 < took < 10


HINT_WITHIN = 5.0  # seconds from add() to the hint, for a single refusing seeder


@pytest.mark.timeout(60)
def test_a_single_seeder_that_requires_encryption_gives_a_hint_at_once(tmp_path: Path) -> None:
    """A plaintext-only leecher and one seeder that requires encryption: no peer, and the
    status (and its JSON) says why within seconds, from the first refusal; a seeder that
    takes plaintext, added later, connects and the hint goes."""
    meta = _seed(tmp_path)

    async def run() -> tuple[float, str | None, int, dict[str, object], str | None]:
        leecher = await start_session(encryption=Encryption.DISABLED)
        strict = await start_session(encryption=Encryption.REQUIRED)
        lenient = await start_session(encryption=Encryption.ALLOWED)
        try:
            await strict.add(meta, tmp_path / "seed")
            await lenient.add(meta, tmp_path / "seed")
            loop = asyncio.get_running_loop()
            added = loop.time()
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", strict.listen_port)]
            )
            async with asyncio.timeout(30):
                while rt.status().hint is None:
                    assert not rt.peers(), "a plaintext peer got through a required seeder"
                    await asyncio.sleep(0.02)
            took = loop.time() - added
            st = rt.status()
            rt.add_peers([("127.0.0.1", lenient.listen_port)])
            async with asyncio.timeout(30):
                while not rt.peers():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            return took, st.hint, st.handshake_failures, st.to_json(), rt.status().hint
        finally:
            for s in (leecher, strict, lenient):
                await s.close()

    took, hint, failures, as_json, later = asyncio.run(run())
    assert (
        hint is not None and "1 peer closed plaintext" in hint and "may require encryption" in hint
    )
    assert "--encryption preferred or required" in hint
    assert failures == 1 and as_json["hint"] == hint and as_json["handshake_failures"] == 1
    assert took < HINT_WITHIN, f"the hint took {took:.1f} s"
    assert later is None, "a connected peer clears the hint"
