"""``clip:<open_clip model>``: width, own preprocessing, determinism, open_clip equality, text."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.backbones import create_backbone

MODEL = "MobileCLIP2-S0"


@pytest.fixture(scope="module")
def clip():
    pytest.importorskip("open_clip")
    return create_backbone(f"clip:{MODEL}", weights="random")


def test_clip_image_matches_open_clip(clip):
    import open_clip
    import torch

    from vidscope.backbones._clip import create_clip_model

    cfg = open_clip.create_model(MODEL, pretrained=None).visual.preprocess_cfg
    assert clip.num_features == 512
    assert tuple(clip.preprocess.input_size) == tuple(cfg["size"])
    np.testing.assert_allclose(clip.preprocess.mean, cfg["mean"])
    np.testing.assert_allclose(clip.preprocess.std, cfg["std"])
    frames = np.random.default_rng(0).integers(0, 256, (3, *cfg["size"], 3), dtype=np.uint8)
    out = clip.encode(frames)
    assert out.shape == (3, 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out, clip.encode(frames))
    model = create_clip_model(MODEL, "random", MODEL)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    x = (torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.inference_mode():
        ref = model.encode_image(x, normalize=True).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_clip_text_side_zero_shot(clip):
    text = clip.text_encoder()
    assert clip.text_encoder() is text
    emb = text.encode_text(["a photo of a punch", "a photo of a kick", "an empty room"])
    assert emb.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    frames = np.zeros((2, *clip.preprocess.input_size, 3), np.uint8)
    logits = text.logit_scale * clip.encode(frames) @ emb.T  # [2, 3]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1.0)
