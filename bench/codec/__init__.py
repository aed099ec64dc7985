"""Codec benchmarks: bencode against compiled codecs, on one big realistic torrent."""
