"""Model in the loop, and the ``vidscope label`` command end to end.

A real run (``flow`` features: motion, no weights to load; a ``mean_linear`` head) scores the
session's clips; the page orders them by uncertainty; labels written by the session retrain
the head in the background, and the files it writes train a run with ``vidscope train``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vidscope
from tests.conftest import write_video
from tests.test_label import CLASSES, Client
from tests.test_label_browser import open_page, wait_video
from tests.test_report import browser  # noqa: F401 - the shared Chromium fixture
from vidscope.label import LabelApp, LabelConfig


def motion_clip(path: Path, speed: float, seed: int) -> Path:
    """A bar moving ``speed`` px per frame over noise (0: a still picture), 20 frames."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
    frames = []
    for i in range(20):
        img = base.copy()
        x = int(4 + i * speed) % 56
        img[:, x : x + 8] = 230
        frames.append(img)
    return write_video(path, frames, fps=20)


def make_set(root: Path, n: int) -> dict[str, str]:
    """``n`` clips, alternately still (noFight) and moving at varied speeds (fight)."""
    truth = {}
    for i in range(n):
        fight = i % 2 == 0
        name = f"v{i:02d}.mp4"
        motion_clip(root / name, speed=(1.0 + 0.5 * (i % 5)) if fight else 0.3 * (i % 3), seed=i)
        truth[name] = "fight" if fight else "noFight"
    return truth


@pytest.fixture
def run_dir(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """Clips in ``tmp/v`` and a run trained on separate clips in ``tmp/train``."""
    train_truth = make_set(tmp_path / "train", 12)
    labels = tmp_path / "train_labels.csv"
    labels.write_text("path,label\n" + "".join(f"{k},{v}\n" for k, v in train_truth.items()))
    cfg = vidscope.ExtractConfig(
        backbone="flow", sampling=vidscope.SamplingSpec("uniform", 4), workers=1
    )
    vidscope.extract(tmp_path / "train", tmp_path / "store", cfg, progress=False)
    result = vidscope.train(
        tmp_path / "store",
        labels,
        out=tmp_path / "run",
        config=vidscope.TrainConfig(head="mean_linear", epochs=8, tensorboard=False),
    )
    truth = make_set(tmp_path / "v", 8)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
    frames = [base.copy() for _ in range(200)]  # 10 s, the bar moves from 4 s to 7 s only
    for i in range(80, 140):
        frames[i][:, (2 * i) % 56 : (2 * i) % 56 + 8] = 230
    write_video(tmp_path / "v" / "long.mp4", frames, fps=20)
    return result.run_dir, tmp_path / "v", truth


def wait_for(fn, timeout: float = 300.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_scores_uncertainty_order_and_retraining(browser, run_dir, tmp_path) -> None:  # noqa: F811
    run, videos, _ = run_dir
    cfg = LabelConfig(
        classes=CLASSES, labels=tmp_path / "out" / "labels.csv", run=run, retrain_every=4
    )
    app = LabelApp(videos, cfg)
    app.start()
    try:
        c = Client(app)
        state = lambda: json.loads(c.request("GET", "/api/state")[1])  # noqa: E731
        st = wait_for(lambda: (s := state())["model"]["status"]["state"] == "ready" and s)
        scores = st["model"]["scores"]
        assert sorted(scores, key=int) == [str(i) for i in range(9)]
        assert all(0 <= s["uncertainty"] <= 1 and s["label"] in CLASSES for s in scores.values())
        assert app.videos[0].name == "long.mp4"  # 10 s against 1 s training clips: a curve
        curve = scores["0"]["curve"]
        assert len(curve["t"]) == len(curve["s"]) > 10 and "curve" not in scores["1"]
        assert curve["t"] == sorted(curve["t"]) and 0 <= curve["t"][0] < curve["t"][-1] <= 10
        page, errors = open_page(browser, app.url)
        wait_video(page, "long.mp4")
        page.set_default_timeout(120_000)  # a loaded CI machine: extraction runs alongside
        page.wait_for_function("document.querySelector('#timeline polyline.curve') !== null")
        most = max(range(9), key=lambda i: (scores[str(i)]["uncertainty"], -i))
        page.select_option("#order", "uncertain")
        wait_video(page, app.videos[most].name)  # the most uncertain clip comes first
        assert page.text_content("#pos").startswith("#1 of 9")
        for key in "fnfn":  # two labels per class: enough to train on
            wait_video(page, page.text_content("#name"))
            page.keyboard.press(key)
        page.wait_for_function(
            "document.getElementById('model').dataset.version === '1'", timeout=300_000
        )
        assert "new model in use: retrain 1" in page.text_content("#model")
        assert (app.folder / "runs" / "r1" / "config.json").is_file()
        assert not errors, errors
    finally:
        app.close()


def test_cli_label_then_train(tmp_path: Path) -> None:
    truth = make_set(tmp_path / "v", 8)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "vidscope.cli", "label", str(tmp_path / "v"), "--classes",
           "fight,noFight", "--labels", str(tmp_path / "labels.csv"), "--segments",
           str(tmp_path / "ann.csv"), "--no-browser"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)  # fmt: skip
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the address was not printed"
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        fake = type("A", (), {"token": token, "server": type("S", (), {"port": port})})
        c = Client(fake)  # type: ignore[arg-type]
        names = sorted(truth)
        acts = [{"seq": i + 1, "type": "label", "video": i, "label": truth[n]}
                for i, n in enumerate(names)]  # fmt: skip
        acts.append({"seq": 9, "type": "segments", "video": 0, "segments": [[0.2, 0.6]]})
        assert c.actions(acts)["applied"] == 9
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "every label is saved" in out
    assert (tmp_path / "ann.csv").read_text().splitlines()[1] == "v00.mp4,0.200000,0.600000,fight"
    from vidscope.cli import main

    st, run = str(tmp_path / "st"), str(tmp_path / "r")
    extract = ["extract", str(tmp_path / "v"), "--out", st, "--backbone", "flow", "--frames", "4"]
    assert main([*extract, "--workers", "1"]) == 0
    train = ["train", st, "--labels", str(tmp_path / "labels.csv"), "--head", "mean_linear"]
    assert main([*train, "--epochs", "3", "--out", run]) == 0
    assert set(json.loads((tmp_path / "r" / "config.json").read_text())["classes"]) == set(CLASSES)
