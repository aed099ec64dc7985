"""session-get, session-set and session-stats: Transmission's session keys over `DaemonSettings`.

Rules:
- `SESSION_KEYS` maps each snake_case key to its legacy spelling, how to read it, and (for
  the keys bitswarm can change) the `DaemonSettings` field it sets and how to check and
  convert the value. Keys bitswarm does not have read as Transmission's neutral value and
  are ignored by session-set, as Transmission ignores keys it does not know.
- A key backed by a `LOCAL_ONLY` setting (the on-complete script) is readable, and a
  session-set that would change it fails whole: nothing of that request is applied. The
  same value sent back unchanged (Transmission's web client sends every preference at
  once) is accepted.
- Versions: the legacy protocol reports Transmission 4.0.6's rpc-version 17 (minimum 14),
  which Debian's transmission-remote 3.00, the 3.00 web client, the `transmission-rpc`
  library and Sonarr accept; JSON-RPC reports 4.1's 18 / semver 6.0.0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...version import __version__
from ..api import DaemonApi
from ..model import DaemonError
from ..settings import LOCAL_ONLY, DaemonSettings
from .fields import SPEED_K
from .names import ErrorCode, RpcError, Style, snake

__all__ = ["SESSION_KEYS", "SessionContext", "session_get", "session_set_changes", "session_stats"]

LEGACY_RPC_VERSION = 17
JSONRPC_RPC_VERSION = 18
RPC_VERSION_MINIMUM = 14


@dataclass(frozen=True, slots=True)
class SessionContext:
    api: DaemonApi
    style: Style
    session_id: str

    @property
    def settings(self) -> DaemonSettings:
        return self.api.settings


@dataclass(frozen=True, slots=True)
class Key:
    legacy: str
    get: Callable[[SessionContext], Any]
    setting: str | None = None  # the DaemonSettings field session-set changes
    convert: Callable[[str, Any], object] | None = None  # check a client's value, convert it


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RpcError(ErrorCode.INVALID_PARAMS, f"{key} must be true or false")
    return value


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"{key} must be a number >= 0")
    return int(value)


def _kbps(key: str, value: Any) -> int:
    return _count(key, value) * SPEED_K


def _ratio(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RpcError(ErrorCode.INVALID_PARAMS, f"{key} must be a number >= 0")
    return float(value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RpcError(ErrorCode.INVALID_PARAMS, f"{key} must be a string")
    return value


def _path(key: str, value: Any) -> str:
    path = _text(key, value)
    if path and not path.startswith("/"):
        raise RpcError(ErrorCode.PATH_NOT_ABSOLUTE, f"{key} is not an absolute path: {path}")
    return path


# Transmission's `encryption` words: "tolerated" (4.1's "allowed") is plaintext first,
# encrypted accepted: our `allowed`. Transmission has no plaintext-only level; the daemon's
# `disabled` (set in its config or through qBittorrent's API) is reported as it is and
# taken back the same way.
_ENCRYPTION = {
    "required": "required",
    "preferred": "preferred",
    "tolerated": "allowed",
    "allowed": "allowed",
    "disabled": "disabled",
}


def _encryption(key: str, value: Any) -> str:
    if value not in _ENCRYPTION:
        raise RpcError(
            ErrorCode.INVALID_PARAMS, f"{key} must be required, preferred, tolerated or disabled"
        )
    return _ENCRYPTION[value]


def _setting(legacy: str, name: str, convert: Callable[[str, Any], object]) -> Key:
    if convert is _kbps:
        return Key(legacy, lambda c: getattr(c.settings, name) // SPEED_K, name, convert)
    return Key(legacy, lambda c: getattr(c.settings, name), name, convert)


def _const(legacy: str, value: Any) -> Key:
    return Key(legacy, lambda c: value)


def _free_space(c: SessionContext) -> int:
    try:
        return c.api.free_space(c.settings.download_dir)
    except DaemonError:
        return -1


def _units(c: SessionContext) -> dict[str, Any]:
    legacy = c.style is Style.LEGACY
    speed = ["kB/s", "MB/s", "GB/s", "TB/s"]
    size = ["kB", "MB", "GB", "TB"]
    memory = ["KiB", "MiB", "GiB", "TiB"]
    if not legacy:  # 4.1 lists the unit of one byte first
        speed, size, memory = ["B/s", *speed], ["B", *size], ["B", *memory]
    sep = "-" if legacy else "_"
    return {
        f"speed{sep}units": speed,
        f"speed{sep}bytes": SPEED_K,
        f"size{sep}units": size,
        f"size{sep}bytes": 1000,
        f"memory{sep}units": memory,
        f"memory{sep}bytes": 1024,
    }


def _version(c: SessionContext) -> str:
    base = "4.0.6" if c.style is Style.LEGACY else "4.1.0"
    return f"{base} (bitswarm {__version__})"


def _utp_enabled(key: str, value: Any) -> str:
    """utp-enabled: true is uTP beside TCP ("both"), false is TCP only."""
    return "both" if _bool(key, value) else "tcp"


def _encryption_get(c: SessionContext) -> str:
    value = c.settings.encryption
    return "tolerated" if value == "allowed" and c.style is Style.LEGACY else value


SESSION_KEYS: dict[str, Key] = {
    "alt_speed_down": _setting("alt-speed-down", "alt_speed_down", _kbps),
    "alt_speed_enabled": _setting("alt-speed-enabled", "alt_speed_enabled", _bool),
    "alt_speed_time_begin": _setting("alt-speed-time-begin", "alt_speed_time_begin", _count),
    "alt_speed_time_day": _setting("alt-speed-time-day", "alt_speed_time_day", _count),
    "alt_speed_time_enabled": _setting("alt-speed-time-enabled", "alt_speed_time_enabled", _bool),
    "alt_speed_time_end": _setting("alt-speed-time-end", "alt_speed_time_end", _count),
    "alt_speed_up": _setting("alt-speed-up", "alt_speed_up", _kbps),
    "blocklist_enabled": _setting("blocklist-enabled", "blocklist_enabled", _bool),
    "blocklist_size": _const("blocklist-size", 0),
    "blocklist_url": _const("blocklist-url", ""),
    "cache_size_mib": _const("cache-size-mb", 4),
    "config_dir": _const("config-dir", ""),
    "default_trackers": _const("default-trackers", ""),
    "dht_enabled": _setting("dht-enabled", "dht_enabled", _bool),
    "download_dir": _setting("download-dir", "download_dir", _path),
    "download_dir_free_space": Key("download-dir-free-space", _free_space),
    "download_queue_enabled": _setting("download-queue-enabled", "download_queue_enabled", _bool),
    "download_queue_size": _setting("download-queue-size", "download_queue_size", _count),
    "encryption": Key("encryption", _encryption_get, "encryption", _encryption),
    "idle_seeding_limit": _setting("idle-seeding-limit", "idle_seeding_limit", _count),
    "idle_seeding_limit_enabled": _setting(
        "idle-seeding-limit-enabled", "idle_seeding_limit_enabled", _bool
    ),
    "incomplete_dir": _setting("incomplete-dir", "incomplete_dir", _path),
    "incomplete_dir_enabled": _setting("incomplete-dir-enabled", "incomplete_dir_enabled", _bool),
    "lpd_enabled": _setting("lpd-enabled", "lsd_enabled", _bool),
    "peer_limit_global": _setting("peer-limit-global", "peer_limit_global", _count),
    "peer_limit_per_torrent": _setting("peer-limit-per-torrent", "peer_limit_per_torrent", _count),
    "peer_port": _setting("peer-port", "peer_port", _count),
    "peer_port_random_on_start": _const("peer-port-random-on-start", False),
    "pex_enabled": _setting("pex-enabled", "pex_enabled", _bool),
    "port_forwarding_enabled": _const("port-forwarding-enabled", False),
    "preferred_transports": Key(
        "preferred-transports",
        lambda c: {"both": ["utp", "tcp"], "utp": ["utp"]}.get(c.settings.transport, ["tcp"]),
    ),
    "queue_stalled_enabled": _setting("queue-stalled-enabled", "queue_stalled_enabled", _bool),
    "queue_stalled_minutes": _setting("queue-stalled-minutes", "queue_stalled_minutes", _count),
    "rename_partial_files": _const("rename-partial-files", False),
    "rpc_version": Key(
        "rpc-version",
        lambda c: LEGACY_RPC_VERSION if c.style is Style.LEGACY else JSONRPC_RPC_VERSION,
    ),
    "rpc_version_minimum": _const("rpc-version-minimum", RPC_VERSION_MINIMUM),
    "rpc_version_semver": Key(
        "rpc-version-semver", lambda c: "5.3.0" if c.style is Style.LEGACY else "6.0.0"
    ),
    "script_torrent_added_enabled": _const("script-torrent-added-enabled", False),
    "script_torrent_added_filename": _const("script-torrent-added-filename", ""),
    "script_torrent_done_enabled": _setting(
        "script-torrent-done-enabled", "script_torrent_done_enabled", _bool
    ),
    "script_torrent_done_filename": _setting(
        "script-torrent-done-filename", "script_torrent_done_filename", _text
    ),
    "script_torrent_done_seeding_enabled": _const("script-torrent-done-seeding-enabled", False),
    "script_torrent_done_seeding_filename": _const("script-torrent-done-seeding-filename", ""),
    "seed_queue_enabled": _setting("seed-queue-enabled", "seed_queue_enabled", _bool),
    "seed_queue_size": _setting("seed-queue-size", "seed_queue_size", _count),
    "seed_ratio_limit": _setting("seedRatioLimit", "seed_ratio_limit", _ratio),
    "seed_ratio_limited": _setting("seedRatioLimited", "seed_ratio_limited", _bool),
    "sequential_download": _const("sequential-download", False),
    "session_id": Key("session-id", lambda c: c.session_id),
    "speed_limit_down": _setting("speed-limit-down", "speed_limit_down", _kbps),
    "speed_limit_down_enabled": _setting(
        "speed-limit-down-enabled", "speed_limit_down_enabled", _bool
    ),
    "speed_limit_up": _setting("speed-limit-up", "speed_limit_up", _kbps),
    "speed_limit_up_enabled": _setting("speed-limit-up-enabled", "speed_limit_up_enabled", _bool),
    "start_added_torrents": _setting("start-added-torrents", "start_added_torrents", _bool),
    "tcp_enabled": Key("tcp-enabled", lambda c: c.settings.transport != "utp"),
    "trash_original_torrent_files": _setting(
        "trash-original-torrent-files", "trash_original_torrent_files", _bool
    ),
    "units": Key("units", _units),
    "utp_enabled": Key(
        "utp-enabled", lambda c: c.settings.transport != "tcp", "transport", _utp_enabled
    ),
    "version": Key("version", _version),
}


def session_get(ctx: SessionContext, fields: list[str] | None) -> dict[str, Any]:
    """The keys asked for (snake_case; None: every key), spelled as `ctx.style` spells them."""
    names = SESSION_KEYS.keys() if fields is None else [f for f in fields if f in SESSION_KEYS]
    legacy = ctx.style is Style.LEGACY
    out = {}
    for name in names:
        key = SESSION_KEYS[name]
        out[key.legacy if legacy else name] = key.get(ctx)
    return out


def session_set_changes(settings: DaemonSettings, args: Mapping[str, Any]) -> dict[str, object]:
    """The `DaemonSettings` changes a session-set asks for (snake_case args), checked.

    Raises RpcError for a bad value or for a change to a local-only setting; unchanged
    values and keys bitswarm does not set are left out."""
    changes: dict[str, object] = {}
    for name, value in args.items():
        key = SESSION_KEYS.get(name)
        if key is None or key.setting is None or key.convert is None:
            continue
        converted = key.convert(key.legacy, value)
        if getattr(settings, key.setting) == converted:
            continue
        if name == "utp_enabled" and value and settings.transport == "utp":
            continue  # uTP is on already (and TCP off): utp-enabled true changes nothing
        if key.setting in LOCAL_ONLY:
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"{key.legacy} can only be set in bitswarm's config file, not over the network",
            )
        changes[key.setting] = converted
    return changes


def session_stats(api: DaemonApi, style: Style) -> dict[str, Any]:
    stats = api.stats()
    legacy = style is Style.LEGACY

    def k(legacy_name: str) -> str:
        return legacy_name if legacy else snake(legacy_name)

    def block(uploaded: int, downloaded: int, seconds: int, files: int) -> dict[str, int]:
        return {
            k("uploadedBytes"): uploaded,
            k("downloadedBytes"): downloaded,
            k("filesAdded"): files,
            k("sessionCount"): 1,
            k("secondsActive"): seconds,
        }

    return {
        k("activeTorrentCount"): stats.active,
        k("downloadSpeed"): int(stats.download_rate),
        k("pausedTorrentCount"): stats.paused,
        k("torrentCount"): stats.torrents,
        k("uploadSpeed"): int(stats.upload_rate),
        k("cumulative-stats"): block(
            stats.uploaded_ever, stats.downloaded_ever, stats.seconds_active_ever, stats.torrents
        ),
        k("current-stats"): block(
            stats.uploaded_session,
            stats.downloaded_session,
            stats.seconds_active_session,
            stats.torrents,
        ),
    }
