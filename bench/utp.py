"""``python -m bench utp``: downloads over uTP (BEP 29), bitswarm beside libtorrent.

(a) loopback: a libtorrent seeder with its TCP off; a bitswarm leecher (``transport="utp"``)
    and then a libtorrent leecher (TCP off) download the same payload from it, in turn;
(b) ``--shaped`` (root): the same two downloads between two network namespaces on a bridge
    (lab `ShapedNetwork`), the leecher's download limited to ``--rate`` by `tc htb` with a
    100 ms FIFO; the figure is the payload rate over the link's rate.

libtorrent runs through its Python module in this process (its network thread is C++);
in (b) each side is made on a thread that entered its namespace first
(`bitswarm_lab.peers.netns_loop`), so every socket it opens is there. Time runs from the
leecher's start to its verified completion; the leecher's copy is checked byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig

__all__ = ["main"]

MiB = 2**20


def _lt_settings(lt: Any, host: str) -> dict[str, Any]:
    return {
        "listen_interfaces": f"{host}:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_ip_notifier": False,
        "enable_outgoing_tcp": False, "enable_incoming_tcp": False,
        "enable_outgoing_utp": True, "enable_incoming_utp": True,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allowed_enc_level": int(lt.enc_level.plaintext),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    }  # fmt: skip


def _add_lt(lt: Any, ses: Any, torrent: bytes, save: Path) -> Any:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(torrent))
    params.save_path = str(save)
    return ses.add_torrent(params)


def _wait(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


class Host:
    """Where a peer runs: this thread (loopback) or a thread in a namespace."""

    def __init__(self, address: str, loop: Any = None) -> None:
        self.address = address
        self.loop = loop  # a NamespaceLoop, or None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 600.0) -> Any:
        if self.loop is None:
            return asyncio.run(coro)
        return self.loop.run(coro, timeout)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Call `fn` on the host's thread (a libtorrent session made there lives there)."""

        async def call() -> Any:
            return fn()

        if self.loop is None:
            return fn()
        return self.loop.run(call(), 60)


def _bitswarm_download(host: Host, torrent: bytes, seed_at: tuple[str, int], into: Path,
                       within: float) -> float:  # fmt: skip
    meta = parse_torrent(torrent)

    async def run() -> float:
        cfg = SessionConfig(listen_host=host.address, listen_port=0, transport="utp")
        leecher = Session(cfg)
        await leecher.start()
        try:
            started = time.monotonic()
            rt = await leecher.add(meta, into, peers=[seed_at])
            async with asyncio.timeout(within):
                await rt.completed.wait()
            seconds = time.monotonic() - started
            if {p.transport for p in rt.peers()} - {"utp"}:
                raise RuntimeError("a peer over TCP")
            return seconds
        finally:
            await leecher.close()

    result: float = host.run(run(), within + 30)
    return result


def _lt_download(lt: Any, host: Host, torrent: bytes, seed_at: tuple[str, int], into: Path,
                 within: float) -> float:  # fmt: skip
    ses = host.call(lambda: lt.session(_lt_settings(lt, host.address)))
    started = time.monotonic()
    handle = host.call(lambda: _add_lt(lt, ses, torrent, into))
    handle.connect_peer(seed_at)
    _wait(lambda: handle.status().is_seeding, within, "the libtorrent leecher")
    seconds = time.monotonic() - started
    ses.remove_torrent(handle)
    return seconds


def _measure(lt: Any, seeder_host: Host, leecher_host: Host, size: int, work: Path,
             within: float, runs: int) -> dict[str, list[float]]:  # fmt: skip
    payload = work / "seed" / "payload.bin"
    payload.parent.mkdir(parents=True, exist_ok=True)
    with payload.open("wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    torrent = create_torrent(payload, piece_length=MiB, version="v1")
    want = _sha(payload)
    seeder = seeder_host.call(lambda: lt.session(_lt_settings(lt, seeder_host.address)))
    handle = seeder_host.call(lambda: _add_lt(lt, seeder, torrent, payload.parent))
    _wait(lambda: handle.status().is_seeding, 300, "the libtorrent seeder to check its data")
    seed_at = (seeder_host.address, int(seeder.listen_port()))
    rates: dict[str, list[float]] = {"bitswarm": [], "libtorrent": []}
    for run in range(runs):
        for name in ("bitswarm", "libtorrent"):
            into = work / f"{name}-{run}"
            if name == "bitswarm":
                seconds = _bitswarm_download(leecher_host, torrent, seed_at, into, within)
            else:
                seconds = _lt_download(lt, leecher_host, torrent, seed_at, into, within)
            got = into / "payload.bin"
            if _sha(got) != want:
                raise RuntimeError(f"{name}'s copy differs")
            got.unlink()
            rates[name].append(size / seconds / 1e6)
            print(f"  {name:<10} run {run + 1}: {size / MiB:.0f} MiB in {seconds:.2f} s, "
                  f"{size / seconds / 1e6:.1f} MB/s", flush=True)  # fmt: skip
    seeder.remove_torrent(handle)
    return rates


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _report(rates: dict[str, list[float]], link: float | None) -> None:
    bs, lt_ = _median(rates["bitswarm"]), _median(rates["libtorrent"])
    print(f"  median: bitswarm {bs:.1f} MB/s, libtorrent {lt_:.1f} MB/s, "
          f"bitswarm/libtorrent {bs / lt_:.2f}×")  # fmt: skip
    if link is not None:
        print(f"  of the link ({link / 1e6:.2f} MB/s): bitswarm {bs * 1e6 / link:.2f}, "
              f"libtorrent {lt_ * 1e6 / link:.2f}")  # fmt: skip


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench utp", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="MiB on loopback (default 256)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shaped", action="store_true", help="(b) in namespaces (root)")
    parser.add_argument("--shaped-size", type=int, default=96, help="MiB behind the limit")
    parser.add_argument("--rate", type=float, default=100.0, help="Mbit/s of the link")
    parser.add_argument("--skip-loopback", action="store_true")
    args = parser.parse_args(list(argv))
    import libtorrent as lt

    with tempfile.TemporaryDirectory(prefix="bench-utp-") as tmp:
        work = Path(tmp)
        if not args.skip_loopback:
            print(f"(a) loopback, {args.size} MiB, libtorrent seeder with TCP off, "
                  f"libtorrent {lt.__version__}:")  # fmt: skip
            here = Host("127.0.0.1")
            rates = _measure(lt, here, here, args.size * MiB, work / "loopback", 600, args.runs)
            _report(rates, None)
        if args.shaped:
            from bitswarm_lab.peers.netns_loop import NamespaceLoop
            from bitswarm_lab.shaped_network import ShapedNetwork

            bps = int(args.rate * 1e6)
            print(f"(b) namespaces, {args.shaped_size} MiB, leecher's download limited to "
                  f"{args.rate:g} Mbit/s (tc htb, 100 ms FIFO):")  # fmt: skip
            with ShapedNetwork() as net:
                seeder_ns = net.add_host()
                leecher_ns = net.add_host(down_bps=bps)
                with NamespaceLoop(seeder_ns.netns) as a, NamespaceLoop(leecher_ns.netns) as b:
                    rates = _measure(lt, Host(seeder_ns.address, a), Host(leecher_ns.address, b),
                                     args.shaped_size * MiB, work / "shaped", 600,
                                     args.runs)  # fmt: skip
            _report(rates, bps / 8)
    return 0
