"""Training coop through ``vidscope.train``: it learns, beats zero-shot where names say
nothing, reloads and scores identically, evaluates from the CLI, and trains on windows with
the strict post-event filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main

from ._clip_tiny import PLAIN, near_text, register_tiny, save_checkpoint

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

SPLITS = {"train": 8, "val": 4, "test": 4}  # videos per class
FAST = dict(epochs=8, patience=8, tensorboard=False, lr=0.05)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("tiny-clip")
    register_tiny(root / "configs")
    return str(save_checkpoint(PLAIN, root / "plain.safetensors", seed=4))


def _texts(ckpt: str, texts: list[str]) -> np.ndarray:
    from vidscope.backbones import clip_text_encoder

    return clip_text_encoder(PLAIN, weights=ckpt).encode_text(texts)  # [C, E]


def _folders(root: Path, text: np.ndarray, names: list[str], noise: float = 0.3) -> Path:
    """``root/<split>/<class>/*.npy``: 6 frames per video, near the text of the class."""
    for s, (split, n) in enumerate(SPLITS.items()):
        y = np.repeat(np.arange(len(names)), n)
        for i, (c, x) in enumerate(zip(y, near_text(text, y, 6, noise=noise, seed=s), strict=True)):
            (root / split / names[c]).mkdir(parents=True, exist_ok=True)
            np.save(root / split / names[c] / f"{split}{i:02d}.npy", x)
    return root


def _cfg(ckpt: str, **options):
    from vidscope.training import TrainConfig

    opts = {"clip_model": PLAIN, "weights": ckpt, "n_ctx": 4, **options}
    return TrainConfig(head="coop", head_options=opts, **FAST)


def test_coop_learns_and_beats_zero_shot_when_names_say_nothing(tmp_path, ckpt):
    """Frames lie near the text of descriptions that the class names do not carry (each
    class is named after another class's description, so the names mislead): zero-shot on the
    names fails, CoOp's class-specific context learns the classes."""
    from vidscope.pipelines import zeroshot
    from vidscope.training import train

    described = ["people fighting in a street", "an empty corridor at night", "a dog running"]
    names = [described[1], described[2], described[0]]  # class i named after i + 1's frames
    store = _folders(tmp_path / "npy", _texts(ckpt, described), names)
    zs = zeroshot(store / "test", names, clip_model=PLAIN, weights=ckpt, template="{}")
    result = train(store, out=tmp_path / "run", config=_cfg(ckpt, csc=True))
    assert result.scope == "test"
    assert result.report["accuracy"] >= 0.9 and zs.report["accuracy"] <= 0.5, (
        result.report["accuracy"], zs.report["accuracy"])  # fmt: skip
    # CoOp's own recipe fills what the user left unset: SGD, momentum, warm-up at 1e-5
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["trainer"] == "neural" and spec["head"] == "coop"


def test_saved_run_reloads_scores_identically_and_evaluates(tmp_path, ckpt, capsys):
    from safetensors.torch import load_file

    from vidscope.data import pad
    from vidscope.training import load_run, train

    names = ["fight", "walk"]
    store = _folders(tmp_path / "npy", _texts(ckpt, names), names, noise=0.5)
    train(store, out=tmp_path / "run", config=_cfg(ckpt, ctx_init="a video of"))
    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert list(weights) == ["prompts.ctx"] and tuple(weights["prompts.ctx"].shape) == (3, 32)
    head_cfg = json.loads((tmp_path / "run" / "config.json").read_text())["head_config"]
    assert head_cfg["clip_model"] == PLAIN and len(head_cfg["weights_digest"]) == 16
    saved = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    run = load_run(tmp_path / "run")
    feats = [np.load(next((store / "test").rglob(f"{v.split('/')[-1]}.npy"))) for v in saved["id"]]
    np.testing.assert_allclose(run.scores(feats), saved["score"], rtol=1e-5, atol=1e-6)
    # the reloaded member is the same head: its frame logits average to the video logit
    head = run.members[0].model
    x, mask = (torch.from_numpy(a) for a in pad(feats[:2]))
    with torch.no_grad():
        torch.testing.assert_close(head(x, mask)[:, 0], head.frame_logits(x, mask).mean(1)[:, 0])
    report_path = tmp_path / "report.json"
    assert main(["evaluate", str(tmp_path / "run"), str(store / "test"), "--out",
                 str(report_path)]) == 0  # fmt: skip
    assert "frame level" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    frames = report["frame_level"]  # every frame scored against its video's class
    assert frames["num_samples"] == 6 * report["num_samples"] == 6 * len(saved)
    y = np.array([run.classes.index(c) for c in saved["true"]])
    x, mask = (torch.from_numpy(a) for a in pad(feats))
    with torch.no_grad():
        hits = (head.frame_logits(x, mask)[..., 0] > 0).long() == torch.from_numpy(y)[:, None]
    assert frames["accuracy"] == pytest.approx(float(hits[mask].float().mean()))
    assert frames["per_class"][0]["support"] == 6 * int((y == 0).sum())


def test_windows_with_the_strict_post_event_filter(tmp_path, ckpt):
    """Window-level coop on annotated videos: with --drop-after-event exactly the normal
    windows of event videos that end after the first event starts are gone; the class of
    windows without an event is named by --normal-class."""
    from vidscope.training import WindowOptions, train

    text = _texts(ckpt, ["people walking calmly", "people fighting"])
    rng = np.random.default_rng(0)
    events = {}
    for i in range(12):
        y = np.zeros(20, dtype=int)
        if i % 2:  # an event from second 8 to 13, then calm again
            y[8:13] = 1
            events[f"v{i:02d}"] = (8.0, 13.0)
        x = text[y] + 0.3 * rng.standard_normal((20, text.shape[1]))
        np.save(tmp_path / f"v{i:02d}.npy", (x / np.linalg.norm(x, axis=1, keepdims=True)))
    csv = tmp_path.parent / f"{tmp_path.name}-events.csv"
    pd.DataFrame(
        [{"file_name": v, "start_time": a, "end_time": b} for v, (a, b) in events.items()]
    ).to_csv(csv, index=False)
    cfg = _cfg(ckpt, class_text="people walking calmly,people fighting", temporal_agg="mean")
    runs = {}
    for strict in (False, True):
        opts = WindowOptions(csv, window_s=4.0, overlap=0.5, drop_after_event=strict,
                             normal_class="calm")  # fmt: skip
        out = tmp_path.parent / f"{tmp_path.name}-run{int(strict)}"
        train(tmp_path, out=out, config=cfg, windows=opts)
        assert json.loads((out / "config.json").read_text())["classes"] == ["calm", "event"]
        parts = json.loads((out / "split.json").read_text())
        runs[strict] = set(parts["train"]) | set(parts["val"]) | set(parts["test"])
    dropped = runs[False] - runs[True]
    expected = set()
    for wid in runs[False]:
        vid, span = wid.split("@")
        start, end = map(float, span.split("-"))
        if vid in events and end > events[vid][0] and not _is_event(start, end, events[vid]):
            expected.add(wid)
    assert dropped == expected and expected and runs[True] <= runs[False]


def _is_event(start: float, end: float, event: tuple[float, float]) -> bool:
    """The window labelling rule at --min-overlap 0.5 for one event."""
    overlap = max(0.0, min(end, event[1]) - max(start, event[0]))
    return overlap >= 0.5 * (end - start) or overlap >= 0.5 * (event[1] - event[0])


def _scalars(run: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    return set(acc.Tags()["scalars"])


def test_tensorboard_has_the_replaced_scripts_figures_for_every_head(tmp_path, ckpt):
    """loss, lr, train/val accuracy (video level), per-class accuracy; frame-level accuracy
    for heads with frame logits (coop)."""
    from dataclasses import replace

    from vidscope.training import TrainConfig, train

    names = ["fight", "walk"]
    store = _folders(tmp_path / "npy", _texts(ckpt, names), names, noise=0.5)
    common = {"loss", "val/loss", "lr", "train/accuracy", "val/accuracy", "val/accuracy_fight",
              "val/accuracy_walk"}  # fmt: skip
    frames = {"train/frame_accuracy", "val/frame_accuracy"}
    coop = replace(_cfg(ckpt), epochs=2, tensorboard=True)
    train(store, out=tmp_path / "coop", config=coop)
    assert common | frames <= _scalars(tmp_path / "coop")
    mlp = TrainConfig(head="mlp", head_options={"hidden": 8}, epochs=2, tensorboard=True)
    train(store, out=tmp_path / "mlp", config=mlp)
    tags = _scalars(tmp_path / "mlp")
    assert common <= tags and not frames & tags
