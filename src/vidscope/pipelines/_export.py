"""``export``: a run as ONE ONNX graph (frames or features in, class scores out) + a sidecar.

The frames graph takes ``uint8 [T, H, W, 3]`` frames at the backbone's input size (sampled
and sized as ``OUT.json`` says) and holds everything vidscope does after decoding: mean/std
normalisation and the NHWC -> NCHW change, the backbone, the store's feature precision, every
member's temporal head (a k-fold run's members averaged) and the sigmoid/softmax. The features
graph (``from_features=True``) starts at ``float32 [T, D]`` features. Output: ``scores``
``float32 [C]``, one probability per class in ``OUT.json``'s ``classes`` order.

Before anything is written the graph is run in ONNX Runtime on real clips and compared with
the vidscope pipeline (extraction with the run's extractor + ``Run.predict``); a difference
above :data:`TOLERANCE` raises :class:`~vidscope.errors.RunError` and no file is left behind.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, RunError
from ..features import atomic_write, atomic_write_json, open_store
from ..training import Run, build_backbone, extractor_for, load_run

#: Largest |score difference| between the exported graph and the vidscope pipeline.
TOLERANCE = 1e-4
OPSET = 17
#: Clips the export is checked on (the first ones of ``check``).
MAX_CHECK = 4


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and how well it matched.

    Attributes:
        onnx: The graph file.
        sidecar: Its JSON sidecar (classes, threshold, sampling, input size, ...).
        max_abs_diff: Largest |score difference| against the vidscope pipeline.
        checked: Ids of the clips it was checked on.
    """

    onnx: Path
    sidecar: Path
    max_abs_diff: float
    checked: list[str]


def export(
    run: str | os.PathLike[str] | Run,
    out: str | os.PathLike[str],
    *,
    check: str | os.PathLike[str] | list[str],
    from_features: bool = False,
    weights: str | None = None,
) -> ExportResult:
    """Export ``run`` as one ONNX graph, checked against the vidscope pipeline.

    Args:
        run: A run directory (or loaded run) of a feature head (``vidscope train``).
        out: The ``.onnx`` file to write; the sidecar goes next to it as ``.json``.
        check: Real clips to check the graph on (a feature store whose manifest names its
            videos, a folder, a list/CSV file, a video, or paths); the first
            :data:`MAX_CHECK` are used. With ``from_features`` a ``.npy`` folder works too.
        from_features: Export features ``[T, D]`` -> scores (no backbone).
        weights: Backbone weights file, for backbones that take ``--weights``.

    Raises:
        RunError: a part of the run has no ONNX form (named), or the graph's scores
            differ from the pipeline's by more than :data:`TOLERANCE`.
        ConfigError: ``out`` does not end in ``.onnx``.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ConfigError(f"OUT {out}: the graph file must end in .onnx")
    path = run.path if isinstance(run, Run) else Path(run)
    with _torch_heads():
        loaded = load_run(path)  # members as torch modules, whatever runtime scores them
    heads = _heads(loaded)
    backbone = None if from_features else _frames_backbone(loaded, weights)
    graph = _build(loaded, heads, backbone)
    model = _trace(graph, loaded, backbone)
    diff, ids = _check(loaded, model, backbone, check, weights)
    sidecar = out.with_suffix(".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: f.write(model))
    atomic_write_json(sidecar, _sidecar(loaded, backbone, diff, ids))
    return ExportResult(out, sidecar, diff, ids)


@contextmanager
def _torch_heads() -> Any:
    old = os.environ.get("VIDSCOPE_HEAD_RUNTIME")
    os.environ["VIDSCOPE_HEAD_RUNTIME"] = "torch"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VIDSCOPE_HEAD_RUNTIME", None)
        else:
            os.environ["VIDSCOPE_HEAD_RUNTIME"] = old


def _heads(run: Run) -> list[Any]:
    """The members' torch heads, or an error naming the head that has no ONNX form."""
    import json

    import torch

    what = f"run {run.path}: head {run.spec.head!r}"
    if not hasattr(run.members[0].trainer, "score_padded") or run.spec.num_features == 0:
        raise RunError(f"{what} scores raw clips, not features: it has no ONNX export")
    heads = []
    for i, member in enumerate(run.members):
        if hasattr(member.model, "torch_module"):  # numpy heads with a torch form
            heads.append(member.model.torch_module())
            continue
        if not isinstance(member.model, torch.nn.Module):
            kind = type(member.model).__name__
            raise RunError(
                f"{what} ({kind}) has no ONNX form; export a neural head (e.g. --head mlp)"
            )
        folder = run.path / run.spec.folds[i] if run.spec.folds else run.path
        check = folder / "model.onnx.json"
        if check.is_file():
            record = json.loads(check.read_text(encoding="utf-8"))
            if record.get("ok") is False:
                raise RunError(f"{what} has no ONNX form: {record.get('reason')}")
        heads.append(member.model.eval())
    return heads


