"""`ServerOptions`: a whole tracker process as the command line describes it. Pure.

Apart from `TrackerConfig` (what the tracker answers), these say where it listens, where
swarms live, how many worker processes share the ports and how it logs. The command line
(`arguments.py`) builds them; `launch.run`, `app.serve` and the `workers` supervisor read
them, so none of those has to import another to know the options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import ConfigError, TrackerConfig

__all__ = ["ServerOptions", "parse_endpoint"]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """A whole tracker process as the command line describes it."""

    http: tuple[str, int] | None = ("0.0.0.0", 6969)
    udp: tuple[str, int] | None = ("0.0.0.0", 6969)
    store: str = "memory"
    workers: int = 1
    whitelist: Path | None = None
    config: TrackerConfig = field(default_factory=TrackerConfig)
    log_level: str = "info"
    log_file: Path | None = None  # append the JSON log lines here instead of stderr
    #: the connection-id secret; shared by workers (and machines behind one address)
    udp_key: bytes = b""


def parse_endpoint(text: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port).

    Raises:
        ConfigError: not of that shape, or the port is not 0..65535.
    """
    host, port_text = default_host, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise ConfigError(f"{text!r} is not [ADDRESS]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host or default_host
    if not port_text.isdigit() or not 0 <= int(port_text) <= 0xFFFF:
        raise ConfigError(f"{text!r}: the port must be a number from 0 to 65535")
    return host, int(port_text)
