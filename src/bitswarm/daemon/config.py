"""Where the daemon's settings come from: defaults < config file < environment < command line.

The config file is TOML with the `DaemonSettings` keys at the top level
(``peer_port = 51413``; a dash may stand for an underscore, as in Transmission's
settings.json). Every key can also be set as ``BITSWARM_<KEY>`` in the environment
(``BITSWARM_PEER_PORT=6881``), converted by the setting's type: booleans as
1/0/true/false/yes/no/on/off, lists as comma-separated text. Other ``BITSWARM_`` variables
are not settings and are left alone (``BITSWARM_TRACKER_KEY`` belongs to the tracker).
The table ``[cli]`` holds settings only the command line uses (cli/settings.py): the
daemon skips it.

A mistake (an unknown key, a value of the wrong type, a port out of range) is a
`DaemonError` of one line naming the file or variable and the key, for the person to fix;
never a traceback. `LoadedSettings.sources` says where each value came from, so the
daemon can log it and ``bitswarm daemon`` can show it.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..readlimit import MAX_CONFIG_FILE, InputTooLarge, read_limited
from ..session.config import TRANSPORTS
from .model import DaemonError
from .settings import DaemonSettings

__all__ = [
    "CLI_TABLE",
    "ENV_PREFIX",
    "LoadedSettings",
    "default_config_path",
    "default_download_dir",
    "default_state_dir",
    "load_settings",
    "read_toml",
]

ENV_PREFIX = "BITSWARM_"
CLI_TABLE = "cli"  # the `[cli]` table of the config file: the command line's own keys
_TYPES: dict[str, Any] = typing.get_type_hints(DaemonSettings)
_NAMES = [f.name for f in fields(DaemonSettings)]
_PATHS = frozenset({"download_dir", "incomplete_dir", "watch_dir", "blocklist_path"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
ENCRYPTION_MODES = ("allowed", "disabled", "preferred", "required", "tolerated")


# ---------------------------------------------------------------- the XDG folders


def _xdg(env: Mapping[str, str] | None, name: str, fallback: str) -> Path:
    """An XDG base directory: the variable when it holds an absolute path (the spec says
    a relative one is to be ignored), else `fallback` under the home folder."""
    value = (os.environ if env is None else env).get(name, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / fallback


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/bitswarm/config.toml`` (default ``~/.config``)."""
    return _xdg(env, "XDG_CONFIG_HOME", ".config") / "bitswarm" / "config.toml"


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/bitswarm`` (default ``~/.local/state``)."""
    return _xdg(env, "XDG_STATE_HOME", ".local/state") / "bitswarm"


def default_download_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DOWNLOAD_DIR`` when set (``$HOME`` and ``~`` expanded), else ``~/Downloads``."""
    value = (os.environ if env is None else env).get("XDG_DOWNLOAD_DIR", "")
    if value:
        home = str(Path.home())
        value = value.replace("${HOME}", home).replace("$HOME", home)
        path = Path(value).expanduser()
        if path.is_absolute():
            return path
    return Path.home() / "Downloads"


