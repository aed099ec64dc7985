"""The UDP sockets of ``--workers N``: one reuseport group that routes by info-hash.

The kernel spreads datagrams over the sockets of a SO_REUSEPORT group by a hash of the
source address; with swarms kept in memory, one per worker, that would send two peers
of one torrent to different workers. Linux lets a group carry a classic BPF program
(``SO_ATTACH_REUSEPORT_CBPF``, socket option 51, Linux 4.5) that returns the index of
the socket to deliver to, counted in the order the sockets joined the group, and runs on
the datagram's payload (the UDP header already pulled). This one reads, per BEP 15:

* the action word at offset 8: a connect (0) returns an index past the group, which the
  kernel answers by falling back to its source hash, so connects spread over all
  workers (connection ids are MACs under a key every worker has: any worker's id
  checks out in every other);
* otherwise the big-endian word at offset 16 -- the info-hash's first four bytes in an
  announce, the first hash's in a scrape -- modulo N: `shard_of` in shard_codec.py.

A datagram shorter than 20 bytes makes a classic BPF load fail, which returns 0: it goes
to worker 0, which drops it as malformed. `bind_group` binds the N sockets in order (the
first on the asked port, possibly 0, the others on the port it got) and attaches the
program; the supervisor keeps all N open for the tracker's lifetime, so a restarted
worker takes over the same socket, at the same index, with what queued meanwhile.
Where the option does not exist (another OS), `bind_group` says so and the sockets
stay in the kernel's hash order: announces that reach a non-owner are then forwarded to
the owner (shard_store.py), correct but slower.
"""

from __future__ import annotations

import ctypes
import logging
import socket

__all__ = ["SO_ATTACH_REUSEPORT_CBPF", "bind_group", "program"]

log = logging.getLogger("bitswarm.tracker.workers")

SO_ATTACH_REUSEPORT_CBPF = 51
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_MOD_K = 0x04 | 0x90 | 0x00  # BPF_ALU | BPF_MOD | BPF_K
_RET_A = 0x06 | 0x10  # BPF_RET | BPF_A
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_ACTION_AT, _HASH_AT = 8, 16  # BEP 15 offsets


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]  # fmt: skip


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Insn))]


def program(count: int) -> list[tuple[int, int, int, int]]:
    """The classic BPF program for a group of `count` sockets, as (code, jt, jf, k)."""
    return [
        (_LD_W_ABS, 0, 0, _ACTION_AT),  # A = action
        (_JEQ_K, 3, 0, 0),  # connect: to the last instruction
        (_LD_W_ABS, 0, 0, _HASH_AT),  # A = first 4 bytes of the (first) info-hash
        (_MOD_K, 0, 0, count),  # A %= count
        (_RET_A, 0, 0, 0),
        (_RET_K, 0, 0, 0xFFFFFFFF),  # past the group: the kernel's own hash decides
    ]


def attach(sock: socket.socket, count: int) -> None:
    """Attach the program to `sock`'s reuseport group (OSError where unsupported)."""
    insns = program(count)
    array = (_Insn * len(insns))(*(_Insn(*i) for i in insns))
    prog = _Prog(len(insns), ctypes.cast(array, ctypes.POINTER(_Insn)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(prog))


def bind_group(endpoint: tuple[str, int], count: int) -> tuple[list[socket.socket], bool]:
    """`count` UDP sockets on `endpoint`, in group order; whether routing is attached."""
    from .app import bind_socket

    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(bind_socket(endpoint, socket.SOCK_DGRAM, reuse_port=True))
            endpoint = (endpoint[0], int(socks[0].getsockname()[1]))
        try:
            attach(socks[0], count)
        except (OSError, AttributeError) as exc:
            log.warning("SO_ATTACH_REUSEPORT_CBPF unavailable: UDP announces that reach "
                        "another worker are forwarded to their swarm's owner",
                        extra={"error": str(exc)})  # fmt: skip
            return socks, False
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks, True
