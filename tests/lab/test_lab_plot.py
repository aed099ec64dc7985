"""The lab's PNG plot: a valid file of the requested size, with the lines where they belong.

The PNG is read back by a small independent decoder here (chunk CRCs, IHDR, zlib, filter
type 0 scanlines), so a broken encoder cannot pass by agreeing with itself.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from bitswarm.lab.bitmap_font import GLYPH_HEIGHT, GLYPH_WIDTH, glyph_rows
from bitswarm.lab.png_canvas import Canvas, encode_png
from bitswarm.lab.progress_plot import PALETTE, Marker, Series, nice_step, render_progress_plot


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, RGB rows) of an 8-bit RGB, non-interlaced PNG; asserts validity."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        at += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (depth, color, compression, filtering, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + width * 3
    assert len(raw) == height * stride
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0, "only filter type 0 is written"
        rows.append(line[1:])
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int) -> tuple[int, int, int]:
    r, g, b = rows[y][x * 3 : x * 3 + 3]
    return r, g, b


def test_encoded_png_decodes_to_the_same_pixels() -> None:
    canvas = Canvas(7, 5)
    canvas.set(0, 0, (255, 0, 0))
    canvas.set(6, 4, (0, 0, 255))
    canvas.fill_rect(2, 1, 3, 2, (0, 128, 0))
    width, height, rows = decode_png(canvas.to_png())
    assert (width, height) == (7, 5)
    assert pixel(rows, 0, 0) == (255, 0, 0)
    assert pixel(rows, 6, 4) == (0, 0, 255)
    assert pixel(rows, 3, 2) == (0, 128, 0)
    assert pixel(rows, 4, 2) == (255, 255, 255)
    with pytest.raises(ValueError):
        encode_png(2, 2, b"\x00" * 11)


def test_lines_cover_every_pixel_between_their_ends() -> None:
    canvas = Canvas(50, 50)
    canvas.line(5, 5, 45, 25, (0, 0, 0))
    for x in range(5, 46):  # a shallow line has exactly one pixel per column
        column = [y for y in range(50) if canvas.get(x, y) == (0, 0, 0)]
        assert len(column) == 1 and abs(column[0] - (5 + (x - 5) / 2)) <= 1
    canvas.line(-10, 49, 100, 49, (9, 9, 9))  # clipped, not an error
    assert canvas.get(0, 49) == (9, 9, 9) and canvas.get(49, 49) == (9, 9, 9)


def test_every_glyph_is_seven_rows_of_five_pixels() -> None:
    for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .,:%/-_=+()<>?":
        rows = glyph_rows(char)
        assert len(rows) == GLYPH_HEIGHT and all(0 <= row < 1 << GLYPH_WIDTH for row in rows)
    assert glyph_rows("a") == glyph_rows("A")
    assert glyph_rows("€") == glyph_rows("?")
    assert glyph_rows("8") != glyph_rows("B") != glyph_rows("0") != glyph_rows("O")


def test_text_is_drawn_in_its_colour_and_measured() -> None:
    canvas = Canvas(60, 20)
    end = canvas.text(1, 1, "E1", (200, 0, 0), scale=2)
    assert end == 1 + 2 * (GLYPH_WIDTH + 1) * 2
    assert canvas.get(1, 1) == (200, 0, 0)  # top-left pixel of the E
    assert Canvas.text_width("E1", 2) == 22


@pytest.mark.parametrize(
    ("span", "step"), [(48.0, 10.0), (9.0, 2.0), (130.0, 20.0), (0.7, 0.1), (0.0, 1.0)]
)
def test_tick_steps_are_one_two_or_five_times_a_power_of_ten(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_progress_plot_has_the_size_asked_and_one_colour_per_peer() -> None:
    series = [
        Series("L1 bitswarm 10.0S", ((0.0, 0.0), (5.0, 0.5), (10.0, 1.0))),
        Series("L2 libtorrent 20.0S", ((0.0, 0.0), (10.0, 0.25), (20.0, 1.0))),
    ]
    png = render_progress_plot(
        series, title="TEST", markers=[Marker(8.0, "T_MIN"), Marker(20.0, "T_ALL")],
        width=900, height=480,
    )  # fmt: skip
    width, height, rows = decode_png(png)
    assert (width, height) == (900, 480)
    counts = dict.fromkeys(PALETTE[:2], 0)
    for y in range(height):
        for x in range(width):
            color = pixel(rows, x, y)
            if color in counts:
                counts[color] += 1
    assert all(count > 200 for count in counts.values()), counts  # two lines, two swatches
    assert PALETTE[2] not in {pixel(rows, x, y) for y in range(0, height, 3) for x in range(width)}


def test_a_legend_too_long_for_the_width_is_refused() -> None:
    with pytest.raises(ValueError):
        render_progress_plot([Series("X" * 120, ((0.0, 0.0),))], title="", width=600)


def test_a_long_title_wraps_onto_a_second_line_instead_of_running_off() -> None:
    title = "1 libtorrent seeder, 8 libtorrent leechers, 64 MiB: T_ALL 38.3 S, E 0.86"
    _, _, rows = decode_png(render_progress_plot([], title=title, width=700, height=300))
    inked = [y for y in range(60) if any(rows[y][x] < 128 for x in range(len(rows[y])))]
    assert inked and min(inked) >= 8
    assert max(inked) > 8 + 14 + 4  # a second text row below the first (7 px glyphs x 2)
    right_margin = [rows[y][-60 * 3 :] for y in range(40)]
    assert all(min(row) > 128 for row in right_margin)  # nothing drawn off the end
