"""VideoMAE fine-tuning end to end on CPU: a tiny random checkpoint saved as a user's would
be, loaded through ``--weights DIR``, trained on generated clips of a square moving left or
right (the direction is the class)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests._videomae_helpers import make_direction_clips, save_tiny_checkpoint
from vidscope.data import ClipSampling, LabelError, clip_times, load_clips, read_clip
from vidscope.errors import ConfigError, WeightsError
from vidscope.models import load_videomae
from vidscope.pipelines import evaluate, finetune
from vidscope.training import load_run

pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine's cores are shared: one torch thread is ~20x faster than two here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_direction_clips(tmp_path_factory.mktemp("clips"), 12)


@pytest.fixture(scope="module")
def few_clips(tmp_path_factory):
    return make_direction_clips(tmp_path_factory.mktemp("few"), 4)


def _encoder(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Encoder tensors keyed as in the checkpoint (``videomae.*``)."""
    out = {}
    for k, v in state.items():
        k = k.removeprefix("net.")
        if k.startswith("videomae."):
            out[k] = v
    return out


def test_checkpoint_loads_with_a_new_head_and_its_processor_stats(checkpoint):
    model, notes = load_videomae(checkpoint, num_outputs=3, seed=1)
    saved = load_file(str(checkpoint / "model.safetensors"))
    mine = _encoder(model.state_dict())
    common = mine.keys() & saved.keys()  # (transformers may rename a few, e.g. q_bias)
    assert len(common) > 0.8 * len(mine)
    assert all(torch.equal(mine[k], saved[k]) for k in common)  # pretrained encoder kept
    assert model.net.classifier.weight.shape == (3, 32)  # new head for 3 classes
    assert not torch.equal(model.net.classifier.weight, saved["classifier.weight"][:3])
    assert model.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert notes == []
    x = torch.randint(0, 256, (2, 4, 32, 32, 3), dtype=torch.uint8)
    assert model(x).shape == (2, 3)


def test_mismatched_frames_are_refused_and_a_new_size_interpolates(checkpoint, tmp_path):
    with pytest.raises(ConfigError, match=r"--frames 8 .* cover 4 frames.*use --frames 4"):
        load_videomae(checkpoint, num_outputs=1, num_frames=8)
    model, notes = load_videomae(checkpoint, num_outputs=1, size=64)
    assert any("interpolated" in n for n in notes)
    assert model.net.videomae.embeddings.position_embeddings.shape == (1, 2 * 4 * 4, 32)
    assert model(torch.zeros(1, 4, 64, 64, 3, dtype=torch.uint8)).shape == (1, 1)
    with pytest.raises(WeightsError, match="--weights"):
        load_videomae(tmp_path / "nothing", num_outputs=1)


def test_frames_are_sampled_by_timestamp_over_the_whole_clip(tmp_path):
    from tests.conftest import write_video

    frames = np.zeros((40, 32, 48, 3), np.uint8)
    for i in range(40):  # 4 s at 10 fps; frame i's grey level encodes i
        frames[i] = 6 * i
    path = write_video(tmp_path / "ramp.mp4", frames, fps=10, gop=10, crf=0)
    sampling = ClipSampling(num_frames=4, size=32)
    times = clip_times(4.0, sampling)
    assert times == pytest.approx([0.5, 1.5, 2.5, 3.5])  # slice centres, not the first frames
    clip = read_clip(path, times, sampling)
    assert clip.shape == (4, 32, 32, 3)  # short side to 32, centre crop
    assert clip.mean(axis=(1, 2, 3)) == pytest.approx([30, 90, 150, 210], abs=3)
    # random training clips stay inside the video; evaluation clips are evenly spaced
    short = ClipSampling(num_frames=4, size=32, clip_s=1.0)
    rng = np.random.default_rng(0)
    draws = [clip_times(4.0, short, rng=rng) for _ in range(20)]
    assert all(d[0] >= 0.125 - 1e-9 and d[-1] <= 3.875 + 1e-9 for d in draws)
    assert len({round(d[0], 6) for d in draws}) > 10
    starts = [clip_times(4.0, short, clip=k, num_clips=3)[0] - 0.125 for k in range(3)]
    assert starts == pytest.approx([0.5, 1.5, 2.5])


