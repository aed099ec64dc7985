"""torrent-get's peer and tracker lists (`peers`, `peersFrom`, `trackers`, `trackerStats`,
`trackerList`), spelled for the protocol of the request.

Rules:
- Transmission's "client" is us: `clientIsChoked` means the peer chokes us,
  `peerIsChoked` that we choke the peer.
- bitswarm does not record where it learned an outgoing peer, so `peersFrom` counts only
  the incoming ones; tracker scrape data it does not keep reads as "never scraped".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..model import PeerView
from .row import Row

__all__ = ["peer", "peers_from", "tracker_list", "tracker_stats", "trackers"]


def peer(row: Row, p: PeerView) -> dict[str, Any]:
    k = row.key
    out = {
        "address": p.host,
        k("client_name", "clientName"): p.client,
        # "client" is us: clientIsChoked = the peer chokes us
        k("client_is_choked", "clientIsChoked"): p.peer_choking,
        k("client_is_interested", "clientIsInterested"): p.am_interested,
        k("flag_str", "flagStr"): p.flags,
        k("is_downloading_from", "isDownloadingFrom"): p.download_rate > 0
        or (p.am_interested and not p.peer_choking),
        k("is_encrypted", "isEncrypted"): p.encrypted,
        k("is_incoming", "isIncoming"): not p.outgoing,
        k("is_uploading_to", "isUploadingTo"): p.peer_interested and not p.am_choking,
        k("is_utp", "isUTP"): p.transport == "utp",
        k("peer_is_choked", "peerIsChoked"): p.am_choking,
        k("peer_is_interested", "peerIsInterested"): p.peer_interested,
        "port": p.port,
        "progress": p.progress,
        k("rate_to_client", "rateToClient"): int(p.download_rate),
        k("rate_to_peer", "rateToPeer"): int(p.upload_rate),
    }
    if not row.legacy:
        out["bytes_to_client"] = p.downloaded
        out["bytes_to_peer"] = p.uploaded
        out["peer_id"] = ""
    return out


def peers_from(row: Row) -> dict[str, int]:
    # bitswarm does not record where it learned a peer; only incoming ones are known
    incoming = sum(1 for p in row.peers() if not p.outgoing)
    keys = ("cache", "dht", "incoming", "lpd", "ltep", "pex", "tracker")
    k = row.key
    return {
        k(f"from_{s}", f"from{s.capitalize()}"): incoming if s == "incoming" else 0 for s in keys
    }


def _scrape_url(announce: str) -> str:
    """BEP 48's convention: .../announce[?q] -> .../scrape[?q]; "" when it does not apply."""
    head, sep, tail = announce.rpartition("/")
    if sep and tail.startswith("announce"):
        return f"{head}/scrape{tail[len('announce') :]}"
    return ""


def _site(url: str) -> tuple[str, str]:
    """(host as scheme://host:port, sitename) of a tracker URL."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    labels = hostname.split(".")
    is_ip = hostname.replace(".", "").isdigit() or ":" in hostname
    sitename = hostname if is_ip or len(labels) < 2 else labels[-2]
    return f"{parts.scheme}://{hostname}:{port}", sitename


def trackers(row: Row) -> list[dict[str, Any]]:
    return [
        {
            "announce": t.url,
            "id": t.id,
            "scrape": _scrape_url(t.url),
            "sitename": _site(t.url)[1],
            "tier": t.tier,
        }
        for t in row.trackers()
    ]


_ANNOUNCE_STATE = {
    "disabled": 0,
    "inactive": 0,
    "not contacted": 1,
    "working": 1,
    "error": 1,
    "updating": 3,
}


def tracker_stats(row: Row) -> list[dict[str, Any]]:
    k = row.key
    out = []
    for t in row.trackers():
        host, sitename = _site(t.url)
        stat = {
            "announce": t.url,
            k("announce_state", "announceState"): _ANNOUNCE_STATE.get(t.status, 1),
            k("download_count", "downloadCount"): t.downloads,
            k("has_announced", "hasAnnounced"): t.last_announce > 0,
            k("has_scraped", "hasScraped"): False,
            "host": host,
            "id": t.id,
            k("is_backup", "isBackup"): False,
            k("last_announce_peer_count", "lastAnnouncePeerCount"): 0,
            k("last_announce_result", "lastAnnounceResult"): t.message
            or ("Success" if t.status == "working" else ""),
            k("last_announce_start_time", "lastAnnounceStartTime"): int(t.last_announce),
            k("last_announce_succeeded", "lastAnnounceSucceeded"): t.status == "working",
            k("last_announce_time", "lastAnnounceTime"): int(t.last_announce),
            k("last_announce_timed_out", "lastAnnounceTimedOut"): False,
            k("last_scrape_result", "lastScrapeResult"): "",
            k("last_scrape_start_time", "lastScrapeStartTime"): 0,
            k("last_scrape_succeeded", "lastScrapeSucceeded"): False,
            k("last_scrape_time", "lastScrapeTime"): 0,
            k("last_scrape_timed_out", "lastScrapeTimedOut"): False,
            k("leecher_count", "leecherCount"): t.leechers,
            k("next_announce_time", "nextAnnounceTime"): int(t.next_announce),
            k("next_scrape_time", "nextScrapeTime"): 0,
            k("scrape_state", "scrapeState"): 0,
            "scrape": _scrape_url(t.url),
            k("seeder_count", "seederCount"): t.seeders,
            "sitename": sitename,
            "tier": t.tier,
        }
        if not row.legacy:
            stat["downloader_count"] = -1
        out.append(stat)
    return out


def tracker_list(row: Row) -> str:
    """Announce URLs one per line, a blank line between tiers."""
    lines: list[str] = []
    tier = None
    for t in sorted(row.trackers(), key=lambda t: t.tier):
        if tier is not None and t.tier != tier:
            lines.append("")
        lines.append(t.url)
        tier = t.tier
    return "\n".join(lines)
