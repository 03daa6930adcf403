"""``report.html``: one self-contained page with every video, its curve and its segments."""

from __future__ import annotations

import json
import math
import os
from html import escape
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..types import Segment, Timeline
from ._assets import CSS, JS
from ._axis import class_color, format_time, thresholds
from ._source import VideoSource, choose_source, write_data_uri
from ._svg import curve_svg


def write_report(
    timelines: list[Timeline],
    path: str | Path,
    *,
    title: str = "vidscope timeline",
    embed_video_max_mb: float = 50,
    max_points: int = 2000,
) -> Path:
    """Write one self-contained HTML page for all the timelines.

    Each video gets a player with its score curve beneath it (threshold line, detected segments
    shaded, ground truth as a band), a cursor that follows playback, and a table of segments.
    Clicking the curve seeks the video to that time; clicking a segment (shaded area or table
    row) seeks to its start. The page needs no network: style, script and data are inline, and
    videos smaller than ``embed_video_max_mb`` are embedded as base64 data URIs. Larger videos
    are linked by a path relative to the report's folder, which the page says.

    Args:
        timelines: One per video, in page order.
        path: Output ``.html`` file (written atomically; its folder is created).
        title: Page title and heading.
        embed_video_max_mb: Largest video embedded, in MiB (0 links every video).
        max_points: Most curve samples drawn per class and video (max-pooled beyond).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: If ``embed_video_max_mb`` is negative or NaN.
    """
    if not (embed_video_max_mb >= 0):
        raise InputError(f"embed_video_max_mb must be >= 0 MiB, got {embed_video_max_mb}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sources = [choose_source(t.video_path, path.parent, embed_video_max_mb) for t in timelines]
    tmp = path.with_name(f".{path.name}.tmp")
    videos_data: list[dict[str, Any]] = []
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as out:
            out.write(_head(title))
            out.write(_summary(timelines, sources))
            for i, (tl, src) in enumerate(zip(timelines, sources, strict=True)):
                videos_data.append(_write_item(out, i, tl, src, max_points))
            out.write(_json_script({"title": title, "videos": videos_data}))
            out.write(f"<script>{JS}</script>\n</body>\n</html>\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _head(title: str) -> str:
    t = escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
    )


def _summary(timelines: list[Timeline], sources: list[VideoSource]) -> str:
    """The table of videos at the top of the page, each row linking to its section."""
    rows = []
    for i, (tl, src) in enumerate(zip(timelines, sources, strict=True)):
        truth = str(len(tl.truth)) if tl.truth else "–"
        rows.append(
            f'<tr><td><a href="#vs-item-{i}">{escape(tl.video_id)}</a></td>'
            f'<td class="vs-num">{_duration(tl.duration_s)}</td>'
            f'<td class="vs-num">{len(tl.segments)}</td><td class="vs-num">{truth}</td>'
            f"<td>{src.kind}</td></tr>"
        )
    total = sum(len(t.segments) for t in timelines)
    return (
        f'<p class="vs-meta">{len(timelines)} video(s), {total} detected segment(s). '
        "Click the curve or a segment to seek the video there.</p>\n"
        '<table class="vs-summary"><thead><tr><th>video</th><th class="vs-num">duration</th>'
        '<th class="vs-num">segments</th><th class="vs-num">true segments</th><th>video file</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
    )


def _duration(seconds: float | None) -> str:
    ok = seconds is not None and math.isfinite(seconds) and seconds > 0
    return format_time(float(seconds), decimals=1) if ok else "unknown"


def _write_item(out: IO[str], index: int, tl: Timeline, src: VideoSource, max_points: int) -> dict:
    """One video's section; returns its entry of the page's JSON data."""
    vid = escape(tl.video_id)
    out.write(
        f'<section class="vs-item" id="vs-item-{index}" data-index="{index}" '
        f'data-video-id="{vid}">\n<h2>{vid}</h2>\n<p class="vs-meta">{_describe(tl)}</p>\n'
    )
    if src.kind == "missing":
        out.write('<div class="vs-novideo">no video to play</div>\n')
    else:
        out.write(
            f'<video class="vs-video" data-video-id="{vid}" controls preload="metadata" '
            f'playsinline src="'
        )
        if src.kind == "embedded":
            write_data_uri(out, src)
        else:
            out.write(escape(src.href))
        out.write('"></video>\n')
    out.write(f'<p class="vs-note">{escape(src.note)}</p>\n')
    svg, geometry = curve_svg(tl, max_points=max_points)
    out.write(_legend(tl))
    out.write(svg)
    out.write(
        '\n<div class="vs-status"><span class="vs-hint">click the curve to seek; click a segment '
        'to jump to its start</span><span class="vs-clock">00:00.0</span></div>\n'
    )
    out.write(_segment_table(tl.segments, "detected segments", "vs-segments", open_=True))
    if tl.truth:
        out.write(_segment_table(tl.truth, "ground truth", "vs-truth-table", open_=False))
    out.write("</section>\n")
    return {
        "id": tl.video_id,
        "duration_s": _finite(tl.duration_s),
        "source": src.kind,
        **geometry,
        "segments": [_seg_json(s) for s in tl.segments],
        "truth": [_seg_json(s) for s in tl.truth],
    }


def _describe(tl: Timeline) -> str:
    thr = [t for t in thresholds(tl) if t is not None]
    thr_text = "none" if not thr else ", ".join(sorted({f"{t:.3g}" for t in thr}))
    more = len(tl.classes) - 8
    classes = ", ".join(tl.classes[:8]) + (f" (+{more})" if more > 0 else "")
    what = f"event class: {classes}" if len(tl.classes) == 1 else f"classes: {classes}"
    truth = sorted({s.label for s in tl.truth} - set(tl.classes))
    if truth:
        what += f" (truth labelled {', '.join(truth[:4])})"
    curve = " (smoothed; raw scores faint)" if tl.curve is not None else ""
    return escape(
        f"duration {_duration(tl.duration_s)} · {len(tl.times_s)} score samples{curve} · "
        f"{what} · threshold {thr_text} · {len(tl.segments)} segment(s)"
    )


def _legend(tl: Timeline) -> str:
    items = [
        f'<span><i style="background:{class_color(c, tl.classes)}"></i>{escape(c)}</span>'
        for c in tl.classes[:20]
    ]
    if any(t is not None for t in thresholds(tl)):
        items.append('<span><i class="vs-dash"></i>threshold</span>')
    found = [c for c in tl.classes if any(s.label == c for s in tl.segments)]
    found += sorted({s.label for s in tl.segments} - set(found))
    for c in found[:20]:
        text = "detected" if len(found) == 1 else f"detected {escape(c)}"
        color = class_color(c, tl.classes)
        items.append(f'<span><i class="vs-box" style="background:{color}"></i>{text}</span>')
    return f'<div class="vs-legend">{"".join(items)}</div>\n'


def _segment_table(segments: list[Segment], caption: str, css: str, *, open_: bool) -> str:
    """Segments as rows that seek on click (or Enter), inside a collapsible, scrolling box."""
    rows = []
    for i, s in enumerate(segments):
        score = f"{s.score:.3f}" if math.isfinite(s.score) else ""
        rows.append(
            f'<tr class="vs-seg-row" tabindex="0" data-index="{i}" '
            f'data-start="{float(s.start_s)!r}" '
            f'data-end="{float(s.end_s)!r}"><td class="vs-num">{i + 1}</td>'
            f'<td class="vs-num">{format_time(s.start_s)}</td>'
            f'<td class="vs-num">{format_time(s.end_s)}</td>'
            f'<td class="vs-num">{s.duration_s:.1f} s</td><td>{escape(s.label)}</td>'
            f'<td class="vs-num">{score}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="6">none</td></tr>'
    return (
        f"<details{' open' if open_ else ''}><summary>{caption} ({len(segments)})</summary>"
        f'<div class="vs-scroll"><table class="{css}"><thead><tr><th class="vs-num">#</th>'
        '<th class="vs-num">start</th><th class="vs-num">end</th><th class="vs-num">length</th>'
        f'<th>label</th><th class="vs-num">score</th></tr></thead><tbody>{body}</tbody></table>'
        "</div></details>\n"
    )


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _seg_json(s: Segment) -> dict[str, Any]:
    start, end = float(s.start_s), float(s.end_s)
    return {"start_s": start, "end_s": end, "label": str(s.label), "score": _finite(s.score)}


def _json_script(data: dict[str, Any]) -> str:
    """Data for the script, safe inside ``<script>``: ``<``, ``>`` and ``&`` are JSON-escaped."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="vs-data">{text}</script>\n'
