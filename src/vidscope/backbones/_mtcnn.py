"""MTCNN face detection (Zhang et al. 2016) in PyTorch, ported from the ``mtcnn`` 1.0.0 package.

The pretrained weights are the Keras arrays shipped in the ``mtcnn`` wheel
(``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``, joblib dumps; MIT licence). The package's own
code imports TensorFlow, so it is never imported: its folder is found with
:func:`importlib.util.find_spec` and only the weight files are read.

The pipeline reproduces ``mtcnn.MTCNN().detect_faces`` (version 1.0.0) step by step: the image
is normalised to ``(x - 127.5) / 128``, shrunk over a pyramid with TensorFlow's area resize,
P-Net proposals are regressed, suppressed per scale and across scales, made square, and refined
by R-Net (24 px crops) and O-Net (48 px crops, 5 landmarks) with TensorFlow's
``crop_and_resize`` sampling. Non-maximum suppression is upstream's variant: a box is dropped
when *any* better-scored box (kept or not) overlaps it by more than the threshold.

Coordinates are image pixels, ``x`` to the right and ``y`` down, boxes ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

WEIGHT_FILES = ("pnet.lz4", "rnet.lz4", "onet.lz4")


def weights_dir() -> Path:
    """Folder holding the ``mtcnn`` package's Keras weights (the package is not imported).

    Raises:
        ImportError: when the ``mtcnn`` package is not installed.
    """
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the emotion backbone's face detector reads MTCNN's weights from the mtcnn package: "
            "pip install mtcnn"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def load_keras_weights(name: str, folder: Path | None = None) -> list[np.ndarray]:
    """The Keras weight list of ``pnet``/``rnet``/``onet`` (in layer creation order).

    Raises:
        ImportError: without ``mtcnn`` or its dependencies ``joblib`` and ``lz4``.
    """
    path = Path(folder or weights_dir()) / name
    try:
        import joblib
        import lz4  # noqa: F401  (joblib needs it to read .lz4 dumps)
    except ImportError as e:
        raise ImportError(f"reading {path} needs joblib and lz4: pip install mtcnn") from e
    return [np.asarray(a, np.float32) for a in joblib.load(path)]


def weights_digest(folder: Path | None = None) -> str:
    """Hex sha256 of the three weight files, for store identities."""
    digest = hashlib.sha256()
    for name in WEIGHT_FILES:
        digest.update((Path(folder or weights_dir()) / name).read_bytes())
    return digest.hexdigest()


def _pool_same(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """Max pooling with TensorFlow's ``'same'`` padding (odd padding goes bottom/right)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    if pads[0] == pads[2] == 0:  # at most one column/row after: ceil_mode pools it alike
        return F.max_pool2d(x, k, s, ceil_mode=True)
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), k, s)


class _KerasNet(nn.Module):
    """A network whose parameters are registered in the order of the Keras weight list."""

    @torch.no_grad()
    def load_keras(self, arrays: list[np.ndarray]) -> None:
        """Copy Keras arrays in: conv HWIO -> OIHW, dense ``(in, out)`` -> ``(out, in)``.

        Raises:
            ValueError: when the count or a shape does not match.
        """
        params = list(self.parameters())
        if len(params) != len(arrays):
            raise InputError(f"{type(self).__name__}: {len(arrays)} arrays for {len(params)}")
        for p, a in zip(params, arrays, strict=True):
            t = torch.from_numpy(np.ascontiguousarray(a, np.float32))
            if t.ndim == 4:
                t = t.permute(3, 2, 0, 1)
            elif t.ndim == 2:
                t = t.T
            elif t.ndim == 3:  # PReLU alpha shared over H, W: (1, 1, C)
                t = t.reshape(-1)
            if t.shape != p.shape:
                raise InputError(f"{type(self).__name__}: {tuple(a.shape)} does not fit {p.shape}")
            p.copy_(t)


