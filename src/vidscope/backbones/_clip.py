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
from ._build import build_backbone, file_digest
from ._registry import register_backbone

RANDOM = "random"
RANDOM_ID = "random(seed=0)"


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


class ClipTextEncoder:
    """open_clip text tower + tokenizer: ``encode_text(list[str]) -> float32 [N, D]``.

    Attributes:
        model: The full open_clip model (``model.token_embedding`` etc. for prompt learning).
        tokenizer: open_clip's tokenizer for the model (bundled BPE vocabulary, no download).
        logit_scale: ``exp`` of the model's learnt temperature.
    """

    def __init__(self, model: Any, model_name: str) -> None:
        import open_clip

        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.logit_scale = float(model.logit_scale.detach().exp())

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Unit-length text embeddings ``float32 [N, D]``."""
        import torch

        with torch.inference_mode():
            tokens = self.tokenizer(list(texts))  # [N, context_length]
            return self.model.encode_text(tokens, normalize=True).float().numpy()


def create_clip_model(model_name: str, weights: str | os.PathLike[str], reg_name: str) -> Any:
    """open_clip model ``model_name`` (eval mode) with local ``weights`` or seeded random ones.

    Raises:
        ValueError: unknown model name.
        WeightsError: weights that do not fit.
    """
    import open_clip
    import torch

    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = open_clip.create_model(model_name, pretrained=None)
    except RuntimeError as exc:
        raise ValueError(f"--backbone {reg_name}: {exc}") from None
    if str(weights) != RANDOM:
        from ._weights import load_by_name, read_state_dict

        load_by_name(model, read_state_dict(weights), f"--weights {weights}")
    return model.eval()


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
    digest = RANDOM_ID if str(weights) == RANDOM else file_digest(weights)

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


def open_clip_config(model_name: str) -> dict[str, Any]:
    """open_clip's built-in config of ``model_name`` (embedding width etc.)."""
    import open_clip

    return open_clip.get_model_config(model_name) or {}


@register_backbone("clip", prefix=True)
def _clip_family(model_name: str, **kw: Any) -> Backbone:
    return clip_backbone(model_name, **kw)
