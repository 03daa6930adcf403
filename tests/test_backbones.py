"""Backbone registry, weight loading, ONNX runtime, and the bundled pretrained weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vidscope.backbones import create_backbone, list_backbones
from vidscope.backbones._onnx import cache_dir
from vidscope.errors import WeightsError

from .conftest import write_video


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0")


def test_registry_lists_and_rejects_unknown():
    names = list_backbones()
    assert "efficientnet_lite0" in names and "timm:<name>" in names
    with pytest.raises(ValueError, match=r"unknown --backbone 'nope'.*efficientnet_lite0"):
        create_backbone("nope")


def test_timm_without_weights_names_the_flag():
    with pytest.raises(WeightsError, match="--weights PATH"):
        create_backbone("timm:resnet18")


def test_none_kwargs_do_not_override_defaults():
    b = create_backbone("timm:test_efficientnet", weights="random", runtime="torch", threads=None)
    assert b.threads >= 1 and b.runtime == "torch"


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_loads_local_weights_and_matches_timm(tmp_path: Path, suffix: str):
    import timm

    ref = timm.create_model("test_efficientnet", pretrained=False).eval()
    path = tmp_path / f"w{suffix}"
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    save_file(sd, str(path)) if suffix == ".safetensors" else torch.save(sd, path)
    b = create_backbone("timm:test_efficientnet", weights=str(path), runtime="onnx")
    h, w = b.preprocess.input_size
    x = np.random.default_rng(1).integers(0, 256, (3, h, w, 3), dtype=np.uint8)
    mean = torch.tensor(b.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(b.preprocess.std).view(1, 3, 1, 1)
    t = (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.inference_mode():
        expected = ref.forward_head(ref.forward_features(t), pre_logits=True).numpy()
    got = b.encode(x)
    assert got.shape == (3, ref.num_features) == (3, b.num_features)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    assert (
        b.identity()["weights"]
        == create_backbone("timm:test_efficientnet", weights=str(path), runtime="torch").identity()[
            "weights"
        ]
    )


def test_mismatched_checkpoint_lists_keys(tmp_path: Path):
    path = tmp_path / "bad.pth"
    torch.save({"conv_stem.weight": torch.zeros(1, 2, 3, 3), "other.bias": torch.zeros(3)}, path)
    with pytest.raises(WeightsError, match=r"missing \(\d+\).*unexpected \(1\): other.bias.*shape"):
        create_backbone("timm:test_efficientnet", weights=str(path))


def test_onnx_matches_torch_and_is_cached(lite0):
    x = np.random.default_rng(0).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    onnx_out = lite0.encode(x)
    torch_out = lite0.torch().encode(x)
    assert lite0.runtime == "onnx" and lite0.torch().runtime == "torch"
    assert onnx_out.shape == (4, 1280) and onnx_out.dtype == np.float32
    assert np.abs(onnx_out - torch_out).max() < 1e-3 * np.abs(torch_out).max()
    assert lite0.export_error < 1e-3
    assert lite0.path in list(cache_dir().glob("*.onnx"))
    assert lite0.identity() == lite0.torch().identity()
    mtime = lite0.path.stat().st_mtime_ns
    again = create_backbone("efficientnet_lite0")
    assert again.path == lite0.path
    assert again.path.stat().st_mtime_ns == mtime  # loaded, not re-exported
    np.testing.assert_array_equal(again.encode(x[:2]), onnx_out[:2])


def test_cached_backbone_loads_without_torch(lite0):
    """Once exported, the default backbone starts in ONNX Runtime alone (fast, small)."""
    code = (
        "import sys, numpy as np; from vidscope.backbones import create_backbone; "
        "b = create_backbone('efficientnet_lite0'); "
        "f = b.encode(np.zeros((1, 224, 224, 3), np.uint8)); "
        "print(f.shape, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(1,", "1280)", "False"]


def test_missing_weights_file_is_clear():
    with pytest.raises(WeightsError, match=r"--weights /no/such\.pth: file not found"):
        create_backbone("timm:resnet18", weights="/no/such.pth")


def test_bundled_weights_are_really_pretrained(tmp_path: Path, lite0):
    """Real photos -> short video -> extract -> ImageNet classifier top-1 (cat, espresso)."""
    from PIL import Image
    from skimage import data

    from vidscope.features import extract, open_store
    from vidscope.video import SamplingSpec

    for name in ("chelsea", "coffee"):
        img = np.asarray(Image.fromarray(getattr(data, name)()).resize((320, 240)))
        write_video(tmp_path / "videos" / f"{name}.mp4", [img] * 10, fps=10, crf=12)
    report = extract(tmp_path / "videos", tmp_path / "store", backbone=lite0, progress=False,
                     sampling=SamplingSpec("uniform", 2))  # fmt: skip
    assert sorted(report.done) == ["chelsea", "coffee"]
    store = open_store(tmp_path / "store")
    classifier = lite0.torch().module.features.model.get_classifier()
    expected = {"chelsea": (285, 0.6), "coffee": (967, 0.8)}  # Egyptian cat, espresso
    for vid, (cls, min_p) in expected.items():
        feats = torch.from_numpy(store.load(vid).features)
        with torch.no_grad():
            probs = classifier(feats).softmax(-1).mean(0)
        assert int(probs.argmax()) == cls, vid
        assert float(probs[cls]) > min_p, (vid, float(probs[cls]))


def test_encode_rejects_wrong_input(lite0):
    with pytest.raises(ValueError, match=r"uint8 \[N, H, W, 3\]"):
        lite0.encode(np.zeros((2, 224, 224, 3), np.float32))
    assert lite0.encode(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1280)