def _flatten_keras(x: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` flattened as Keras' ``Permute((2, 1, 3))`` + ``Flatten`` on NHWC."""
    return x.permute(0, 3, 2, 1).flatten(1)


class PNet(_KerasNet):
    """Proposal net: normalised ``[N, 3, H, W]`` -> offsets ``[N, 4, h, w]``, prob ``[N, h, w]``.

    Output cell ``(i, j)`` sees the 12 px window at ``(2j, 2i)`` of the input.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 4, 1), nn.Conv2d(32, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _pool_same(self.prelu1(self.conv1(x)), 2, 2)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x), torch.softmax(self.conv4_2(x), 1)[:, 1]


class RNet(_KerasNet):
    """Refine net: ``[N, 3, 24, 24]`` crops -> box offsets ``[N, 4]``, face prob ``[N]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.fc5_1, self.fc5_2 = nn.Linear(128, 4), nn.Linear(128, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _pool_same(self.prelu1(self.conv1(x)), 3, 2)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2)
        x = self.prelu4(self.fc4(_flatten_keras(self.prelu3(self.conv3(x)))))
        return self.fc5_1(x), torch.softmax(self.fc5_2(x), 1)[:, 1]


class ONet(_KerasNet):
    """Output net: ``[N, 3, 48, 48]`` -> offsets ``[N, 4]``, landmarks ``[N, 10]``, prob ``[N]``.

    Landmarks are fractions of the crop, ``x0..x4`` then ``y0..y4``, in the order: eye on the
    image left (the subject's right eye), the other eye, nose, mouth corner on the image left,
    the other mouth corner.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.fc6_1 = nn.Linear(256, 4)
        self.fc6_2 = nn.Linear(256, 10)
        self.fc6_3 = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _pool_same(self.prelu1(self.conv1(x)), 3, 2)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2)
        x = _pool_same(self.prelu3(self.conv3(x)), 2, 2)
        x = self.prelu5(self.fc5(_flatten_keras(self.prelu4(self.conv4(x)))))
        return self.fc6_1(x), self.fc6_2(x), torch.softmax(self.fc6_3(x), 1)[:, 1]


def _area_taps(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """TensorFlow ``resize_area`` along one axis: source indices and weights, ``[n_out, K]``."""
    s = np.float32(n_in / np.float32(n_out))
    o = np.arange(n_out, dtype=np.float32)
    lo, hi = o * s, (o + 1) * s
    start, end = np.floor(lo).astype(np.int64), np.ceil(hi).astype(np.int64)
    i = start[:, None] + np.arange((end - start).max())[None]  # [n_out, K]
    f = i.astype(np.float32)
    inside = np.where(f + 1 > hi[:, None], hi[:, None] - f, np.float32(1))
    first = np.where(f + 1 > hi[:, None], s, f + 1 - lo[:, None])
    w = np.where(f < lo[:, None], first, inside) * (i < end[:, None]) / s
    return torch.from_numpy(np.clip(i, 0, n_in - 1)), torch.from_numpy(w.astype(np.float32))


def _resize_rows(img: torch.Tensor, size: int) -> torch.Tensor:
    """Area resize of ``[C, n, m]`` along ``n`` (row gathers are contiguous copies)."""
    idx, w = _area_taps(img.shape[1], size)
    out = img.index_select(1, idx[:, 0]) * w[:, 0].view(1, -1, 1)
    for k in range(1, idx.shape[1]):
        out.addcmul_(img.index_select(1, idx[:, k]), w[:, k].view(1, -1, 1))
    return out


def resize_area(img: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``float32 [C, H, W]`` -> ``[C, height, width]`` as ``tf.image.resize(..., "area")``."""
    cols = _resize_rows(img, height).transpose(1, 2).contiguous()
    return _resize_rows(cols, width).transpose(1, 2).contiguous()


def crop_and_resize(img: torch.Tensor, boxes: np.ndarray, size: int) -> torch.Tensor:
    """``tf.image.crop_and_resize`` of ``float32 [H, W, C]`` at pixel boxes ``[N, 4]``.

    Boxes are normalised by ``W``/``H`` in float32 as upstream does; samples outside the image
    are 0. Returns ``[N, size, size, C]``.
    """
    h, w = img.shape[:2]
    norm = (boxes[:, [1, 0, 3, 2]] / np.array([h, w, h, w])).astype(np.float32)
    steps = np.arange(size, dtype=np.float32)[None]

    def axis(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
        n1 = np.float32(n - 1)
        pos = a[:, None] * n1 + steps * ((b - a) * n1 / (size - 1))[:, None]
        ok = (pos >= 0) & (pos <= n - 1)
        lo, hi = np.floor(pos), np.ceil(pos)
        ids = [np.clip(v, 0, n - 1).astype(np.int64) for v in (lo, hi)]
        return torch.from_numpy(ids[0]), torch.from_numpy(ids[1]), torch.from_numpy(pos - lo), ok

    y0, y1, ly, oky = axis(norm[:, 0], norm[:, 2], h)
    x0, x1, lx, okx = axis(norm[:, 1], norm[:, 3], w)
    lx, ly = lx[:, None, :, None], ly[:, :, None, None]

    def at(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        return img[ys[:, :, None], xs[:, None, :]]  # [N, size, size, C]

    top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * lx
    bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * lx
    out = top + (bottom - top) * ly
    return out * torch.from_numpy(oky[:, :, None] & okx[:, None, :])[..., None]


def nms(boxes: np.ndarray, threshold: float, method: str = "union", chunk: int = 512) -> np.ndarray:
    """Indices kept by upstream's NMS of ``[N, 4+]`` boxes already sorted best first.

    Box ``j`` is kept when no earlier box overlaps it by more than ``threshold`` (intersection
    over union, or over the smaller area for ``method="min"``), suppressed or not.
    """
    b = boxes[:, :4]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = np.ones(len(b), bool)
    for j0 in range(0, len(b), chunk):
        j = slice(j0, min(j0 + chunk, len(b)))
        i = slice(0, j.stop)
        lo = np.maximum(b[i, None, :2], b[None, j, :2])
        inter = np.prod(np.maximum(0, np.minimum(b[i, None, 2:], b[None, j, 2:]) - lo), -1)
        if method == "min":
            den = np.minimum(area[i, None], area[None, j])
        else:
            den = area[i, None] + area[None, j] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            over = inter / den > threshold
        earlier = np.arange(j.stop)[:, None] < np.arange(j.start, j.stop)[None]
        keep[j] = ~(over & earlier).any(0)
    return np.flatnonzero(keep)


def _best_first(boxes: np.ndarray) -> np.ndarray:
    return boxes[np.argsort(boxes[:, 4])[::-1]]


def _square(boxes: np.ndarray) -> np.ndarray:
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2], b[:, 3] = b[:, 0] + side, b[:, 1] + side
    return b


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Shift ``x1, y1, x2, y2`` by ``offsets * (w + 1, h + 1)`` (upstream's box calibration)."""
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
    b[:, :4] += offsets * np.stack([w, h, w, h], 1)
    return b


class MTCNN:
    """P-Net -> R-Net -> O-Net with upstream's defaults (``mtcnn`` 1.0.0 ``detect_faces``).

    Args:
        min_face_size: Smallest face side (px) the pyramid looks for.
        scale_factor: Ratio between pyramid levels.
        thresholds: Face probability cut of P-Net, R-Net and O-Net.
        nms: IoU limits of P-Net within a scale, across scales, R-Net, and O-Net (``min``).
        folder: Where the ``.lz4`` weights are (default: the installed ``mtcnn`` package).
    """

    def __init__(self, *, min_face_size: float = 20, scale_factor: float = 0.709,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
                 nms: tuple[float, float, float, float] = (0.5, 0.7, 0.7, 0.7),
                 folder: Path | None = None) -> None:  # fmt: skip
        self.min_face_size, self.scale_factor = min_face_size, scale_factor
        self.thresholds, self.nms_limits = thresholds, nms
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        for net, name in zip((self.pnet, self.rnet, self.onet), WEIGHT_FILES, strict=True):
            net.load_keras(load_keras_weights(name, folder))
            net.eval().requires_grad_(False)

    def scales(self, width: int, height: int) -> np.ndarray:
        """Pyramid scales, computed as upstream (``min_size`` 12 px, P-Net's window)."""
        n = round(-((np.log(min(width, height) / 12) / np.log(self.scale_factor)) + 1))
        scales = 12 / self.min_face_size * self.scale_factor ** np.arange(max(n, 0))
        # upstream's count ignores min_face_size: drop levels smaller than P-Net's 12 px window
        return scales[min(width, height) * scales >= 12]

    @torch.inference_mode()
    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Faces in ``uint8 [H, W, 3]`` RGB, best first.

        Returns:
            ``float64 [K, 5]`` rows ``x1, y1, x2, y2, score`` (box clipped to the image, as
            upstream's ``fit_to_image``) and ``float64 [K, 5, 2]`` landmarks ``(x, y)`` in
            :class:`ONet`'s order (landmarks are not clipped).
        """
        h, w = image.shape[:2]
        img = torch.from_numpy(np.ascontiguousarray(image)).float().sub_(127.5).div_(128)
        boxes = self._stage1(img, w, h)
        if len(boxes):
            boxes = self._stage2(img, boxes)
        if not len(boxes):
            return np.empty((0, 5)), np.empty((0, 5, 2))
        boxes, marks = self._stage3(img, boxes)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w - 1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h - 1)
        return boxes, marks

    def _stage1(self, img: torch.Tensor, w: int, h: int) -> np.ndarray:
        found = []
        chw = img.permute(2, 0, 1).contiguous()
        for scale in self.scales(w, h):
            size = np.asarray([h, w]) * scale  # truncated to int, as tf.image.resize does
            x = resize_area(chw, int(size[0]), int(size[1]))[None]
            reg, prob = (t[0].numpy() for t in self.pnet(x))
            ys, xs = np.nonzero(prob > self.thresholds[0])
            r = reg[:, ys, xs].astype(np.float64)  # [4, n]
            b = np.stack([2 * xs + 1 + r[0] * 11, 2 * ys + 1 + r[1] * 11,
                          2 * xs + 12 + r[2] * 11, 2 * ys + 12 + r[3] * 11,
                          prob[ys, xs]], 1)  # fmt: skip
            b = _best_first(b)
            b[:, :4] /= scale
            found.append(b[nms(b, self.nms_limits[0])])
        boxes = _best_first(np.concatenate(found)) if found else np.empty((0, 5))
        return _square(boxes[nms(boxes, self.nms_limits[1])])

    def _stage2(self, img: torch.Tensor, boxes: np.ndarray) -> np.ndarray:
        crops = crop_and_resize(img, boxes, 24).permute(0, 3, 1, 2)
        offsets, prob = (t.numpy().astype(np.float64) for t in self.rnet(crops))
        boxes = _refine(np.concatenate([boxes[:, :4], prob[:, None]], 1), offsets)
        boxes = _best_first(boxes[prob > self.thresholds[1]])
        return _square(boxes[nms(boxes, self.nms_limits[2])])

    def _stage3(self, img: torch.Tensor, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops = crop_and_resize(img, boxes, 48).permute(0, 3, 1, 2)
        offsets, marks, prob = (t.numpy().astype(np.float64) for t in self.onet(crops))
        w, h = boxes[:, 2:3] - boxes[:, 0:1] + 1, boxes[:, 3:4] - boxes[:, 1:2] + 1
        marks = np.stack([w * marks[:, :5] + boxes[:, 0:1] - 1,
                          h * marks[:, 5:] + boxes[:, 1:2] - 1], 2)  # fmt: skip
        boxes = _refine(np.concatenate([boxes[:, :4], prob[:, None]], 1), offsets)
        ok = prob > self.thresholds[2]
        boxes, marks = boxes[ok], marks[ok]
        order = np.argsort(boxes[:, 4])[::-1]
        boxes, marks = boxes[order], marks[order]
        keep = nms(boxes, self.nms_limits[3], "min")
        return boxes[keep], marks[keep]
