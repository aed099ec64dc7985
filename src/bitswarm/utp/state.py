"""`UtpState`: where a uTP connection is in its life (BEP 29 "connection setup")."""

from __future__ import annotations

import enum

__all__ = ["UtpState"]


class UtpState(enum.Enum):
    """SYN sent and unanswered; connected; our FIN sent; over."""

    SYN_SENT = "syn_sent"
    CONNECTED = "connected"
    FIN_SENT = "fin_sent"
    CLOSED = "closed"