# ---------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """The settings and, per key, where its value came from: ``"default"``,
    ``"config file /path"``, ``"environment BITSWARM_KEY"`` or ``"command line"``."""

    settings: DaemonSettings
    sources: dict[str, str]
    config_file: Path | None  # the file that was read; None when there was none


def load_settings(
    config_file: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
) -> LoadedSettings:
    """Merge defaults, the config file, the environment and the command-line `overrides`.

    `config_file` None means the default path, which may be missing; a file named
    explicitly must exist. An empty `download_dir` becomes `default_download_dir(env)`.
    `overrides` hold typed values (text is converted as the environment's is).

    Raises:
        DaemonError: one line naming the source and key of the first mistake.
    """
    values: dict[str, object] = {}
    sources = dict.fromkeys(_NAMES, "default")

    path = default_config_path(env) if config_file is None else Path(config_file)
    read: Path | None = None
    if config_file is not None or path.exists():
        origin = f"config file {path}"
        for raw_key, value in read_toml(path).items():
            if raw_key == CLI_TABLE:
                continue
            key = _known(raw_key.replace("-", "_"), origin, raw_key)
            values[key] = _typed(key, value, origin)
            sources[key] = origin
        read = path

    for key in _NAMES:
        variable = ENV_PREFIX + key.upper()
        if variable in env:
            origin = f"environment {variable}"
            values[key] = _from_text(key, env[variable], origin)
            sources[key] = origin

    for raw_key, value in overrides.items():
        key = _known(raw_key, "command line", raw_key)
        if isinstance(value, str) and _TYPES[key] is not str:
            values[key] = _from_text(key, value, "command line")
        else:
            values[key] = _typed(key, value, "command line")
        sources[key] = "command line"

    for key in _PATHS:
        if isinstance(values.get(key), str) and values[key]:
            values[key] = os.path.expanduser(str(values[key]))
    settings = DaemonSettings(**values)  # type: ignore[arg-type]
    if not settings.download_dir:
        settings.download_dir = str(default_download_dir(env))
    _validate(settings, sources)
    return LoadedSettings(settings=settings, sources=sources, config_file=read)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_limited(path, MAX_CONFIG_FILE, what="config file").decode())
    except InputTooLarge as exc:
        raise DaemonError(str(exc)) from None
    except FileNotFoundError:
        raise DaemonError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise DaemonError(f"config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DaemonError(f"config file {path} is not valid TOML: {exc}") from None


def _known(key: str, origin: str, shown: str) -> str:
    if key in _TYPES:
        return key
    close = difflib.get_close_matches(key, _NAMES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DaemonError(f"{origin}: unknown setting {shown!r}{hint}")


def _kind_name(kind: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(
        kind, "a list of text"
    )


def _typed(key: str, value: object, origin: str) -> object:
    """A value from TOML (or a typed override), checked against the setting's type."""
    kind = _TYPES[key]
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str | os.PathLike):
            return os.fspath(value)
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)  # list[str]
    raise DaemonError(f"{origin}: {key} must be {_kind_name(kind)}, not {value!r}")


def _from_text(key: str, text: str, origin: str) -> object:
    """A value from the environment, converted by the setting's type."""
    kind = _TYPES[key]
    stripped = text.strip()
    if kind is str:
        return text
    if kind is bool:
        word = stripped.lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise DaemonError(
            f"{origin}: {key} must be 1/0, true/false, yes/no or on/off, not {text!r}"
        )
    if kind is int:
        try:
            return int(stripped, 10)
        except ValueError:
            raise DaemonError(f"{origin}: {key} must be an integer, not {text!r}") from None
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise DaemonError(f"{origin}: {key} must be a number, not {text!r}") from None
    return [item.strip() for item in text.split(",") if item.strip()]  # list[str]


# ---------------------------------------------------------------- ranges

_RANGES: dict[str, tuple[float, float]] = {
    "peer_port": (0, 65535),  # 0 = any free port
    "rpc_port": (0, 65535),  # 0 = any free port (the ready line says which)
    "alt_speed_time_begin": (0, 1439),
    "alt_speed_time_end": (0, 1439),
    "alt_speed_time_day": (0, 127),
    "download_queue_size": (1, math.inf),
    "seed_queue_size": (1, math.inf),
    "peer_limit_global": (1, math.inf),
    "peer_limit_per_torrent": (1, math.inf),
    "peer_limit_per_ip": (1, math.inf),
    "rpc_max_body": (1024, math.inf),
    "speed_limit_down": (0, math.inf),
    "speed_limit_up": (0, math.inf),
    "alt_speed_down": (0, math.inf),
    "alt_speed_up": (0, math.inf),
    "seed_ratio_limit": (0, math.inf),
    "idle_seeding_limit": (0, math.inf),
    "queue_stalled_minutes": (0, math.inf),
}


def _validate(settings: DaemonSettings, sources: Mapping[str, str]) -> None:
    def fail(key: str, why: str) -> DaemonError:
        return DaemonError(f"{sources[key]}: {key} {why}")

    for key, (low, high) in _RANGES.items():
        value = getattr(settings, key)
        if not (math.isfinite(value) and low <= value <= high):
            span = f"at least {low:g}" if high == math.inf else f"in {low:g}..{high:g}"
            raise fail(key, f"must be {span}, not {value!r}")
    if settings.encryption not in ENCRYPTION_MODES:
        raise fail("encryption", f"must be one of {', '.join(ENCRYPTION_MODES)}")
    if settings.transport not in TRANSPORTS:
        raise fail("transport", f"must be one of {', '.join(TRANSPORTS)}")
    stored = settings.rpc_password_hash
    if stored and not (stored.startswith("scrypt$") and stored.count("$") == 5):
        raise fail(
            "rpc_password_hash",
            "must be a hash made by `bitswarm daemon --hash-password`, not the password",
        )
