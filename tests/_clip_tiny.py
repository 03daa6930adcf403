"""Small random open_clip models from real configs, saved as local checkpoints.

No CLIP weights can be downloaded, so tests shrink real open_clip configs in width and depth
and register them with open_clip (``open_clip.add_model_config``) under new names; the random
weights are saved as a ``.safetensors`` file and loaded through the same ``--weights PATH``
code users run. The real CLIP tokenizer (open_clip's bundled BPE vocabulary) is used.

- ``vidscope-tiny-ViT-B-32``: ``ViT-B-32``'s config (plain ``CLIP`` class, causal text mask,
  projection matrix), shrunk.
- ``vidscope-tiny-MobileCLIP2-S0``: ``MobileCLIP2-S0``'s text config (``CustomTextCLIP``,
  ``no_causal_mask``), shrunk; its FastViT image tower is swapped for a tiny ViT to keep tests
  fast (only the text side matters to prompt learning).
- ``vidscope-tiny-MobileCLIP-linear``: as above with ``proj_bias`` (an ``nn.Linear``
  projection).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

PLAIN = "vidscope-tiny-ViT-B-32"
MOBILE = "vidscope-tiny-MobileCLIP2-S0"
LINEAR = "vidscope-tiny-MobileCLIP-linear"
ALL = (PLAIN, MOBILE, LINEAR)
EMBED = 32
TINY_VISION = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16}
TINY_TEXT = {"width": 32, "heads": 2, "layers": 2}


def tiny_configs() -> dict[str, dict[str, Any]]:
    """The shrunk configs, keyed by their registered names."""
    import open_clip

    plain = copy.deepcopy(open_clip.get_model_config("ViT-B-32"))
    mobile = copy.deepcopy(open_clip.get_model_config("MobileCLIP2-S0"))
    assert mobile["custom_text"] and mobile["text_cfg"]["no_causal_mask"]
    for cfg in (plain, mobile):
        cfg["embed_dim"] = EMBED
        cfg["vision_cfg"] = dict(TINY_VISION)
        cfg["text_cfg"].update(TINY_TEXT)
    linear = copy.deepcopy(mobile)
    linear["text_cfg"]["proj_bias"] = True
    return {PLAIN: plain, MOBILE: mobile, LINEAR: linear}


def register_tiny(folder: Path) -> None:
    """Write the configs as ``<name>.json`` into ``folder`` and add them to open_clip."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    for name, cfg in tiny_configs().items():
        (folder / f"{name}.json").write_text(json.dumps(cfg))
    if not all(n in open_clip.list_models() for n in ALL):
        open_clip.add_model_config(folder)


def save_checkpoint(name: str, path: Path, seed: int = 0) -> Path:
    """A random model ``name`` saved as an open_clip state dict (``.safetensors``)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.create_model(name, pretrained=None)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path))
    return path


def near_text(text: np.ndarray, y: np.ndarray, t: int, *, noise: float, seed: int) -> np.ndarray:
    """Frame features ``[N, t, E]`` drawn around the text embedding of each sample's class."""
    rng = np.random.default_rng(seed)
    x = text[y][:, None, :] + noise * rng.standard_normal((len(y), t, text.shape[1]))
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
