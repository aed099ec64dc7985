"""File-path sanitising for torrent contents: refuse any path that could leave the download folder.

A torrent names its files with lists of path components chosen by a stranger. Before any of
them reaches the file system we insist that each component is a plain, portable file name:
a path that could climb out of the download folder (``..``, an absolute path, a drive
letter), smuggle a separator, or hit a Windows device name is refused with an
`UnsafePathError` naming the path. We refuse rather than rewrite (libtorrent rewrites) so
that what lands on disk is always exactly what the torrent says; real torrents made by
ordinary tools never trip these rules.

Text that is not valid UTF-8 is decoded with U+FFFD replacement characters (not
surrogateescape): the names then stay printable and encodable in JSON, the RPC and the UI on
every platform. The parser records an issue whenever it had to do that.

Pure: no file I/O; storage reuses `safe_relative_path`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import UnsafePathError

__all__ = ["WINDOWS_RESERVED_NAMES", "decode_text", "safe_relative_path", "unsafe_reason"]

# Device names Windows reserves in every folder, with or without an extension, in any case.
WINDOWS_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")]
)

_DRIVE_RE = re.compile(r"[A-Za-z]:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def decode_text(raw: bytes) -> tuple[str, bool]:
    """Decode torrent text as UTF-8; on invalid bytes use U+FFFD and say so (second item)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def unsafe_reason(component: str) -> str | None:
    """Why one path component is unsafe, or None when it is a plain portable name."""
    if component == "":
        return "has an empty component"
    if component in (".", ".."):
        return f"has a {component!r} component (it would leave the download folder)"
    if "/" in component or "\\" in component:
        return f"has a component with a path separator ({component!r})"
    if "\x00" in component:
        return f"has a component with a NUL byte ({component!r})"
    if _CONTROL_RE.search(component):
        return f"has a component with a control character ({component!r})"
    if _DRIVE_RE.match(component):
        return f"has a component that starts with a drive letter ({component!r})"
    if component.rstrip(" .") == "":
        # Windows drops trailing dots and spaces: "..." or " " would mean "." there.
        return f"has a component made only of dots and spaces ({component!r})"
    base = component.split(".", 1)[0].rstrip(" ").upper()
    if base in WINDOWS_RESERVED_NAMES:
        return f"has a component that is a reserved Windows device name ({component!r})"
    return None


def safe_relative_path(components: Iterable[str | bytes]) -> tuple[str, ...]:
    """Check a torrent file path and return it as a tuple of str components.

    Bytes components are decoded as UTF-8 with replacement. The result is safe to join under
    a download folder on POSIX and Windows alike.

    Raises:
        UnsafePathError: the path is empty, absolute, climbs with ``..``, holds ``.``, an
            empty component, a separator, NUL or another control character, a drive letter,
            a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, ...), or a component of
            only dots and spaces. The message names the whole path.
    """
    parts = tuple(c if isinstance(c, str) else decode_text(c)[0] for c in components)
    if not parts:
        raise UnsafePathError("a file path is empty")
    for part in parts:
        reason = unsafe_reason(part)
        if reason is not None:
            shown = "/".join(parts)
            raise UnsafePathError(f"unsafe file path {shown!r}: it {reason}")
    return parts
