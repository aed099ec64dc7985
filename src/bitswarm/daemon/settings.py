"""`DaemonSettings`: every setting of the daemon, with its default (pure).

One flat namespace of snake_case keys: the same names are the TOML config keys, the
`BITSWARM_<KEY>` environment variables and (with Transmission's and qBittorrent's own
names mapped onto them by their front-ends) what clients change over the network. A key
in `LOCAL_ONLY` can only come from the config file or the environment, never over the
network (an on-complete command set remotely would be remote code execution).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["LOCAL_ONLY", "DaemonSettings", "setting_names"]


@dataclass(slots=True)
class DaemonSettings:
    """The daemon's settings. Rates are bytes/s (0 = unlimited), times in minutes."""

    # where data goes
    download_dir: str = ""  # "" = $XDG_DOWNLOAD_DIR or ~/Downloads, resolved at start
    incomplete_dir: str = ""
    incomplete_dir_enabled: bool = False
    watch_dir: str = ""
    watch_dir_enabled: bool = False
    start_added_torrents: bool = True
    trash_original_torrent_files: bool = False
    # the peer side
    peer_port: int = 51413
    listen_host: str = ""  # "" = every interface
    peer_limit_global: int = 400
    peer_limit_per_torrent: int = 50
    peer_limit_per_ip: int = 1  # per torrent, as libtorrent; loopback exempt (session/slots.py)
    dht_enabled: bool = True  # the DHT node listens on UDP at the peer port
    dht_bootstrap: list[str] = field(default_factory=lambda: ["default"])  # HOST:PORT, "default"
    pex_enabled: bool = True
    lsd_enabled: bool = False
    encryption: str = "preferred"  # MSE/PE: disabled, allowed (= tolerated), preferred, required
    transport: str = "both"  # "tcp", "utp" (BEP 29) or "both": dialled and accepted
    # rates
    speed_limit_down: int = 0
    speed_limit_down_enabled: bool = False
    speed_limit_up: int = 0
    speed_limit_up_enabled: bool = False
    alt_speed_down: int = 50 * 1024
    alt_speed_up: int = 50 * 1024
    alt_speed_enabled: bool = False
    alt_speed_time_enabled: bool = False
    alt_speed_time_begin: int = 540  # minutes after midnight, local time
    alt_speed_time_end: int = 1020
    alt_speed_time_day: int = 127  # bits: Sunday = 1, Monday = 2, ... Saturday = 64
    # seeding limits
    seed_ratio_limit: float = 2.0
    seed_ratio_limited: bool = False
    idle_seeding_limit: int = 30
    idle_seeding_limit_enabled: bool = False
    # queueing
    download_queue_enabled: bool = True
    download_queue_size: int = 5
    seed_queue_enabled: bool = False
    seed_queue_size: int = 10
    queue_stalled_enabled: bool = True
    queue_stalled_minutes: int = 30
    # blocklist (P2P or DAT text files; reloaded when the file changes)
    blocklist_enabled: bool = False
    blocklist_path: str = ""
    # the remote-control side
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 9091
    rpc_username: str = ""
    rpc_password_hash: str = ""  # "scrypt$..." (see daemon/auth.py); "" = no password
    rpc_host_whitelist: list[str] = field(default_factory=list)  # extra Host names allowed
    rpc_max_body: int = 16 * 2**20  # bytes of one request body
    # local only: never settable over the network
    script_torrent_done_enabled: bool = False
    script_torrent_done_filename: str = ""


LOCAL_ONLY = frozenset(
    {
        "script_torrent_done_enabled",
        "script_torrent_done_filename",
        "rpc_host",
        "rpc_port",
        "rpc_username",
        "rpc_password_hash",
        "rpc_host_whitelist",
        "rpc_max_body",
        "watch_dir",
        "watch_dir_enabled",
        "blocklist_path",
    }
)


def setting_names() -> list[str]:
    """Every key, in declaration order."""
    return [f.name for f in fields(DaemonSettings)]
