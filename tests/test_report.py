"""Timeline plots and the HTML report: PNG, escaping, embedding, and a real headless Chromium.

The browser tests drive Debian's ``chromium`` through Playwright's Python API (never a
downloaded browser); they are skipped, with the reason, only when no Chromium binary or no
``playwright`` module is installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vidscope.localize import Segment, Timeline
from vidscope.report import format_time, plot_timeline, write_report
from vidscope.report._axis import downsample_max
from vidscope.report._source import choose_source

NASTY_ID = "a<b>&c \"d\" 'e' </script><!-- ü 日本 $x$"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    """Debian's Chromium (or $VIDSCOPE_CHROMIUM), never a browser Playwright downloaded."""
    for cand in (os.environ.get("VIDSCOPE_CHROMIUM"), "/usr/bin/chromium"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return shutil.which("chromium") or shutil.which("chromium-browser")


def make_clip(path: Path, *, seconds: float = 4.0, fps: int = 25) -> Path:
    """A real clip: a bright bar sweeping left to right; H.264 for .mp4, VP9 for .webm."""
    codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}[path.suffix]
    w, h = 160, 96
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        n = round(seconds * fps)
        for i in range(n):
            img = np.full((h, w, 3), 40, np.uint8)
            x = int(i / n * (w - 12))
            img[:, x : x + 12] = (250, 200, 60)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def make_timeline(
    video_path: str | None, *, video_id: str = "clip", duration_s: float = 4.0, n: int = 200
) -> Timeline:
    """Two classes of smooth scores with two detected segments and two true ones."""
    t = np.linspace(0, duration_s, n)
    bump = np.exp(-(((t - 0.6) / 0.2) ** 2)) + np.exp(-(((t - 2.85) / 0.3) ** 2))
    scores = np.stack([0.9 * bump, 0.3 + 0.1 * np.sin(t)], axis=1)
    return Timeline(
        video_id=video_id,
        video_path=video_path,
        duration_s=duration_s,
        times_s=t,
        scores=scores,
        classes=["collision", "pass"],
        threshold=0.5,
        segments=[Segment(0.4, 0.8, "collision", 0.9), Segment(2.5, 3.2, "collision", 0.75)],
        truth=[Segment(0.45, 0.85, "collision"), Segment(2.4, 3.0, "collision")],
    )


# ---------------------------------------------------------------- plots and helpers


def test_format_time() -> None:
    assert format_time(65.26) == "01:05.3"
    assert format_time(59.96) == "01:00.0"
    assert format_time(3 * 3600 + 62.5) == "3:01:02.5"
    assert format_time(7.0, decimals=0) == "00:07"
    assert format_time(float("nan")) == "--:--"


def test_downsample_keeps_peaks() -> None:
    t = np.linspace(0, 100, 20_001)
    s = np.zeros((20_001, 2), np.float32)
    s[12_345, 0] = 1.0
    s[:, 1] = np.nan
    ts, ss = downsample_max(t, s, 5000)
    assert len(ts) <= 5000 and ss.shape == (len(ts), 2)
    assert ss[:, 0].max() == 1.0 and np.isnan(ss[:, 1]).all()
    assert np.all(np.diff(ts) > 0)


def test_plot_timeline_writes_png(tmp_path: Path) -> None:
    tl = make_timeline(None, video_id=NASTY_ID)
    out = plot_timeline(tl, tmp_path / "sub" / "timeline.png")
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width >= 1000 and img.height >= 300
        assert (
            len(np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)) > 10
        )  # something was drawn


