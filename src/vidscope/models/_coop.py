"""``coop``: CoOp prompt learning on frozen CLIP image features (Zhou et al., IJCV 2022).

The head scores each frame feature against the text features of its class prompts,
``logit_scale.exp() * cos(image, text)``, with CLIP's own learnt temperature; only the
prompt context vectors are trained, both CLIP towers stay frozen. It needs features made by a
``clip:<model>`` backbone (or ``.npy`` folders of them, naming the model with
``--head-option clip_model=...``) and the same local open_clip checkpoint for the text side.

Saved runs hold only the context (``model.safetensors``) and, in ``config.json``, the class
texts, the model name and the weights digest; the text tower is rebuilt from the checkpoint
with that digest (``--weights`` once, or the file a store was extracted with).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from ..backbones import (
    ClipTextEncoder,
    clip_embed_dim,
    clip_text_encoder,
    clip_text_width,
    clip_tokenizer,
)
from ..errors import ConfigError, WeightsError
from ._base import Head, masked_max, masked_mean
from ._prompt import Position, PromptLearner, TextTower
from ._registry import register_head

TemporalAgg = Literal["frames", "mean", "max"]
AGGS = ("frames", "mean", "max")

#: CoOp's optimisation recipe (its configs/trainers/CoOp/*.yaml), used where no flag is given.
COOP_DEFAULTS: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.002,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 32,
    "warmup_epochs": 1.0,
    "warmup_lr": 1e-5,
}


class CoOpHead(Head):
    """Per-frame CLIP zero-shot logits with learned prompt context, pooled over time.

    Args:
        num_features: D of the CLIP image features (the model's embedding width).
        num_outputs: 1 (binary: the log-odds ``l_1 - l_0`` of the two class logits) or C.
        layout: Feature layout (recorded only).
        classes: Class names in label order; the prompt of class i ends in its text.
        backbone: The store's backbone identity (``name`` ``clip:<model>``, ``weights``
            digest); ``None`` or a ``.npy`` folder's: give ``clip_model`` and ``weights``.
        n_ctx: Context vectors per prompt (CoOp: 16); a ``ctx_init`` phrase sets it.
        ctx_init: Initialise the context from this phrase's token embeddings.
        csc: Class-specific context vectors.
        class_token_position: ``end``, ``middle`` or ``front``.
        temporal_agg: Training samples: every valid frame (``frames``), or each sequence
            (video or window) with its frame logits pooled by ``mean`` or ``max``. The
            sequence-level output (evaluation) is the mean of frame logits (max for ``max``).
        window: With ``temporal_agg`` ``mean``/``max``: train on windows of this many frames
            (seconds, for features sampled at 1 fps) cut from each sequence, each labelled
            with its sequence's class; 0 = the whole sequence.
        overlap: Fraction by which consecutive training windows overlap.
        class_text: Text per class instead of the class names: a list, or one string with
            ``,`` between classes (``"people walking calmly,fighting"``).
        clip_model: open_clip model name, when the identity does not name one.
        weights: Local open_clip checkpoint; ``None``: the file with the identity's digest
            (the one the store was extracted with, or given before).

    Raises:
        ConfigError: bad options, non-CLIP features, or a width that is not the model's.
        WeightsError: a ``weights`` file with another digest than the features'.
    """

    train_defaults: ClassVar[dict[str, Any]] = COOP_DEFAULTS
    #: Not exported to ONNX: the graph would carry the frozen text tower, and evaluation
    #: needs :meth:`frame_logits` for its frame-level report.
    onnx_export: ClassVar[bool] = False

    def __init__(
        self,
        *,
        num_features: int,
        num_outputs: int,
        layout: list[tuple[str, int]] | None = None,
        classes: list[str] | None = None,
        backbone: dict[str, Any] | None = None,
        n_ctx: int = 16,
        ctx_init: str = "",
        csc: bool = False,
        class_token_position: Position = "end",
        temporal_agg: TemporalAgg = "frames",
        window: int = 0,
        overlap: float = 0.5,
        class_text: list[str] | str | None = None,
        clip_model: str | None = None,
        weights: str | None = None,
        weights_digest: str | None = None,
    ) -> None:
        texts = _class_texts(classes, class_text, num_outputs)
        if temporal_agg not in AGGS:
            raise ConfigError(f"--head-option temporal_agg must be one of {AGGS}")
        if int(window) < 0 or (int(window) and temporal_agg == "frames") or not 0 <= overlap < 1:
            raise ConfigError(
                "--head-option window=N (frames, >= 0) needs temporal_agg=mean or max, and "
                f"overlap in [0, 1); got window={window}, overlap={overlap}, {temporal_agg}"
            )
        model, digest = _clip_identity(backbone, clip_model, weights_digest)
        encoder, missing = _try_encoder(model, weights, digest)
        digest = digest or (encoder.digest if encoder else None)
        super().__init__(
            num_features=num_features, num_outputs=num_outputs, layout=layout,
            classes=list(classes or texts), backbone=backbone, n_ctx=int(n_ctx),
            ctx_init=ctx_init, csc=_flag(csc), class_token_position=class_token_position,
            temporal_agg=temporal_agg, window=int(window), overlap=float(overlap),
            class_text=texts, clip_model=model,
            weights=str(weights) if weights else None, weights_digest=digest,
        )  # fmt: skip
        _check_width(model, num_features)
        self.prompts = PromptLearner(
            clip_tokenizer(model), texts, width=clip_text_width(model),
            n_ctx=int(n_ctx), ctx_init=ctx_init, csc=_flag(csc), position=class_token_position,
        )  # fmt: skip
        self.config["n_ctx"] = self.prompts.n_ctx
        self.binary = num_outputs == 1
        self.temporal_agg = temporal_agg
        self.window, self.overlap = int(window), float(overlap)
        # Kept out of the module tree: the frozen tower is not saved with the run or trained.
        self._frozen: dict[str, Any] = {"tower": None, "scale": None, "missing": missing}
        self._loaded = False  # ctx came from a checkpoint: never re-initialise it
        self._cache: tuple[Any, torch.Tensor] | None = None
        if encoder is not None:
            self._build(encoder)

    def _build(self, encoder: ClipTextEncoder) -> None:
        tower = TextTower(encoder.parts())
        self.prompts.prepare(tower, init_ctx=not self._loaded)
        self._frozen.update(tower=tower, scale=encoder.logit_scale, missing=None)

    def tower(self) -> TextTower:
        """The frozen text tower, built on first use and kept on the context's device.

        Raises:
            WeightsError: when the open_clip checkpoint cannot be found.
        """
        if self._frozen["tower"] is None:
            cfg = self.config
            encoder, missing = _try_encoder(
                cfg["clip_model"], cfg["weights"], cfg["weights_digest"]
            )
            if encoder is None:
                raise WeightsError(missing)
            self._build(encoder)
        tower: TextTower = self._frozen["tower"].moved(self.prompts.ctx.device)
        self._frozen["tower"] = tower
        return tower

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._loaded = True
        super()._load_from_state_dict(*args, **kwargs)

    def text_features(self) -> torch.Tensor:
        """Unit-length text features ``[C, E]`` of the class prompts.

        Recomputed on every call that records gradients (they depend on the context); under
        no-grad they are cached until the context changes.
        """
        ctx = self.prompts.ctx
        key = (ctx._version, ctx.device, ctx.dtype)
        if not torch.is_grad_enabled() and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        tower = self.tower()
        feats = F.normalize(tower(self.prompts(), self.prompts.tokens), dim=-1)  # [C, E]
        if not torch.is_grad_enabled():
            self._cache = (key, feats)
        return feats

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``logit_scale * cos`` of every frame with every class: ``[B, T, D] -> [B, T, C]``."""
        text = self.text_features()  # [C, E]
        image = F.normalize(x.to(text.device, text.dtype), dim=-1)  # [B, T, E]
        return self._frozen["scale"] * image @ text.T

    def frame_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-frame logits ``[B, T, num_outputs]`` (binary: ``l_1 - l_0``)."""
        return self._outputs(self.class_logits(x))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sequence logits ``[B, num_outputs]``: frame logits pooled over valid frames.

        Raises:
            RuntimeError: inside an ONNX export, which coop declines (:attr:`onnx_export`):
                exporters that try anyway keep the PyTorch head.
        """
        if torch.onnx.is_in_onnx_export():
            raise RuntimeError("coop heads stay in PyTorch (frame logits, frozen text tower)")
        return self._outputs(self._pooled(self.class_logits(x), mask))

    def training_loss(self, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over class prompts, per valid frame (``temporal_agg=frames``) or per
        sequence of pooled frame logits.

        Args:
            x: ``[B, T, D]`` features.
            mask: ``[B, T]`` True where a frame is real.
            y: ``[B]`` class indices (binary ``[B]`` or ``[B, 1]`` 0/1 targets work too).
        """
        logits = self.class_logits(x)  # [B, T, C]
        target = y.reshape(-1).long().to(logits.device)  # [B]
        if self.temporal_agg != "frames" and self.window:
            idx = window_index(logits.shape[1], self.window, self.overlap).to(logits.device)
            wl, wm = logits[:, idx], mask.to(logits.device)[:, idx]  # [B, N, W, C], [B, N, W]
            keep = wm.any(-1)  # [B, N] windows holding a valid frame
            pooled = self._pooled(wl[keep], wm[keep])  # [K, C]
            return F.cross_entropy(pooled, target.unsqueeze(1).expand(keep.shape)[keep])
        if self.temporal_agg != "frames":
            return F.cross_entropy(self._pooled(logits, mask), target)
        mask = mask.to(logits.device)
        frames = target.unsqueeze(1).expand(mask.shape)  # [B, T]
        return F.cross_entropy(logits[mask], frames[mask])

    def _pooled(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pool = masked_max if self.temporal_agg == "max" else masked_mean
        return pool(logits, mask.to(logits.device))  # [B, C]

    def _outputs(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits[..., 1:] - logits[..., :1]) if self.binary else logits


def window_index(length: int, window: int, overlap: float) -> torch.Tensor:
    """Frame indices ``[N, W]`` of windows of ``window`` frames over ``length`` frames.

    Starts step by ``window * (1 - overlap)`` frames (at least 1); a last window ends at the
    final frame when the steps stop short of it; ``length <= window`` gives one window of
    all frames.
    """
    if length <= window:
        return torch.arange(length).unsqueeze(0)
    stride = max(1, round(window * (1 - overlap)))
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return torch.tensor(starts).unsqueeze(1) + torch.arange(window)


def _flag(value: Any) -> bool:
    """``--head-option csc=true`` arrives as text or as a bool."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"--head-option csc must be true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _class_texts(
    classes: list[str] | None, class_text: list[str] | str | None, num_outputs: int
) -> list[str]:
    texts = class_text.split(",") if isinstance(class_text, str) else class_text
    texts = [t.strip() for t in (texts or classes or [])]
    expected = 2 if num_outputs == 1 else num_outputs
    if len(texts) != expected or not all(texts):
        raise ConfigError(
            f"coop needs the text of each of the {expected} classes (got {texts}); the class "
            'names come from the labels, or --head-option class_text="text 1,text 2,..."'
        )
    return texts


def _clip_identity(
    backbone: dict[str, Any] | None, clip_model: str | None, digest: str | None
) -> tuple[str, str | None]:
    """The open_clip model name and the weights digest, from the identity or the options."""
    name = str((backbone or {}).get("name") or "")
    if name.startswith("clip:"):
        model = name.removeprefix("clip:")
        if clip_model and clip_model.removeprefix("clip:") != model:
            raise ConfigError(
                f"--head-option clip_model={clip_model} but the features are from {name}"
            )
        return model, str((backbone or {}).get("weights") or "") or digest
    if not clip_model:
        raise ConfigError(
            f"coop needs CLIP image features: a store extracted with --backbone clip:<model> "
            f"(these are from {name or 'an unknown backbone'}), or, for .npy folders of CLIP "
            "features, --head-option clip_model=NAME (and weights=PATH)"
        )
    return clip_model.removeprefix("clip:"), digest


def _try_encoder(
    model: str, weights: str | None, digest: str | None
) -> tuple[ClipTextEncoder | None, str | None]:
    """The text encoder, or (when no checkpoint can be found yet) the reason why not.

    A run loads before ``predict --weights`` has registered the file, so a missing file is
    only an error when the text side is first needed. A wrong file is an error at once.
    """
    try:
        return clip_text_encoder(model, weights=weights, digest=digest, where="coop"), None
    except WeightsError as exc:
        if weights is not None:
            raise
        return None, str(exc)


def _check_width(model: str, num_features: int) -> None:
    embed = clip_embed_dim(model)
    if embed != num_features:
        raise ConfigError(
            f"coop: clip:{model} embeds images in {embed} dimensions but the features have "
            f"{num_features}; train on features of that model"
        )


@register_head("coop")
def coop(
    *,
    num_features: int,
    num_outputs: int,
    layout: list[tuple[str, int]] | None = None,
    classes: list[str] | None = None,
    backbone: dict[str, Any] | None = None,
    n_ctx: int = 16,
    ctx_init: str = "",
    csc: bool = False,
    class_token_position: Position = "end",
    temporal_agg: TemporalAgg = "frames",
    window: int = 0,
    overlap: float = 0.5,
    class_text: list[str] | str | None = None,
    clip_model: str | None = None,
    weights: str | None = None,
    weights_digest: str | None = None,
) -> CoOpHead:
    """CoOp: learned prompt context for CLIP's text encoder, both towers frozen."""
    return CoOpHead(
        num_features=num_features, num_outputs=num_outputs, layout=layout, classes=classes,
        backbone=backbone, n_ctx=n_ctx, ctx_init=ctx_init, csc=csc,
        class_token_position=class_token_position, temporal_agg=temporal_agg, window=window,
        overlap=overlap, class_text=class_text, clip_model=clip_model, weights=weights,
        weights_digest=weights_digest,
    )  # fmt: skip