def _frames_backbone(run: Run, weights: str | None) -> Any:
    """The run's backbone as a torch backbone whose ``module`` maps uint8 frames to features."""
    name = run.spec.store.backbone_name
    if run.spec.store.is_npy:
        raise RunError(
            f"run {run.path} was trained on a .npy folder: its backbone is unknown, so only "
            "--from-features can be exported"
        )
    built = build_backbone(run, extractor_for(run, weights=weights))
    inner = getattr(built, "image", built)  # CLIP: the image side
    torch_bb = inner.torch() if hasattr(inner, "torch") else inner
    module = getattr(torch_bb, "module", None)
    if len(built.parts) > 1 or built.needs_next_frame or built.clip_frames or module is None:
        why = "it fuses several encoders" if len(built.parts) > 1 else "it is not one torch model"
        if built.needs_next_frame:
            why = "it compares each frame with the next one"
        if built.clip_frames:
            why = f"it encodes windows of {built.clip_frames} frames, not frames"
        raise RunError(
            f"backbone {name!r} has no ONNX form as one graph ({why}); "
            "export the head alone with --from-features"
        )
    if built.preprocess.resize in ("keep_aspect", "short_side"):
        raise RunError(
            f"backbone {name!r} resizes frames with {built.preprocess.resize!r}, which the "
            "exported graph does not cover yet; export the head alone with --from-features"
        )
    return torch_bb


def _build(run: Run, heads: list[Any], backbone: Any) -> Any:
    """The torch module to trace: input -> ``[C]`` class probabilities."""
    import torch

    f16 = run.spec.store.dtype == "float16"

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = None if backbone is None else backbone.module.eval()
            self.heads = torch.nn.ModuleList(heads)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats = x if self.backbone is None else self.backbone(x)  # [T, D]
            if f16:  # the store keeps float16 features: round as it does
                feats = feats.half()
            feats = feats.float().unsqueeze(0)  # [1, T, D]
            mask = torch.ones_like(feats[..., 0], dtype=torch.bool)  # [1, T]
            probs = []
            for head in self.heads:
                logits = head(feats, mask)[0]  # [C] or [1]
                if run.binary:
                    p = torch.sigmoid(logits)
                    probs.append(torch.cat([1 - p, p]))
                else:
                    probs.append(torch.softmax(logits, dim=-1))
            return torch.stack(probs).mean(0)  # [C]

    return Graph().eval()


