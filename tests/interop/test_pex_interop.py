"""Peer exchange (BEP 11) with libtorrent: bitswarm learns a third peer from libtorrent's
ut_pex messages and connects to it.

libtorrent runs in this process (its Python module), on 127.0.0.1 with DHT, LSD and
encryption off and several connections per IP allowed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.addresses import PeerKey
from bitswarm.core.extensions import ExtensionHub
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from tests.lt_sessions import loopback_session

from .tools import require_module


def _lt_session(lt: Any, **extra: Any) -> Any:
    return loopback_session(
        lt, allow_multiple_connections_per_ip=True, enable_ip_notifier=False, alert_mask=0,
        **extra,
    )  # fmt: skip


_LOGGED = ("PEX", "HANDSHAKE", "CONNECTION", "disconnect", "ERROR")


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# A real libtorrent peer: 20 s to connect, then its own 60 s deadline for a PEX round,
# which explains a failure with libtorrent's log; the run-wide 60 s must not pre-empt it.
@pytest.mark.timeout(150)
@pytest.mark.interop
def test_bitswarm_learns_a_third_peer_from_libtorrent_pex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libtorrent A seeds and dials bitswarm leecher C. Bitswarm leecher B is told only of
    A; B must learn C's address from A's ut_pex and end up connected to C. A uploads
    slowly, so both leechers stay connected to it; they read at full speed, so a PEX
    message never waits in the socket behind seconds of rate-limited blocks.

    A's first PEX round goes to both leechers, so C may learn B from it and dial B before B
    dials C; then the two keep the connection the smaller peer id dialled, which may be C's.
    So "connected" is judged by C's peer id, not by B holding a connection to C's address.
    """
    lt = require_module("libtorrent")
    # For the failure message: every extended message each torrent's hub was handed, and
    # what its PEX state made of it.
    heard: list[tuple[int, int, str]] = []
    on_message = ExtensionHub.on_message

    def recording(
        hub: ExtensionHub, key: PeerKey, ext_id: int, payload: bytes, *, now: float
    ) -> str | None:
        reason = on_message(hub, key, ext_id, payload, now=now)
        peer = hub._peers.get(key)
        pex = peer and peer.pex
        note = (
            f"{len(payload)} bytes from {peer and peer.address}, pex state "
            f"{pex and (pex.ignored, pex.remote)}, learned {peer and list(peer.learned)}, "
            f"reason {reason}"
        )
        heard.append((id(hub), ext_id, note))
        return reason

    monkeypatch.setattr(ExtensionHub, "on_message", recording)
    data = tmp_path / "seed" / "file.bin"
    data.parent.mkdir()
    data.write_bytes(bytes(range(256)) * 4096 * 4)  # 4 MiB from A at 32 KiB/s: 2 minutes
    torrent = create_torrent(data, piece_length=64 * 1024)
    meta = parse_torrent(torrent)

    a = _lt_session(lt, upload_rate_limit=32 * 1024)
    every_ip = lt.ip_filter()  # libtorrent exempts local peers from limits: not here
    every_ip.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    a.set_peer_class_filter(every_ip)
    # libtorrent's own log of A's connections, for the failure message
    a.apply_settings({"alert_mask": int(lt.alert.category_t.peer_log_notification)})
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(torrent))
    params.save_path = str(data.parent)
    ha = a.add_torrent(params)
    _wait(lambda: ha.status().is_seeding, 20, "libtorrent to seed")
    only_a = [("127.0.0.1", a.listen_port())]
    config = SessionConfig(listen_host="127.0.0.1", listen_port=0)

    async def run() -> tuple[int, set[tuple[str, int]], bool]:
        async with Session(config) as c, Session(config) as b:
            await c.add(meta, tmp_path / "c")
            # A dials C, so A knows C's listen address for sure (of a peer that dialled
            # it, libtorrent learns it only from the extension handshake), and B joins
            # only once A is connected to C: A's first PEX message to B, the only one that
            # lists all of A's peers (later ones name only changes), must name C.
            ha.connect_peer(("127.0.0.1", c.listen_port))
            async with asyncio.timeout(20):
                while ha.status().num_peers < 1:  # noqa: ASYNC110 - polling libtorrent
                    await asyncio.sleep(0.05)
            rt = await b.add(meta, tmp_path / "b", peers=only_a)
            c_addr = ("127.0.0.1", c.listen_port)

            def linked_to_c() -> bool:
                return any(
                    p.conn is not None and p.conn.remote_peer_id == c.peer_id for p in rt.protocols
                )

            try:
                async with asyncio.timeout(60):  # libtorrent sends the first round in seconds
                    while not (c_addr in rt.dialer.known and linked_to_c()):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            except TimeoutError:
                b_hub = id(rt.core.extensions) if rt.core is not None else None
                ours = [
                    (
                        p.address,
                        p.outgoing,
                        p.conn and p.conn.remote_peer_id,
                        p.conn and p.conn.outstanding_count,
                    )
                    for p in rt.protocols
                ]
                log = [
                    f"{al.timestamp()} {al.message()}"
                    for al in a.pop_alerts()
                    if any(w in al.message() for w in _LOGGED)
                ]
                raise AssertionError(
                    f"B never linked to C {c_addr} (C's id {c.peer_id!r}, B's {b.peer_id!r}); "
                    f"B knows {sorted(rt.dialer.known)}, holds {ours} "
                    f"(address, dialled, peer id, requests out) at {time.time()}; "
                    f"extended messages (hub, id, what): B's hub is {b_hub}, {heard}; "
                    "libtorrent A's log:\n" + "\n".join(log)
                ) from None
            return c.listen_port, set(rt.dialer.known), linked_to_c()

    try:
        c_port, known, linked = asyncio.run(run())
    finally:
        a.remove_torrent(ha)
    assert ("127.0.0.1", c_port) in known  # learned, not given
    assert linked
