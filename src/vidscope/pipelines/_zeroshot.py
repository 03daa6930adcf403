"""``zeroshot``: score CLIP image features against class prompts with the matching text encoder.

Each frame's logits are CLIP's ``logit_scale.exp() * cos(image, text)`` against one prompt per
class (``template.format(text)``); a video's logits are the mean (or max) of its frames'. With
labels, the video-level and frame-level reports are the same metrics ``evaluate`` prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..backbones import clip_text_encoder
from ..errors import ConfigError, InputError
from ..features import FeatureStore, open_store
from ..metrics import classification_report
from ..training import LabelOptions, load_data

Agg = Literal["mean", "max"]
DEFAULT_TEMPLATE = "a video of {}."


@dataclass
class ZeroShotResult:
    """Zero-shot scores of every scored video, and reports when labels were given.

    Attributes:
        classes: Class names, in score-column order (label order when labelled).
        prompts: The prompt text of each class.
        ids: Video ids, in row order.
        scores: ``[N, C]`` softmax probabilities of the pooled logits.
        report: Video-level :func:`~vidscope.metrics.classification_report` (labels only).
        frame_report: Frame-level report: every frame scored against its video's label.
        notes: Things worth showing (videos left out, ...).
    """

    classes: list[str]
    prompts: list[str]
    ids: list[str]
    scores: np.ndarray
    report: dict[str, Any] | None = None
    frame_report: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def predictions(self) -> pd.DataFrame:
        """``id, label, score_<class>...`` per video."""
        df = pd.DataFrame(
            {"id": self.ids, "label": [self.classes[i] for i in self.scores.argmax(1)]}
        )
        for j, c in enumerate(self.classes):
            df[f"score_{c}"] = self.scores[:, j]
        return df


def parse_classes(classes: str | list[str]) -> dict[str, str]:
    """``{class name: prompt text}`` from ``"fight=fighting,normal=people walking calmly"``
    (or a list); an item without ``=`` is both the name and the text.

    Raises:
        ConfigError: empty or repeated names, or fewer than two classes.
    """
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    out: dict[str, str] = {}
    for item in items:
        name, _, text = item.partition("=")
        name, text = name.strip(), (text or name).strip()
        if not name or not text or name in out:
            raise ConfigError(f"--classes: empty or repeated class in {items}")
        out[name] = text
    if len(out) < 2:
        raise ConfigError(f"--classes needs at least two classes, got {list(out)}")
    return out


def zeroshot(
    store: FeatureStore | str | os.PathLike[str],
    classes: str | list[str],
    *,
    template: str = DEFAULT_TEMPLATE,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    agg: Agg = "mean",
    weights: str | None = None,
    clip_model: str | None = None,
    allow_missing: bool = False,
) -> ZeroShotResult:
    """Zero-shot classification of a store of CLIP image features.

    Args:
        store: A feature store extracted with ``--backbone clip:<model>``, or a ``.npy``
            folder of such features (then name ``clip_model``).
        classes: ``"name=prompt text,..."`` or plain names (see :func:`parse_classes`).
        template: Prompt template with one ``{}`` for the class text.
        labels: Label CSV or :class:`LabelOptions`; for a ``.npy`` class-folder store the
            folders label the videos when ``labels`` is ``None``. Without labels the result
            has scores only.
        agg: Pooling of frame logits into a video's: ``mean`` or ``max``.
        weights: The open_clip checkpoint; ``None``: the file the store was extracted with.
        clip_model: open_clip model name for stores that do not record one (``.npy``).
        allow_missing: Skip labelled videos without features.

    Raises:
        ConfigError: bad template, classes, pooling, or features that are not CLIP's.
        InputError: label classes missing from ``classes``.
        WeightsError: no checkpoint found, or one that did not make these features.
    """
    if "{}" not in template:
        raise ConfigError(f"--template must contain {{}} for the class text, got {template!r}")
    if agg not in ("mean", "max"):
        raise ConfigError(f"--agg must be mean or max, got {agg!r}")
    texts = parse_classes(classes)
    st = store if isinstance(store, FeatureStore) else open_store(store)
    model, digest = _clip_model(st, clip_model)
    encoder = clip_text_encoder(model, weights=weights, digest=digest, where="zeroshot")
    labelled = labels is not None or st.meta.get("format") == "npy"
    if labelled:
        _, data = load_data(st, labels, allow_missing=allow_missing)
        names = list(data.labels.classes)
        unknown = [c for c in names if c not in texts]
        if unknown:
            raise InputError(
                f"the labels have class(es) {unknown} that --classes does not name; give "
                f'a prompt for each: --classes "{",".join(f"{c}=..." for c in names)}"'
            )
        ids, feats, y = list(data.labels.ids), data.features, np.asarray(data.labels.y)
        notes = list(data.labels.notes)
    else:
        names, ids, notes = list(texts), st.ids(), []
        feats, y = [st.load(v).features for v in ids], None
    prompts = [template.format(texts[c]) for c in names]
    text = encoder.encode_text(prompts)  # [C, E] unit length
    frames = [encoder.logit_scale * _unit(f) @ text.T for f in feats]  # [T_i, C] each
    pool = np.max if agg == "max" else np.mean
    videos = np.stack([pool(f, axis=0) for f in frames])  # [N, C]
    result = ZeroShotResult(names, prompts, ids, _softmax(videos), notes=notes)
    if y is not None:
        result.report = _report(y, result.scores, names)
        frame_y = np.concatenate([np.full(len(f), c) for f, c in zip(frames, y, strict=True)])
        result.frame_report = _report(frame_y, _softmax(np.concatenate(frames)), names)
    return result


def _clip_model(store: FeatureStore, clip_model: str | None) -> tuple[str, str | None]:
    identity = store.meta.get("backbone") or {}
    name = str(identity.get("name") or "")
    if name.startswith("clip:"):
        return name, str(identity.get("weights") or "") or None
    if clip_model:
        return clip_model, None
    raise ConfigError(
        f"{store.root} holds features of {name or 'an unknown backbone'}, not of a clip:<model> "
        "backbone; extract with --backbone clip:MODEL, or for .npy folders of CLIP features "
        "name the model with --clip-model"
    )


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def _report(y: np.ndarray, proba: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Binary: argmax is ``p_1 >= 0.5`` (no validation set picks a threshold here)."""
    scores = proba[:, 1] if len(names) == 2 else proba
    return classification_report(y, scores, labels=names, threshold=0.5)
