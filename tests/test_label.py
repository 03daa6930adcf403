"""vidscope label without a browser: saved files, resuming, proxies, and HTTP-level security.

The browser itself is driven in ``test_label_browser.py``; these tests talk HTTP to a real
server on a free loopback port.
"""

from __future__ import annotations

import http.client
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidscope.data import read_annotations, read_labels
from vidscope.label import (
    ActionError,
    LabelApp,
    LabelConfig,
    LabelFileError,
    LabelState,
    list_videos,
)
from vidscope.label._proxy import make_proxy
from vidscope.video import VideoReader

CLASSES = ["fight", "noFight"]


def gray_clip(
    path: Path,
    n: int = 12,
    *,
    durations_ms: tuple[int, ...] = (40, 40, 120),
    size: tuple[int, int] = (64, 48),
    codec: str = "libx264",
    level: int = 0,
    start_ms: int = 0,
) -> Path:
    """A variable-frame-rate clip whose frame ``i`` is a flat grey of ``gray_level(i)``.

    Frame durations cycle through ``durations_ms`` (time base 1 ms), so times computed from
    an average frame rate are wrong: only the file's real timestamps find each frame. The
    first frame is at ``start_ms`` in the file's own timeline (a browser's ``currentTime``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    fmt = "mp4" if path.suffix == ".mp4" else None
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=25)
        s.width, s.height = w, h
        s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        pts = start_ms
        for i in range(n):
            img = np.full((h, w, 3), gray_level(i + level), np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(s.encode(frame))
            pts += durations_ms[i % len(durations_ms)]
        out.mux(s.encode(None))
    return path


def gray_level(i: int) -> int:
    return 16 + (i * 37) % 224


def make_clips(folder: Path, count: int, **kw) -> list[Path]:
    return [gray_clip(folder / f"c{i:03d}.mp4", **kw) for i in range(count)]


@pytest.fixture
def app_factory(tmp_path: Path):
    apps: list[LabelApp] = []

    def make(videos: Path, **kw) -> LabelApp:
        cfg = LabelConfig(
            classes=kw.pop("classes", CLASSES),
            labels=kw.pop("labels", tmp_path / "out" / "labels.csv"),
            annotations=kw.pop("annotations", tmp_path / "out" / "annotations.csv"),
            **kw,
        )
        app = LabelApp(videos, cfg)
        app.start()
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()


class Client:
    """A raw HTTP client for one session (token and Host set unless told otherwise)."""

    def __init__(self, app: LabelApp) -> None:
        self.app = app
        self.port = app.server.port

    def request(self, method: str, path: str, *, token: bool = True, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"X-Vidscope-Token": self.app.token} if token else {}
        h.update(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data, r

    def actions(self, actions: list[dict], client: str = "t1") -> dict:
        status, data, _ = self.request(
            "POST", "/api/actions", body={"client": client, "actions": actions}
        )
        assert status == 200, data
        return json.loads(data)


# ------------------------------------------------------------------ files and resuming


def test_files_train_reads_and_resume(tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "v" / "sub", 3) + make_clips(tmp_path / "v", 1)
    videos = list_videos(tmp_path / "v")
    assert [v.name for v in videos] == ["c000.mp4", "sub/c000.mp4", "sub/c001.mp4", "sub/c002.mp4"]
    out = tmp_path / "o"
    st = LabelState(
        videos,
        CLASSES,
        out / "labels.csv",
        out / "ann.csv",
        segment_label="fight",
        cache=out / ".s",
    )
    acts = [
        {"seq": 1, "type": "label", "video": 1, "label": "fight"},
        {"seq": 2, "type": "label", "video": 2, "label": "noFight"},
        {"seq": 3, "type": "label", "video": 0, "label": "fight"},
        {"seq": 4, "type": "undo"},
        {"seq": 5, "type": "label", "video": 3, "label": "noFight"},
        {"seq": 6, "type": "segments", "video": 1, "segments": [[0.2, 0.5], [0.04, 0.1]]},
    ]
    assert st.apply("a", acts[:3]) == 3
    assert st.apply("a", acts) == 6  # a resent batch: 1-3 are not applied twice
    assert (out / "labels.csv").read_text() == (
        "path,label\nsub/c000.mp4,fight\nsub/c001.mp4,noFight\nsub/c002.mp4,noFight\n"
    )
    with pytest.raises(ActionError, match="before action 7"):
        st.apply("a", [{"seq": 8, "type": "label", "video": 0, "label": "fight"}])
    st.apply("a", [{"seq": 7, "type": "label", "video": 0, "label": "fight"}])
    assert (out / "ann.csv").read_text().splitlines() == [
        "file_name,start_time,end_time,label",
        "sub/c000.mp4,0.040000,0.100000,fight",
        "sub/c000.mp4,0.200000,0.500000,fight",
    ]
    ids = [v.video_id for v in videos]  # what `vidscope extract tmp/v` names them
    labels = read_labels(ids, out / "labels.csv")
    assert labels.ids == ids and set(labels.classes) == set(CLASSES)
    segs = read_annotations(out / "ann.csv", video_ids=ids)
    assert [(s.start_s, s.end_s, s.label) for s in segs["sub/c000"]] == [
        (0.04, 0.1, "fight"),
        (0.2, 0.5, "fight"),
    ]
    again = LabelState(
        videos,
        CLASSES,
        out / "labels.csv",
        out / "ann.csv",
        segment_label="fight",
        cache=out / ".s",
    )
    assert again.labels == {0: "fight", 1: "fight", 2: "noFight", 3: "noFight"}
    assert again.segments == {1: [(0.04, 0.1), (0.2, 0.5)]}
    assert len(clips) == 4


def test_never_overwrites_a_foreign_file(tmp_path: Path) -> None:
    make_clips(tmp_path / "v", 2)
    videos = list_videos(tmp_path / "v")
    mine = tmp_path / "labels.csv"
    mine.write_text("path,label\nc000.mp4,noFight\nelsewhere/x.mp4,fight\n")
    with pytest.raises(LabelFileError, match="--force"):
        LabelState(videos, CLASSES, mine, None, segment_label="fight", cache=tmp_path / ".s")
    assert mine.read_text().startswith("path,label\nc000.mp4,noFight")
    st = LabelState(
        videos, CLASSES, mine, None, segment_label="fight", cache=tmp_path / ".s", force=True
    )
    assert st.labels == {0: "noFight"}
    st.apply("a", [{"seq": 1, "type": "label", "video": 1, "label": "fight"}])
    assert (
        mine.read_text() == "path,label\nc000.mp4,noFight\nc001.mp4,fight\nelsewhere/x.mp4,fight\n"
    )
    LabelState(
        videos, CLASSES, mine, None, segment_label="fight", cache=tmp_path / ".s"
    )  # ours now
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nc000.mp4,dog\n")
    with pytest.raises(LabelFileError, match="line 2: label 'dog'"):
        LabelState(videos, CLASSES, bad, None, segment_label="f", cache=tmp_path / ".s", force=True)


def test_proxy_keeps_real_timestamps(tmp_path: Path) -> None:
    src = gray_clip(tmp_path / "m.avi", 9, codec="mjpeg", size=(96, 64))
    out = tmp_path / "p.mp4"
    assert make_proxy(src, out, (48, 32)) == 9
    with VideoReader(src) as a, VideoReader(out) as b:
        np.testing.assert_allclose(b.frame_times_s(), a.frame_times_s(), atol=1e-4)
        assert b.info.codec == "h264" and (b.info.width, b.info.height) == (48, 32)
        frames = b.read(b.frame_times_s()).frames
    got = frames.reshape(9, -1).mean(1)
    np.testing.assert_allclose(got, [gray_level(i) for i in range(9)], atol=3)


# ------------------------------------------------------------------ HTTP security


@pytest.fixture
def served(tmp_path: Path, app_factory):
    make_clips(tmp_path / "v", 2)
    (tmp_path / "v" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 500)
    gray_clip(tmp_path / "v" / "odd.avi", 5, codec="mjpeg")
    secret = tmp_path / "secret.mp4"
    gray_clip(secret, 3)
    (tmp_path / "v" / "zlink.mp4").symlink_to(secret)
    app = app_factory(tmp_path / "v")
    return Client(app), tmp_path


def test_token_host_and_origin_are_required(served) -> None:
    c, _ = served
    for path in ("/", "/api/state", "/api/video/1", "/media/1"):
        assert c.request("GET", path, token=False)[0] == 403
        assert c.request("GET", path + "?token=wrong", token=False)[0] == 403
        assert c.request("GET", path)[0] == 200
    assert c.request("GET", f"/media/1?token={c.app.token}", token=False)[0] == 200
    evil = {"Host": f"evil.example:{c.port}"}  # DNS rebinding: right IP, foreign name
    assert c.request("GET", "/api/state", headers=evil)[0] == 403
    other = {"Origin": "http://evil.example"}
    body = {"client": "x", "actions": [{"seq": 1, "type": "label", "video": 0, "label": "fight"}]}
    assert c.request("POST", "/api/actions", headers=other, body=body)[0] == 403
    assert c.request("POST", "/api/actions", token=False, body=body)[0] == 403
    assert not (c.app.session.labels_path).exists()
    ok = {"Origin": f"http://127.0.0.1:{c.port}", "Host": f"localhost:{c.port}"}
    assert c.request("POST", "/api/actions", headers=ok, body=body)[0] == 200


def test_only_listed_videos_by_id(served) -> None:
    c, tmp = served
    names = [v.name for v in c.app.videos]
    assert names == ["broken.mp4", "c000.mp4", "c001.mp4", "odd.avi", "zlink.mp4"]
    secret = (tmp / "secret.mp4").read_bytes()
    for path in (
        "/media/../secret.mp4",
        "/media/..%2Fsecret.mp4",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media//etc/passwd",
        f"/media/{tmp}/secret.mp4",
        "/media/1/../../secret.mp4",
        "/media/99",
        "/media/-1",
        "/media/1.0",
        "/../../etc/passwd",
    ):
        status, data, _ = c.request("GET", path)
        assert status in (400, 404), path
        assert secret not in data and b"root:" not in data
    status, data, _ = c.request("GET", "/media/4")  # the symlink leaving the folder
    assert status == 404 and secret not in data
    info = json.loads(c.request("GET", "/api/video/4")[1])
    assert "outside the videos folder" in info["error"]


def test_labels_only_from_classes_and_ranges(served) -> None:
    c, _ = served
    bad = [{"seq": 1, "type": "label", "video": 1, "label": "dog"}]
    status, data, _ = c.request("POST", "/api/actions", body={"client": "x", "actions": bad})
    assert status == 400 and b"not one of" in data
    for body in (b"not json", b"{}", b'{"client": 1, "actions": []}'):
        h = {"Content-Type": "application/json"}
        assert c.request("POST", "/api/actions", body=body, headers=h)[0] == 400
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert c.request("POST", "/api/actions", body=b"a=b", headers=form)[0] == 400
    assert c.request("GET", "/api/actions")[0] == 404
    assert not c.app.session.labels_path.exists()
    size = len(c.request("GET", "/media/1")[1])
    status, data, r = c.request("GET", "/media/1", headers={"Range": "bytes=10-19"})
    assert (
        status == 206 and len(data) == 10 and r.getheader("Content-Range") == f"bytes 10-19/{size}"
    )
    assert c.request("GET", "/media/1", headers={"Range": f"bytes={size}-"})[0] == 416


def test_broken_video_gets_an_error_and_the_server_goes_on(served) -> None:
    c, _ = served
    info = json.loads(c.request("GET", "/api/video/0")[1])
    assert info["error"] and "times_s" not in info
    assert c.request("GET", "/media/0")[0] == 404
    odd = json.loads(c.request("GET", "/api/video/3")[1])  # MJPEG AVI: an H.264 proxy
    assert odd["proxy"] is True and not odd["native"] and len(odd["times_s"]) == 5
    data = c.request("GET", "/media/3")[1]
    assert data[4:8] == b"ftyp"
    ok = json.loads(c.request("GET", "/api/video/1")[1])
    assert ok["native"] and ok["times_s"][:4] == [0.0, 0.04, 0.08, 0.2]


def test_a_refused_action_keeps_the_ones_before(served) -> None:
    c, _ = served
    acts = [
        {"seq": 1, "type": "label", "video": 1, "label": "fight"},
        {"seq": 2, "type": "segments", "video": 1, "segments": [["0", 1]]},
        {"seq": 3, "type": "label", "video": 2, "label": "fight"},
    ]
    status, data, _ = c.request("POST", "/api/actions", body={"client": "x", "actions": acts})
    assert status == 400 and json.loads(data)["applied"] == 1
    for bad in ([[1, 0.5]], [[0, float("nan")]], "x", [[0, 1, 2]], [[True, 2]]):
        act = [{"seq": 2, "type": "segments", "video": 1, "segments": bad}]
        body = json.dumps({"client": "x", "actions": act}).encode()  # NaN goes out as NaN
        h = {"Content-Type": "application/json"}
        assert c.request("POST", "/api/actions", body=body, headers=h)[0] == 400, bad
    assert c.actions([{**acts[2], "seq": 2}], client="x")["applied"] == 2
    assert c.app.session.labels_path.read_text() == "path,label\nc000.mp4,fight\nc001.mp4,fight\n"


def test_every_interface_accepts_this_machines_names(tmp_path: Path, app_factory) -> None:
    import socket

    make_clips(tmp_path / "v", 1)
    c = Client(app_factory(tmp_path / "v", host="0.0.0.0"))
    name = socket.gethostname()
    assert c.request("GET", "/api/state", headers={"Host": f"{name}:{c.port}"})[0] == 200
    assert c.request("GET", "/api/state", headers={"Host": f"evil.example:{c.port}"})[0] == 403
    assert c.request("GET", "/api/state", headers={"Host": f"0.0.0.0:{c.port}"})[0] == 403
