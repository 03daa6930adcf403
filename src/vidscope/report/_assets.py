"""The report page's inline stylesheet and script (no network, no external files)."""

from __future__ import annotations

CSS = """
:root { color-scheme: light; --fg: #1d1d1f; --muted: #666; --line: #ddd; --accent: #d62728; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0 auto; padding: 16px 20px 48px; max-width: 1040px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 0 0 6px; overflow-wrap: anywhere; }
.vs-meta, .vs-note, .vs-hint { color: var(--muted); font-size: 12.5px; margin: 4px 0; }
.vs-note.vs-error { color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f6f6f6; }
.vs-scroll th { position: sticky; top: 0; }
td.vs-num, th.vs-num { text-align: right; }
.vs-summary { margin: 12px 0 24px; }
.vs-summary td:first-child { overflow-wrap: anywhere; }
.vs-item { border-top: 2px solid var(--line); padding: 16px 0 8px; margin-top: 12px; }
.vs-video { display: block; width: 100%; max-height: 55vh; background: #000; }
.vs-novideo { padding: 24px; background: #f3f3f3; color: var(--muted); text-align: center; }
.vs-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12.5px; margin: 8px 0 2px; }
.vs-legend i { display: inline-block; width: 18px; height: 3px; vertical-align: middle;
  margin-right: 5px; }
.vs-legend i.vs-dash { border-top: 2px dashed #444; height: 0; }
.vs-legend i.vs-box { height: 10px; opacity: .45; }
.vs-curve { display: block; width: 100%; height: auto; cursor: crosshair; user-select: none; }
.vs-bg { fill: #fcfcfc; }
.vs-grid { stroke: #e6e6e6; stroke-width: 1; pointer-events: none; }
.vs-xlabel, .vs-ylabel, .vs-band-label { font-size: 12px; fill: #555; pointer-events: none; }
.vs-ylabel, .vs-band-label { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.vs-line { fill: none; stroke-width: 1.6; stroke-linejoin: round; pointer-events: none; }
.vs-raw { fill: none; stroke-width: 1; stroke-opacity: .3; pointer-events: none; }
.vs-threshold { stroke-width: 1.2; stroke-dasharray: 6 4; pointer-events: none; }
.vs-segment, .vs-truth { cursor: pointer; }
.vs-segment:hover { stroke: #000; stroke-width: 1; }
.vs-truth { fill-opacity: .8; }
.vs-cursor { stroke: var(--accent); stroke-width: 2; pointer-events: none; }
.vs-status { display: flex; justify-content: space-between; gap: 12px; margin: 2px 0 8px; }
.vs-clock { font-variant-numeric: tabular-nums; font-weight: 600; }
.vs-scroll { max-height: 280px; overflow: auto; border: 1px solid var(--line); margin: 6px 0; }
tr[data-start] { cursor: pointer; }
tr[data-start]:hover { background: #f1f6fd; }
tr.vs-active { background: #fde8e8; }
details summary { cursor: pointer; margin: 8px 0 4px; }
"""

JS = r"""
(function () {
  "use strict";
  var node = document.getElementById("vs-data");
  var data = node ? JSON.parse(node.textContent) : { videos: [] };

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(t) {
    if (!isFinite(t)) { return "--:--"; }
    var tenths = Math.round(Math.max(t, 0) * 10), s = Math.floor(tenths / 10);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60) + "." + (tenths % 10);
  }

  function setup(item) {
    var info = data.videos[Number(item.getAttribute("data-index"))];
    var svg = item.querySelector("svg.vs-curve");
    if (!info || !svg) { return; }
    var video = item.querySelector("video.vs-video");
    var cursor = svg.querySelector(".vs-cursor");
    var clock = item.querySelector(".vs-clock");
    var rows = item.querySelectorAll("tr[data-start]");
    var span = info.t1 - info.t0;
    var raf = 0;

    function show(t, withRows) {
      var x = (Math.min(Math.max((t - info.t0) / span, 0), 1) * info.width).toFixed(2);
      if (cursor) { cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); }
      if (clock) { clock.textContent = fmt(t); }
      if (!withRows) { return; }
      for (var i = 0; i < rows.length; i++) {
        var r = rows[i];
        var a = Number(r.getAttribute("data-start")), b = Number(r.getAttribute("data-end"));
        r.classList.toggle("vs-active", t >= a && t < b);
      }
    }
    function seek(t) {
      if (!isFinite(t)) { return; }
      t = Math.max(t, 0);
      if (video) {
        if (isFinite(video.duration) && video.duration > 0) { t = Math.min(t, video.duration); }
        video.currentTime = t;
      }
      show(t, true);
    }
    function seekTo(el) { seek(Number(el.getAttribute("data-start"))); }

    svg.addEventListener("click", function (ev) {
      var hit = ev.target && ev.target.closest ? ev.target.closest("[data-start]") : null;
      if (hit) { seekTo(hit); return; }
      var m = svg.getScreenCTM();
      if (!m) { return; }
      var p = svg.createSVGPoint();
      p.x = ev.clientX; p.y = ev.clientY;
      seek(info.t0 + span * p.matrixTransform(m.inverse()).x / info.width);
    });
    Array.prototype.forEach.call(rows, function (row) {
      row.addEventListener("click", function () { seekTo(row); });
      row.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); seekTo(row); }
      });
    });
    if (!video) { return; }

    function frame() {
      show(video.currentTime, false);
      raf = video.paused || video.ended ? 0 : window.requestAnimationFrame(frame);
    }
    video.addEventListener("timeupdate", function () { show(video.currentTime, true); });
    video.addEventListener("seeked", function () { show(video.currentTime, true); });
    video.addEventListener("play", function () {
      if (!raf) { raf = window.requestAnimationFrame(frame); }
    });
    video.addEventListener("error", function () {
      var note = item.querySelector(".vs-note");
      var code = video.error ? video.error.code : "?";
      if (note) {
        note.textContent = "This browser cannot play this video (media error " + code +
          "); the curve and the segment list still work. " + note.textContent;
        note.classList.add("vs-error");
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".vs-item"), setup);
})();
"""
