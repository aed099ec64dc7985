"""The receiving half of a peer connection: frames parsed in place, and the rule per message.

`Receiver` turns the bytes after the handshake into events, applying rules 2 to 5 of
`connection.py`'s docstring to the shared `PeerState` and `RequestBook`; the answers a rule
requires by itself (BEP 6 rejects) go to the `Outbox`. Every frame is read with the codec
(`codec.frame_header`, ``codec.read_*``) straight from the caller's buffer.

A block costs no copy here: `PieceReceived.data` is a read-only memoryview of the bytes
passed to `feed`, *lent* until the next `feed`, which releases it (any later use raises
`ValueError` instead of reading bytes the driver has since overwritten). Only a frame split
between two reads is assembled first, in a buffer of its own that is then handed off whole
and never resized, so a lent view can never pin a buffer we still append to.
"""

from __future__ import annotations

from collections.abc import Callable

from ..bitfield import Bitfield
from ..errors import LocalProtocolError, RemoteProtocolError
from . import codec
from . import events as ev
from .codec import KEEPALIVE, PAYLOAD, Buffer, MessageId
from .extension import decode_extension_handshake
from .outbox import Outbox
from .requests import RequestBook
from .state import ConnectionState, PeerState

__all__ = ["Receiver"]

_M = MessageId
_PIECE = int(_M.PIECE)  # a plain int: an enum attribute lookup costs ~70 ns on 3.11
_MAX_PIECE = codec.MAX_PIECE_MESSAGE
_REJECT = int(_M.REJECT)
_KNOWN_IDS = frozenset(int(m) for m in MessageId)
_FAST_IDS = frozenset(
    int(m) for m in (_M.SUGGEST, _M.HAVE_ALL, _M.HAVE_NONE, _M.REJECT, _M.ALLOWED_FAST)
)
# may precede, or be, the first message [BEP 6: "extended and port" may come first]
_BEFORE_FIRST_OK = frozenset(
    int(m) for m in (_M.BITFIELD, _M.PORT, _M.HAVE_ALL, _M.HAVE_NONE, _M.EXTENDED)
)
_MAX_PENDING_HAVES = 1 << 17  # haves held while the piece count is unknown
MAX_HASH_REQUESTS = 64
"""Our hash requests outstanding on one connection at most (BEP 52)."""
MAX_PEER_HASH_REQUESTS = 512
"""The peer's hash requests we hold unanswered at most; one more closes the connection, as
the 2001st block request does. libtorrent keeps at most two of its own out (and answers
others' at once from memory); we keep 64."""

HashKey = tuple[bytes, int, int, int, int]  # pieces root, base, index, length, proof layers


def hash_request_problem(base: int, index: int, length: int, proof_layers: int) -> str | None:
    """Why a hash request breaks BEP 52's rules for every tree, or None: length a power of
    two of at least 2 ("MUST") and at most `codec.MAX_HASHES`, index a multiple of it
    ("MUST"), and layers that fit a tree of at most 2**63 leaves."""
    if length < 2 or length & (length - 1) or length > codec.MAX_HASHES:
        return f"hash request of {length} hashes (a power of two, 2 to {codec.MAX_HASHES})"
    if index % length:
        return f"hash request at index {index}, not a multiple of its length {length}"
    if base >= 64 or proof_layers >= 64:
        return f"hash request of base layer {base} with {proof_layers} proof layers"
    return None


