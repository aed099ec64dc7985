"""V2Hashes: a pure v2 torrent's piece hashes in a running torrent (BEP 52).

A v1 or hybrid torrent checks pieces against its SHA-1s; a pure v2 torrent has only merkle
hashes: for each file larger than one piece its ``piece layers`` entry, for a smaller file
its ``pieces root``. This object is what `TorrentRuntime` asks for them:

* `expected(piece)`: the 32-byte hash piece `piece` must match, None while its file's layer
  is unknown (the runtime does not download such a file until it is known);
* `serve(conn, event, have)`: answers a peer's hash request from our piece layers (hashes
  with their proof), or a hash reject for what they cannot answer (unknown roots, runs out
  of the tree); a request for block hashes of pieces we have is answered from the data,
  which the caller hashes in the disk pool (`answer`);
* `ask(conn, now)` and `on_answer(conn, event)`: the `PieceLayerFetcher` that fetches the
  layers a magnet link did not bring, each verified against its file's root before it is
  kept; a peer whose hashes fail their proof is charged and banned after repeated lies.

When a layer completes, `metainfo` is the torrent with it (so a .torrent saved from it
holds the layers), and `fetched_layers` gives what resume data keeps of them; `adopt` takes
them back at the next start, each proven against its file's root first.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable, Iterable

from ..bitfield import Bitfield
from ..core.piece_layers import LayerRequest, LayerVerdict, PieceLayerFetcher
from ..merkle import (
    BLOCK_SIZE,
    hashes_for_request,
    log2,
    request_pieces,
    root_from_piece_layer,
    split_layer,
)
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
        self._given = frozenset(self._layers)  # the layers the torrent itself brought
        self._lengths: dict[bytes, int] = {}
        self._first_piece: dict[bytes, int] = {}  # root -> the first piece of its file
        self._piece_base = log2(info.piece_length // BLOCK_SIZE)
        missing = []
        for f in info.files:
            if f.pieces_root is None or f.is_pad:
                continue
            self._lengths.setdefault(f.pieces_root, f.length)
            self._first_piece.setdefault(f.pieces_root, f.offset // info.piece_length)
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

    def stalled(self, peers: Iterable[Hashable]) -> str | None:
        """A one-line reason when a file's piece layer can come from none of `peers` (all
        refused it, or there are none), else None."""
        roots = self.fetcher.unobtainable(peers)
        if not roots:
            return None
        names = {f.pieces_root: "/".join(f.path) for f in self.metainfo.info.files}
        shown = ", ".join(names.get(r, r.hex()[:16]) for r in roots[:3])
        more = f" and {len(roots) - 3} more" if len(roots) > 3 else ""
        return f"waiting for piece hashes of {shown}{more}: no peer has them"

    def fetched_layers(self) -> dict[bytes, bytes]:
        """The layers known beyond those the torrent brought: fetched from peers (or
        adopted from resume data), for the resume data to keep."""
        return {r: layer for r, layer in self._layers.items() if r not in self._given}

    def adopt(self, layers: dict[bytes, bytes]) -> int:
        """Take piece layers saved earlier (resume data): each one whose file is still
        missing its layer and that proves itself against the file's root (its length, then
        the root it implies) is kept; the others are ignored. Returns how many were kept."""
        piece_length = self.metainfo.info.piece_length
        kept = 0
        for root, layer in layers.items():
            length = self._lengths.get(root)
            if length is None or root in self._layers or root not in self.fetcher.missing:
                continue
            if len(layer) != 32 * -(-length // piece_length):
                continue
            if root_from_piece_layer(split_layer(layer), piece_length) != root:
                log.warning("ignoring a saved piece layer that does not match its root")
                continue
            self._layers[root] = layer
            self.fetcher.known(root)
            kept += 1
        if kept:
            self.metainfo = dataclasses.replace(self.metainfo, piece_layers=dict(self._layers))
        return kept

    # ------------------------------------------------------------------ serving
    def serve(
        self, conn: PeerConnection, event: ev.HashRequestReceived, have: Bitfield
    ) -> list[tuple[int, int]] | None:
        """Answer a hash request: hashes with proof from a piece layer we hold, else a hash
        reject (BEP 52: every request gets one or the other).

        A request below the piece layer (block hashes: libtorrent asks for them to find the
        bad block of a piece that failed, and may ask right after requesting blocks) needs
        the pieces' data: when we have every piece it covers, nothing is sent yet and the
        (torrent piece, file bytes in it) to hash are returned; the caller hashes them in
        the disk pool (`DiskIO.block_hashes`) and calls `answer` with their block hashes.
        """
        root = event.pieces_root
        layer = self._layers.get(root)
        if layer is not None and event.base < self._piece_base:
            info = self.metainfo.info
            length = self._lengths[root]
            first = self._first_piece[root]
            pieces = request_pieces(length, info.piece_length, event.base, event.index,
                                    event.length)  # fmt: skip
            if pieces and all(have[first + k] for k in pieces):
                return [(first + k, min(info.piece_length, length - k * info.piece_length))
                        for k in pieces]  # fmt: skip
        self.answer(conn, event, {})
        return None

    def answer(
        self, conn: PeerConnection, event: ev.HashRequestReceived, leaves: dict[int, list[bytes]]
    ) -> None:
        """Send the hashes `event` asks for, or a hash reject. `leaves`: the block hashes of
        the torrent pieces `serve` returned, by torrent piece."""
        fields = (event.base, event.index, event.length, event.proof_layers)
        root = event.pieces_root
        layer = self._layers.get(root)
        answer = None
        if layer is not None and not conn.closed:
            first = self._first_piece[root]
            answer = hashes_for_request(
                split_layer(layer),
                self._lengths[root],
                self.metainfo.info.piece_length,
                *fields,
                leaves={piece - first: hashes for piece, hashes in leaves.items()},
            )
        if conn.closed:
            return
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
