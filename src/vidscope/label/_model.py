"""Model in the loop: a run's score per clip, uncertainty order, background retraining.

Only vidscope's public API is used: :func:`vidscope.load_run` and ``Run.predict`` (which
extracts the session's videos once with the run's backbone and sampling into a feature
store kept in the session folder), :func:`vidscope.train` with the run's own
:class:`vidscope.TrainConfig` on the labels written so far, and :func:`vidscope.timeline`
for the score curve of long videos. Runs are safetensors/JSON: nothing is unpickled.
All of it runs in one background thread, so the page never waits for the model.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import VidscopeError

#: A video this many times longer than the run's training clips gets a score curve.
LONG_FACTOR = 3.0


class ModelLoop:
    """Scores from a run, refreshed after every ``retrain_every`` new labels.

    Args:
        run_dir: The run to start from (``--run``).
        videos: The session's VIDEOS argument (extracted as ``vidscope extract`` would,
            so the store ids match the names in ``labels.csv``).
        folder: Session folder: ``features/`` (the store), ``runs/rN`` (retrained runs),
            ``timeline/``.
        labels_path: The session's ``labels.csv``.
        retrain_every: Retrain after this many new labels (0: never).
        durations: Returns video id -> ``(duration_s, path)``; long videos get a curve.
    """

    def __init__(
        self,
        run_dir: Path,
        videos: str | Path,
        folder: Path,
        labels_path: Path,
        *,
        retrain_every: int = 0,
        durations: Callable[[], dict[str, tuple[float, Path]]] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.videos = videos
        self.folder = folder
        self.labels_path = labels_path
        self.retrain_every = retrain_every
        self.durations = durations or dict
        self.scores: dict[str, dict[str, Any]] = {}
        self.curves: dict[str, dict[str, list[float]]] = {}
        self.status: dict[str, Any] = {"state": "starting", "model": run_dir.name, "version": 0}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending_labels = 0
        self._retrains = 0
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="vidscope-label-model", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()

    def labelled(self, new_labels: int) -> None:
        """Count ``new_labels`` more labelled clips; wakes the retrainer at ``retrain_every``."""
        with self._wake:
            self._pending_labels += new_labels
            if self.retrain_every and self._pending_labels >= self.retrain_every:
                self._wake.notify_all()

    def snapshot(self) -> dict[str, Any]:
        """Status, scores per video id and curves, for the page."""
        with self._lock:
            return {"status": dict(self.status), "scores": dict(self.scores)}

    # ------------------------------------------------------------------ background work

    def _loop(self) -> None:
        import vidscope

        run_dir = self.run_dir
        try:
            self._set(state="scoring", message="extracting features with the run's backbone")
            run = vidscope.load_run(run_dir)
            self._score(run)
            self._curves(run)
            self._set(state="ready", message=f"scores from {run_dir.name}")
        except Exception as exc:  # shown on the page; the labelling goes on without scores
            self._fail(exc)
            return
        while True:
            with self._wake:
                while not self._stop and not self._due():
                    self._wake.wait()
                if self._stop:
                    return
                self._pending_labels = 0
                self._retrains += 1
                version = self._retrains
            try:
                self._set(state="training", message=f"retraining on labels ({version})")
                new = self._retrain(run, version)
                self._score(new)
                self._curves(new)
                run = new
                self._set(
                    state="ready",
                    message=f"new model in use: retrain {version}",
                    model=f"retrain {version}",
                    version=version,
                )
            except (VidscopeError, ValueError) as exc:  # e.g. a class with one label so far
                self._set(state="ready", message=f"retrain waits for more labels: {exc}")
                with self._wake:  # try again at the next new label
                    self._retrains -= 1
                    self._pending_labels += self.retrain_every - 1
            except Exception as exc:
                self._fail(exc)

    def _due(self) -> bool:
        return bool(self.retrain_every) and self._pending_labels >= self.retrain_every

    def _score(self, run: Any) -> None:
        df = run.predict(self.videos, features_cache=self.folder / "features")
        threshold = run.threshold if run.binary else None
        scores: dict[str, dict[str, Any]] = {}
        for row in df.to_dict("records"):
            scores[str(row["id"])] = _score_row(row, run.classes, threshold)
        with self._lock:
            self.scores = scores

    def _retrain(self, run: Any, version: int) -> Any:
        import vidscope

        recorded = vidscope.TrainConfig.from_record(run.config.get("train") or {})
        cfg = dataclasses.replace(recorded, split="holdout", tensorboard=False, allow_missing=True)
        out = self.folder / "runs" / f"r{version}"
        result = vidscope.train(self.folder / "features", self.labels_path, out=out, config=cfg)
        return vidscope.load_run(result.run_dir)

    def _curves(self, run: Any) -> None:
        """Score curves of videos much longer than the run's training clips."""
        import vidscope

        clip = run.config.get("clip_duration_s") or 0
        known = self.durations()
        long = {
            str(p.resolve()): v for v, (d, p) in known.items() if clip and d > LONG_FACTOR * clip
        }
        if not long:
            return
        self._set(state="scoring", message=f"score curves of {len(long)} long video(s)")
        paths = [str(p) for p in long]
        out = self.folder / "timeline"
        for tl in vidscope.timeline(run, paths, out=out, report=False, progress=False):
            vid = long.get(str(Path(tl.video_path or "").resolve()))
            if vid is None:
                continue
            curve = {
                "t": [round(float(t), 3) for t in tl.times_s],
                "s": [round(float(s), 4) for s in tl.scores[:, -1]],
            }
            with self._lock:
                self.curves[vid] = curve
                self.scores.setdefault(vid, {})["curve"] = curve

    def _set(self, **kw: Any) -> None:
        with self._lock:
            self.status.update(kw)

    def _fail(self, exc: Exception) -> None:
        detail = str(exc) if isinstance(exc, VidscopeError) else traceback.format_exc(limit=3)
        self._set(state="error", message=f"model unavailable: {detail}")


def _score_row(row: dict[str, Any], classes: list[str], threshold: float | None) -> dict[str, Any]:
    """Score shown on the clip and its uncertainty (0 = sure, 1 = on the decision boundary)."""
    if threshold is not None or "score" in row:
        s = float(row["score"])
        t = 0.5 if threshold is None else float(threshold)
        room = t if s < t else 1 - t
        unc = 1 - abs(s - t) / room if room > 0 else 0.0
        return {
            "score": s,
            "label": str(row["label"]),
            "positive": classes[1],
            "uncertainty": _clean(unc),
        }
    probs = sorted((float(row[f"score_{c}"]) for c in classes), reverse=True)
    margin = probs[0] - (probs[1] if len(probs) > 1 else 0.0)
    return {"score": probs[0], "label": str(row["label"]), "uncertainty": _clean(1 - margin)}


def _clean(x: float) -> float:
    return 0.0 if not math.isfinite(x) else round(min(max(x, 0.0), 1.0), 4)
