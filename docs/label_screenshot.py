"""Make docs/label.png: the real labelling page on a real clip, in Debian's headless Chromium.

Run from the repository root (needs ../shared/media/real and ../shared/data/fight-surv-dev):

    python docs/label_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from vidscope.label import LabelApp, LabelConfig

SHARED = Path(__file__).resolve().parents[2] / "shared"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


def main(out: Path = Path("docs/label.png")) -> None:
    real = SHARED / "media" / "real" / "Megamind.avi"
    clips = sorted((SHARED / "data" / "fight-surv-dev" / "fight").glob("*.mp4"))[:3]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "videos.txt"
        listing.write_text("\n".join(str(p) for p in [*clips, real]) + "\n")
        cfg = LabelConfig(
            classes=["fight", "noFight"],
            labels=Path(tmp) / "labels.csv",
            annotations=Path(tmp) / "annotations.csv",
        )
        app = LabelApp(listing, cfg)
        app.start()
        try:
            shoot(app, out)
        finally:
            app.close()
    img = Image.open(out).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    img.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


def shoot(app: LabelApp, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 960, "height": 800})
        page.goto(app.url)
        page.wait_for_function("document.body.dataset.ready === '1'")
        for key in "fnf":
            page.wait_for_function("document.getElementById('video').readyState >= 2")
            page.keyboard.press(key)
        page.wait_for_function(
            "document.getElementById('name').textContent.endsWith('Megamind.avi') && "
            "document.getElementById('video').readyState >= 2",
            timeout=60_000,
        )
        for key in ["ArrowRight"] * 3 + ["["] + ["ArrowRight"] * 3 + ["]", "ArrowLeft"]:
            page.keyboard.press(key)
            page.wait_for_function("!document.getElementById('video').seeking")
        for _ in range(5):
            page.keyboard.press(".")
            page.wait_for_function("!document.getElementById('video').seeking")
        page.wait_for_function("document.body.dataset.pending === '0'")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/label.png"))
