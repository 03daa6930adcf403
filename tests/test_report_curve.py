"""What the plots show: the thresholded curve (raw scores faint), legend swatches in the colour
of the bands, the event class named as the labels do, and the embedding-limit flag."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

from vidscope.localize import Segment, Timeline
from vidscope.report import write_report
from vidscope.report._axis import class_color
from vidscope.report._plot import _detected_handles, _draw_curves, _segment_color
from vidscope.report._source import choose_source


def _spiky(curve: bool = True) -> Timeline:
    """A one-sample spike of 0.9 whose 3-sample mean (0.3 + baseline) is what was thresholded."""
    t = np.arange(40) * 0.25
    raw = np.full(40, 0.03)
    raw[20] = 0.9
    smooth = np.convolve(np.pad(raw, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    seg = Segment(4.875, 5.375, "1", float(smooth.max()))
    return Timeline(
        "spike",
        None,
        10.0,
        t,
        raw[:, None],
        ["1"],
        threshold=0.2,
        segments=[seg],
        truth=[Segment(4.9, 5.1, "collision")],
        curve=smooth[:, None] if curve else None,
    )


def test_png_draws_the_thresholded_curve_with_the_raw_one_faint() -> None:
    tl = _spiky()
    ax = Figure().subplots()
    FigureCanvasAgg(ax.figure)
    handles = _draw_curves(ax, tl, 5000)
    lines = [ln for ln in ax.get_lines() if len(ln.get_ydata()) == 40]
    strong = [ln for ln in lines if ln.get_alpha() is None]
    faint = [ln for ln in lines if ln.get_alpha() is not None]
    assert len(strong) == 1 and len(faint) == 1
    assert np.max(strong[0].get_ydata()) == np.float32(tl.curve.max())  # 0.32, not 0.9
    assert np.max(faint[0].get_ydata()) == np.float32(0.9) and faint[0].get_alpha() < 0.5
    assert ax.get_ylim()[1] >= 0.9  # the raw spike stays inside the axes
    assert any(h.get_label() == "raw scores" for h in handles)


def test_png_legend_swatch_has_the_band_colour() -> None:
    tl = _spiky()
    (swatch,) = _detected_handles(tl)
    band = _segment_color(tl.segments[0], tl.classes, 0.5)
    assert swatch.get_label() == "detected"
    assert to_hex(swatch.get_facecolor()[:3]) == to_hex(band[:3]) != to_hex(to_rgb("0.6"))
    two = Timeline(
        "two",
        None,
        4.0,
        np.arange(4.0),
        np.zeros((4, 2)),
        ["a", "b"],
        segments=[Segment(0, 1, "a", 0.9), Segment(2, 3, "b", 0.8)],
    )
    colours = {h.get_label(): to_hex(h.get_facecolor()[:3]) for h in _detected_handles(two)}
    assert colours == {
        "detected a": class_color("a", two.classes),
        "detected b": class_color("b", two.classes),
    }


def test_html_curve_legend_and_class_naming(tmp_path: Path) -> None:
    tl = _spiky()
    html = write_report([tl], tmp_path / "r.html").read_text(encoding="utf-8")
    colour = class_color("1", tl.classes)
    assert f'<i class="vs-box" style="background:{colour}"></i>detected' in html
    assert re.search(rf'<rect class="vs-segment"[^>]* fill="{colour}"', html)
    line = re.search(r'<path class="vs-line"[^>]* d="([^"]*)"', html).group(1)
    raw = re.search(r'<path class="vs-raw"[^>]* d="([^"]*)"', html).group(1)
    top = lambda d: min(float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", d))  # noqa: E731
    assert top(raw) < top(line)  # the raw spike reaches higher than the smoothed line
    assert "event class: 1 (truth labelled collision)" in html
    assert "smoothed; raw scores faint" in html
    plain = write_report([_spiky(curve=False)], tmp_path / "p.html").read_text(encoding="utf-8")
    assert "vs-raw" not in plain.split("</style>")[1]


def test_linked_video_note_names_the_embed_limit_flag(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * (3 * 1024 * 1024 + 10))
    src = choose_source(str(video), tmp_path / "out", 1)
    assert src.kind == "linked" and "--embed-limit 5 (MiB)" in src.note
    assert choose_source(str(video), tmp_path / "out", 5).kind == "embedded"
