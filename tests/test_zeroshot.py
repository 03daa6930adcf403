"""Zero-shot scoring of CLIP features against class prompts: API on .npy folders, CLI on a store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main

from ._clip_tiny import EMBED, MOBILE, PLAIN, near_text, register_tiny, save_checkpoint
from .conftest import numbered_frames, write_video

pytest.importorskip("open_clip")

TEMPLATE = "a video of {}."
TEXTS = {"fight": "people fighting", "walk": "people walking calmly", "empty": "an empty street"}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny-clip")
    register_tiny(root / "configs")
    return {
        PLAIN: str(save_checkpoint(PLAIN, root / "plain.safetensors", seed=1)),
        MOBILE: str(save_checkpoint(MOBILE, root / "mobile.safetensors", seed=2)),
        "other": str(save_checkpoint(PLAIN, root / "other.safetensors", seed=3)),
    }


def _npy_folders(root, text: np.ndarray, names: list[str], *, per_class=4, t=6, noise=0.01):
    """``root/test/<class>/<id>.npy`` features drawn around each class's text embedding."""
    y = np.repeat(np.arange(len(names)), per_class)
    x = near_text(text, y, t, noise=noise, seed=0)
    for i, (c, feats) in enumerate(zip(y, x, strict=True)):
        (root / "test" / names[c]).mkdir(parents=True, exist_ok=True)
        np.save(root / "test" / names[c] / f"v{i:02d}.npy", feats)
    return y


@pytest.mark.parametrize("name", [PLAIN, MOBILE])
def test_features_near_the_prompts_are_classified(tmp_path, ckpts, name):
    from vidscope.backbones import clip_text_encoder
    from vidscope.pipelines import zeroshot

    enc = clip_text_encoder(name, weights=ckpts[name])
    names = sorted(TEXTS)
    text = enc.encode_text([TEMPLATE.format(TEXTS[c]) for c in names])
    _npy_folders(tmp_path, text, names)
    classes = ",".join(f"{c}={TEXTS[c]}" for c in names)
    res = zeroshot(tmp_path, classes, clip_model=name, weights=ckpts[name])
    assert res.classes == names and res.prompts[1] == "a video of people fighting."
    assert res.report["accuracy"] == 1.0 and res.frame_report["accuracy"] == 1.0
    assert res.frame_report["num_samples"] == 6 * res.report["num_samples"] == 6 * 12
    np.testing.assert_allclose(res.scores.sum(1), 1.0, rtol=1e-5)
    # the mean of frame logits, softmaxed: recomputed here from the arrays and the text
    f = np.load(tmp_path / "test" / names[0] / "v00.npy")
    logits = enc.logit_scale * (f / np.linalg.norm(f, axis=1, keepdims=True)) @ text.T
    p = np.exp(logits.mean(0) - logits.mean(0).max())
    row = [i for i, v in enumerate(res.ids) if v.endswith("v00")]
    assert len(row) == 1
    np.testing.assert_allclose(res.scores[row[0]], p / p.sum(), rtol=1e-4)
    # max pooling ranks the same easy videos right too
    res = zeroshot(tmp_path, classes, clip_model=name, weights=ckpts[name], agg="max")
    assert res.report["accuracy"] == 1.0


def test_uninformative_prompts_score_near_chance(tmp_path, ckpts):
    """Prompts whose text is not what the features are near: accuracy falls to chance."""
    from vidscope.backbones import clip_text_encoder
    from vidscope.pipelines import zeroshot

    enc = clip_text_encoder(PLAIN, weights=ckpts[PLAIN])
    names = sorted(TEXTS)
    text = enc.encode_text([TEMPLATE.format(TEXTS[c]) for c in names])
    _npy_folders(tmp_path, text, names, per_class=8)
    res = zeroshot(
        tmp_path, "empty=class a,fight=class b,walk=class c", clip_model=PLAIN, weights=ckpts[PLAIN]
    )
    assert res.report["accuracy"] < 0.7


def test_user_errors(tmp_path, ckpts):
    from vidscope.errors import ConfigError, InputError, WeightsError
    from vidscope.pipelines import zeroshot

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(2):
            np.save(tmp_path / c / f"v{i}.npy", rng.normal(size=(3, EMBED)).astype(np.float32))
    with pytest.raises(ConfigError, match="--clip-model"):
        zeroshot(tmp_path, "a,b")
    with pytest.raises(ConfigError, match="--template"):
        zeroshot(tmp_path, "a,b", clip_model=PLAIN, template="no slot")
    with pytest.raises(ConfigError, match="two classes"):
        zeroshot(tmp_path, "a", clip_model=PLAIN)
    with pytest.raises(InputError, match=r"b=\.\.\."):
        zeroshot(tmp_path, "a,c", clip_model=PLAIN, weights=ckpts[PLAIN])
    with pytest.raises(WeightsError, match="not-there"):
        zeroshot(tmp_path, "a,b", clip_model=PLAIN, weights=str(tmp_path / "not-there.pt"))


def test_cli_on_an_extracted_store(tmp_path, ckpts, capsys):
    """extract with a clip backbone, then zeroshot without --weights: the store's digest finds
    the checkpoint; another checkpoint is refused in one line."""
    rows = []
    for i in range(4):
        write_video(tmp_path / "v" / f"v{i}.mp4", numbered_frames(10, (64, 48), seed=i), fps=10)
        rows.append({"path": f"v{i}.mp4", "label": ("fight", "walk")[i % 2]})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    store = tmp_path / "store"
    assert main(["extract", str(tmp_path / "v"), "--out", str(store), "--backbone",
                 f"clip:{PLAIN}", "--weights", ckpts[PLAIN], "--frames", "3", "--runtime",
                 "torch", "--quiet"]) == 0  # fmt: skip
    out = tmp_path / "zs"
    code = main(["zeroshot", str(store), "--classes", "fight=people fighting,walk=people walking",
                 "--labels", str(tmp_path / "labels.csv"), "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "video level" in printed and "frame level" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["video"]["num_samples"] == 4 and metrics["frame"]["num_samples"] == 12
    assert metrics["prompts"] == {"fight": "a video of people fighting.",
                                  "walk": "a video of people walking."}  # fmt: skip
    df = pd.read_csv(out / "predictions.csv")
    assert sorted(df["id"]) == [f"v{i}" for i in range(4)]
    assert list(df.columns) == ["id", "label", "score_fight", "score_walk"]
    code = main(["zeroshot", str(store), "--classes", "fight,walk", "--weights", ckpts["other"]])
    assert code == 2
    err = capsys.readouterr().err
    assert "digest" in err and "other.safetensors" in err
