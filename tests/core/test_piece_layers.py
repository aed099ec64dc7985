"""The piece-layer fetcher's proofs (BEP 52 hashes against a file's pieces root) and the
merkle padding of a file's last piece."""

from __future__ import annotations

import os

from bitswarm.core.piece_layers import LayerRequest, PieceLayerFetcher, layer_requests
from bitswarm.merkle import (
    BLOCK_SIZE,
    block_hashes,
    file_root,
    hashes_for_request,
    pad_hash,
    piece_layer,
    request_pieces,
    subtree_root,
    uncles_needed,
    verify_hashes,
)
from bitswarm.storage.verify import v2_piece_root

PIECE = 4 * BLOCK_SIZE


def _file(pieces: float) -> tuple[bytes, int, list[bytes]]:
    data = os.urandom(int(pieces * PIECE))
    leaves = block_hashes(data)
    return file_root(leaves), len(data), piece_layer(leaves, PIECE)


def _answer(layer: list[bytes], length: int, req: LayerRequest) -> bytes:
    out = hashes_for_request(layer, length, PIECE, req.base, req.index, req.length,
                             req.proof_layers)  # fmt: skip
    assert out is not None
    return out


def test_a_last_piece_is_padded_with_zero_hashes_to_a_whole_piece() -> None:
    data = os.urandom(PIECE + BLOCK_SIZE + 100)  # 1 piece and 2 blocks (one short)
    leaves = block_hashes(data)
    tail = leaves[4:]
    assert len(tail) == 2
    want = subtree_root([*tail, pad_hash(0), pad_hash(0)], 4)  # zero hashes, not hashes of 0
    assert v2_piece_root(data[PIECE:], PIECE) == want == piece_layer(leaves, PIECE)[1]
    # the piece layer itself is padded with roots of zero subtrees up to the file's root
    assert file_root(leaves) == subtree_root([piece_layer(leaves, PIECE)[1 - 1], want], 2, 2)


def test_an_honest_answer_gives_the_layer() -> None:
    root, length, layer = _file(5.5)  # 6 pieces: a run of 8 with two pad hashes
    fetcher = PieceLayerFetcher([(root, length)], PIECE)
    (req,) = fetcher.next_requests("honest", now=0.0)
    assert (req.base, req.index, req.length) == (2, 0, 8)
    verdict = fetcher.on_hashes("honest", req, _answer(layer, length, req))
    assert verdict.completed == (root, b"".join(layer)) and fetcher.done


def test_runs_of_512_prove_themselves_with_uncles() -> None:
    root, length, layer = _file(600)
    reqs = layer_requests(root, length, PIECE)
    assert [(r.index, r.length) for r in reqs] == [(0, 512), (512, 128)]
    for req in reqs:
        hashes = _answer(layer, length, req)
        uncles = len(hashes) // 32 - req.length
        assert uncles == (1 if req.length == 512 else 3)
        split = [hashes[i : i + 32] for i in range(0, len(hashes), 32)]
        assert verify_hashes(root, length, req.base, req.index, req.length, split)
        assert not verify_hashes(root, length, req.base, req.index, req.length, split[:-1])
        split[-1] = bytes(32)
        assert not verify_hashes(root, length, req.base, req.index, req.length, split)


def test_wrong_truncated_or_out_of_range_hashes_are_lies_and_repeated_lies_a_ban() -> None:
    root, length, layer = _file(5)
    fetcher = PieceLayerFetcher([(root, length)], PIECE, ban_after=2)
    (req,) = fetcher.next_requests("liar", now=0.0)
    good = _answer(layer, length, req)
    wrong = good[:32] + bytes([good[32] ^ 1]) + good[33:]
    first = fetcher.on_hashes("liar", req, wrong)
    assert first.lied and not first.ban and first.completed is None
    assert fetcher.next_requests("liar", now=1.0) == []  # not asked again for that run
    second = fetcher.on_hashes("liar", req, good[:-32])  # truncated
    assert second.lied and second.ban and not fetcher.done
    (again,) = fetcher.next_requests("honest", now=1.0)
    assert again == req
    assert fetcher.on_hashes("honest", req, good).completed == (root, b"".join(layer))
    assert verify_hashes(root, length, req.base, 8, req.length, []) is False  # out of range
    assert hashes_for_request(layer, length, PIECE, req.base, 8, 8, 0) is None
    assert hashes_for_request(layer, length, PIECE, 0, 0, 8, 0) is None  # leaves: not ours


