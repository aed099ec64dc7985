"""Serving a file of a torrent over HTTP while it downloads (`bitswarm stream`, the
daemon's /stream/ endpoint): Range requests (RFC 9110) over a `session.stream.FileReader`."""
