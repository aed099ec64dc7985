"""The receiving half of a peer connection: in-place message parsing and the rules per message.

`MessageReceiver` holds the state all of `PeerConnection` shares (flags, request
bookkeeping, queues) and everything that happens when a message arrives after the
handshake; `MessageSender` adds the commands, `PeerConnection` the handshake and timers.
The rules applied here are listed in `connection.py`'s docstring (rules 2 to 5).

Hot path: the stream is parsed straight from the caller's buffer when nothing is pending,
otherwise from one `bytearray` that is trimmed once per `receive_data` call; headers are
read with `struct.unpack_from`, and a block costs one copy (into `PieceReceived.data`).
"""

from __future__ import annotations

from enum import Enum

from ..bitfield import Bitfield
from ..errors import LocalProtocolError, RemoteProtocolError
from . import events as ev
from .extension import ExtensionHandshake, decode_extension_handshake
from .messages import (
    BLOCK_MSG,
    MAX_BLOCK_LENGTH,
    MAX_EXTENDED_PAYLOAD,
    PORT_MSG,
    THREE_U32,
    TWO_U32,
    U32,
    MessageId,
    length_error,
)
from .requests import RequestBook

__all__ = ["ConnectionState", "MessageReceiver"]

_MAX_PIECE_MESSAGE = 9 + MAX_BLOCK_LENGTH
_KNOWN_IDS = frozenset(int(m) for m in MessageId)
_FAST_IDS = frozenset({13, 14, 15, 16, 17})
_BEFORE_FIRST_OK = frozenset({5, 9, 14, 15, 20})  # may precede or be the first message
_MAX_PENDING_HAVES = 1 << 17  # haves held while the piece count is unknown


class ConnectionState(Enum):
    #: waiting for the remote's 68-byte handshake
    HANDSHAKE = "handshake"
    #: handshake done; messages flow
    ACTIVE = "active"
    #: finished; see `close_reason`
    CLOSED = "closed"


