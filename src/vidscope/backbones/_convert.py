"""Turning a checkpoint (state dict or trusted pickled model) into ``.safetensors`` once."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import WeightsError


def convert_weights(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, trust_checkpoint: bool = False
) -> int:
    """Write the state dict of ``src`` to ``dst`` as safetensors; returns the tensor count.

    Args:
        src: ``.pth``/``.pt``/``.bin``/``.safetensors`` state dict, or a pickled whole model.
        dst: Output path (should end in ``.safetensors``); written atomically.
        trust_checkpoint: Required when ``src`` pickles objects other than tensors: loading it
            runs the file's code (``torch.load(weights_only=False)``). The output never does.

    Raises:
        WeightsError: unreadable or untrusted ``src``, or ``dst`` not ending in ``.safetensors``.
    """
    from safetensors.torch import save_file

    from ._weights import read_state_dict

    out = Path(dst)
    if out.suffix != ".safetensors":
        raise WeightsError(f"convert-weights: the output {out} must end in .safetensors")
    tensors = read_state_dict(src, trust_checkpoint=trust_checkpoint)
    # safetensors stores no shared or strided views: give every tensor its own memory
    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        save_file(plain, str(tmp), metadata={"source": Path(src).name})
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(plain)
