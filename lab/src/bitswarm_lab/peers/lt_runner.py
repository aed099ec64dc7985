"""Runs one libtorrent session in its own process: seed or download one torrent, print JSON.

Why a subprocess: a libtorrent session inside the test process would share its CPU, GIL and
memory figures, and could not be put in a network namespace. The harness starts
`python -m bitswarm_lab.peers.lt_runner '<json args>'` (see libtorrent_peer.py) and reads
one JSON object per line on stdout:

    {"event": "listening", "address": "127.0.0.1", "port": 40001}
    {"event": "checked"}                       # data check done; peers dialled, reannounced
    {"event": "status", "progress": 0.42, "state": "downloading", "peers": 1, ...}
    {"event": "complete"}                      # every piece verified and written out
                                               # (a seed: once its data checked out)
    {"event": "tracker", "message": "..."}     # replies and errors, for diagnostics
    {"event": "error", "message": "..."}       # then exit status 2

Arguments (one JSON object): role ("seed" | "leech"), torrent, save_path, listen
("host:port"), peers (["host:port", ...]), tracker (URL or null), status_interval (seconds),
upload_limit (bytes/s, 0 or absent: none).

Settings follow real-peers.md: no DHT, LSD, UPnP, NAT-PMP or uTP, plaintext only, several
connections per IP allowed, and `force_reannounce` once checking ends, since libtorrent
announces while still checking a seed and would then wait its 5-minute minimum interval.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import libtorrent as lt

_FATAL_ALERTS = (lt.listen_failed_alert, lt.torrent_error_alert, lt.file_error_alert)


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def split_endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def make_settings(listen: str, encryption: str = "") -> lt.settings_pack:
    host, _ = split_endpoint(listen)
    settings: lt.settings_pack = {
        "listen_interfaces": listen,
        "outgoing_interfaces": host,  # dial from our own address: Transmission keys by IP
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allowed_enc_level": int(lt.enc_level.plaintext),
        "allow_multiple_connections_per_ip": True,
        "enable_ip_notifier": False,
        "alert_mask": int(
            lt.alert_category.status
            | lt.alert_category.error
            | lt.alert_category.tracker
            | lt.alert_category.storage
        ),
    }
    if encryption == "required":  # MSE with RC4 only, incoming and outgoing
        settings["out_enc_policy"] = int(lt.enc_policy.forced)
        settings["in_enc_policy"] = int(lt.enc_policy.forced)
        settings["allowed_enc_level"] = int(lt.enc_level.rc4)
    elif encryption == "disabled":  # plaintext only: an MSE handshake is refused
        settings["in_enc_policy"] = int(lt.enc_policy.disabled)
    return settings


def add_torrent(session: Any, args: dict[str, Any]) -> Any:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(args["torrent"])
    params.save_path = args["save_path"]
    params.flags = (
        (params.flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused)
        | lt.torrent_flags.disable_dht
        | lt.torrent_flags.disable_lsd
        | lt.torrent_flags.disable_pex
    )
    if args.get("tracker"):
        params.trackers = [args["tracker"]]
    handle = session.add_torrent(params)
    if args.get("upload_limit"):  # the torrent's own limit: it holds for loopback peers too
        handle.set_upload_limit(int(args["upload_limit"]))
    return handle


def status_fields(status: Any) -> dict[str, Any]:
    return {
        "progress": float(status.progress),
        "state": str(status.state),
        "peers": int(status.num_peers),
        "download_rate": int(status.download_payload_rate),
        "upload_rate": int(status.upload_payload_rate),
        "total_done": int(status.total_wanted_done),
        "total_wanted": int(status.total_wanted),
        "seeding": bool(status.is_seeding),
    }


def run(args: dict[str, Any]) -> int:
    session = lt.session(make_settings(args["listen"], args.get("encryption", "")))
    handle = add_torrent(session, args)
    interval = float(args.get("status_interval", 0.1))
    peers = [split_endpoint(peer) for peer in args.get("peers", [])]
    checked = finished = flushing = complete = False
    next_status = 0.0
    while True:
        session.wait_for_alert(int(interval * 1000))
        for alert in session.pop_alerts():
            if isinstance(alert, lt.listen_succeeded_alert):
                emit("listening", address=str(alert.address), port=int(alert.port))
            elif isinstance(alert, _FATAL_ALERTS):
                emit("error", message=alert.message())
                return 2
            elif isinstance(alert, lt.torrent_checked_alert):
                checked = True
                # The announce made while checking said left > 0; tell the truth now.
                handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                for peer in peers:
                    handle.connect_peer(peer)
                emit("checked")
            elif isinstance(alert, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                emit("tracker", message=alert.message())
            elif isinstance(alert, lt.torrent_finished_alert):
                finished = True
            elif isinstance(alert, lt.cache_flushed_alert) and flushing and not complete:
                complete = True
                emit("complete")
        now = time.monotonic()
        if now >= next_status or (finished and not flushing):
            next_status = now + interval
            status = handle.status()
            emit("status", checked=checked, **status_fields(status))
            finished = finished or (checked and status.is_seeding)
        if finished and not flushing:
            # Verified pieces may still sit in libtorrent's write queue: "complete" means
            # on disk (page cache) too, or a reader could see holes and a kill lose them.
            flushing = True
            handle.flush_cache()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m bitswarm_lab.peers.lt_runner '<json arguments>'", file=sys.stderr)
        return 64
    return run(json.loads(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
