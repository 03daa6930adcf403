"""Neural heads in ONNX Runtime, so ``predict``/``evaluate``/``timeline`` need no torch.

At the end of training (and on first use of an older run) each neural head is exported to
``model.onnx`` with a variable batch and length and the padding mask as an input, then checked
against the torch head on the run's own validation sequences: the largest absolute logit
difference is recorded in ``model.onnx.json`` and the ONNX graph is used only when it is within
:data:`TOLERANCE`. Loading an ONNX head imports onnxruntime and numpy, never torch.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..data import pad
from ..features import atomic_write, atomic_write_json

ONNX_FILE = "model.onnx"
CHECK_FILE = "model.onnx.json"
#: Largest |logit difference| between ONNX Runtime and torch for the graph to be used.
TOLERANCE = 1e-5
OPSET = 17


class OnnxHead:
    """A head exported to ONNX: ``logits(x [B, T, D], mask [B, T]) -> [B, C]`` in numpy."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.path = path
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def logits(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = self.session.run(
            None, {"x": np.ascontiguousarray(x, np.float32), "mask": np.ascontiguousarray(mask)}
        )
        return np.asarray(out[0], dtype=np.float64)


def export_head(head: Any, folder: Path, sequences: list[np.ndarray]) -> dict[str, Any]:
    """Export ``head`` to ``folder/model.onnx``, check it on ``sequences`` (``[T_i, D]``), and
    record the check in ``folder/model.onnx.json``. A graph that fails to export or to match
    is not kept (the run then scores with torch) and the reason is recorded.

    Returns:
        The check record: ``ok``, ``max_abs_diff``, ``sequences``, ``tolerance``, ``reason``.
    """
    import torch

    record: dict[str, Any] = {"tolerance": TOLERANCE, "opset": OPSET, "torch": torch.__version__}
    onnx_path = folder / ONNX_FILE
    try:
        _export(head, onnx_path, sequences)
        diff = _max_diff(head, OnnxHead(onnx_path), sequences)
        record.update(ok=bool(diff <= TOLERANCE), max_abs_diff=diff, sequences=len(sequences))
        if not record["ok"]:
            record["reason"] = f"ONNX logits differ from torch by {diff:.3g} > {TOLERANCE:g}"
    except Exception as exc:  # an op without an ONNX form: keep torch, say why
        record.update(ok=False, reason=f"{type(exc).__name__}: {str(exc)[:300]}")
    if not record["ok"]:
        onnx_path.unlink(missing_ok=True)
    atomic_write_json(folder / CHECK_FILE, record)
    return record


def _export(head: Any, path: Path, sequences: list[np.ndarray]) -> None:
    import io

    import torch

    x, mask = pad([s.astype(np.float32) for s in sequences[:4]])
    buf = io.BytesIO()
    head.eval()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # fused encoder kernels have no ONNX form
    try:
        _trace(head, x, mask, buf)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def _trace(head: Any, x: np.ndarray, mask: np.ndarray, buf: Any) -> None:
    import torch

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            head,
            (torch.from_numpy(x), torch.from_numpy(mask)),
            buf,
            input_names=["x", "mask"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}, "logits": {0: "b"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _max_diff(head: Any, onnx: OnnxHead, sequences: list[np.ndarray]) -> float:
    """Largest |logit difference| over padded batches and single sequences."""
    import torch

    batches = [sequences[i : i + 32] for i in range(0, len(sequences), 32)]
    batches += [[s] for s in sequences[:8]]  # batch 1, no padding, several lengths
    worst = 0.0
    for batch in batches:
        x, mask = pad([s.astype(np.float32) for s in batch])
        with torch.inference_mode():
            ref = head(torch.from_numpy(x), torch.from_numpy(mask)).double().numpy()
        worst = max(worst, float(np.abs(onnx.logits(x, mask) - ref).max()))
    return worst


def load_onnx_head(folder: Path) -> OnnxHead | None:
    """The checked ONNX head of a run member, or ``None`` (none exported, failed its check,
    onnxruntime missing, or ``VIDSCOPE_HEAD_RUNTIME=torch``)."""
    if os.environ.get("VIDSCOPE_HEAD_RUNTIME", "auto") == "torch":
        return None
    check = folder / CHECK_FILE
    if not (folder / ONNX_FILE).is_file() or not check.is_file():
        return None
    try:
        ok = json.loads(check.read_text(encoding="utf-8")).get("ok") is True
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    if not ok:
        return None
    try:
        return OnnxHead(folder / ONNX_FILE)
    except ImportError:
        return None


def probe_sequences(num_features: int, n: int = 12, seed: int = 0) -> list[np.ndarray]:
    """Random ``[T, D]`` sequences of lengths 1..16 for checking an older run's export."""
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((int(t), num_features)).astype(np.float32)
        for t in rng.integers(1, 17, n)
    ]


def probabilities(logits: np.ndarray, binary: bool) -> np.ndarray:
    """Binary: ``[N]`` sigmoid of the one logit; multi-class: ``[N, C]`` softmax (numpy)."""
    if binary:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
