"""``clip:<open_clip model>``: L2-normalised CLIP image embeddings, text side reachable.

``clip:MobileCLIP2-S0`` is the smallest MobileCLIP in open_clip 3.x (512-d; the original
``MobileCLIP-S0`` config is not shipped there, its smallest v1 model is ``MobileCLIP-S1``).
The model is built with ``open_clip.create_model_and_transforms(name, pretrained=None)``
(nothing downloaded) and loaded from a local ``--weights`` file (an open_clip state dict), or
seeded at random with ``--weights random``. The image tower is exported to ONNX through
:func:`~vidscope.backbones._build.build_backbone` like any torch backbone;
:meth:`ClipBackbone.text_encoder` rebuilds the same model in torch for the text side.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import WeightsError
from ._base import Backbone, Preprocess, Runtime
from ._build import build_backbone
from ._open_clip import (
    RANDOM,
    RANDOM_ID,
    ClipTextEncoder,
    create_clip_model,
    open_clip_config,
    remember_weights,
)
from ._registry import register_backbone


class ClipBackbone(Backbone):
    """The image side of a CLIP model (any runtime), with its text side one call away.

    Args:
        image: The built image backbone (ONNX or torch) giving normalised embeddings.
        make_model: Builds the full open_clip model (torch) with the same weights.
        model_name: open_clip model name (for its tokenizer).
    """

    def __init__(self, image: Backbone, make_model: Callable[[], Any], model_name: str) -> None:
        self.image = image
        self.name = image.name
        self.num_features = image.num_features
        self.preprocess = image.preprocess
        self.model_name = model_name
        self._make_model = make_model
        self._text: ClipTextEncoder | None = None

    @property
    def runtime(self) -> str:
        return self.image.runtime

    def identity(self) -> dict[str, object]:
        return self.image.identity()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """``float32 [N, D]`` unit-length image embeddings of ``uint8 [N, h, w, 3]`` frames."""
        return self.image.encode(frames)

    def text_encoder(self) -> ClipTextEncoder:
        """The matching text encoder (built once, in torch)."""
        if self._text is None:
            self._text = ClipTextEncoder(self._make_model(), self.model_name)
        return self._text


def clip_preprocess(model: Any) -> Preprocess:
    """The model's own preprocessing (``visual.preprocess_cfg``): size, mean, std, crop."""
    cfg = model.visual.preprocess_cfg
    size = cfg["size"]
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    resize = "center_crop" if cfg.get("resize_mode", "shortest") == "shortest" else "squash"
    return Preprocess(input_size=(h, w), mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                      resize=resize, crop_pct=1.0)  # fmt: skip


def _image_features(model: Any) -> Any:
    """``torch.nn.Module``: normalised ``[N, 3, H, W]`` -> unit-length ``[N, D]``."""
    import torch

    class ClipImage(torch.nn.Module):
        def __init__(self, clip: Any) -> None:
            super().__init__()
            self.visual = clip.visual

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(self.visual(x), dim=-1)

    return ClipImage(model)


def clip_backbone(
    model_name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
) -> Backbone:
    """An open_clip model's image embeddings as a frame encoder (text side reachable).

    Args:
        model_name: open_clip model name, e.g. ``"MobileCLIP2-S0"``.
        weights: Local open_clip checkpoint (``.safetensors``/``.bin``/``.pt`` state dict),
            or ``"random"`` (seeded; tests).
        runtime: ``auto`` (ONNX Runtime on CPU, torch on a CUDA GPU), ``onnx`` or ``torch``.
        threads: Intra-op threads.

    Raises:
        WeightsError: if no weights are given (nothing is ever downloaded).
    """
    reg_name = f"clip:{model_name}"
    if weights is None:
        raise WeightsError(
            f"--backbone {reg_name} needs local weights: pass --weights PATH (an open_clip "
            "checkpoint, e.g. open_clip_model.safetensors); vidscope never downloads weights"
        )
    digest = RANDOM_ID if str(weights) == RANDOM else remember_weights(weights)

    def make_model() -> Any:
        return create_clip_model(model_name, weights, reg_name)

    def make_torch() -> Backbone:
        from ._torch import TorchBackbone

        model = make_model()
        dim = int(open_clip_config(model_name)["embed_dim"])
        return TorchBackbone(reg_name, _image_features(model), dim, clip_preprocess(model),
                             digest, threads=threads)  # fmt: skip

    recipe = {"backbone": reg_name, "weights": digest, "normalize": True}
    image = build_backbone(recipe, make_torch, runtime=runtime, threads=threads)
    return ClipBackbone(image, make_model, model_name)


@register_backbone("clip", prefix=True)
def _clip_family(model_name: str, **kw: Any) -> Backbone:
    return clip_backbone(model_name, **kw)
