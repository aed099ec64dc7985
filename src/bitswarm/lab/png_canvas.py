"""A tiny RGB raster and PNG encoder: enough to draw a line chart without matplotlib.

The lab's progress plot needs lines, rectangles and a little text, written as a PNG. PNG
(RFC 2083 / ISO 15948) is a signature and chunks of length, type, data and CRC-32: IHDR
(size, 8-bit RGB = colour type 2), IDAT (the zlib-compressed scanlines, each preceded by a
filter-type byte; 0 = none), IEND. Text comes from the 5×7 font of bitmap_font.py.
"""

from __future__ import annotations

import itertools
import struct
import zlib

from .bitmap_font import GLYPH_HEIGHT, GLYPH_WIDTH, glyph_rows

__all__ = ["Canvas", "Color", "encode_png"]

Color = tuple[int, int, int]
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """A PNG file of `width`×`height` 8-bit RGB pixels given row by row, top first."""
    if len(rgb) != width * height * 3:
        raise ValueError(f"{len(rgb)} bytes is not {width}x{height} RGB")
    stride = width * 3
    raw = b"".join(b"\x00" + bytes(rgb[row * stride : (row + 1) * stride]) for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


class Canvas:
    """An RGB image in memory; (0, 0) is the top-left corner, drawing clips at the edges."""

    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        if width <= 0 or height <= 0:
            raise ValueError("a canvas needs a positive size")
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            at = (y * self.width + x) * 3
            self.pixels[at : at + 3] = bytes(color)

    def get(self, x: int, y: int) -> Color:
        at = (y * self.width + x) * 3
        return self.pixels[at], self.pixels[at + 1], self.pixels[at + 2]

    def fill_rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill the rectangle with corners (x0, y0) and (x1, y1), both included."""
        left, right = max(0, min(x0, x1)), min(self.width - 1, max(x0, x1))
        top, bottom = max(0, min(y0, y1)), min(self.height - 1, max(y0, y1))
        if left > right or top > bottom:
            return
        row = bytes(color) * (right - left + 1)
        for y in range(top, bottom + 1):
            at = (y * self.width + left) * 3
            self.pixels[at : at + len(row)] = row

    def line(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        color: Color,
        *,
        thickness: int = 1,
        dash: int = 0,
    ) -> None:
        """A straight line (Bresenham), `thickness` pixels wide; `dash` > 0: dashes that long."""
        ax, ay, bx, by = round(x0), round(y0), round(x1), round(y1)
        dx, dy = abs(bx - ax), -abs(by - ay)
        sx, sy = (1 if ax < bx else -1), (1 if ay < by else -1)
        error = dx + dy
        half = (thickness - 1) // 2
        step = 0
        while True:
            if dash <= 0 or (step // dash) % 2 == 0:
                self.fill_rect(ax - half, ay - half, ax - half + thickness - 1,
                               ay - half + thickness - 1, color)  # fmt: skip
            if ax == bx and ay == by:
                return
            step += 1
            doubled = 2 * error
            if doubled >= dy:
                error += dy
                ax += sx
            if doubled <= dx:
                error += dx
                ay += sy

    def polyline(self, points: list[tuple[float, float]], color: Color, thickness: int = 2) -> None:
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            self.line(x0, y0, x1, y1, color, thickness=thickness)

    def text(self, x: int, y: int, text: str, color: Color, scale: int = 1) -> int:
        """Draw `text` with its top-left corner at (x, y); return the x after its last glyph."""
        for char in text:
            for row, bits in enumerate(glyph_rows(char)):
                for col in range(GLYPH_WIDTH):
                    if bits & (1 << (GLYPH_WIDTH - 1 - col)):
                        px, py = x + col * scale, y + row * scale
                        self.fill_rect(px, py, px + scale - 1, py + scale - 1, color)
            x += (GLYPH_WIDTH + 1) * scale
        return x

    @staticmethod
    def text_width(text: str, scale: int = 1) -> int:
        return len(text) * (GLYPH_WIDTH + 1) * scale - scale if text else 0

    @staticmethod
    def text_height(scale: int = 1) -> int:
        return GLYPH_HEIGHT * scale

    def to_png(self) -> bytes:
        return encode_png(self.width, self.height, self.pixels)
