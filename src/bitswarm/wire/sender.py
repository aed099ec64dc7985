"""The sending half of a peer connection: every `send_*` command and the rules it checks.

Commands check our side of the protocol and raise `LocalProtocolError` on misuse (a bug in
the caller): nothing but the handshakes before both are done; with the fast extension our
bitfield (or have_all/have_none) first [BEP 6]; a bitfield only as our first message
[BEP 3]; requests inside the torrent. Races with the remote are not misuse: a piece for a
request the peer has cancelled meanwhile returns False instead. Once the connection is
closed every command is a silent no-op. Frames come from the codec's ``pack_*`` functions
and go to the `Outbox`; a block we upload is queued as the caller's buffer, not copied.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..bencode import bencode
from ..bitfield import Bitfield
from ..errors import LocalProtocolError
from . import codec
from .codec import KEEPALIVE_BYTES, MAX_EXTENDED_PAYLOAD, MessageId
from .outbox import Outbox
from .requests import RequestBook
from .state import ConnectionState, PeerState

__all__ = ["Sender"]

_M = MessageId
_REQUEST = int(_M.REQUEST)  # per block: a plain int (enum attribute lookups are slow on 3.11)


class Sender:
    """Our commands after the handshake, checked against the shared `PeerState`."""

    def __init__(self, state: PeerState, book: RequestBook, out: Outbox) -> None:
        self._st = state
        self._book = book
        self._out = out

    def _ready(self, *, core: bool) -> bool:
        """Check a command may run now: False if closed (no-op), raise on misuse."""
        st = self._st
        if st.phase is ConnectionState.CLOSED:
            return False
        if st.phase is ConnectionState.HANDSHAKE or not st.handshake_sent:
            raise LocalProtocolError("messages can only follow both handshakes")
        if core:
            if st.supports_fast and not st.bitfield_sent:
                raise LocalProtocolError("with the fast extension, send_bitfield comes first")
            st.core_sent = True
        return True

    def _need_fast(self, what: str) -> None:
        if not self._st.supports_fast:
            raise LocalProtocolError(f"{what} needs the fast extension on both sides (BEP 6)")

    def _check_index(self, index: int) -> None:
        problem = self._book.index_problem(index)
        if problem is not None:
            raise LocalProtocolError(problem)

    def send_extended(self, ext_id: int, payload: bytes, *, handshake: bool = False) -> None:
        if not self._ready(core=False):
            return
        if not self._st.supports_extended:
            raise LocalProtocolError("the peer did not negotiate the extension protocol")
        if not (0 if handshake else 1) <= ext_id <= 255:
            raise LocalProtocolError(f"extended message id {ext_id} out of range 1..255")
        if len(payload) > MAX_EXTENDED_PAYLOAD:
            raise LocalProtocolError(f"extended message of {len(payload)} bytes is too large")
        self._out.write(codec.pack_extended(ext_id, payload))

    def send_hash_message(
        self, msg_id: int, root: bytes, fields: tuple[int, int, int, int], hashes: bytes = b""
    ) -> None:
        """A hash request, hashes or hash reject (BEP 52); fields are base, index, length
        and proof layers."""
        if not self._ready(core=True):
            return
        if len(root) != 32 or len(hashes) % 32:
            raise LocalProtocolError("a pieces root and hashes are 32 bytes each")
        if msg_id == _M.HASHES:
            self._out.write(codec.pack_hashes(root, *fields, hashes))
        else:
            self._out.write(codec.pack_hash_request(msg_id, root, *fields))

    def send_extended_handshake(self, payload: dict[bytes, object]) -> None:
        self.send_extended(0, bencode(payload), handshake=True)

    def send_bitfield(self, have: Bitfield) -> None:
        st = self._st
        if not self._ready(core=False):
            return
        if st.bitfield_sent or st.core_sent:
            raise LocalProtocolError("the bitfield must be our first message (BEP 3)")
        if have.size != st.num_pieces:
            raise LocalProtocolError(f"bitfield of {have.size} pieces for {st.num_pieces}")
        st.bitfield_sent = True
        if st.supports_fast and have.none():
            self._out.write(codec.pack_flag(_M.HAVE_NONE))
        elif st.supports_fast and have.all():
            self._out.write(codec.pack_flag(_M.HAVE_ALL))
        elif not have.none():  # without fast an empty set sends nothing (BEP 3 allows it)
            self._out.write(codec.pack_bitfield(have.to_bytes()))

    def send_have(self, index: int) -> None:
        if self._ready(core=True):
            self._check_index(index)
            self._out.write(codec.pack_index(_M.HAVE, index))

    def send_interested(self) -> None:
        st = self._st
        if self._ready(core=True) and not st.am_interested:
            st.am_interested = True
            self._out.write(codec.pack_flag(_M.INTERESTED))

    def send_not_interested(self) -> None:
        st = self._st
        if self._ready(core=True) and st.am_interested:
            st.am_interested = False
            self._out.write(codec.pack_flag(_M.NOT_INTERESTED))

    def send_unchoke(self) -> None:
        st = self._st
        if self._ready(core=True) and st.am_choking:
            st.am_choking = False
            self._out.write(codec.pack_flag(_M.UNCHOKE))

    def send_choke(self) -> None:
        st = self._st
        if not self._ready(core=True) or st.am_choking:
            return
        st.am_choking = True
        out = self._out
        out.write(codec.pack_flag(_M.CHOKE))
        theirs = self._book.theirs
        if not st.supports_fast:  # BEP 3: the peer knows its requests are void
            theirs.clear()
            return
        for (index, begin), length in list(theirs.items()):  # BEP 6: choke, then reject
            if index not in st.our_allowed_fast:
                del theirs[index, begin]
                out.write(codec.pack_block(_M.REJECT, index, begin, length))

    def send_request(self, index: int, begin: int, length: int) -> bool:
        return self.send_requests(((index, begin, length),)) == 1

    def send_requests(self, blocks: Sequence[tuple[int, int, int]]) -> int:
        """`send_request` for each (index, begin, length), in order, as one write; returns
        how many were sent (all, or none while the peer chokes us without fast). Every block
        is checked before any is sent, so a misuse raises with nothing half-sent."""
        st, book = self._st, self._book
        if not blocks or not self._ready(core=True):
            return 0
        if not st.geometry_known:
            raise LocalProtocolError("no geometry")
        ours, problem_of = book.ours, book.block_problem
        added: list[tuple[int, int]] = []
        try:  # registered as checked; a misuse takes back what this call registered
            for index, begin, length in blocks:
                problem = problem_of(index, begin, length)
                if problem is not None:
                    raise LocalProtocolError(problem)
                key = (index, begin)
                if key in ours:
                    raise LocalProtocolError(f"block {index}:{begin} is already requested")
                ours[key] = length
                added.append(key)
        except LocalProtocolError:
            for key in added:
                del ours[key]
            raise
        if st.peer_choking and not st.supports_fast:
            for key in added:
                del ours[key]
            return 0  # it would drop the requests (BEP 3)
        recent = book.recent
        if recent:
            for key in added:
                recent.pop(key, None)
        pack = codec.pack_block
        self._out.write(b"".join([pack(_REQUEST, i, b, n) for i, b, n in blocks]))
        return len(blocks)

    def send_cancel(self, index: int, begin: int, length: int) -> None:
        if self._ready(core=True) and self._book.cancel(index, begin, length):
            self._out.write(codec.pack_block(_M.CANCEL, index, begin, length))

    def send_piece(self, index: int, begin: int, data: bytes | memoryview) -> bool:
        if not self._ready(core=True):
            return False
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        theirs = self._book.theirs
        want = theirs.get((index, begin))
        if want is None:
            return False  # cancelled, or dropped by a choke: a race, not an error
        if want != size:
            raise LocalProtocolError(f"{size} bytes for request {index}:{begin}+{want}")
        del theirs[index, begin]
        self._out.write_block(codec.pack_piece_header(index, begin, size), data)
        return True

    def send_reject(self, index: int, begin: int, length: int) -> bool:
        if not self._ready(core=True):
            return False
        self._need_fast("reject")
        if not self._book.cancel_theirs(index, begin, length):
            return False
        self._out.write(codec.pack_block(_M.REJECT, index, begin, length))
        return True

    def send_allowed_fast(self, index: int) -> None:
        if self._ready(core=True):
            self._need_fast("allowed_fast")
            self._check_index(index)
            self._st.our_allowed_fast.add(index)
            self._out.write(codec.pack_index(_M.ALLOWED_FAST, index))

    def send_suggest(self, index: int) -> None:
        if self._ready(core=True):
            self._need_fast("suggest")
            self._check_index(index)
            self._out.write(codec.pack_index(_M.SUGGEST, index))

    def send_port(self, port: int) -> None:
        if self._ready(core=False):
            if not 0 < port <= 0xFFFF:
                raise LocalProtocolError(f"port {port} out of range")
            self._out.write(codec.pack_port(port))

    def send_keepalive(self) -> None:
        if self._ready(core=False):
            self._out.write(KEEPALIVE_BYTES)
