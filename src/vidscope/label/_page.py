"""The labelling page: one self-contained HTML document (inline CSS and script, no network)."""

from __future__ import annotations

import json
from typing import Any

from ._script import SCRIPT

CSS = """
:root { color-scheme: dark; --bg: #16181d; --panel: #20232a; --fg: #e8e8ea; --muted: #9aa0aa;
  --accent: #4fa3ff; --seg: #ff9f43; --ok: #5ad17a; --bad: #ff6b6b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; padding: 8px 16px;
  background: var(--panel); border-bottom: 1px solid #333; }
header b { font-size: 15px; }
header select { background: #111; color: var(--fg); border: 1px solid #444; border-radius: 4px; }
.muted { color: var(--muted); }
#save[data-pending="0"] { color: var(--ok); }
#save:not([data-pending="0"]) { color: var(--seg); }
#save.error { color: var(--bad); }
main { max-width: 980px; margin: 0 auto; padding: 10px 16px 40px; }
#title { display: flex; justify-content: space-between; gap: 12px; margin: 4px 0 8px; }
#name { font-weight: 600; overflow-wrap: anywhere; }
#stage { position: relative; background: #000; border-radius: 6px; overflow: hidden;
  aspect-ratio: 16 / 9; max-height: 58vh; width: 100%; display: flex; align-items: center;
  justify-content: center; }
#video { width: 100%; height: 100%; object-fit: contain; display: block; }
#card { position: absolute; inset: 0; display: flex; flex-direction: column; gap: 8px;
  align-items: center; justify-content: center; text-align: center; padding: 24px;
  background: #2a1d1f; color: #ffd6d6; }
#card[hidden] { display: none; }
#card b { font-size: 17px; }
#bar { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: baseline; margin: 8px 0 4px;
  font-variant-numeric: tabular-nums; }
#current { font-weight: 600; padding: 1px 8px; border-radius: 10px; background: #333; }
#current.set { background: var(--accent); color: #06121f; }
#timeline { width: 100%; height: 56px; display: block; background: var(--panel);
  border-radius: 4px; cursor: pointer; user-select: none; }
#timeline .seg { fill: var(--seg); fill-opacity: .55; stroke: var(--seg); }
#timeline .seg.sel { fill-opacity: .9; stroke: #fff; stroke-width: 2; }
#timeline .pending { stroke: var(--seg); stroke-dasharray: 4 3; stroke-width: 2; }
#timeline .cursor { stroke: #fff; stroke-width: 2; }
#timeline .curve { fill: none; stroke: var(--accent); stroke-width: 1.5; }
#timeline .thr { stroke: var(--muted); stroke-dasharray: 2 4; }
#keys { display: flex; flex-wrap: wrap; gap: 6px; margin: 12px 0 6px; }
.key { display: inline-flex; gap: 6px; align-items: center; padding: 3px 8px;
  border-radius: 5px; background: var(--panel); border: 1px solid #3a3f48; }
.key kbd { font: 600 12px ui-monospace, monospace; background: #e8e8ea; color: #111;
  border-radius: 3px; padding: 0 5px; }
.key.cls { border-color: var(--accent); }
#segs { margin: 6px 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 6px; }
#segs li { background: var(--panel); border: 1px solid var(--seg); border-radius: 4px;
  padding: 2px 6px; cursor: pointer; font-variant-numeric: tabular-nums; }
#segs li.sel { background: #4a3520; }
#segs button { background: none; border: 0; color: var(--bad); cursor: pointer; }
"""

BODY = """
<header>
  <b>vidscope label</b>
  <span id="progress"></span>
  <label>show <select id="filter"></select></label>
  <label>order <select id="order"><option value="file">file order</option></select></label>
  <span id="save" data-pending="0">saved</span>
  <span id="model" class="muted"></span>
</header>
<main>
  <div id="title"><span id="name"></span><span id="pos" class="muted"></span></div>
  <div id="stage">
    <video id="video" preload="auto" muted playsinline></video>
    <div id="card" hidden><b id="card-title"></b><span id="card-text"></span>
      <span class="muted">press <kbd>s</kbd> to skip</span></div>
  </div>
  <div id="bar">
    <span>label <span id="current">none</span></span>
    <span>time <span id="time" data-pts="">–</span></span>
    <span>frame <span id="frame">–</span></span>
    <span>speed <span id="speed">1×</span></span>
    <span id="score" class="muted"></span>
  </div>
  <svg id="timeline" viewBox="0 0 1000 56" preserveAspectRatio="none"></svg>
  <ul id="segs"></ul>
  <div id="keys"></div>
</main>
"""


def render_page(config: dict[str, Any]) -> str:
    """The page, with the session's classes, keys and video list embedded as JSON."""
    data = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e")
    data = data.replace("&", "\\u0026")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='referrer' content='no-referrer'><link rel='icon' href='data:,'>"
        f"<title>vidscope label</title><style>{CSS}</style></head><body>{BODY}"
        f"<script type='application/json' id='cfg'>{data}</script>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
