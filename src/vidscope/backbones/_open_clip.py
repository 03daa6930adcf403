"""open_clip models from local weights, and their text side: the tokenizer, the text tower's
parts (for prompt learning), and finding a checkpoint again by its digest.

Nothing is downloaded: a model is built with ``open_clip.create_model(name, pretrained=None)``
and loaded from a local open_clip state dict, or seeded at random (``"random"``). The digest
of every checkpoint used is recorded with its path (``$VIDSCOPE_CACHE/clip_weights.json``), so
the text side of features extracted with it is found later from the store's identity.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError, WeightsError
from ._build import file_digest

RANDOM = "random"
RANDOM_ID = "random(seed=0)"


@dataclass(frozen=True)
class TextTowerParts:
    """The pieces of an open_clip text tower, wherever the model class keeps them.

    The plain ``CLIP`` class holds them as its own attributes (``model.token_embedding``,
    ...); ``CustomTextCLIP`` (MobileCLIP, ...) holds them in ``model.text``, a
    ``TextTransformer``. Both run the transformer batch-first.

    Attributes:
        token_embedding: ``nn.Embedding [vocab, W]``.
        positional_embedding: ``[context_length, W]`` parameter.
        transformer: open_clip ``Transformer``, called as ``transformer(x [N, L, W],
            attn_mask=...)``.
        ln_final: Final LayerNorm.
        text_projection: ``[W, E]`` parameter, an ``nn.Linear``, or ``None``.
        attn_mask: ``[context_length, context_length]`` additive causal mask, or ``None``
            (``no_causal_mask``: bidirectional attention).
        pool_type: ``"argmax"`` (EOT = highest token id), ``"eos"``, ``"first"``, ``"last"``.
        eos_id: Token id ``"eos"`` pooling looks for.
    """

    token_embedding: Any
    positional_embedding: Any
    transformer: Any
    ln_final: Any
    text_projection: Any
    attn_mask: Any
    pool_type: str
    eos_id: int | None


def text_tower_parts(model: Any) -> TextTowerParts:
    """The text tower pieces of an open_clip ``CLIP`` or ``CustomTextCLIP`` model.

    Raises:
        WeightsError: for text towers prompt learning cannot feed (Hugging Face text
            encoders, CoCa-style towers with an appended class token).
    """
    text = getattr(model, "text", None)
    if text is None:  # plain CLIP: the tower's parts are the model's attributes
        return TextTowerParts(
            model.token_embedding, model.positional_embedding, model.transformer,
            model.ln_final, model.text_projection, model.attn_mask,
            model.text_pool_type, getattr(model, "text_eos_id", None),
        )  # fmt: skip
    unusual = getattr(text, "cls_emb", None) is not None or getattr(text, "use_pad_mask", False)
    if not hasattr(text, "token_embedding") or unusual:
        raise WeightsError(
            f"{type(text).__name__} text towers (Hugging Face encoders, CoCa, padding masks) "
            "are not supported for prompt learning; use an open_clip model with a plain "
            "TextTransformer text tower"
        )
    return TextTowerParts(
        text.token_embedding, text.positional_embedding, text.transformer, text.ln_final,
        text.text_projection, text.attn_mask, text.pool_type, getattr(text, "eos_id", None),
    )  # fmt: skip


class ClipTextEncoder:
    """open_clip text tower + tokenizer: ``encode_text(list[str]) -> float32 [N, D]``.

    Attributes:
        model: The full open_clip model (see :meth:`parts` for its text tower).
        model_name: The open_clip model name.
        tokenizer: open_clip's tokenizer for the model (bundled BPE vocabulary, no download).
        logit_scale: ``exp`` of the model's learnt temperature.
    """

    def __init__(self, model: Any, model_name: str) -> None:
        self.model = model.eval()
        self.model_name = model_name
        self.tokenizer = clip_tokenizer(model_name)
        self.logit_scale = float(model.logit_scale.detach().exp())
        self.digest: str | None = None  # weights digest, set by clip_text_encoder

    def parts(self) -> TextTowerParts:
        """The text tower's pieces (see :func:`text_tower_parts`)."""
        return text_tower_parts(self.model)

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
        raise InputError(f"--backbone {reg_name}: {exc}") from None
    if str(weights) != RANDOM:
        from ._weights import load_by_name, read_state_dict

        load_by_name(model, read_state_dict(weights), f"--weights {weights}")
    return model.eval()


def open_clip_config(model_name: str) -> dict[str, Any]:
    """open_clip's built-in config of ``model_name`` (embedding width etc.)."""
    import open_clip

    return open_clip.get_model_config(model_name) or {}


