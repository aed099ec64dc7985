"""bitswarm to bitswarm over uTP (BEP 29) on loopback: real UDP sockets and files."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from bitswarm.session import Session, SessionConfig, TorrentRuntime

from .helpers import digest_tree, make_multifile, make_torrent, start_session

MiB = 2**20


async def complete_watching_transports(rt: TorrentRuntime, within: float) -> set[str]:
    """Wait for `rt` to complete; the transports of the peers seen meanwhile, and of every
    connection the dialer made (a small transfer can start and end between two looks)."""
    seen: set[str] = set()
    async with asyncio.timeout(within):
        while not rt.completed.is_set():
            seen.update(p.transport for p in rt.peers())
            await asyncio.sleep(0.02)
    return seen | {way.transport for way in rt.dialer.worked.values()}


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("seed_transport", "leech_transport"), [("utp", "utp"), ("both", "both")])
def test_download_over_utp(tmp_path: Path, seed_transport: str, leech_transport: str) -> None:
    content = make_multifile(tmp_path / "seed", [2 * MiB + 333, 700_001])
    meta = make_torrent(content, piece_length=64 * 1024)
    want = digest_tree(content)

    async def run() -> set[str]:
        seeder = await start_session(transport=seed_transport)
        leecher = await start_session(transport=leech_transport)
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            return await complete_watching_transports(rt, 60)
        finally:
            await leecher.close()
            await seeder.close()

    seen = asyncio.run(run())
    assert seen == {"utp"}  # "both" dials uTP first
    assert digest_tree(tmp_path / "leech" / "content") == want


@pytest.mark.timeout(90)
def test_both_falls_back_to_tcp_when_the_peer_has_no_utp(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [600_000])
    meta = make_torrent(content, piece_length=32 * 1024)

    async def run() -> set[str]:
        seeder = await start_session(transport="tcp")
        leecher = await start_session(transport="both")
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            return await complete_watching_transports(rt, 60)
        finally:
            await leecher.close()
            await seeder.close()

    assert asyncio.run(run()) == {"tcp"}
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


@pytest.mark.timeout(90)
def test_both_reaches_a_tcp_only_peer_without_the_utp_timeout(tmp_path: Path) -> None:
    """uTP and TCP are raced (session/racing.py): a peer without uTP is connected over TCP
    in a fraction of the uTP connect timeout (its SYN and one resend, about 4.5 s), and the
    dialer remembers that TCP worked there; a peer with uTP is remembered as uTP."""
    content = make_multifile(tmp_path / "seed", [100_000])
    meta = make_torrent(content, piece_length=32 * 1024)

    async def run() -> tuple[float, str, str]:
        tcp_seed = await start_session(transport="tcp")
        utp_seed = await start_session(transport="both")
        leecher = await start_session(transport="both")
        try:
            await tcp_seed.add(meta, tmp_path / "seed")
            await utp_seed.add(meta, tmp_path / "seed")
            tcp_addr = ("127.0.0.1", tcp_seed.listen_port)
            utp_addr = ("127.0.0.1", utp_seed.listen_port)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            rt = await leecher.add(meta, tmp_path / "leech", peers=[tcp_addr, utp_addr])
            async with asyncio.timeout(30):
                while tcp_addr not in rt.dialer.worked:  # noqa: ASYNC110 - set on connect
                    await asyncio.sleep(0.01)
            took = loop.time() - t0
            async with asyncio.timeout(30):
                while utp_addr not in rt.dialer.worked:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            return took, rt.dialer.worked[tcp_addr].transport, rt.dialer.worked[utp_addr].transport
        finally:
            for s in (leecher, tcp_seed, utp_seed):
                await s.close()

    took, tcp_worked, utp_worked = asyncio.run(run())
    assert took < 2.5  # the serial uTP-then-TCP dial took 4.5 s at least
    assert (tcp_worked, utp_worked) == ("tcp", "utp")


@pytest.mark.timeout(60)
def test_utp_only_refuses_tcp_and_tcp_only_refuses_utp(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [100_000])
    meta = make_torrent(content, piece_length=32 * 1024)

    async def run() -> tuple[int, int]:
        utp_seed = await start_session(transport="utp")
        tcp_seed = await start_session(transport="tcp")
        a = await start_session(transport="tcp")
        b = await start_session(transport="utp")
        try:
            await utp_seed.add(meta, tmp_path / "seed")
            await tcp_seed.add(meta, tmp_path / "seed")
            ra = await a.add(meta, tmp_path / "a", peers=[("127.0.0.1", utp_seed.listen_port)])
            rb = await b.add(meta, tmp_path / "b", peers=[("127.0.0.1", tcp_seed.listen_port)])
            await asyncio.sleep(3.0)
            return len(ra.peers()), len(rb.peers())
        finally:
            for s in (a, b, utp_seed, tcp_seed):
                await s.close()

    assert asyncio.run(run()) == (0, 0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = int(u.getsockname()[1])
    with socket.socket() as t:
        t.bind(("127.0.0.1", port))  # free for TCP as well (else the test picks again)
    return port


@pytest.mark.timeout(60)
def test_dht_shares_the_peer_port(tmp_path: Path) -> None:
    """One UDP socket on the peer port answers both the DHT (KRPC) and uTP."""

    async def run() -> None:
        for _ in range(5):
            port = _free_port()
            cfg = SessionConfig(
                listen_host="127.0.0.1",
                listen_port=port,
                find_free_port=False,
                dht_port=port,
                dht_rate_limit=0,
            )
            s = Session(cfg)
            try:
                await s.start()
                break
            except OSError:
                continue
        other = await start_session(dht_port=0, dht_rate_limit=0)
        try:
            assert s.dht is not None and other.dht is not None
            assert s.dht.addresses == [("127.0.0.1", s.listen_port)]
            assert s.utp is not None and s.utp.sockname == ("127.0.0.1", s.listen_port)
            node_id = await other.dht.ping(("127.0.0.1", s.listen_port))
            assert node_id == s.dht.node_id
            back = await s.dht.ping(other.dht.addresses[0])
            assert back == other.dht.node_id
        finally:
            await other.close()
            await s.close()

    asyncio.run(run())


@pytest.mark.timeout(90)
def test_transport_changes_for_new_connections(tmp_path: Path) -> None:
    """`Session.set_transport` (the daemon's live setting): a TCP-only seeder opens its uTP
    socket when switched to uTP only, a uTP leecher then gets in, and the status counts
    that peer as uTP (`utp_peers`)."""
    content = make_multifile(tmp_path / "seed", [300_000])
    meta = make_torrent(content, piece_length=32 * 1024)

    async def run() -> tuple[bool, int, int]:
        seeder = await start_session(transport="tcp")
        leecher = await start_session(transport="utp", download_limit=150_000)  # ~2 s
        try:
            had_utp = seeder.utp is not None
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            seeder.set_transport("utp")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            seen_seed = seen_leech = 0
            async with asyncio.timeout(60):
                while not rt.completed.is_set():
                    seen_seed = max(seen_seed, seed_rt.status().utp_peers)
                    seen_leech = max(seen_leech, rt.status().utp_peers)
                    await asyncio.sleep(0.01)
            return had_utp, seen_seed, seen_leech
        finally:
            await leecher.close()
            await seeder.close()

    had_utp, seen_seed, seen_leech = asyncio.run(run())
    assert not had_utp and (seen_seed, seen_leech) == (1, 1)
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.timeout(90)
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_an_ipv6_peer_is_dialled_from_the_ipv6_utp_socket(tmp_path: Path) -> None:
    """A session on every interface has an IPv4 and an IPv6 uTP socket (IPv4 first): a
    peer on ::1 is dialled from the IPv6 one."""
    content = make_multifile(tmp_path / "seed", [200_000])
    meta = make_torrent(content, piece_length=32 * 1024)

    async def run() -> set[str]:
        seeder = await start_session("::1", transport="utp")
        leecher = await start_session(None, transport="utp")  # type: ignore[arg-type]
        try:
            families = [m.sock.family for m in leecher.utp_managers]
            assert families == [socket.AF_INET, socket.AF_INET6]
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(meta, tmp_path / "leech", peers=[("::1", seeder.listen_port)])
            return await complete_watching_transports(rt, 30)
        finally:
            await leecher.close()
            await seeder.close()

    assert asyncio.run(run()) == {"utp"}
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)