def test_mixup_mixes_inputs_and_targets_by_the_same_weight():
    from vidscope.training._finetune import mixup

    x = torch.randint(0, 256, (6, 4, 8, 8, 3), dtype=torch.uint8)
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    mixed, target, lam, perm = mixup(x, y, 0.4, np.random.default_rng(3))
    assert 0 < lam < 1 and not torch.equal(perm, torch.arange(6))
    assert torch.allclose(target.sum(1), torch.ones(6))
    assert torch.allclose(target, lam * y + (1 - lam) * y[perm])
    assert torch.allclose(mixed, lam * x.float() + (1 - lam) * x.float()[perm])
    assert not torch.equal(mixed, x.float())
    again = mixup(x, y, 0.4, np.random.default_rng(3))  # seeded: a resumed run mixes alike
    assert again[2] == lam and torch.equal(again[3], perm)


def test_finetune_learns_the_direction_and_the_run_works_everywhere(checkpoint, clips, tmp_path):
    res = finetune(
        clips,
        weights=checkpoint,
        out=tmp_path / "run",
        epochs=20,
        lr=3e-3,
        batch_size=6,
        workers=2,
        monitor="loss",
        val_fraction=0.25,
        tensorboard=False,
    )
    history = res.splits[0].fit.history
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert res.report["accuracy"] == 1.0 and res.scope == "val"
    assert all(0 <= row["data_wait"] <= 1 and row["clips_per_s"] > 0 for row in history)
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["trainer"] == "videomae" and spec["classes"] == ["left", "right"]
    assert spec["extra"]["num_frames"] == 4 and spec["head_config"]["finetune"]["frames"] is None
    run = load_run(tmp_path / "run")
    assert run.members[0].model.num_frames == 4
    report = evaluate(run, clips)  # raw videos: decoded as clips, no feature extraction
    # all 24 clips scored (the 6 validation clips were perfect above; the rest were trained
    # on, and a tiny model in a busy full-suite run has missed one of them)
    assert sum(map(sum, report["confusion_matrix"])) == 24 and report["accuracy"] >= 0.9
    pred = run.predict(clips / "right")
    assert len(pred) == 12 and (pred["label"] == "right").mean() >= 0.9