def _weights_index() -> Path:
    """``$VIDSCOPE_CACHE/clip_weights.json`` (or ``~/.cache/vidscope/...``)."""
    root = os.environ.get("VIDSCOPE_CACHE") or Path.home() / ".cache" / "vidscope"
    return Path(root) / "clip_weights.json"


def remember_weights(path: str | os.PathLike[str]) -> str:
    """Digest of a CLIP checkpoint, recorded with its absolute path in the cache's index.

    A store extracted with ``--weights PATH`` records only the digest; the index lets the
    text side (zero-shot, CoOp) find the same file later without ``--weights`` again.

    Returns:
        The file's digest (see :func:`~vidscope.backbones._build.file_digest`).
    """
    digest = _digest(path)
    index = _weights_index()
    known = _read_index(index)
    where = str(Path(path).resolve())
    if known.get(digest) != where:
        known[digest] = where
        index.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=index.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(known, f, indent=1)
        os.replace(tmp, index)
    return digest


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest(path: str | os.PathLike[str]) -> str:
    """:func:`file_digest`, hashed once per process while the file's size and mtime hold
    (k-fold and compare build a coop head per member; a checkpoint is hundreds of MB)."""
    if not os.path.isfile(path):
        return file_digest(path)  # raises WeightsError naming the file
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(path)
    return _DIGESTS[key]


def _read_index(index: Path) -> dict[str, str]:
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_weights(digest: str, hint: str | os.PathLike[str] | None = None) -> str | None:
    """A local file with this digest: ``hint`` if it has it, else the index's entry.

    ``digest`` :data:`RANDOM_ID` gives ``"random"``.
    """
    if digest == RANDOM_ID:
        return RANDOM
    candidates = [hint] if hint else []
    candidates.append(_read_index(_weights_index()).get(digest))
    for path in candidates:
        if path and os.path.isfile(path) and _digest(path) == digest:
            return str(path)
    return None


_TEXT_CACHE: dict[tuple[str, str], ClipTextEncoder] = {}


def clip_text_encoder(
    model_name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    digest: str | None = None,
    where: str = "--weights",
) -> ClipTextEncoder:
    """The text encoder of open_clip model ``model_name`` with the right local weights.

    Built once per (model, weights digest) in a process and shared: callers that move or
    change the model must copy it first.

    Args:
        model_name: open_clip model name (``"MobileCLIP2-S0"``; a ``clip:`` prefix is dropped).
        weights: Local open_clip checkpoint, or ``"random"``; ``None``: found by ``digest``.
        digest: The weights digest the features were made with (a store's backbone
            identity); a given ``weights`` file must have it.
        where: Names the source of the request in errors.

    Raises:
        WeightsError: no file found for the digest, or a file with another digest.
    """
    name = model_name.removeprefix("clip:")
    if weights is None:
        found = find_weights(digest) if digest else None
        if found is None:
            raise WeightsError(
                f"{where}: the text side of clip:{name} needs its open_clip checkpoint"
                + (f" (weights digest {digest})" if digest else "")
                + "; give the file with --weights PATH (zeroshot, predict, evaluate) or "
                "--head-option weights=PATH (train); vidscope never downloads weights"
            )
        weights = found
    key = RANDOM_ID if str(weights) == RANDOM else remember_weights(weights)
    if digest is not None and key != digest:
        raise WeightsError(
            f"--weights {weights} has digest {key}, but the features were made with weights "
            f"{digest}; pass the checkpoint they were extracted with"
        )
    if (name, key) not in _TEXT_CACHE:
        model = create_clip_model(name, weights, f"clip:{name}")
        encoder = ClipTextEncoder(model, name)
        encoder.digest = key
        _TEXT_CACHE[(name, key)] = encoder
    return _TEXT_CACHE[(name, key)]


def clip_text_width(model_name: str) -> int:
    """Width W of the text tower's token embeddings, from the open_clip config.

    Raises:
        ConfigError: for a model name open_clip does not know.
    """
    name = model_name.removeprefix("clip:")
    cfg = open_clip_config(name)
    if not cfg:
        raise ConfigError(f"clip:{name}: not an open_clip model name (see open_clip.list_models())")
    return int(cfg["text_cfg"].get("width", 512))


def clip_embed_dim(model_name: str) -> int:
    """E, the width of the model's image and text embeddings (its config's ``embed_dim``)."""
    name = model_name.removeprefix("clip:")
    clip_text_width(name)  # raises for unknown names
    return int(open_clip_config(name)["embed_dim"])


@functools.lru_cache(maxsize=8)
def clip_tokenizer(model_name: str) -> Any:
    """open_clip's tokenizer of the model (built once per process: loading the BPE merges
    takes about a second)."""
    import open_clip

    return open_clip.get_tokenizer(model_name.removeprefix("clip:"))
