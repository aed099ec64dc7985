"""The lab's PNG plot: a valid file of the requested size, with the lines where they belong.

The PNG is read back with matplotlib's reader into pixels, and the pixels are checked:
each line's colour is there, a colour no line was given is not, the markers are drawn, and
a long title stays inside the image.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from bitswarm_lab.progress_plot import PALETTE, Marker, Series, render_progress_plot, wrap_title


def decode_png(data: bytes) -> npt.NDArray[np.int_]:
    """The image as a height x width x 3 array of 0–255 integers; asserts it is a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(io.BytesIO(data), format="png")
    rgb: npt.NDArray[np.int_] = np.rint(pixels[:, :, :3] * 255).astype(int)
    return rgb


def count_colour(pixels: npt.NDArray[np.int_], colour: str) -> int:
    wanted = np.rint(np.array(to_rgb(colour)) * 255).astype(int)
    return int(np.all(pixels == wanted, axis=2).sum())


def test_progress_plot_has_the_size_asked_and_one_colour_per_peer() -> None:
    series = [
        Series("L1 bitswarm 10.0 s", ((0.0, 0.0), (5.0, 0.5), (10.0, 1.0))),
        Series("L2 libtorrent 20.0 s", ((0.0, 0.0), (10.0, 0.25), (20.0, 1.0))),
    ]
    png = render_progress_plot(
        series, title="TEST", markers=[Marker(8.0, "T_min"), Marker(20.0, "T_all")],
        width=900, height=480,
    )  # fmt: skip
    pixels = decode_png(png)
    assert pixels.shape[:2] == (480, 900)
    counts = {colour: count_colour(pixels, colour) for colour in PALETTE[:2]}
    assert all(count > 200 for count in counts.values()), counts  # two lines, two swatches
    assert count_colour(pixels, PALETTE[2]) == 0


def test_markers_are_drawn_as_vertical_lines() -> None:
    line = [Series("L1 bitswarm 10.0 s", ((0.0, 0.0), (10.0, 1.0)))]
    bare = decode_png(render_progress_plot(line, title="", width=800, height=400))
    marked = decode_png(
        render_progress_plot(line, title="", markers=[Marker(5.0, "T_min")], width=800,
                             height=400)
    )  # fmt: skip
    grey = np.array([0x5A, 0x5A, 0x5A])  # the markers' colour (text edges may blend into it)
    bare_columns = np.all(bare == grey, axis=2).sum(axis=0)
    marked_columns = np.all(marked == grey, axis=2).sum(axis=0)
    assert bare_columns.max() < 20
    # A dashed line over the chart's height (about 300 px, half of it dashes), in the middle
    # of the time axis (5 s of 10.4 s): one column, left of the legend, right of the labels.
    column = int(marked_columns.argmax())
    assert marked_columns[column] > 100
    assert 200 < column < 500


def test_a_legend_too_long_for_the_width_is_refused() -> None:
    with pytest.raises(ValueError):
        render_progress_plot([Series("X" * 120, ((0.0, 0.0),))], title="", width=600)


def test_a_long_title_is_broken_between_the_swarm_and_its_figures() -> None:
    title = "1 libtorrent seeder, 8 libtorrent leechers, 64 MiB: T_all 38.3 s, E 0.86"
    assert wrap_title(title, 80) == title
    assert wrap_title(title, 60).split("\n") == [
        "1 libtorrent seeder, 8 libtorrent leechers, 64 MiB:",
        "T_all 38.3 s, E 0.86",
    ]
    head, tail = wrap_title("a" * 30 + ", " + "b" * 40, 32).split("\n")
    assert head == "a" * 30 + "," and tail == "b" * 29 + "..."


def test_a_long_title_stays_inside_the_image() -> None:
    title = "1 libtorrent seeder, 8 libtorrent leechers, 64 MiB: T_all 38.3 s, E 0.86"
    pixels = decode_png(render_progress_plot([], title=title, width=500, height=300))
    top = pixels[:40]  # the title's rows, above the chart
    inked = np.nonzero((top < 128).any(axis=(1, 2)))[0]
    assert len(inked) and inked.min() > 0
    assert inked.max() - inked.min() > 18  # two rows of text, not one
    assert (top[:, -40:] > 128).all()  # nothing drawn off the right end
