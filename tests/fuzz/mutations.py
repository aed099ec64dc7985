"""Strategies for near-valid inputs: valid seeds with a few bytes or one field changed.

Random bytes rarely get past a parser's first check; a valid message with one mutation
gets to the check after the one it breaks. Two kinds:
- `byte_mutants(seeds)`: flip, insert, delete, duplicate, truncate a few bytes;
- `tree_mutants(seeds)`: decode a bencoded seed, replace one node of its tree (a value,
  a list item, a dictionary entry) with another bencode value, some of them hostile
  (huge or negative integers, empty or long strings, deep nesting), and encode again.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from bitswarm.bencode import BValue, bdecode, bencode

__all__ = ["BVALUES", "byte_mutants", "mutate_bytes", "tree_mutants"]

_EDITS = st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate", "zero"])

_HOSTILE_INTS = st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 16384, 65535, 65536]
)
_HOSTILE_BYTES = st.sampled_from(
    [b"", b"..", b"/", b"\x00", b"a" * 20, b"b" * 32, b"\xff" * 6, b"\xff" * 18, b"x" * 300,
     b"%", b"\xc3\x28", "é".encode()]
)  # fmt: skip


def _extend(inner: st.SearchStrategy[BValue]) -> st.SearchStrategy[BValue]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=8), inner, max_size=4)


BVALUES: st.SearchStrategy[BValue] = st.recursive(
    st.integers(-(2**63), 2**63 - 1) | _HOSTILE_INTS | st.binary(max_size=24) | _HOSTILE_BYTES,
    _extend,
    max_leaves=10,
)


def mutate_bytes(seed: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(seed)
    for how, where, byte in edits:
        i = where % (len(data) + 1)
        if how == "insert":
            data[i:i] = bytes([byte])
        elif how == "truncate":
            del data[i:]
        elif how == "duplicate":
            data[i:i] = data[i : i + 1 + byte % 16]
        elif i < len(data):
            if how == "flip":
                data[i] ^= byte or 1
            elif how == "zero":
                data[i] = 0
            else:
                del data[i]
    return bytes(data)


def byte_mutants(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    edits = st.lists(
        st.tuples(_EDITS, st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4
    )
    return st.builds(mutate_bytes, st.sampled_from(seeds), edits)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(seed: bytes, choice: int, replacement: BValue, drop: bool) -> bytes:
    tree: Any = copy.deepcopy(bdecode(seed, strict=False))
    paths = _paths(tree)[1:]
    if not paths:
        return bencode(replacement)
    path = paths[choice % len(paths)]
    node = tree
    for step in path[:-1]:
        node = node[step]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = replacement
    return bencode(tree)


def tree_mutants(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Seeds must be bencoded (each whole input one value)."""
    return st.builds(
        _replace,
        st.sampled_from(seeds),
        st.integers(0, 10_000),
        BVALUES,
        st.booleans(),
    )
