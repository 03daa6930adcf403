"""On-disk contracts: StoreKey/RunSpec read every format written so far; the extractor a run
expects is rebuilt in one place; damaged or foreign run folders give one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import numbered_frames, write_video
from vidscope.cli import main
from vidscope.errors import IncompatibleError, RunError
from vidscope.features import ExtractConfig, StoreKey, extract, open_store, store_key
from vidscope.training import RunSpec, TrainConfig, extractor_for, load_run, train
from vidscope.video import SamplingSpec

OLD = Path(__file__).parent / "data" / "old_format"


def test_old_store_key_round_trips_and_rebuilds_its_extractor():
    st = open_store(OLD / "store")
    key = store_key(st)
    assert key.backbone_name == "flow" and key.seek == "keyframe"
    assert key.keyframe_tolerance_s == 2.0 and key.layout == (("flow", 10),)
    assert StoreKey.from_json(key.to_json()) == key
    cfg = key.extract_config()
    assert (cfg.backbone, cfg.seek, cfg.keyframe_tolerance_s) == ("flow", "keyframe", 2.0)
    assert cfg.sampling == SamplingSpec("fps", 4.0)


@pytest.mark.parametrize("name", ["run_mlp", "run_xgb"])
def test_old_runs_load_round_trip_and_score(tmp_path, name):
    run = load_run(_copy_run(tmp_path, name))  # a copy: the first load exports ONNX beside it
    assert run.spec.trainer == ("tree" if name == "run_xgb" else "neural")
    assert run.spec.store.seek == "keyframe" and run.classes == ["calm", "fight"]
    data = json.loads((OLD / name / "config.json").read_text())
    assert "spec_version" not in data  # really the old format
    again = RunSpec.from_json(run.spec.to_json())
    assert again == run.spec
    st = open_store(OLD / "store")
    ids = st.ids()
    scores = run.scores([st.load(v).features for v in ids])
    assert scores.shape == (len(ids),) and np.all((scores >= 0) & (scores <= 1))
    if name == "run_mlp":  # the old code's validation scores, reproduced by the new loader
        old = pd.read_csv(OLD / name / "predictions.csv")
        mine = dict(zip(ids, scores, strict=True))
        np.testing.assert_allclose([mine[v] for v in old["id"]], old["score"], atol=1e-6)
        check = json.loads((tmp_path / name / "model.onnx.json").read_text())
        assert check["ok"] and check["max_abs_diff"] <= 1e-5  # exported on first use
        onnx_scores = load_run(tmp_path / name).scores([st.load(v).features for v in ids])
        np.testing.assert_allclose(onnx_scores, scores, atol=1e-6)


def _copy_run(tmp_path: Path, name: str = "run_mlp") -> Path:
    dst = tmp_path / name
    shutil.copytree(OLD / name, dst)
    return dst


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda r: _edit(r, lambda c: c["head_config"].update(bogus=1)), "bogus"),
        (lambda r: (r / "config.json").write_text("[1, 2]"), "expected a JSON object"),
        (lambda r: (r / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda r: _edit(r, lambda c: c.update(surprise=True)), "unknown field"),
        (lambda r: (r / "member.json").unlink(), "member.json: missing"),
        (lambda r: (r / "model.safetensors").write_bytes(b"\x00" * 40), "model.safetensors"),
        (lambda r: (r / "model.safetensors").unlink(), "weights missing"),
    ],
)
def test_damaged_run_folders_name_the_file(tmp_path, capsys, damage, match):
    run = _copy_run(tmp_path)
    damage(run)
    with pytest.raises(RunError, match=match) as err:
        load_run(run)
    assert str(run) in str(err.value)
    assert main(["predict", str(run), str(OLD / "store")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def _edit(run: Path, change) -> None:
    cfg = json.loads((run / "config.json").read_text())
    change(cfg)
    (run / "config.json").write_text(json.dumps(cfg))


def test_store_of_another_backbone_names_both(tmp_path):
    run = _copy_run(tmp_path)
    _edit(run, lambda c: c["backbone"].update(name="efficientnet_lite0", weights="abcd1234"))
    with pytest.raises(IncompatibleError) as err:
        load_run(run).predict(OLD / "store")
    text = str(err.value)
    assert "trained on efficientnet_lite0" in text and "holds flow" in text


def test_stale_tree_model_is_not_loaded_for_a_neural_run(tmp_path):
    run = _copy_run(tmp_path)
    shutil.copytree(OLD / "run_xgb" / "model.xgb", run / "model.xgb")  # a stale leftover
    assert load_run(run).members[0].trainer.name == "neural"


def _mixed_inputs(root: Path) -> Path:
    """Four long-GOP clips and two image-frame folders, labelled by motion direction."""
    videos = root / "videos"
    rows = []
    for i in range(4):
        frames = numbered_frames(36, (64, 48), seed=i)
        frames = frames if i % 2 else np.roll(frames, 1, axis=0)
        write_video(videos / f"c{i}.mp4", frames, fps=12, gop=36)
        rows.append(f"c{i},{'a' if i % 2 else 'b'}")
    for j in range(2):
        folder = videos / f"img{j}"
        folder.mkdir(parents=True)
        for k, frame in enumerate(numbered_frames(15, (64, 48), seed=10 + j)):
            Image.fromarray(frame).save(folder / f"{k:04d}.png")
        rows.append(f"img{j},{'a' if j else 'b'}")
    (root / "labels.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    return videos


def test_timeline_rebuilds_the_training_extractor(tmp_path):
    """A run trained with --seek keyframe --keyframe-tolerance 2 and --image-fps 5 samples the
    same frames at timeline time as at training time (issue 9)."""
    from vidscope.pipelines import timeline

    videos = _mixed_inputs(tmp_path)
    cfg = ExtractConfig(
        backbone="flow",
        sampling=SamplingSpec("fps", 4.0),
        seek="keyframe",
        keyframe_tolerance_s=2.0,
        image_fps=5.0,
        workers=1,
    )
    extract(videos, tmp_path / "store", cfg, progress=False)
    tcfg = TrainConfig(
        head="mean_linear", epochs=2, tensorboard=False, split="holdout", val_fraction=0.5
    )
    train(tmp_path / "store", tmp_path / "labels.csv", out=tmp_path / "run", config=tcfg)
    run = load_run(tmp_path / "run")
    rebuilt = extractor_for(run, sampling=SamplingSpec("fps", 4.0))
    assert (rebuilt.seek, rebuilt.keyframe_tolerance_s, rebuilt.image_fps) == ("keyframe", 2.0, 5.0)
    timeline(run, videos, out=tmp_path / "tl", progress=False, report=False)
    trained, scored = open_store(tmp_path / "store"), open_store(tmp_path / "tl" / "features")
    assert store_key(scored).seek == "keyframe" and store_key(scored).image_fps == 5.0
    for vid in trained.ids():
        a, b = trained.load(vid), scored.load(vid)
        np.testing.assert_array_equal(a.times_s, b.times_s)
        np.testing.assert_allclose(a.features, b.features, atol=1e-6)
    # evaluate on the raw videos extracts them with the same extractor: the same report
    from vidscope.pipelines import evaluate

    on_store = evaluate(run, tmp_path / "store", tmp_path / "labels.csv")
    on_videos = evaluate(run, videos, tmp_path / "labels.csv")
    assert on_videos == on_store
