"""A labelling session: videos, labels on disk, proxies, the optional model, and its server."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, VidscopeError
from ..video import VideoReader
from ._model import ModelLoop
from ._page import render_page
from ._proxy import ProxyCache
from ._server import LabelServer
from ._state import LabelState
from ._videos import VideoItem, list_videos

#: Keys the page uses itself; class keys are chosen among the others.
RESERVED_KEYS = frozenset(" [],.124zs?")
SPARE_KEYS = "asdfghjklqwertyiopcvbnm035678"
SESSION_FOLDER = ".vidscope-label"


@dataclass
class LabelConfig:
    """Settings of ``vidscope label``.

    Attributes:
        classes: Allowed labels, one key each (``--classes fight,noFight``).
        labels: ``labels.csv`` to write (``--labels``), read back on restart.
        annotations: ``annotations.csv`` for event segments (``--segments``); ``None``
            turns segment marking off.
        segment_label: Label of every marked segment (``--segment-label``; default: the
            first class).
        run: A trained run whose scores are shown and ordered by (``--run``).
        retrain_every: Retrain the run's head after this many new labels (``--retrain-every``;
            0 = never).
        force: Take over label files this tool did not create (``--force``).
        host: Interface to listen on (``--host``; default loopback only).
        port: Port (``--port``; 0 = a free one).
    """

    classes: list[str]
    labels: Path = Path("labels.csv")
    annotations: Path | None = None
    segment_label: str | None = None
    run: Path | None = None
    retrain_every: int = 0
    force: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = [c.strip() for c in self.classes if c.strip()]
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ConfigError("--classes must name one or more distinct classes, e.g. a,b")
        if self.retrain_every < 0:
            raise ConfigError(f"--retrain-every must be >= 0, got {self.retrain_every}")
        if self.retrain_every and self.run is None:
            raise ConfigError("--retrain-every needs --run RUN (the run whose head to retrain)")
        if self.run is not None and not (Path(self.run) / "config.json").is_file():
            raise ConfigError(f"--run {self.run}: not a vidscope run (no config.json)")
        self.keys = assign_keys(self.classes)


def assign_keys(classes: list[str]) -> dict[str, str]:
    """One key per class: its first letter when free, else the next spare key."""
    used: set[str] = set()
    keys = {}
    for c in classes:
        first = c[:1].lower()
        pick = first if first.isalnum() and first not in RESERVED_KEYS | used else None
        pick = pick or next((k for k in SPARE_KEYS if k not in used), None)
        if pick is None:
            raise ConfigError(f"too many classes for one key each ({len(classes)})")
        keys[c] = pick
        used.add(pick)
    return keys


class LabelApp:
    """Everything the server needs; also usable without it (tests, scripts).

    Args:
        videos: Folder (recursive), ``.txt``/``.csv`` list, or one video.
        config: Session settings.
    """

    def __init__(self, videos: str | os.PathLike[str], config: LabelConfig) -> None:
        self.config = config
        self.videos = list_videos(videos)
        labels = Path(config.labels)
        self.folder = labels.resolve().parent / SESSION_FOLDER
        self.session = LabelState(
            self.videos,
            config.classes,
            labels,
            Path(config.annotations) if config.annotations else None,
            segment_label=config.segment_label or config.classes[0],
            cache=self.folder,
            force=config.force,
        )
        self.proxies = ProxyCache(self.folder / "proxy")
        self.token = secrets.token_urlsafe(24)
        self._media: dict[int, dict[str, Any]] = {}
        self.model: ModelLoop | None = None
        if config.run is not None:
            self.model = ModelLoop(
                Path(config.run),
                videos,
                self.folder,
                labels,
                retrain_every=config.retrain_every,
                durations=self._durations,
            )
        self.server: LabelServer | None = None

    # ------------------------------------------------------------------ serving

    def start(self) -> str:
        """Start the server (and the model thread) in the background; returns the page URL."""
        self.server = LabelServer(self, self.config.host, self.config.port)
        self.server.start()
        if self.model is not None:
            self.model.start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        host = self.config.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{self.server.port}/?token={self.token}"

    def close(self) -> None:
        if self.model is not None:
            self.model.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ------------------------------------------------------------------ what the page asks

    def page(self) -> str:
        return render_page(
            {
                "classes": self.config.classes,
                "keys": self.config.keys,
                "segments": self.session.annotations_path is not None,
                "model": self.model is not None,
                "videos": [{"id": v.index, "name": v.name, "error": v.error} for v in self.videos],
            }
        )

    def state(self) -> dict[str, Any]:
        """Labels, segments and (with a run) scores by video index."""
        out = self.session.snapshot()
        if self.model is not None:
            snap = self.model.snapshot()
            by_id = {v.video_id: v.index for v in self.videos}
            out["model"] = {
                "status": snap["status"],
                "scores": {str(by_id[k]): s for k, s in snap["scores"].items() if k in by_id},
            }
        return out

    def apply(self, client: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply the page's numbered actions; tell the model how many clips got labelled."""
        before = len(self.session.labels)
        applied = self.session.apply(client, actions)
        if self.model is not None and len(self.session.labels) > before:
            self.model.labelled(len(self.session.labels) - before)
        return {"applied": applied, "state": self.session.snapshot()}

    def video_info(self, index: int) -> dict[str, Any]:
        """Every frame's time and how the page plays video ``index`` (makes a proxy if needed)."""
        item = self._item(index)
        if index in self._media:
            return self._media[index]["info"]
        info = dict(item.info())
        path: Path | None = None
        if "error" not in info:
            try:
                path = item.path if info["native"] else self._proxy(item, info)
            except Exception as exc:  # any decoder failure is this video's, not the server's
                info = {"error": f"cannot make a playable copy: {exc}"}
        info["id"] = index
        self._media[index] = {"info": info, "path": path}
        return info

    def media_path(self, index: int) -> Path | None:
        self.video_info(index)
        return self._media[index]["path"]

    def _proxy(self, item: VideoItem, info: dict[str, Any]) -> Path:
        path = self.proxies.get(item.path, int(info["width"]), int(info["height"]))
        with VideoReader(path) as reader:  # the frames the proxy really holds, at source times
            info["times_s"] = [round(float(t), 6) for t in reader.frame_times_s()]
        info["proxy"], info["start_s"] = True, 0.0  # the proxy's first frame is at 0 s
        return path

    def _item(self, index: int) -> VideoItem:
        if not 0 <= index < len(self.videos):
            raise VidscopeError(f"no video with id {index}")
        return self.videos[index]

    def _durations(self) -> dict[str, tuple[float, Path]]:
        out = {}
        for v in self.videos:
            info = v.info()
            if "duration_s" in info:
                out[v.video_id] = (float(info["duration_s"]), v.path)  # type: ignore[arg-type]
        return out