class Receiver:
    """Parses the peer's messages into `events`; owns the partial-frame buffer."""

    def __init__(self, state: PeerState, book: RequestBook, out: Outbox) -> None:
        self._st = state
        self._book = book
        self._out = out
        self.events: list[ev.Event] = []
        self.buf = bytearray()  # the start of a frame split between reads
        self._lent: list[memoryview] = []  # block views handed out by the last `feed`
        self._bitfield_bytes = -1  # any size while the geometry is unknown (magnet links)
        self._max_len = codec.max_frame_length(-1)
        self._pending_bitfield: bytes | bool | None = None  # held until the geometry is known
        self._pending_haves: set[int] = set()
        self._awaiting_first = True  # the remote may still send its bitfield
        self.hash_requests: set[HashKey] = set()  # ours, until hashes or a hash reject
        self.peer_hash_requests: dict[HashKey, int] = {}  # theirs, unanswered, with repeats
        self.peer_hash_count = 0
        handlers: dict[MessageId, Callable[[memoryview, int, int], None]] = {
            _M.CHOKE: self._on_choke,
            _M.UNCHOKE: self._on_unchoke,
            _M.INTERESTED: self._on_interested,
            _M.NOT_INTERESTED: self._on_not_interested,
            _M.HAVE: self._on_have,
            _M.BITFIELD: self._on_bitfield,
            _M.REQUEST: self._on_request,
            _M.CANCEL: self._on_cancel,
            _M.PORT: self._on_port,
            _M.SUGGEST: self._on_suggest,
            _M.HAVE_ALL: self._on_have_all,
            _M.HAVE_NONE: self._on_have_none,
            _M.REJECT: self._on_reject,
            _M.ALLOWED_FAST: self._on_allowed_fast,
            _M.EXTENDED: self._on_extended,
            _M.HASH_REQUEST: self._on_hash_request,
            _M.HASHES: self._on_hashes,
            _M.HASH_REJECT: self._on_hash_reject,
        }
        # keyed by plain ints: hashing an IntEnum member runs Python code on 3.11
        self._handlers = {int(msg_id): handler for msg_id, handler in handlers.items()}

    # ---- bytes in -----------------------------------------------------------------------

    def release(self) -> None:
        """End the loan of the block views the previous `feed` handed out."""
        for view in self._lent:
            view.release()
        self._lent.clear()

    def discard(self) -> None:
        """Forget a partial frame (the connection closed)."""
        self.buf = bytearray()

    def feed(self, data: Buffer) -> None:
        """Parse every complete frame in `data` (after what an earlier call left pending).

        Raises:
            RemoteProtocolError: the peer broke a rule; the connection closes.
        """
        view = memoryview(data).toreadonly()
        pos = 0
        if self.buf:
            pos = self._complete_pending(view)
            if self.buf:
                return  # all of `data` went into a frame still incomplete
        used = self._parse(view, pos)
        if used < len(view):
            self.buf += view[used:]  # the headers in it were checked by `frame_header`

    def _complete_pending(self, view: memoryview) -> int:
        """Move bytes from `view` into the pending frame until it is whole, then parse it;
        return how many were taken. The header comes first, so its sizes are checked before
        the body is buffered."""
        buf = self.buf
        taken = 0
        limit, bitfield_bytes = self._max_len, self._bitfield_bytes
        while codec.frame_header(buf, 0, limit, bitfield_bytes) is None:
            have = len(buf)
            if have < 4:
                want = 4  # the length prefix
            elif have == 4:
                want = 5  # the id (a keep-alive would have been complete)
            else:
                want = 4 + int.from_bytes(buf[:4], "big")
            step = min(want - have, len(view) - taken)
            if step == 0:
                return taken
            buf += view[taken : taken + step]
            taken += step
        self.buf = bytearray()  # `buf` now holds one frame; blocks lent from it keep it alive
        self._parse(memoryview(buf).toreadonly(), 0)
        return taken

    def _parse(self, view: memoryview, pos: int) -> int:
        """Handle the complete frames from `pos` on; return where the first incomplete one
        starts. Blocks are the hot path, handled inline: a whole piece message of a legal
        size is read with one unpack, every other frame goes through `codec.frame_header`."""
        header = codec.frame_header
        unpack_piece = codec.unpack_piece_header
        max_len, bitfield_bytes = self._max_len, self._bitfield_bytes
        append = self.events.append
        lend = self._lent.append
        book = self._book
        ours = book.ours
        piece_event = ev.PieceReceived
        end = len(view)
        while True:
            if end - pos >= 13 and view[pos + 4] == _PIECE:
                length, _, index, begin = unpack_piece(view, pos)
                if 9 < length <= _MAX_PIECE and end - pos - 4 >= length:
                    if self._awaiting_first:
                        self._first_message(_PIECE)
                    key = (index, begin)
                    want = ours.pop(key, None)
                    if want is None:
                        want = book.recent.pop(key, None)
                        if want is None:  # BEP 6: "MUST close the connection"
                            raise RemoteProtocolError(f"piece {index}:{begin} was never requested")
                    if want != length - 9:
                        raise RemoteProtocolError(
                            f"piece {index}:{begin} has {length - 9} bytes, we requested {want}"
                        )
                    block = view[pos + 13 : pos + 4 + length]
                    lend(block)
                    append(piece_event(index, begin, block))
                    pos += 4 + length
                    continue
            frame = header(view, pos, max_len, bitfield_bytes)
            if frame is None:
                return pos
            msg_id, length = frame
            if msg_id != KEEPALIVE:  # a keep-alive: liveness is already noted (BEP 3)
                self._dispatch(msg_id, view, pos + PAYLOAD, length)
            pos += 4 + length

    def _first_message(self, msg_id: int) -> None:
        if msg_id in _BEFORE_FIRST_OK or msg_id not in _KNOWN_IDS:
            return
        self._awaiting_first = False
        if self._st.supports_fast:
            raise RemoteProtocolError(
                f"{MessageId(msg_id).name.lower()} before bitfield/have_all/have_none (BEP 6)"
            )

    def _dispatch(self, msg_id: int, view: memoryview, at: int, length: int) -> None:
        """Every message but a piece; `at` is where its payload starts."""
        if self._awaiting_first:
            self._first_message(msg_id)
        if msg_id in _FAST_IDS and not self._st.supports_fast:
            name = MessageId(msg_id).name.lower()
            raise RemoteProtocolError(f"{name} without the fast extension (BEP 6)")
        handler = self._handlers.get(msg_id)
        if handler is not None:  # an unknown message is skipped (rule 3)
            handler(view, at, length)

    # ---- the rules per message: handler(view, payload offset, length prefix) ------------

    def _on_choke(self, view: memoryview, at: int, length: int) -> None:
        st = self._st
        if st.peer_choking:
            return
        st.peer_choking = True
        # BEP 3: a choke voids our requests; BEP 6: "Choke no longer implicitly rejects"
        dropped = () if st.supports_fast else self._book.drop_all_ours()
        self.events.append(ev.Choked(dropped))

    def _on_unchoke(self, view: memoryview, at: int, length: int) -> None:
        if self._st.peer_choking:
            self._st.peer_choking = False
            self.events.append(ev.Unchoked())

    def _on_interested(self, view: memoryview, at: int, length: int) -> None:
        if not self._st.peer_interested:
            self._st.peer_interested = True
            self.events.append(ev.Interested())

    def _on_not_interested(self, view: memoryview, at: int, length: int) -> None:
        if self._st.peer_interested:
            self._st.peer_interested = False
            self.events.append(ev.NotInterested())

    def _on_bitfield(self, view: memoryview, at: int, length: int) -> None:
        self._on_first(view[at : at + length - 1].tobytes())

    def _on_have_all(self, view: memoryview, at: int, length: int) -> None:
        self._on_first(True)

    def _on_have_none(self, view: memoryview, at: int, length: int) -> None:
        self._on_first(False)

    def _on_port(self, view: memoryview, at: int, length: int) -> None:
        self.events.append(ev.PortReceived(codec.read_port(view, at)))

    def _on_first(self, what: bytes | bool) -> None:
        """A bitfield (bytes), have_all (True) or have_none (False)."""
        st = self._st
        if not self._awaiting_first:
            # BEP 3 and BEP 6 say these come only right after the handshake, but aria2
            # sends a bitfield instead of a run of haves mid-connection (and have_all when
            # it completes); libtorrent and Transmission accept that, and so do we: as
            # haves. Nothing can be un-had, so a late have_none changes nothing.
            self._late_first(what)
            return
        self._awaiting_first = False
        if not st.geometry_known:
            self._pending_bitfield = what
            return
        if isinstance(what, bytes):
            st.peer_has = Bitfield.from_bytes(what, st.num_pieces)
            self.events.append(ev.BitfieldReceived(st.peer_has.copy()))
        elif what:
            st.peer_has = Bitfield(st.num_pieces, full=True)
            self.events.append(ev.HaveAllReceived())
        else:
            self.events.append(ev.HaveNoneReceived())

    def _late_first(self, what: bytes | bool) -> None:
        st = self._st
        if not st.geometry_known:
            if isinstance(what, bytes) or what:
                self._pending_bitfield = what  # the latest view replaces an earlier one
            return
        if what is False:
            return
        late = (
            Bitfield(st.num_pieces, full=True)
            if what is True
            else Bitfield.from_bytes(what, st.num_pieces)
        )
        for index in late:
            if st.peer_has.add(index):
                self.events.append(ev.HaveReceived(index))

    def _on_have(self, view: memoryview, at: int, length: int) -> None:
        self._have(codec.read_index(view, at))

    def _have(self, index: int) -> None:
        st = self._st
        if not st.geometry_known:
            if len(self._pending_haves) >= _MAX_PENDING_HAVES:
                raise RemoteProtocolError("too many have messages before we know the torrent")
            self._pending_haves.add(index)
            return
        problem = self._book.index_problem(index)
        if problem is not None:
            raise RemoteProtocolError(f"have: {problem}")
        if st.peer_has.add(index):
            self.events.append(ev.HaveReceived(index))

    def _fast_index(self, view: memoryview, at: int, what: str) -> int | None:
        """The piece a suggest or allowed_fast names; None until the geometry is known."""
        if not self._st.geometry_known:
            return None
        index = codec.read_index(view, at)
        problem = self._book.index_problem(index)
        if problem is not None:
            raise RemoteProtocolError(f"{what}: {problem}")
        return index

    def _on_suggest(self, view: memoryview, at: int, length: int) -> None:
        index = self._fast_index(view, at, "suggest")
        if index is not None:
            self.events.append(ev.SuggestReceived(index))

    def _on_allowed_fast(self, view: memoryview, at: int, length: int) -> None:
        index = self._fast_index(view, at, "allowed_fast")
        allowed = self._st.peer_allowed_fast
        if index is not None and index not in allowed:
            allowed.add(index)
            self.events.append(ev.AllowedFastReceived(index))

    def _reject(self, index: int, begin: int, length: int) -> None:
        self._out.write(codec.pack_block(_REJECT, index, begin, length))

    def _on_request(self, view: memoryview, at: int, _: int) -> None:
        index, begin, length = codec.read_block(view, at)
        st, book = self._st, self._book
        if not st.geometry_known:  # we have nothing yet, and said so
            if st.supports_fast:
                self._reject(index, begin, length)
            return
        problem = book.block_problem(index, begin, length)
        if problem is not None:
            raise RemoteProtocolError(problem)
        if st.am_choking:
            allowed = index in st.our_allowed_fast
            if st.supports_fast and not allowed:
                self._reject(index, begin, length)  # BEP 6 SHOULD
            if not st.supports_fast or not allowed:
                return  # without fast: dropped, as our choke said (BEP 3)
        key = (index, begin)
        if key in book.theirs:
            return  # a duplicate: it will get its one answer
        if len(book.theirs) >= book.max_theirs:
            raise RemoteProtocolError(f"more than {book.max_theirs} outstanding requests")
        book.theirs[key] = length
        self.events.append(ev.RequestReceived(index, begin, length))

    def _on_cancel(self, view: memoryview, at: int, _: int) -> None:
        index, begin, length = codec.read_block(view, at)
        if not self._book.cancel_theirs(index, begin, length):
            return  # already served or rejected: nothing to do
        if self._st.supports_fast:  # BEP 6: every request gets exactly one answer
            self._reject(index, begin, length)
        self.events.append(ev.CancelReceived(index, begin, length))

    def _on_reject(self, view: memoryview, at: int, _: int) -> None:
        index, begin, length = codec.read_block(view, at)
        match self._book.take_reject(index, begin, length):
            case True:
                self.events.append(ev.RejectReceived(index, begin, length))
            case None:  # BEP 6: "SHOULD close the connection"
                raise RemoteProtocolError(f"reject for {index}:{begin}+{length}, never requested")
            case False:
                pass

    def _on_extended(self, view: memoryview, at: int, length: int) -> None:
        ext_id, payload = view[at], view[at + 1 : at + length - 1].tobytes()
        st = self._st
        if not st.supports_extended:
            raise RemoteProtocolError("extended message without the extension protocol (BEP 10)")
        if ext_id:
            self.events.append(ev.ExtendedMessageReceived(ext_id, payload))
            return
        fields = decode_extension_handshake(payload)
        st.remote_extension_handshake = fields
        for name, remote_id in fields.m.items():  # BEP 10: "m" is additive; 0 disables
            if remote_id:
                st.remote_extensions[name] = remote_id
            else:
                st.remote_extensions.pop(name, None)
        self.events.append(ev.ExtendedHandshakeReceived(fields))

    def _on_hash_request(self, view: memoryview, at: int, _: int) -> None:
        key = codec.read_hash_request(view, at)
        problem = hash_request_problem(*key[1:])
        if problem is not None:
            raise RemoteProtocolError(problem)
        if self.peer_hash_count >= MAX_PEER_HASH_REQUESTS:
            raise RemoteProtocolError(
                f"more than {MAX_PEER_HASH_REQUESTS} hash requests unanswered"
            )
        pending = self.peer_hash_requests
        pending[key] = pending.get(key, 0) + 1  # a repeat gets its own answer (BEP 52)
        self.peer_hash_count += 1
        self.events.append(ev.HashRequestReceived(*key))

    def hash_answered(self, key: HashKey) -> None:
        """We sent hashes or a hash reject for `key`: one of the peer's requests is done."""
        pending = self.peer_hash_requests
        left = pending.get(key, 0) - 1
        if left < 0:
            return  # nothing of the peer's matched: not counted
        if left:
            pending[key] = left
        else:
            del pending[key]
        self.peer_hash_count -= 1

    def _answered(self, key: HashKey, what: str) -> None:
        if key not in self.hash_requests:  # BEP 52: it "MUST correlate with a hash request"
            raise RemoteProtocolError(f"{what} for a hash request we never sent")
        self.hash_requests.discard(key)

    def _on_hashes(self, view: memoryview, at: int, length: int) -> None:
        key = codec.read_hash_request(view, at)
        self._answered(key, "hashes")
        count = (length - 1 - codec.HASH_HEADER) // 32
        need = key[3] + codec.uncle_count(key[3], key[4])
        if count != need:
            raise RemoteProtocolError(f"hashes message of {count} hashes, the request needs {need}")
        hashes = view[at + codec.HASH_HEADER : at + length - 1].tobytes()
        self.events.append(ev.HashesReceived(*key, hashes))

    def _on_hash_reject(self, view: memoryview, at: int, _: int) -> None:
        key = codec.read_hash_request(view, at)
        self._answered(key, "hash reject")
        self.events.append(ev.HashRejectReceived(*key))

    # ---- the torrent's layout arriving late (magnet links) ------------------------------

    def set_geometry(self, num_pieces: int, piece_length: int, total_length: int) -> None:
        """Fix the piece layout (see `PeerConnection.set_geometry`); then check and report a
        bitfield, have_all or haves the peer sent before it, as if just received.

        Raises:
            LocalProtocolError: the layout is already set, or inconsistent.
            RemoteProtocolError: what the peer sent does not fit the torrent.
        """
        st = self._st
        if st.geometry_known:
            raise LocalProtocolError("the torrent geometry is already set")
        if piece_length <= 0 or total_length < 0:
            raise LocalProtocolError("piece_length must be > 0 and total_length >= 0")
        if num_pieces != -(-total_length // piece_length):
            raise LocalProtocolError(
                f"{num_pieces} pieces of {piece_length} bytes do not hold {total_length} bytes"
            )
        st.geometry_known = True
        st.num_pieces = num_pieces
        st.peer_has = Bitfield(num_pieces)
        self._book.set_geometry(num_pieces, piece_length, total_length)
        self._bitfield_bytes = (st.num_pieces + 7) // 8
        self._max_len = codec.max_frame_length(self._bitfield_bytes)
        if st.phase is ConnectionState.CLOSED:
            return
        pending, self._pending_bitfield = self._pending_bitfield, None
        haves, self._pending_haves = self._pending_haves, set()
        if isinstance(pending, bytes):
            st.peer_has = Bitfield.from_bytes(pending, st.num_pieces)
            self.events.append(ev.BitfieldReceived(st.peer_has.copy()))
        elif pending is True:
            st.peer_has = Bitfield(st.num_pieces, full=True)
            self.events.append(ev.HaveAllReceived())
        elif pending is False:
            self.events.append(ev.HaveNoneReceived())
        for index in sorted(haves):
            self._have(index)
