"""Magnet link to first piece: how long bitswarm and libtorrent take to get a torrent's
metadata (BEP 9) and then its first verified piece, from one libtorrent seeder on loopback.

Two ways to find the seeder: the link's ``x.pe`` peer address, and a local DHT (BEP 5) of
bitswarm nodes that the seeder announced into. Everything runs in this process: the
seeder and the libtorrent leecher through the libtorrent module, bitswarm's leecher as a
`Session` on the same asyncio loop.

    .venv/bin/python -m bench magnet [--runs 5] [--size 64MiB] [--write-results FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import libtorrent as lt

from bitswarm.aio.dht import DhtService
from bitswarm.create import create_torrent
from bitswarm.dht import DhtConfig
from bitswarm.magnet import Magnet
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session import Session, SessionConfig

SECTION = "## Magnet link to first piece"
LOOPBACK_DHT = DhtConfig(rate_limit=0, query_timeout=2.0)


def lt_session(router: tuple[str, int] | None) -> lt.session:
    settings: lt.settings_pack = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": router is not None, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allowed_enc_level": int(lt.enc_level.plaintext),
        "allow_multiple_connections_per_ip": True, "enable_ip_notifier": False,
        "alert_mask": int(lt.alert_category.status | lt.alert_category.piece_progress),
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 100000, "dht_upload_rate_limit": 10_000_000,
    }  # fmt: skip
    if router is not None:
        settings["dht_bootstrap_nodes"] = f"{router[0]}:{router[1]}"
    return lt.session(settings)


async def until(what: Any, within: float, describe: str) -> None:
    deadline = time.monotonic() + within
    while not what():
        if time.monotonic() > deadline:
            raise TimeoutError(describe)
        await asyncio.sleep(0.002)


async def bitswarm_leecher(
    meta: Metainfo, uri_peer: tuple[str, int] | None, router: tuple[str, int] | None, out: Path
) -> tuple[float, float]:
    """(seconds to verified metadata, seconds to the first verified piece)."""
    magnet = Magnet.from_metainfo(meta)
    if uri_peer is not None:
        magnet = dataclasses.replace(magnet, peers=(uri_peer,))
    config = SessionConfig(
        listen_host="127.0.0.1",
        listen_port=0,
        dht_port=0 if router else None,
        dht_bootstrap=(router,) if router else (),
        dht_rate_limit=0.0,
    )
    async with Session(config) as s:
        if s.dht is not None:
            await s.dht.bootstrapped(timeout=10)
        t0 = time.monotonic()
        fetched = await s.fetch_metadata(magnet, give_up_after=60)
        t_meta = time.monotonic() - t0
        rt = await s.add(fetched, out)
        await until(lambda: rt.core is not None and rt.core.have.count() > 0, 60, "first piece")
        return t_meta, time.monotonic() - t0


async def libtorrent_leecher(
    meta: Metainfo, uri_peer: tuple[str, int] | None, router: tuple[str, int] | None, out: Path
) -> tuple[float, float]:
    ses = lt_session(router)
    if router is not None:
        await until(lambda: ses.status().dht_nodes > 0, 10, "libtorrent DHT bootstrap")
    t0 = time.monotonic()
    params = lt.parse_magnet_uri(Magnet.from_metainfo(meta).to_uri())
    params.save_path = str(out)
    handle = ses.add_torrent(params)
    if uri_peer is not None:
        handle.connect_peer(uri_peer)
    t_meta: float | None = None
    while True:
        st = handle.status()
        if t_meta is None and st.has_metadata:
            t_meta = time.monotonic() - t0
        if st.has_metadata and st.num_pieces > 0:
            return t_meta or 0.0, time.monotonic() - t0
        if time.monotonic() - t0 > 60:
            raise TimeoutError("libtorrent: no first piece in 60 s")
        await asyncio.sleep(0.002)


async def one_run(kind: str, how: str, size: int, work: Path) -> tuple[float, float]:
    payload = work / "seed" / "payload.bin"
    if not payload.exists():
        payload.parent.mkdir(parents=True)
        payload.write_bytes(random.Random(3).randbytes(size))
    torrent = create_torrent(payload, piece_length=1 << 20, version="v1")
    meta = parse_torrent(torrent)
    nodes: list[DhtService] = []
    router = None
    if how == "dht":
        rng = random.Random(9)
        for _ in range(16):
            node = DhtService(LOOPBACK_DHT, rng=random.Random(rng.getrandbits(64)))
            await node.start("127.0.0.1", 0, [nodes[0].addresses[0]] if nodes else [])
            if nodes:
                await node.bootstrapped(timeout=10)
            nodes.append(node)
        router = nodes[0].addresses[0]
    seeder = lt_session(router)
    try:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
        params.save_path = str(payload.parent)
        sh = seeder.add_torrent(params)
        await until(lambda: sh.status().is_seeding, 30, "seeder check")
        if router is not None:
            await until(lambda: seeder.status().dht_nodes > 0, 10, "seeder DHT bootstrap")
            sh.force_dht_announce()
            await asyncio.sleep(1.0)  # let the announce land before the clock starts
        peer = ("127.0.0.1", seeder.listen_port()) if how == "x.pe" else None
        out = work / f"leech-{kind}-{time.monotonic_ns()}"
        leech = bitswarm_leecher if kind == "bitswarm" else libtorrent_leecher
        return await leech(meta, peer, router, out)
    finally:
        for node in nodes:
            node.close()
        shutil.rmtree(work / "leech", ignore_errors=True)


def write_section(path: Path, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    section = f"{SECTION}\n\n{body.strip()}\n\n"
    text = (
        pattern.sub(lambda _m: section, text, count=1)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + section)
    )
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench magnet", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=64 << 20, help="payload bytes")
    parser.add_argument("--write-results", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # libtorrent's status()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bsw-magnet-") as tmp:
        for how in ("x.pe", "dht"):
            for kind in ("bitswarm", "libtorrent"):
                metas, firsts = [], []
                for _ in range(args.runs):
                    t_meta, t_first = asyncio.run(one_run(kind, how, args.size, Path(tmp)))
                    metas.append(t_meta)
                    firsts.append(t_first)
                rows.append(
                    f"| {kind} | {how} | {statistics.median(metas) * 1000:.0f} | "
                    f"{statistics.median(firsts) * 1000:.0f} |"
                )
                print(rows[-1], flush=True)
    cmd = "python -m bench magnet " + " ".join(sys.argv[1:] if argv is None else argv)
    body = "\n".join(
        [
            f"Command: `.venv/bin/{cmd.strip()}`",
            "",
            f"One libtorrent seeder on 127.0.0.1, {args.size >> 20} MiB payload, 1 MiB pieces; "
            f"the leecher starts from a magnet link that carries either the seeder's address "
            f"(`x.pe`) or nothing but the info-hash (found in a local DHT of 16 bitswarm nodes "
            f"that the seeder announced into). Median of {args.runs} runs, milliseconds from "
            f"adding the magnet link.",
            "",
            "| leecher | seeder found by | to metadata ms | to first piece ms |",
            "|---|---|---:|---:|",
            *rows,
        ]
    )
    print(body)
    if args.write_results:
        write_section(args.write_results, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
