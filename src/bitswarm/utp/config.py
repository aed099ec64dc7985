"""`UtpConfig`: the tunables of a uTP connection, with libtorrent's defaults.

One frozen value shared by every connection of a `UtpManager` (aio/utp.py); tests shrink
the timers (a keepalive every 0.2 s) to watch them work in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ledbat import GAIN, TARGET_DELAY
from .mtu import CEILING, FLOOR
from .rtt import MIN_TIMEOUT

__all__ = ["IDLE_PROBE", "KEEPALIVE_INTERVAL", "UtpConfig"]

KEEPALIVE_INTERVAL = 29.0  # libutp: KEEPALIVE_INTERVAL 29000 ms
IDLE_PROBE = 1.0  # the first keepalive after the connection went quiet


@dataclass(frozen=True, slots=True)
class UtpConfig:
    """Tunables, with libtorrent's defaults (settings_pack ``utp_*``)."""

    target_delay: float = TARGET_DELAY
    gain: int = GAIN
    min_timeout: float = MIN_TIMEOUT
    num_resends: int = 3
    syn_resends: int = 2
    fin_resends: int = 2
    recv_window: int = 1 << 20
    mtu_floor: int = FLOOR
    mtu_ceiling: int = CEILING
    send_high_water: int = 1 << 20  # `send` reports "full" above this many unsent bytes
    send_low_water: int = 1 << 18  # ... and `Writable` comes below this many
    keepalive_interval: float = KEEPALIVE_INTERVAL
    idle_probe: float = IDLE_PROBE
