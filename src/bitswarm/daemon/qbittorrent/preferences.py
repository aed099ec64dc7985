"""`app/preferences` and `app/setPreferences`: `DaemonSettings` under qBittorrent's names
(pure).

Rates are bytes/s on both sides (qBittorrent's API speaks bytes although its settings
file keeps KiB); 0 is "no limit". qBittorrent's ratio and seeding-time limits are -1 when
off. `scheduler_days` is qBittorrent's enum (0 every day, 1 weekdays, 2 weekends,
3..9 Monday..Sunday) over bitswarm's day bits (Sunday = 1 ... Saturday = 64).

Setting: qBittorrent ignores keys it does not know, and so does this (clients send back
whole preference objects). A key that maps onto a `LOCAL_ONLY` setting (the listening
address, the password, the on-complete program, the watch folder, the blocklist file)
is refused with 403 when it would change the value: those come from the local config
file only. A value of the wrong type is 400. The global seeding time limit has no
bitswarm counterpart: turning it on is refused (400), never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..settings import LOCAL_ONLY, DaemonSettings
from .protocol import QbtError, bad_params

__all__ = ["preferences", "settings_changes"]

_EVERY_DAY = 127
_WEEKDAYS = 2 | 4 | 8 | 16 | 32
_WEEKENDS = 1 | 64
# qBittorrent's 3..9 = Monday..Sunday; bitswarm's bits: Sunday = 1, Monday = 2, ...
_DAY_BITS = {3: 2, 4: 4, 5: 8, 6: 16, 7: 32, 8: 64, 9: 1}


def _days_to_qb(bits: int) -> int:
    if bits == _WEEKDAYS:
        return 1
    if bits == _WEEKENDS:
        return 2
    for qb, bit in _DAY_BITS.items():
        if bits == bit:
            return qb
    return 0  # every day, or a set of days qBittorrent cannot name


def _days_from_qb(qb: int) -> int:
    if qb == 1:
        return _WEEKDAYS
    if qb == 2:
        return _WEEKENDS
    return _DAY_BITS.get(qb, _EVERY_DAY)


# qBittorrent's `encryption`: 0 "allow encryption" (libtorrent's pe_enabled both ways: it
# offers RC4 and takes plaintext: our `preferred`), 1 "require encryption", 2 "disable
# encryption" (plaintext only). It has no "plaintext first" level: our `allowed` reads as 0.
_QB_ENCRYPTION = {0: "preferred", 1: "required", 2: "disabled"}
_PROTOCOLS = ("both", "tcp", "utp")  # qBittorrent's bittorrent_protocol: 0 TCP and uTP, 1, 2


def _encryption_to_qb(mode: str) -> int:
    return {"required": 1, "disabled": 2}.get(mode, 0)


def preferences(s: DaemonSettings, *, password_set: bool) -> dict[str, Any]:
    """The subset of qBittorrent's preferences that bitswarm has, with their values."""
    return {
        "locale": "en",
        "save_path": s.download_dir,
        "temp_path_enabled": s.incomplete_dir_enabled,
        "temp_path": s.incomplete_dir,
        "scan_dirs": {s.watch_dir: 1} if s.watch_dir_enabled and s.watch_dir else {},
        "add_stopped_enabled": not s.start_added_torrents,
        "start_paused_enabled": not s.start_added_torrents,  # the 4.x name
        "auto_delete_mode": 1 if s.trash_original_torrent_files else 0,
        "preallocate_all": False,
        "incomplete_files_ext": False,
        "auto_tmm_enabled": False,
        "listen_port": s.peer_port,
        "random_port": s.peer_port == 0,
        "upnp": False,
        "max_connec": s.peer_limit_global,
        "max_connec_per_torrent": s.peer_limit_per_torrent,
        "dht": s.dht_enabled,
        "pex": s.pex_enabled,
        "lsd": s.lsd_enabled,
        "encryption": _encryption_to_qb(s.encryption),
        "anonymous_mode": False,
        "bittorrent_protocol": _PROTOCOLS.index(s.transport) if s.transport in _PROTOCOLS else 0,
        "dl_limit": s.speed_limit_down if s.speed_limit_down_enabled else 0,
        "up_limit": s.speed_limit_up if s.speed_limit_up_enabled else 0,
        "alt_dl_limit": s.alt_speed_down,
        "alt_up_limit": s.alt_speed_up,
        "scheduler_enabled": s.alt_speed_time_enabled,
        "schedule_from_hour": s.alt_speed_time_begin // 60,
        "schedule_from_min": s.alt_speed_time_begin % 60,
        "schedule_to_hour": s.alt_speed_time_end // 60,
        "schedule_to_min": s.alt_speed_time_end % 60,
        "scheduler_days": _days_to_qb(s.alt_speed_time_day),
        "queueing_enabled": s.download_queue_enabled,
        "max_active_downloads": s.download_queue_size,
        "max_active_uploads": s.seed_queue_size,
        "max_active_torrents": s.download_queue_size + s.seed_queue_size,
        "dont_count_slow_torrents": s.queue_stalled_enabled,
        "slow_torrent_inactive_timer": s.queue_stalled_minutes * 60,
        "max_ratio_enabled": s.seed_ratio_limited,
        "max_ratio": s.seed_ratio_limit if s.seed_ratio_limited else -1,
        "max_seeding_time_enabled": False,
        "max_seeding_time": -1,
        "max_inactive_seeding_time_enabled": s.idle_seeding_limit_enabled,
        "max_inactive_seeding_time": (s.idle_seeding_limit if s.idle_seeding_limit_enabled else -1),
        "max_ratio_act": 0,  # stop the torrent
        "ip_filter_enabled": s.blocklist_enabled,
        "ip_filter_path": s.blocklist_path,
        "autorun_enabled": s.script_torrent_done_enabled,
        "autorun_program": s.script_torrent_done_filename,
        "web_ui_address": s.rpc_host,
        "web_ui_port": s.rpc_port,
        "web_ui_username": s.rpc_username,
        "web_ui_domain_list": ";".join(s.rpc_host_whitelist),
        "bypass_local_auth": not password_set,
        "bypass_auth_subnet_whitelist_enabled": False,
        "bypass_auth_subnet_whitelist": "",
        "web_ui_session_timeout": 3600,
        "web_ui_csrf_protection_enabled": True,
        "web_ui_host_header_validation_enabled": True,
        "use_https": False,
        "refresh_interval": 1500,
    }


