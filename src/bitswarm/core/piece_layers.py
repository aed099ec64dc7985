"""PieceLayerFetcher: a v2 torrent's piece layers asked of peers (BEP 52 hash requests).

A magnet link (``btmh``) brings a v2 info dictionary through BEP 9, and that holds only
each file's ``pieces root``; the ``piece layers`` the pieces are checked against live
outside it, in the .torrent file. Without them every file larger than one piece waits
(a file of one piece or less needs none: its root is its piece hash). This fetcher asks
peers for each such file's piece layer in runs of at most 512 hashes (libtorrent's unit:
one hash request per 512 pieces), each with the uncle hashes up to the file's root, and
keeps a run only when it proves itself against that root (`merkle.verify_hashes`). A file's
layer is complete when all its runs are in.

What it decides, as pure data: which run to ask which peer (each run of one peer at a
time; a run that timed out or was rejected goes to another peer, and a peer is not asked
again for a run it refused), and what a wrong answer costs: a peer whose hashes fail their
proof is charged, like the smart ban for data, and banned at `ban_after` charges. No I/O,
no clock: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from ..merkle import BLOCK_SIZE, HASH_SIZE, log2, next_power_of_two, uncles_needed, verify_hashes

__all__ = ["RUN", "LayerRequest", "LayerVerdict", "PieceLayerFetcher", "layer_requests"]

RUN = 512
"""Piece hashes per hash request (BEP 52: a length "SHOULD NOT be greater than 512")."""
REQUEST_TIMEOUT = 10.0
"""Seconds before an unanswered run is asked of another peer."""


@dataclass(frozen=True, slots=True)
class LayerRequest:
    """One hash request: the fields of the wire message (see `PeerConnection`)."""

    root: bytes
    base: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class LayerVerdict:
    """What one answer did.

    Attributes:
        completed: (pieces root, whole piece layer) when this answer finished a file's layer.
        lied: the hashes failed their proof (discarded; the peer was charged).
        ban: the peer has now lied `ban_after` times: disconnect and ban it.
    """

    completed: tuple[bytes, bytes] | None = None
    lied: bool = False
    ban: bool = False


def layer_requests(root: bytes, file_length: int, piece_length: int) -> list[LayerRequest]:
    """The hash requests that fetch a file's whole piece layer with proofs to its root.

    Runs of `RUN` hashes from index 0; the last run is the next power of two of what is
    left (so its index stays a multiple of its length, as BEP 52 requires).
    """
    pieces = -(-file_length // piece_length)
    base = log2(piece_length // BLOCK_SIZE)
    out = []
    for index in range(0, pieces, RUN):
        length = min(RUN, next_power_of_two(max(2, pieces - index)))
        proofs = uncles_needed(file_length, base, length)
        out.append(LayerRequest(root, base, index, length, proofs))
    return out


@dataclass(slots=True)
class _Run:
    request: LayerRequest
    hashes: bytes | None = None  # the verified piece hashes of this run (pads dropped)
    asked: Hashable | None = None  # the peer it is out to
    deadline: float = 0.0
    refused: set[Hashable] = field(default_factory=set)  # peers that rejected it or lied


@dataclass(slots=True)
class _File:
    length: int
    pieces: int
    runs: list[_Run]


class PieceLayerFetcher:
    """The piece layers still missing for a v2 torrent, and who is asked for which run."""

    def __init__(
        self,
        files: Iterable[tuple[bytes, int]],
        piece_length: int,
        *,
        ban_after: int = 2,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """`files`: (pieces root, length) of each file larger than one piece whose layer is
        unknown; files sharing a root (identical content) share a layer and are asked once."""
        self.piece_length = piece_length
        self.ban_after = ban_after
        self.timeout = timeout
        self._files: dict[bytes, _File] = {}
        for root, length in files:
            if length <= piece_length or root in self._files:
                continue
            runs = [_Run(r) for r in layer_requests(root, length, piece_length)]
            self._files[root] = _File(length, -(-length // piece_length), runs)
        self.lies: dict[Hashable, int] = {}

    @property
    def missing(self) -> frozenset[bytes]:
        """The pieces roots whose layers are not complete yet."""
        return frozenset(self._files)

    @property
    def done(self) -> bool:
        return not self._files

    def next_requests(self, peer: Hashable, *, now: float, limit: int = 8) -> list[LayerRequest]:
        """Runs to ask `peer` now: those not out to anyone (or out past their deadline) that
        it has not refused, at most `limit`. They count as out to `peer` from now on."""
        out: list[LayerRequest] = []
        for f in self._files.values():
            for run in f.runs:
                if len(out) >= limit:
                    return out
                if run.hashes is not None or peer in run.refused or run.asked == peer:
                    continue
                if run.asked is not None and run.deadline > now:
                    continue
                run.asked = peer
                run.deadline = now + self.timeout
                out.append(run.request)
        return out

    def _run(self, req: LayerRequest) -> tuple[_File, _Run] | None:
        f = self._files.get(req.root)
        if f is None:
            return None
        for run in f.runs:
            if run.request == req:
                return f, run
        return None

    def on_hashes(self, peer: Hashable, req: LayerRequest, hashes: bytes) -> LayerVerdict:
        """`peer` answered `req` with `hashes` (base hashes then uncles, as on the wire)."""
        found = self._run(req)
        if found is None:
            return LayerVerdict()  # a run already complete from someone else
        f, run = found
        if run.hashes is not None:
            return LayerVerdict()
        split = [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
        if run.asked == peer:
            run.asked = None
        if not verify_hashes(req.root, f.length, req.base, req.index, req.length, split):
            run.refused.add(peer)
            self.lies[peer] = self.lies.get(peer, 0) + 1
            return LayerVerdict(lied=True, ban=self.lies[peer] >= self.ban_after)
        real = max(0, min(req.length, f.pieces - req.index))  # the rest are pad hashes
        run.hashes = b"".join(split[:real])
        if any(r.hashes is None for r in f.runs):
            return LayerVerdict()
        del self._files[req.root]
        return LayerVerdict(completed=(req.root, b"".join(r.hashes or b"" for r in f.runs)))

    def unobtainable(self, peers: Iterable[Hashable]) -> list[bytes]:
        """The roots of the files with a run that some peer refused, that every one of
        `peers` (those connected now) has refused or lied about, and that is out to nobody:
        nothing more can come until another peer connects (it is asked as soon as it
        does)."""
        present = set(peers)
        out = []
        for root, f in self._files.items():
            for run in f.runs:
                refused = run.refused
                if run.hashes is None and run.asked is None and refused and present <= refused:
                    out.append(root)
                    break
        return out

    def known(self, root: bytes) -> None:
        """The layer of `root` came from elsewhere (resume data): nothing more to ask."""
        self._files.pop(root, None)

    def on_reject(self, peer: Hashable, req: LayerRequest) -> None:
        """`peer` refused `req`: ask someone else."""
        found = self._run(req)
        if found is not None:
            run = found[1]
            run.refused.add(peer)
            if run.asked == peer:
                run.asked = None

    def peer_lost(self, peer: Hashable) -> None:
        """`peer` is gone: its runs go back to the pool."""
        for f in self._files.values():
            for run in f.runs:
                if run.asked == peer:
                    run.asked = None
