"""V2Hashes: a pure v2 torrent's piece hashes in a running torrent (BEP 52).

A v1 or hybrid torrent checks pieces against its SHA-1s; a pure v2 torrent has only merkle
hashes: for each file larger than one piece its ``piece layers`` entry, for a smaller file
its ``pieces root``. This object is what `TorrentRuntime` asks for them:

* `expected(piece)`: the 32-byte hash piece `piece` must match, None while its file's layer
  is unknown (the runtime does not download such a file until it is known);
* `serve(conn, event)`: answers a peer's hash request from our piece layers (hashes with
  their proof), or a hash reject for what they cannot answer (leaf layers, unknown roots);
* `ask(conn, now)` and `on_answer(conn, event)`: the `PieceLayerFetcher` that fetches the
  layers a magnet link did not bring, each verified against its file's root before it is
  kept; a peer whose hashes fail their proof is charged and banned after repeated lies.

When a layer completes, `metainfo` is the torrent with it (so a .torrent saved from it, and
resume data, hold the layers).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable

from ..core.piece_layers import LayerRequest, LayerVerdict, PieceLayerFetcher
from ..merkle import hashes_for_request, split_layer
from ..metainfo import Metainfo
from ..wire import events as ev
from ..wire.connection import PeerConnection

__all__ = ["V2Hashes"]

log = logging.getLogger("bitswarm.v2")

HashEvent = ev.HashesReceived | ev.HashRejectReceived


class V2Hashes:
    """The v2 piece hashes of one pure v2 torrent, and the hash messages about them."""

    def __init__(self, meta: Metainfo) -> None:
        self.metainfo = meta
        info = meta.info
        self._layers: dict[bytes, bytes] = dict(meta.piece_layers)
        self._lengths: dict[bytes, int] = {}
        missing = []
        for f in info.files:
            if f.pieces_root is None or f.is_pad:
                continue
            self._lengths.setdefault(f.pieces_root, f.length)
            if f.length > info.piece_length and f.pieces_root not in self._layers:
                missing.append((f.pieces_root, f.length))
        self.fetcher = PieceLayerFetcher(missing, info.piece_length)

    @property
    def complete(self) -> bool:
        """Every file's piece layer is known."""
        return self.fetcher.done

    def blocked_files(self) -> set[int]:
        """Indices of the files whose pieces cannot be checked yet (layer unknown)."""
        missing = self.fetcher.missing
        return {i for i, f in enumerate(self.metainfo.info.files) if f.pieces_root in missing}

    def expected(self, piece: int) -> bytes | None:
        """The v2 hash piece `piece` must match, or None while its file's layer is unknown.

        Safe to call from the disk pool's threads: it only reads dictionaries."""
        info = self.metainfo.info
        f = info.files[info.v2_file_for_piece(piece)]
        assert f.pieces_root is not None
        if f.length <= info.piece_length:
            return f.pieces_root
        layer = self._layers.get(f.pieces_root)
        if layer is None:
            return None
        k = piece - f.offset // info.piece_length
        return layer[32 * k : 32 * k + 32]

    def recheck_hash(self, piece: int) -> bytes:
        """`expected` for the recheck, which needs bytes: a piece whose layer is unknown
        gets a hash nothing matches (the zero hash), so it counts as absent."""
        return self.expected(piece) or bytes(32)

    # ------------------------------------------------------------------ serving
    def serve(self, conn: PeerConnection, event: ev.HashRequestReceived) -> None:
        """Answer a hash request: hashes with proof from a piece layer we hold, else a hash
        reject (BEP 52: every request gets one or the other)."""
        fields = (event.base, event.index, event.length, event.proof_layers)
        root = event.pieces_root
        layer = self._layers.get(root)
        answer = None
        if layer is not None:
            answer = hashes_for_request(
                split_layer(layer),
                self._lengths[root],
                self.metainfo.info.piece_length,
                *fields,
            )
        if answer is None:
            conn.send_hash_reject(root, *fields)
        else:
            conn.send_hashes(root, *fields, answer)

    # ------------------------------------------------------------------ fetching
    def ask(self, conn: PeerConnection, peer: Hashable, *, now: float) -> bool:
        """Send `peer` the hash requests the fetcher gives it; True if any went out."""
        if self.fetcher.done or conn.closed or conn.state.name != "ACTIVE":
            return False
        sent = False
        for req in self.fetcher.next_requests(peer, now=now):
            if conn.send_hash_request(req.root, req.base, req.index, req.length, req.proof_layers):
                sent = True
            else:
                self.fetcher.on_reject(peer, req)  # already out on this connection
        return sent

    def on_answer(self, peer: Hashable, event: HashEvent) -> LayerVerdict:
        """A peer's hashes or hash reject for one of our requests."""
        req = LayerRequest(event.pieces_root, event.base, event.index, event.length,
                           event.proof_layers)  # fmt: skip
        if isinstance(event, ev.HashRejectReceived):
            self.fetcher.on_reject(peer, req)
            return LayerVerdict()
        verdict = self.fetcher.on_hashes(peer, req, event.hashes)
        if verdict.lied:
            log.warning("peer sent piece-layer hashes that fail their proof (%s)", peer)
        if verdict.completed is not None:
            root, layer = verdict.completed
            self._layers[root] = layer
            self.metainfo = dataclasses.replace(self.metainfo, piece_layers=dict(self._layers))
        return verdict

    def peer_lost(self, peer: Hashable) -> None:
        self.fetcher.peer_lost(peer)
