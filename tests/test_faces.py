"""MTCNN face detector (``_mtcnn`` + ``_faces``): upstream weights and results, real faces."""

from __future__ import annotations

import importlib.util
from itertools import islice

import numpy as np
import pytest

from vidscope.backbones import _mtcnn
from vidscope.backbones._faces import FaceDetector

from .conftest import REAL

MMA = REAL / "mma_demo_skeleton.mp4"
#: ``mtcnn`` 1.0.0 (TensorFlow) ``detect_faces(astronaut(), box_format="xyxy",
#: output_type="numpy")``: box, score, landmark x0..x4, y0..y4.
UPSTREAM_BOX = (181.598, 63.726, 264.553, 171.079)
UPSTREAM_SCORE = 0.999121
UPSTREAM_MARKS_X = (203.541, 245.409, 224.224, 201.789, 244.389)
UPSTREAM_MARKS_Y = (100.103, 102.238, 126.420, 138.587, 140.377)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()  # uint8 [512, 512, 3] RGB, one face


@pytest.fixture(scope="module")
def mma_frames() -> list[np.ndarray]:
    """Frames 0 and 36 of the two-fighter clip, fitted to the emotion backbone's 1280 px."""
    import av

    from vidscope.backbones._base import Preprocess
    from vidscope.backbones._emotion import WORK_SIZE

    if not MMA.exists():
        pytest.skip(f"{MMA} not found (a plain clone has no ../shared media)")
    with av.open(str(MMA)) as box:
        frames = [f.to_ndarray(format="rgb24") for f in islice(box.decode(video=0), 37)]
    pre = Preprocess(input_size=(WORK_SIZE, WORK_SIZE), resize="keep_aspect")
    return list(pre.fit(np.stack([frames[0], frames[36]])))


def test_weights_load_into_torch_layout():
    shapes = {
        "pnet.lz4": [(3, 3, 3, 10), (10,), (1, 1, 10)],
        "rnet.lz4": [(3, 3, 3, 28), (28,), (1, 1, 28)],
        "onet.lz4": [(3, 3, 3, 32), (32,), (1, 1, 32)],
    }
    for net, name in zip((_mtcnn.PNet(), _mtcnn.RNet(), _mtcnn.ONet()), shapes, strict=True):
        arrays = _mtcnn.load_keras_weights(name)
        assert [a.shape for a in arrays[:3]] == shapes[name]
        assert len(arrays) == len(list(net.parameters()))
        net.load_keras(arrays)
        # conv kernels HWIO -> OIHW, PReLU alphas (1, 1, C) -> (C,)
        np.testing.assert_array_equal(
            net.conv1.weight.detach().numpy(), arrays[0].transpose(3, 2, 0, 1)
        )
        np.testing.assert_array_equal(net.prelu1.weight.detach().numpy(), arrays[2].ravel())
    onet = _mtcnn.ONet()
    onet.load_keras(_mtcnn.load_keras_weights("onet.lz4"))
    assert tuple(onet.fc5.weight.shape) == (256, 1152)  # Keras dense (in, out) -> (out, in)
    with pytest.raises(ValueError, match="arrays for"):
        _mtcnn.PNet().load_keras(_mtcnn.load_keras_weights("rnet.lz4"))


def test_area_resize_averages_pixel_overlaps():
    import torch

    img = np.random.default_rng(1).random((3, 7, 10)).astype(np.float32)

    def overlaps(n_in: int, n_out: int) -> np.ndarray:  # [n_out, n_in] covered fractions
        s = n_in / n_out
        edges = np.arange(n_in + 1)
        lo = np.clip(np.arange(n_out)[:, None] * s, edges[:-1], edges[1:])
        hi = np.clip((np.arange(n_out)[:, None] + 1) * s, edges[:-1], edges[1:])
        return (hi - lo) / s

    want = np.einsum("yh,chw,xw->cyx", overlaps(7, 3), img, overlaps(10, 4))
    got = _mtcnn.resize_area(torch.from_numpy(img), 3, 4).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_missing_mtcnn_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install mtcnn"):
        FaceDetector()


def test_astronaut_one_face_matches_upstream(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    np.testing.assert_allclose(face.box, UPSTREAM_BOX, atol=0.01)
    assert face.score == pytest.approx(UPSTREAM_SCORE, abs=1e-4)
    np.testing.assert_allclose(
        face.right_eye, (UPSTREAM_MARKS_X[0], UPSTREAM_MARKS_Y[0]), atol=0.01
    )
    np.testing.assert_allclose(face.left_eye, (UPSTREAM_MARKS_X[1], UPSTREAM_MARKS_Y[1]), atol=0.01)
    x0, y0, x1, y1 = face.box
    for x, y in (face.right_eye, face.left_eye):
        assert x0 < x < x1 and y0 < y < (y0 + y1) / 2  # eyes inside, in the upper half
    assert face.right_eye[0] < face.left_eye[0]  # subject's right eye is on the image left
    assert face.area == pytest.approx((x1 - x0) * (y1 - y0))


def test_landmarks_follow_upstream_order(astronaut):
    boxes, marks = _mtcnn.MTCNN().detect(astronaut)
    assert boxes.shape == (1, 5) and marks.shape == (1, 5, 2)
    np.testing.assert_allclose(marks[0, :, 0], UPSTREAM_MARKS_X, atol=0.01)
    np.testing.assert_allclose(marks[0, :, 1], UPSTREAM_MARKS_Y, atol=0.01)


def test_no_face_in_blank_or_noise(detector):
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert detector.detect(noise) == []
    assert detector.detect(np.zeros((16, 16, 3), np.uint8)) == []  # smaller than any face


def test_deterministic(detector, astronaut):
    assert detector.detect(astronaut) == detector.detect(astronaut.copy())


def test_finds_both_fighters(detector, mma_frames):
    for frame in mma_frames:
        faces = detector.detect(frame)
        assert len(faces) == 2, faces
        a, b = (f.box for f in faces)
        assert a[2] < b[0] or b[2] < a[0]  # side by side, no overlap
        for face in faces:
            assert face.score > 0.9
            assert 15 < face.box[2] - face.box[0] < 80  # small faces of a wide shot
            assert face.right_eye[0] < face.left_eye[0]
    assert detector.min_score == 0.8 and "MTCNN" in detector.identity


def test_larger_min_face_size_never_shrinks_below_the_pnet_window():
    from vidscope.backbones._mtcnn import MTCNN

    detector = MTCNN(min_face_size=40)
    for h in (26, 50, 97, 194):
        assert (min(h, h + 5) * detector.scales(h + 5, h) >= 12).all()
        boxes, _ = detector.detect(np.zeros((h, h + 5, 3), np.uint8))  # used to crash
        assert len(boxes) == 0