def test_a_rejected_or_timed_out_run_goes_to_another_peer() -> None:
    root, length, _ = _file(3)
    fetcher = PieceLayerFetcher([(root, length)], PIECE, timeout=5.0)
    (req,) = fetcher.next_requests("a", now=0.0)
    assert fetcher.next_requests("b", now=1.0) == []  # out to a
    assert fetcher.next_requests("b", now=6.0) == [req]  # a timed out
    fetcher.on_reject("b", req)
    assert fetcher.next_requests("b", now=7.0) == []
    fetcher.peer_lost("a")
    assert fetcher.next_requests("c", now=7.0) == [req]


def test_files_of_one_piece_need_no_layer() -> None:
    root, length, _ = _file(1)
    assert PieceLayerFetcher([(root, length)], PIECE).done


def test_block_hashes_are_served_from_the_pieces_data_with_proof_to_the_root() -> None:
    """BEP 52 hash requests below the piece layer (base 0: block hashes, as libtorrent asks
    for a piece's blocks): answered from the block hashes of the pieces they cover, each
    proven against the root; without those pieces' data, or with data that no longer
    matches the piece layer, there is no answer (a hash reject)."""
    data = os.urandom(5 * PIECE + 1234)  # 22 blocks, the last piece of 2 (one short)
    leaves = block_hashes(data)
    layer = piece_layer(leaves, PIECE)
    root = file_root(leaves)
    pieces = {k: block_hashes(data[k * PIECE : (k + 1) * PIECE]) for k in range(len(layer))}
    answered = 0
    for base, length in ((0, 4), (0, 2), (0, 8), (1, 2), (0, 1)):
        for index in range(0, 32 >> base, length):
            proofs = uncles_needed(len(data), base, length)
            need = request_pieces(len(data), PIECE, base, index, length)
            out = hashes_for_request(layer, len(data), PIECE, base, index, length, proofs,
                                     leaves={k: pieces[k] for k in need})  # fmt: skip
            assert out is not None
            got = [out[i : i + 32] for i in range(0, len(out), 32)]
            assert verify_hashes(root, len(data), base, index, length, got)
            if base == 0:
                real = (leaves + [bytes(32)] * 32)[index : index + length]
                assert got[:length] == real
            if need:
                assert hashes_for_request(layer, len(data), PIECE, base, index, length,
                                          proofs) is None  # fmt: skip
                bad = {k: [bytes(32)] * len(pieces[k]) for k in need}
                assert hashes_for_request(layer, len(data), PIECE, base, index, length,
                                          proofs, leaves=bad) is None  # fmt: skip
            answered += 1
    assert answered == 8 + 16 + 4 + 8 + 32
    assert request_pieces(len(data), PIECE, 0, 20, 4) == range(5, 6)  # a partly real piece
    assert request_pieces(len(data), PIECE, 0, 24, 8) == range(0)  # all past the end


def test_a_run_every_connected_peer_refused_is_reported_until_a_new_peer_comes() -> None:
    root, length, _ = _file(3)
    fetcher = PieceLayerFetcher([(root, length)], PIECE)
    assert fetcher.unobtainable([]) == []  # nobody asked yet: not a stall
    (req,) = fetcher.next_requests("a", now=0.0)
    assert fetcher.unobtainable(["a"]) == []  # out to a
    fetcher.on_reject("a", req)
    assert fetcher.unobtainable(["a"]) == [root]
    assert fetcher.next_requests("a", now=1.0) == []  # not asked again
    assert fetcher.unobtainable(["a", "b"]) == []  # b may have it
    assert fetcher.next_requests("b", now=1.0) == [req]  # the new peer is asked at once
    fetcher.on_reject("b", req)
    assert fetcher.unobtainable(["a", "b"]) == [root]
    assert fetcher.unobtainable([]) == [root]  # they left: still nobody