def test_plot_timeline_three_hours_is_fast(tmp_path: Path) -> None:
    duration = 3 * 3600.0
    rng = np.random.default_rng(0)
    t = np.linspace(0, duration, 20_000)
    scores = np.clip(rng.normal(0.2, 0.1, (20_000, 1)), 0, 1)
    starts = np.sort(rng.uniform(0, duration - 60, 300))
    segs = [Segment(float(s), float(s) + 30, "event", 0.8) for s in starts]
    tl = Timeline("long", None, duration, t, scores, ["event"], threshold=[0.6], segments=segs)
    tl.truth = segs[::3]
    start = time.perf_counter()
    out = plot_timeline(tl, tmp_path / "long.png")
    assert time.perf_counter() - start < 10
    with Image.open(out) as img:
        assert img.format == "PNG"
    html = write_report([tl], tmp_path / "long.html").read_text(encoding="utf-8")
    assert "3:00:00" in html  # h:mm:ss labels on the axis
    d = re.search(r'class="vs-line"[^>]* d="([^"]*)"', html).group(1)
    assert 100 < d.count("L") < 2000  # max-pooled for drawing


def test_edge_cases_draw(tmp_path: Path) -> None:
    """No samples and unknown duration; NaN gaps, tiny segments and per-class thresholds."""
    t = np.linspace(0, 10, 50)
    tls = [
        Timeline("empty", None, float("nan"), np.zeros(0), np.zeros((0, 1)), ["x"]),
        Timeline(
            "gaps",
            None,
            2.0,
            np.linspace(0, 2, 5),
            np.array([0.1, np.nan, 0.9, 0.2, 3.0]),
            ["x"],
            segments=[Segment(1.0, 1.001, "y")],
        ),
        Timeline(
            "per-class",
            None,
            10.0,
            t,
            np.random.default_rng(0).random((50, 3)),
            ["a", "b", "c"],
            threshold=np.array([0.3, 0.5, 0.7]),
            window_s=np.stack([t - 0.5, t + 0.5], axis=1),
        ),
    ]
    for tl in tls:
        assert plot_timeline(tl, tmp_path / f"{tl.video_id}.png").stat().st_size > 1000
    html = write_report(tls, tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count('class="vs-threshold"') == 3 and "duration unknown" in html
    data = json.loads(re.search(r'id="vs-data">(.*?)</script>', html).group(1))
    assert data["videos"][0]["duration_s"] is None and data["videos"][0]["t1"] == 1.0
    bad = Timeline("bad", None, 1.0, t, np.zeros((50, 2)), ["a", "b"], threshold=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 thresholds for 2 classes"):
        plot_timeline(bad, tmp_path / "bad.png")


# ---------------------------------------------------------------- HTML without a browser


def test_report_escapes_text(tmp_path: Path) -> None:
    tl = make_timeline(None, video_id=NASTY_ID)
    tl.segments.append(Segment(3.5, 3.9, "<b>&\"'", 0.6))
    html = write_report([tl], tmp_path / "r.html", title="<T> & 'x'").read_text(encoding="utf-8")
    assert NASTY_ID not in html and "<b>&" not in html
    assert "a&lt;b&gt;&amp;c &quot;d&quot; &#x27;e&#x27; &lt;/script&gt;&lt;!-- ü 日本" in html
    assert "<title>&lt;T&gt; &amp; &#x27;x&#x27;</title>" in html
    block = re.search(r'<script type="application/json" id="vs-data">(.*?)</script>', html, re.S)
    payload = block.group(1)
    assert "</" not in payload and "<!--" not in payload
    data = json.loads(payload)
    assert data["videos"][0]["id"] == NASTY_ID
    assert [s["start_s"] for s in data["videos"][0]["segments"]] == [0.4, 2.5, 3.5]
    assert html.count("<script") == 2 and html.count("</script>") == 2


def test_embedded_or_linked_video(tmp_path: Path) -> None:
    video = make_clip(tmp_path / "videos" / "clip #1 ü.mp4")
    report_dir = tmp_path / "out"
    small = choose_source(str(video), report_dir, 50)
    assert small.kind == "embedded" and small.mime == "video/mp4"
    linked = choose_source(str(video), report_dir, 0)
    assert linked.kind == "linked" and linked.href == "../videos/clip%20%231%20%C3%BC.mp4"
    assert "not embedded" in linked.note
    assert choose_source(str(tmp_path / "gone.mp4"), report_dir, 50).kind == "missing"
    assert choose_source(None, report_dir, 50).kind == "missing"

    tls = [make_timeline(str(video))]
    html = write_report(tls, report_dir / "a.html").read_text(encoding="utf-8")
    assert 'src="data:video/mp4;base64,' in html and "embedded" in html
    html = write_report(tls, report_dir / "b.html", embed_video_max_mb=0).read_text("utf-8")
    assert 'src="../videos/clip%20%231%20%C3%BC.mp4"' in html and "data:video" not in html
    html = write_report([make_timeline(None)], report_dir / "c.html").read_text("utf-8")
    assert "<video" not in html and "No video file" in html
    with pytest.raises(ValueError, match="embed_video_max_mb"):
        write_report(tls, report_dir / "d.html", embed_video_max_mb=-1)
    assert sorted(p.name for p in report_dir.iterdir()) == ["a.html", "b.html", "c.html"]


# ---------------------------------------------------------------- a real headless Chromium


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium binary found (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright module is not installed (pip install playwright)",
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, report: Path):
    """A page on ``report`` that records console errors and uncaught exceptions."""
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    return page, errors


def _wait_time(page, seconds: float) -> None:
    """Wait until the video has seeked to ``seconds`` (within 0.1 s)."""
    page.wait_for_function(
        "s => { const v = document.querySelector('video.vs-video');"
        " return !v.seeking && Math.abs(v.currentTime - s) < 0.1; }",
        arg=seconds,
        timeout=10_000,
    )


def _cursor_x(page) -> float:
    return float(page.get_attribute("svg.vs-curve .vs-cursor", "x1"))


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
@pytest.mark.parametrize("embed_mb", [50, 0])
def test_report_in_chromium(browser, tmp_path: Path, suffix: str, embed_mb: float) -> None:
    video = make_clip(tmp_path / "media" / f"clip{suffix}")
    tls = [make_timeline(str(video)), make_timeline(None, video_id=NASTY_ID)]
    report = write_report(tls, tmp_path / "out" / "report.html", embed_video_max_mb=embed_mb)
    page, errors = _open(browser, report)
    page.wait_for_function(
        "() => { const v = document.querySelector('video.vs-video'); return v.readyState >= 1; }",
        timeout=10_000,
    )
    assert page.evaluate("document.querySelector('video.vs-video').duration") == pytest.approx(
        4.0, abs=0.1
    )
    assert page.locator(".vs-item").count() == 2
    assert page.locator(".vs-item h2").nth(1).inner_text() == NASTY_ID
    assert page.locator(".vs-video[data-video-id='clip']").count() == 1
    assert len(page.get_attribute("svg.vs-curve .vs-line", "d")) > 500
    assert page.locator("svg.vs-curve").first.bounding_box()["height"] > 100

    page.locator(".vs-segment[data-start]").nth(1).click()  # the shaded second segment
    _wait_time(page, 2.5)
    assert _cursor_x(page) == pytest.approx(625, abs=3)

    page.locator(".vs-segments tr[data-start]").first.click()  # a row of the table
    _wait_time(page, 0.4)
    assert _cursor_x(page) == pytest.approx(100, abs=3)

    box = page.locator("svg.vs-curve").first.bounding_box()
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + 0.3 * box["height"])
    _wait_time(page, 1.0)
    assert _cursor_x(page) == pytest.approx(250, abs=5)

    page.evaluate("document.querySelector('video.vs-video').currentTime = 3.0")
    _wait_time(page, 3.0)
    page.wait_for_function(
        "() => Math.abs(Number(document.querySelector('.vs-cursor').getAttribute('x1')) - 750) < 5"
    )
    assert page.locator(".vs-clock").first.inner_text() == "00:03.0"

    page.evaluate("(v => { v.muted = true; return v.play(); })(document.querySelector('video'))")
    page.wait_for_function(  # the cursor follows playback
        "() => Number(document.querySelector('.vs-cursor').getAttribute('x1')) > 790",
        timeout=10_000,
    )
    assert errors == []
    page.close()
