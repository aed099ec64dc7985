"""One way to start an in-process libtorrent session (the PyPI wheel) for a test.

Every test that drives libtorrent from Python wants the same quiet session: listening on
loopback only, no DHT, local discovery, UPnP or NAT-PMP, and (unless a test is about
encryption) plaintext connections so that a recording relay or a sans-IO peer can read the
stream. What differs per test is named at the call: the transports, the encryption policy
and any other setting, given as keyword arguments that override the defaults.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["loopback_session"]


def loopback_session(
    lt: ModuleType, *, tcp: bool = True, utp: bool = False, plaintext: bool = True, **settings: Any
) -> Any:
    """A libtorrent session on 127.0.0.1 (a free port) with the quiet defaults above.

    ``tcp``/``utp`` switch each transport both ways; ``plaintext`` makes libtorrent dial in
    the clear and accept either (``False`` leaves libtorrent's own encryption defaults);
    ``settings`` are libtorrent settings-pack names that override everything else.
    """
    pack: dict[str, Any] = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_tcp": tcp,
        "enable_outgoing_tcp": tcp,
        "enable_incoming_utp": utp,
        "enable_outgoing_utp": utp,
    }
    if plaintext:
        pack["out_enc_policy"] = int(lt.enc_policy.disabled)
        pack["in_enc_policy"] = int(lt.enc_policy.enabled)
        pack["allowed_enc_level"] = int(lt.enc_level.plaintext)
    pack.update(settings)
    return lt.session(pack)
