"""Which verified pieces a disk fault took away: files gone from under a torrent.

A torrent that meets a disk fault stops in the ERROR state with a one-line reason and keeps
its have-bitfield (`TorrentRuntime.fail`); the rules that keep it from losing verified
pieces or fetching them again silently need to know when a file that holds verified pieces
is no longer on disk:

* while it runs, each resume save checks the files it is about to record: a file holding
  verified pieces that is missing (deleted, or its folder removed) is a fault, not a new
  state to record (else the next start would trust pieces that are gone);
* at a start, resume data that names verified pieces in files that are now missing stops
  the torrent with "no data found" (Transmission's answer) instead of starting over from
  nothing: the data may be on a disk that is not mounted. Restoring the files and starting
  again resumes; an explicit recheck (the daemon's verify) accepts the loss and downloads
  what is really missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..bitfield import Bitfield
from ..storage.layout import Layout

__all__ = ["lost_files", "missing_data_message"]


def lost_files(
    layout: Layout, have: Bitfield, files: Sequence[tuple[int, int] | None]
) -> list[int]:
    """The indexes of the files that are missing (None in `files`) though `have` holds a
    verified piece with bytes in them (pad and empty files never count)."""
    lost = []
    for index, (spec, state) in enumerate(zip(layout.files, files, strict=True)):
        if state is not None or spec.is_pad or spec.length == 0:
            continue
        if any(have[piece] for piece in layout.file_piece_range(index)):
            lost.append(index)
    return lost


def missing_data_message(layout: Layout, lost: Sequence[int], *, running: bool) -> str:
    """One line naming the first missing file and how many more there are."""
    first = "/".join(layout.files[lost[0]].path)
    more = f" (and {len(lost) - 1} more files)" if len(lost) > 1 else ""
    if running:
        return f"{first}{more} was deleted while the torrent was running"
    return (
        f"no data found: {first}{more} is missing; restore it and start again, "
        "or recheck to download it again"
    )
