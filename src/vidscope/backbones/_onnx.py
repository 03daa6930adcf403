"""ONNX Runtime execution of a torch backbone: export once, cache by weights, check on load."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import WeightsError
from ._base import Preprocess

#: Largest allowed |onnx - torch| relative to the largest |torch| feature.
TOLERANCE = 1e-3


def cache_dir() -> Path:
    """Where exported models live: ``$VIDSCOPE_CACHE`` or ``~/.cache/vidscope``."""
    root = os.environ.get("VIDSCOPE_CACHE") or Path.home() / ".cache" / "vidscope"
    return Path(root) / "onnx"


class OnnxRunner:
    """Callable ``uint8 [N, H, W, 3] -> float32 [N, D]`` backed by an ONNX Runtime session.

    The model is exported from ``module`` the first time a given identity is seen and cached
    as ``<cache>/<key>.onnx``; every time it is loaded its output is compared with the torch
    module's on a fixed random batch and a mismatch beyond :data:`TOLERANCE` is an error.
    """

    def __init__(
        self, module: torch.nn.Module, identity: dict[str, object], pre: Preprocess, threads: int
    ) -> None:
        import onnxruntime as ort

        h, w = pre.input_size
        key = json.dumps(
            {**identity, "torch": torch.__version__, "format": 1}, sort_keys=True, default=str
        )
        path = cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.onnx"
        if not path.exists():
            _export(module, path, h, w)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.path = path
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._check(module, h, w)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {"frames": np.ascontiguousarray(frames)})[0]
        return out.astype(np.float32, copy=False)

    def _check(self, module: torch.nn.Module, h: int, w: int) -> None:
        x = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        with torch.inference_mode():
            ref = module.cpu()(torch.from_numpy(x)).numpy()
        got = self(x)
        err = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-6))
        if not err <= TOLERANCE:
            raise WeightsError(
                f"ONNX export {self.path} differs from the torch model (relative error {err:.2e}"
                f" > {TOLERANCE:g}); delete it to re-export, or use --runtime torch"
            )


def _export(module: torch.nn.Module, path: Path, h: int, w: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, h, w, 3, dtype=torch.uint8)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.cpu().eval(),
                (example,),
                tmp,
                input_names=["frames"],
                output_names=["features"],
                dynamic_axes={"frames": {0: "n"}, "features": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