def _trace(graph: Any, run: Run, backbone: Any) -> bytes:
    import io
    import warnings

    import torch

    if backbone is None:
        example = torch.zeros(3, int(run.spec.num_features))
        name = "features"
    else:
        h, w = backbone.preprocess.input_size
        example = torch.zeros(3, h, w, 3, dtype=torch.uint8)
        name = "frames"
    buf = io.BytesIO()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # fused kernels have no ONNX form
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, (example,), buf, input_names=[name], output_names=["scores"],
                dynamic_axes={name: {0: "t"}}, opset_version=OPSET, dynamo=False,
            )  # fmt: skip
    except Exception as exc:
        raise RunError(
            f"run {run.path}: head {run.spec.head!r} could not be exported to ONNX "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return buf.getvalue()


def _check(
    run: Run, model: bytes, backbone: Any, check: Any, weights: str | None
) -> tuple[float, list[str]]:
    """Largest |score difference| of the graph against ``run.predict`` on real clips."""
    if _is_store(check):
        return _compare(run, model, backbone, open_store(check))
    from ..features import extract, resolve_videos

    items = resolve_videos(check)[:MAX_CHECK]
    with tempfile.TemporaryDirectory(prefix="vidscope-export-") as tmp:
        ecfg = extractor_for(run, weights=weights)
        bb = build_backbone(run, ecfg)
        paths = [str(i.path.resolve()) for i in items]
        extract(paths, Path(tmp) / "store", ecfg, backbone=bb, progress=False)
        return _compare(run, model, backbone, open_store(Path(tmp) / "store"))


def _is_store(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    p = Path(source)
    return (p / "store.json").exists() or (p.is_dir() and any(p.rglob("*.npy")))


def _compare(run: Run, model: bytes, backbone: Any, store: Any) -> tuple[float, list[str]]:
    import onnxruntime as ort

    expected = run.predict(store)
    if "error" in expected:
        expected = expected[expected["error"].fillna("") == ""]
    ids = [str(v) for v in expected["id"]][:MAX_CHECK]
    if not ids:
        raise RunError(f"no clip of {store.root} could be scored to check the export")
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    cols = ["score"] if run.binary else [f"score_{c}" for c in run.classes]
    name = session.get_inputs()[0].name
    worst = 0.0
    for i, v in enumerate(ids):
        feats = store.load(v).features
        x = feats if backbone is None else _frames(run, backbone, store, v)
        got = session.run(None, {name: x})[0]
        want = expected.loc[expected["id"] == v, cols].to_numpy(np.float64)[0]
        worst = max(worst, float(np.abs(_scores(run, got) - want).max()))
        for t in sorted({1, len(x) // 2} - {0, len(x)}) if i == 0 else []:  # other lengths
            part = _scores(run, session.run(None, {name: x[:t]})[0])
            worst = max(worst, float(np.abs(part - run.scores([feats[:t]])[0]).max()))
    if not worst <= TOLERANCE:
        raise RunError(
            f"the exported graph's scores differ from vidscope's by {worst:.3g} > {TOLERANCE:g} "
            f"on {', '.join(ids)}; nothing was written"
        )
    return worst, ids


def _scores(run: Run, scores: np.ndarray) -> np.ndarray:
    """The graph's ``[C]`` scores as ``Run.scores`` gives them (binary: the positive one)."""
    return scores[1:] if run.binary else scores


def _frames(run: Run, backbone: Any, store: Any, video_id: str) -> np.ndarray:
    """``uint8 [T, H, W, 3]``: the frames the extractor encoded for ``video_id``."""
    from ..video import VideoReader

    row = store.rows[video_id]
    path = Path(row["path"])
    if not path.exists() and not path.is_absolute():
        path = Path(store.root) / path
    if not path.exists():
        raise RunError(f"{store.root}: video {path} of {video_id!r} is gone; check on videos")
    ecfg = extractor_for(run)
    kw: dict[str, Any] = {"seek": ecfg.seek}
    if ecfg.seek == "keyframe":
        kw["keyframe_tolerance_s"] = ecfg.keyframe_tolerance_s
        kw["keyframe_reach"] = ecfg.keyframe_reach
    with VideoReader(path, image_fps=ecfg.image_fps) as reader:
        info = reader.info
        times = ecfg.sampling.times(info.duration_s)
        size = backbone.preprocess.decode_size(info.width, info.height)
        batch = reader.read(times, size=size, **kw)
    return backbone.preprocess.prepare(batch.frames, info.width, info.height)


def _sidecar(run: Run, backbone: Any, diff: float, ids: list[str]) -> dict[str, Any]:
    from .. import __version__

    key = run.spec.store
    ecfg = extractor_for(run) if not key.is_npy else None
    out: dict[str, Any] = {
        "input": "features" if backbone is None else "frames",
        "output": "scores: float32 [C], one probability per class, in 'classes' order",
        "classes": list(run.classes),
        "positive_class": run.spec.positive_class,
        "threshold": run.threshold,
        "num_features": int(run.spec.num_features),
        "sampling": ecfg.sampling.to_dict() if ecfg else None,
        "seek": ecfg.seek if ecfg else None,
        "backbone": dict(key.backbone),
        "feature_dtype": key.dtype,
        "head": run.spec.head,
        "members": len(run.members),
        "check": {"max_abs_diff": diff, "tolerance": TOLERANCE, "clips": ids},
        "vidscope_version": __version__,
    }
    if backbone is not None:
        h, w = backbone.preprocess.input_size
        out["frames"] = {
            "input_size": [h, w],
            "layout": "uint8 [T, H, W, 3] RGB",
            "resize": backbone.preprocess.resize,
            "crop_pct": backbone.preprocess.crop_pct,
            "scale": "PyAV reformat, AREA when shrinking, BILINEAR when enlarging",
            "times": "t = 0 at the first frame; each sample is the frame on screen at t",
        }
    return out
