"""The bitswarm daemon: many torrents in one process, driven over HTTP by Transmission's
and qBittorrent's clients and by bitswarm's own web UI (docs/daemon.md)."""