def test_cli_finetune_evaluate_predict(checkpoint, few_clips, tmp_path, capsys):
    from vidscope.cli import main

    run = tmp_path / "run"
    args = ["finetune", str(few_clips), "--weights", str(checkpoint), "--out", str(run)]
    args += ["--epochs", "1", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert json.loads((run / "config.json").read_text())["trainer"] == "videomae"
    assert main(["evaluate", str(run), str(few_clips), "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["confusion_matrix"] != []
    assert main(["predict", str(run), str(few_clips), "--out", str(tmp_path / "p.csv")]) == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 9
    frames = ["finetune", str(few_clips), "--weights", str(checkpoint), "--out", str(run) + "2"]
    assert main([*frames, "--frames", "8", "--quiet"]) == 2  # one-line error, exit 2
    assert "--frames 8" in capsys.readouterr().err


def test_resume_continues_exactly(checkpoint, few_clips, tmp_path):
    common = dict(
        weights=checkpoint,
        epochs=2,
        lr=3e-3,
        batch_size=3,
        workers=0,
        mixup=0.4,
        augment=True,
        tensorboard=False,
        val_fraction=0.25,
    )
    whole = finetune(few_clips, out=tmp_path / "whole", **common).splits[0].fit.history

    class StopAfterFirst:
        def on_epoch_end(self, ctx, row):
            ctx.stop = True

    part = finetune(few_clips, out=tmp_path / "part", callbacks=[StopAfterFirst()], **common)
    assert part.splits[0].fit.epochs_run == 1
    resumed = finetune(few_clips, out=tmp_path / "part", resume=True, **common)
    again = resumed.splits[0].fit.history
    assert [r["epoch"] for r in again] == [0, 1]
    for key in ("loss", "val_loss", "lr"):
        assert again[1][key] == whole[1][key], key


def test_freeze_backbone_trains_only_the_head(checkpoint, few_clips, tmp_path):
    finetune(
        few_clips,
        weights=checkpoint,
        out=tmp_path / "run",
        epochs=1,
        lr=1e-2,
        batch_size=4,
        workers=0,
        freeze_backbone=True,
        tensorboard=False,
        val_fraction=0.25,
    )
    saved = load_file(str(checkpoint / "model.safetensors"))
    tuned = load_file(str(tmp_path / "run" / "model.safetensors"))
    enc = _encoder(tuned)
    common = enc.keys() & saved.keys()
    assert len(common) > 0.8 * len(enc) and all(torch.equal(enc[k], saved[k]) for k in common)
    fresh, _ = load_videomae(checkpoint, num_outputs=1, seed=0)
    assert not torch.equal(tuned["net.classifier.weight"], fresh.net.classifier.weight)


def test_bf16_on_cpu_and_unreadable_videos(checkpoint, few_clips, tmp_path):
    res = finetune(
        few_clips,
        weights=checkpoint,
        out=tmp_path / "run",
        epochs=1,
        batch_size=4,
        workers=0,
        device="cpu",
        precision="bf16",
        grad_accum=2,
        tensorboard=False,
        val_fraction=0.25,
    )
    assert np.isfinite(res.splits[0].fit.history[0]["loss"])
    bad = few_clips / "left" / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    try:
        with pytest.raises(LabelError, match=r"broken.*--allow-missing"):
            load_clips(few_clips)
        assert len(load_clips(few_clips, allow_missing=True)) == 8
    finally:
        bad.unlink()


def test_a_finetune_run_joins_the_compare_leaderboard(checkpoint, few_clips, tmp_path):
    from vidscope.training import TrainConfig, compare, train

    for path in few_clips.rglob("*.mp4"):  # features of the same videos, same ids
        rel = path.relative_to(few_clips).with_suffix(".npy")
        (tmp_path / "store" / rel).parent.mkdir(parents=True, exist_ok=True)
        x = np.random.default_rng(len(str(rel))).normal(size=(4, 6)).astype(np.float32)
        x[:, 0] += 3.0 if path.parent.name == "right" else 0.0
        np.save(tmp_path / "store" / rel, x)
    common = dict(val_fraction=0.25, tensorboard=False, seed=0)
    finetune(few_clips, weights=checkpoint, out=tmp_path / "ft", epochs=1, workers=0, **common)
    cfg = TrainConfig(epochs=3, lr=1e-2, **common)
    rows = compare(
        tmp_path / "store",
        heads=["mean_linear"],
        out=tmp_path / "cmp",
        config=cfg,
        runs=[tmp_path / "ft"],
    )
    assert [r["head"] for r in rows] == ["mean_linear", "videomae"]
    assert rows[1]["scope"] == "val" and 0 <= rows[1]["accuracy"] <= 1 and rows[1]["params"] > 0
    with pytest.raises(ConfigError, match="vidscope finetune"):  # not a feature head
        train(tmp_path / "store", out=tmp_path / "bad", head="videomae")
    with pytest.raises(ConfigError, match="other train/val/test videos"):
        compare(
            tmp_path / "store",
            heads=[],
            out=tmp_path / "cmp2",
            config=replace(cfg, seed=3),
            runs=[tmp_path / "ft"],
        )


def test_timeline_of_a_finetune_run_scores_clip_windows(checkpoint, few_clips, tmp_path):
    import pandas as pd

    from tests._videomae_helpers import moving_square
    from tests.conftest import write_video
    from vidscope.pipelines import timeline

    finetune(
        few_clips, weights=checkpoint, out=tmp_path / "run", epochs=1, workers=0,
        val_fraction=0.25, tensorboard=False,
    )  # fmt: skip
    assert load_run(tmp_path / "run").spec.clip_duration_s == pytest.approx(1.0)
    frames = np.concatenate([moving_square(0, seed=1), moving_square(1, seed=2)] * 2)
    long = write_video(tmp_path / "long.mp4", frames, fps=12, gop=12)  # 4 s
    lines = timeline(tmp_path / "run", long, out=tmp_path / "tl")
    assert len(lines) == 1 and lines[0].classes == ["right"]
    scores = pd.read_csv(tmp_path / "tl" / "long" / "scores.csv")
    assert len(scores) == 13  # 1-s windows every 0.25 s over 4 s
    assert scores["end_s"].max() == pytest.approx(4.0) and scores["score_right"].between(0, 1).all()
    assert (tmp_path / "tl" / "long" / "segments.csv").exists()
    assert (tmp_path / "tl" / "report.html").stat().st_size > 1000