class MessageReceiver:
    """Shared connection state plus the handling of every post-handshake message."""

    def __init__(self, *, max_peer_requests: int, now: float) -> None:
        self.state = ConnectionState.HANDSHAKE
        self.close_reason: str | None = None
        self.supports_fast = self.supports_extended = self.supports_dht = False
        self.am_choking = self.peer_choking = True  # BEP 3: "start out choked"
        self.am_interested = self.peer_interested = False
        self.our_allowed_fast: set[int] = set()  # pieces the peer may request while choked
        self.peer_allowed_fast: set[int] = set()  # pieces we may request while choked
        self.remote_extensions: dict[str, int] = {}  # BEP 10 name -> id to send it with
        self.remote_extension_handshake: ExtensionHandshake | None = None
        self._requests = RequestBook(max_peer_requests)
        self.geometry_known = False
        self.num_pieces = 0
        self.peer_has = Bitfield(0)
        self._bitfield_bytes = -1  # any size while the geometry is unknown (magnet links)
        self._max_len = max(_MAX_PIECE_MESSAGE, 2 + MAX_EXTENDED_PAYLOAD)
        self._pending_bitfield: bytes | bool | None = None  # held until the geometry is known
        self._pending_haves: set[int] = set()
        self._awaiting_first = True  # the remote may still send its bitfield
        self._buf = bytearray()
        self._out: list[bytes | memoryview] = []
        self._events: list[ev.Event] = []
        self._now = self._last_sent = now

    def set_geometry(self, num_pieces: int, piece_length: int, total_length: int) -> None:
        """Fix the piece layout. A connection made with ``geometry_known=False`` (a magnet
        link: no metadata yet) calls this once the metadata is in; a bitfield, have_all or
        haves the peer sent meanwhile are checked then and reported as if just received.
        """
        if self.geometry_known:
            raise LocalProtocolError("the torrent geometry is already set")
        if piece_length <= 0 or total_length < 0:
            raise LocalProtocolError("piece_length must be > 0 and total_length >= 0")
        if num_pieces != -(-total_length // piece_length):
            raise LocalProtocolError(
                f"{num_pieces} pieces of {piece_length} bytes do not hold {total_length} bytes"
            )
        self.geometry_known = True
        self.num_pieces = num_pieces
        self._bitfield_bytes = (num_pieces + 7) // 8
        self._max_len = max(_MAX_PIECE_MESSAGE, 2 + MAX_EXTENDED_PAYLOAD, 1 + self._bitfield_bytes)
        self._requests.set_geometry(num_pieces, piece_length, total_length)
        self.peer_has = Bitfield(num_pieces)
        if self.state is ConnectionState.CLOSED:
            return
        try:
            self._replay_pending()
        except RemoteProtocolError as exc:
            self._close(str(exc), violation=True)

    def _replay_pending(self) -> None:
        pending, self._pending_bitfield = self._pending_bitfield, None
        haves, self._pending_haves = self._pending_haves, set()
        if isinstance(pending, bytes):
            self.peer_has = Bitfield.from_bytes(pending, self.num_pieces)
            self._events.append(ev.BitfieldReceived(self.peer_has.copy()))
        elif pending is True:
            self.peer_has = Bitfield(self.num_pieces, full=True)
            self._events.append(ev.HaveAllReceived())
        elif pending is False:
            self._events.append(ev.HaveNoneReceived())
        for index in sorted(haves):
            self._on_have(index)

    def _receive_messages(self, data: bytes | bytearray | memoryview) -> None:
        # Parse in place: from our buffer when a message is pending, otherwise straight
        # from `data`, keeping only an incomplete tail. One `del` per call, not per message.
        buf = self._buf
        if buf:
            buf += data
            with memoryview(buf) as view:
                used = self._parse(view)
            del buf[:used]
        else:
            with memoryview(data) as view:
                used = self._parse(view)
                if used < len(view):
                    buf += view[used:]

    def _parse(self, view: memoryview) -> int:
        pos = 0
        end = len(view)
        unpack_u32 = U32.unpack_from
        unpack_two = TWO_U32.unpack_from
        append = self._events.append
        ours = self._requests.ours
        max_len = self._max_len
        piece_event = ev.PieceReceived
        while end - pos >= 4:
            (length,) = unpack_u32(view, pos)
            if length == 0:  # keep-alive: liveness is already noted (BEP 3)
                pos += 4
                continue
            if length > max_len:
                raise RemoteProtocolError(f"message of {length} bytes exceeds any legal size")
            if end - pos < 5:
                break
            msg_id = view[pos + 4]
            if end - pos - 4 < length:
                problem = length_error(msg_id, length, self._bitfield_bytes)
                if problem is not None:  # refuse before buffering the body
                    raise RemoteProtocolError(problem)
                break
            if msg_id == 7:  # the hot path: a block
                if self._awaiting_first:
                    self._first_message(7)
                if not 9 < length <= _MAX_PIECE_MESSAGE:
                    raise RemoteProtocolError(f"piece message of length {length}")
                index, begin = unpack_two(view, pos + 5)
                key = (index, begin)
                want = ours.pop(key, None)
                if want is None:
                    want = self._requests.recent.pop(key, None)
                    if want is None:  # BEP 6: "MUST close the connection"
                        raise RemoteProtocolError(f"piece {index}:{begin} was never requested")
                if want != length - 9:
                    raise RemoteProtocolError(
                        f"piece {index}:{begin} has {length - 9} bytes, we requested {want}"
                    )
                append(piece_event(index, begin, view[pos + 13 : pos + 4 + length].tobytes()))
            else:
                self._dispatch(msg_id, view, pos + 5, length)
            pos += 4 + length
        return pos

    def _first_message(self, msg_id: int) -> None:
        if msg_id in _BEFORE_FIRST_OK or msg_id not in _KNOWN_IDS:
            return
        self._awaiting_first = False
        if self.supports_fast:
            raise RemoteProtocolError(
                f"{MessageId(msg_id).name.lower()} before bitfield/have_all/have_none (BEP 6)"
            )

    def _dispatch(self, msg_id: int, view: memoryview, at: int, length: int) -> None:
        problem = length_error(msg_id, length, self._bitfield_bytes)
        if problem is not None:
            raise RemoteProtocolError(problem)
        if self._awaiting_first:
            self._first_message(msg_id)
        if msg_id in _FAST_IDS and not self.supports_fast:
            name = MessageId(msg_id).name.lower()
            raise RemoteProtocolError(f"{name} without the fast extension (BEP 6)")
        match msg_id:
            case 0:
                self._on_choke()
            case 1:
                if self.peer_choking:
                    self.peer_choking = False
                    self._events.append(ev.Unchoked())
            case 2:
                if not self.peer_interested:
                    self.peer_interested = True
                    self._events.append(ev.Interested())
            case 3:
                if self.peer_interested:
                    self.peer_interested = False
                    self._events.append(ev.NotInterested())
            case 4:
                self._on_have(U32.unpack_from(view, at)[0])
            case 5:
                self._on_first(view[at : at + length - 1].tobytes())
            case 6:
                self._on_request(*THREE_U32.unpack_from(view, at))
            case 8:
                self._on_cancel(*THREE_U32.unpack_from(view, at))
            case 9:
                self._events.append(ev.PortReceived(PORT_MSG.unpack_from(view, at - 5)[2]))
            case 13 | 17:
                self._on_index(msg_id, U32.unpack_from(view, at)[0])
            case 14:
                self._on_first(True)
            case 15:
                self._on_first(False)
            case 16:
                self._on_reject(*THREE_U32.unpack_from(view, at))
            case 20:
                self._on_extended(view[at], view[at + 1 : at + length - 1].tobytes())
            case _:
                pass  # unknown message: skipped (rule 3)

    def _on_choke(self) -> None:
        if self.peer_choking:
            return
        self.peer_choking = True
        # BEP 3: a choke voids our requests; BEP 6: "Choke no longer implicitly rejects"
        dropped = () if self.supports_fast else self._requests.drop_all_ours()
        self._events.append(ev.Choked(dropped))

    def _on_first(self, what: bytes | bool) -> None:
        """A bitfield (bytes), have_all (True) or have_none (False)."""
        if not self._awaiting_first:
            # BEP 3 and BEP 6 say these come only right after the handshake, but aria2
            # sends a bitfield instead of a run of haves mid-connection (and have_all when
            # it completes); libtorrent and Transmission accept that, and so do we: as
            # haves. Nothing can be un-had, so a late have_none changes nothing.
            self._late_first(what)
            return
        self._awaiting_first = False
        if not self.geometry_known:
            self._pending_bitfield = what
            return
        if isinstance(what, bytes):
            self.peer_has = Bitfield.from_bytes(what, self.num_pieces)
            self._events.append(ev.BitfieldReceived(self.peer_has.copy()))
        elif what:
            self.peer_has = Bitfield(self.num_pieces, full=True)
            self._events.append(ev.HaveAllReceived())
        else:
            self._events.append(ev.HaveNoneReceived())

    def _late_first(self, what: bytes | bool) -> None:
        if not self.geometry_known:
            if isinstance(what, bytes) or what:
                self._pending_bitfield = what  # the latest view replaces an earlier one
            return
        if what is False:
            return
        late = (
            Bitfield(self.num_pieces, full=True)
            if what is True
            else Bitfield.from_bytes(what, self.num_pieces)
        )
        for index in late:
            if self.peer_has.add(index):
                self._events.append(ev.HaveReceived(index))

    def _on_have(self, index: int) -> None:
        if not self.geometry_known:
            if len(self._pending_haves) >= _MAX_PENDING_HAVES:
                raise RemoteProtocolError("too many have messages before we know the torrent")
            self._pending_haves.add(index)
            return
        problem = self._requests.index_problem(index)
        if problem is not None:
            raise RemoteProtocolError(f"have: {problem}")
        if self.peer_has.add(index):
            self._events.append(ev.HaveReceived(index))

    def _on_index(self, msg_id: int, index: int) -> None:
        """Suggest (13) or allowed_fast (17); ignored until the geometry is known."""
        if not self.geometry_known:
            return
        problem = self._requests.index_problem(index)
        if problem is not None:
            raise RemoteProtocolError(f"{MessageId(msg_id).name.lower()}: {problem}")
        if msg_id == 13:
            self._events.append(ev.SuggestReceived(index))
        elif index not in self.peer_allowed_fast:
            self.peer_allowed_fast.add(index)
            self._events.append(ev.AllowedFastReceived(index))

    def _on_request(self, index: int, begin: int, length: int) -> None:
        book = self._requests
        if not self.geometry_known:  # we have nothing yet, and said so
            if self.supports_fast:
                self._write(BLOCK_MSG.pack(13, 16, index, begin, length))
            return
        problem = book.block_problem(index, begin, length)
        if problem is not None:
            raise RemoteProtocolError(problem)
        if self.am_choking:
            if self.supports_fast and index not in self.our_allowed_fast:
                self._write(BLOCK_MSG.pack(13, 16, index, begin, length))  # BEP 6 SHOULD
            if not self.supports_fast or index not in self.our_allowed_fast:
                return  # without fast: dropped, as our choke said (BEP 3)
        key = (index, begin)
        if key in book.theirs:
            return  # a duplicate: it will get its one answer
        if len(book.theirs) >= book.max_theirs:
            raise RemoteProtocolError(f"more than {book.max_theirs} outstanding requests")
        book.theirs[key] = length
        self._events.append(ev.RequestReceived(index, begin, length))

    def _on_cancel(self, index: int, begin: int, length: int) -> None:
        if not self._requests.cancel_theirs(index, begin, length):
            return  # already served or rejected: nothing to do
        if self.supports_fast:  # BEP 6: every request gets exactly one answer
            self._write(BLOCK_MSG.pack(13, 16, index, begin, length))
        self._events.append(ev.CancelReceived(index, begin, length))

    def _on_reject(self, index: int, begin: int, length: int) -> None:
        match self._requests.take_reject(index, begin, length):
            case True:
                self._events.append(ev.RejectReceived(index, begin, length))
            case None:  # BEP 6: "SHOULD close the connection"
                raise RemoteProtocolError(f"reject for {index}:{begin}+{length}, never requested")
            case False:
                pass

    def _on_extended(self, ext_id: int, payload: bytes) -> None:
        if not self.supports_extended:
            raise RemoteProtocolError("extended message without the extension protocol (BEP 10)")
        if ext_id:
            self._events.append(ev.ExtendedMessageReceived(ext_id, payload))
            return
        fields = decode_extension_handshake(payload)
        self.remote_extension_handshake = fields
        for name, remote_id in fields.m.items():  # BEP 10: "m" is additive; 0 disables
            if remote_id:
                self.remote_extensions[name] = remote_id
            else:
                self.remote_extensions.pop(name, None)
        self._events.append(ev.ExtendedHandshakeReceived(fields))

    # ---- events and bytes out ---------------------------------------------------------

    def events(self) -> list[ev.Event]:
        """Drain every event queued since the last call (from data, timers and commands)."""
        out = self._events
        if out:
            self._events = []
        return out if out else []

    def data_to_send(self) -> bytes:
        """Drain the bytes to write to the socket."""
        out = self._out
        if not out:
            return b""
        self._out = []
        first = out[0]
        if len(out) == 1 and isinstance(first, bytes):
            return first
        return b"".join(out)

    def _write(self, data: bytes) -> None:
        self._out.append(data)
        self._last_sent = self._now

    def _close(self, reason: str, *, violation: bool) -> None:
        self.state = ConnectionState.CLOSED
        self.close_reason = reason
        self._buf = bytearray()
        self._requests.theirs.clear()
        self._events.append(ev.ConnectionClosed(reason, violation))