def _bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise bad_params(f"'{key}' must be true or false")
    return value


def _int(key: str, value: object, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise bad_params(f"'{key}' must be a whole number")
    return max(int(value), low)


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_params(f"'{key}' must be a number")
    return float(value)


def _str(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise bad_params(f"'{key}' must be a string")
    return value


def _limit(key: str, value: object, name: str) -> dict[str, object]:
    rate = _int(key, value, low=-1)
    return {name: max(rate, 0), name + "_enabled": rate > 0}


def settings_changes(m: Mapping[str, Any], s: DaemonSettings) -> dict[str, object]:
    """The `DaemonSettings` changes a `setPreferences` json object asks for."""
    c: dict[str, object] = {}
    simple = {
        "save_path": ("download_dir", _str),
        "temp_path": ("incomplete_dir", _str),
        "temp_path_enabled": ("incomplete_dir_enabled", _bool),
        "alt_dl_limit": ("alt_speed_down", _int),
        "alt_up_limit": ("alt_speed_up", _int),
        "scheduler_enabled": ("alt_speed_time_enabled", _bool),
        "listen_port": ("peer_port", _int),
        "max_connec": ("peer_limit_global", _int),
        "max_connec_per_torrent": ("peer_limit_per_torrent", _int),
        "dht": ("dht_enabled", _bool),
        "pex": ("pex_enabled", _bool),
        "lsd": ("lsd_enabled", _bool),
        "max_active_downloads": ("download_queue_size", _int),
        "max_active_uploads": ("seed_queue_size", _int),
        "dont_count_slow_torrents": ("queue_stalled_enabled", _bool),
        "ip_filter_enabled": ("blocklist_enabled", _bool),
        "ip_filter_path": ("blocklist_path", _str),
        "autorun_enabled": ("script_torrent_done_enabled", _bool),
        "autorun_program": ("script_torrent_done_filename", _str),
        "web_ui_address": ("rpc_host", _str),
        "web_ui_port": ("rpc_port", _int),
        "web_ui_username": ("rpc_username", _str),
    }
    for key, (name, convert) in simple.items():
        if key in m:
            c[name] = convert(key, m[key])
    if "web_ui_password" in m:
        raise QbtError(403, "the password can only be set in the daemon's config file")
    if "web_ui_domain_list" in m:
        domains = _str("web_ui_domain_list", m["web_ui_domain_list"])
        c["rpc_host_whitelist"] = [d.strip() for d in domains.split(";") if d.strip()]
    if "scan_dirs" in m and m["scan_dirs"] != preferences(s, password_set=False)["scan_dirs"]:
        raise QbtError(403, "the watch folder can only be set in the daemon's config file")
    for key, name in (("dl_limit", "speed_limit_down"), ("up_limit", "speed_limit_up")):
        if key in m:
            c.update(_limit(key, m[key], name))
    for key in ("add_stopped_enabled", "start_paused_enabled"):
        if key in m:
            c["start_added_torrents"] = not _bool(key, m[key])
    if "bittorrent_protocol" in m:
        protocol = _int("bittorrent_protocol", m["bittorrent_protocol"])
        if not 0 <= protocol < len(_PROTOCOLS):
            raise bad_params("bittorrent_protocol is 0 (TCP and uTP), 1 (TCP) or 2 (uTP)")
        c["transport"] = _PROTOCOLS[protocol]
    if "encryption" in m:
        mode = _int("encryption", m["encryption"])
        if mode not in _QB_ENCRYPTION:
            raise bad_params(f"'encryption' must be 0, 1 or 2, not {mode}")
        c["encryption"] = _QB_ENCRYPTION[mode]
    begin, end = s.alt_speed_time_begin, s.alt_speed_time_end
    if "schedule_from_hour" in m and "schedule_from_min" in m:
        begin = _int("schedule_from_hour", m["schedule_from_hour"]) * 60 + _int(
            "schedule_from_min", m["schedule_from_min"]
        )
        c["alt_speed_time_begin"] = min(begin, 1439)
    if "schedule_to_hour" in m and "schedule_to_min" in m:
        end = _int("schedule_to_hour", m["schedule_to_hour"]) * 60 + _int(
            "schedule_to_min", m["schedule_to_min"]
        )
        c["alt_speed_time_end"] = min(end, 1439)
    if "scheduler_days" in m:
        c["alt_speed_time_day"] = _days_from_qb(_int("scheduler_days", m["scheduler_days"]))
    if "queueing_enabled" in m:
        on = _bool("queueing_enabled", m["queueing_enabled"])
        c["download_queue_enabled"] = on
        c["seed_queue_enabled"] = on
    if "slow_torrent_inactive_timer" in m:
        seconds = _int("slow_torrent_inactive_timer", m["slow_torrent_inactive_timer"])
        c["queue_stalled_minutes"] = max(1, seconds // 60)
    if "max_ratio_enabled" in m:
        c["seed_ratio_limited"] = _bool("max_ratio_enabled", m["max_ratio_enabled"])
    if "max_ratio" in m and _number("max_ratio", m["max_ratio"]) >= 0:
        c["seed_ratio_limit"] = _number("max_ratio", m["max_ratio"])
    if "max_inactive_seeding_time_enabled" in m:
        on = _bool("max_inactive_seeding_time_enabled", m["max_inactive_seeding_time_enabled"])
        c["idle_seeding_limit_enabled"] = on
    if "max_inactive_seeding_time" in m:
        minutes = _int("max_inactive_seeding_time", m["max_inactive_seeding_time"], low=-1)
        if minutes >= 0:
            c["idle_seeding_limit"] = minutes
    if m.get("max_seeding_time_enabled") is True:
        raise bad_params("max_seeding_time is not supported: use max_inactive_seeding_time")
    # A local-only setting may be sent back unchanged, never changed.
    changes = {k: v for k, v in c.items() if getattr(s, k) != v}
    refused = sorted(k for k in changes if k in LOCAL_ONLY)
    if refused:
        raise QbtError(403, f"{', '.join(refused)} can only be set in the daemon's config file")
    return changes
