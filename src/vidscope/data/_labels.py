"""Video labels from a CSV or from class folders, matched to the ids of a feature store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import VidscopeError

if TYPE_CHECKING:
    import pandas as pd

ID_COLUMNS = ("video_id", "id", "path", "video", "file_name", "filename", "file", "name")
LABEL_COLUMNS = ("label", "target", "class", "category", "y")
SPLIT_COLUMNS = ("split", "subset", "fold_name")
GROUP_COLUMNS = ("source_group", "group", "groups")
EVENT_COLUMNS = ("time_of_event", "event_time", "event_s")
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


class LabelError(VidscopeError):
    """A label file or folder layout that cannot be used, naming the rows or files at fault."""


@dataclass
class LabelSet:
    """Labels of the videos of one store.

    Attributes:
        ids: Store video ids, one per labelled video.
        y: ``int64 [N]`` class index into ``classes``.
        classes: Class names; for a 0/1 target, ``["0", "1"]`` (class 1 is the positive one).
        split: ``[N]`` ``train``/``val``/``test`` per video when the labels say, else ``None``.
        groups: ``[N]`` source group per video (split by group, never by clip), or ``None``.
        event_s: ``float64 [N]`` event time in seconds (NaN where none), or ``None``.
        units: ``[N]`` the finest grouping no split may cut, used where there are too few
            source groups to split by (windows: their video, which they overlap), or
            ``None`` (each item stands alone).
    """

    ids: list[str]
    y: np.ndarray
    classes: list[str]
    split: np.ndarray | None = None
    groups: np.ndarray | None = None
    event_s: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    positive_note: str | None = None
    """Binary labels: one sentence saying which class is the event and why (``train`` prints
    it at its start); ``None`` otherwise."""
    units: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def positive_class(self) -> str | None:
        """The event class of binary labels (class 1: its F1 and score are reported)."""
        return self.classes[1] if self.num_classes == 2 else None

    def subset(self, idx: np.ndarray) -> LabelSet:
        """The labels at positions ``idx``."""
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return LabelSet(
            [self.ids[i] for i in idx],
            self.y[idx],
            self.classes,
            pick(self.split),
            pick(self.groups),
            pick(self.event_s),
            list(self.notes),
            self.positive_note,
            pick(self.units),
        )


def read_labels(
    store_ids: list[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    group_column: str | None = None,
    manifest: pd.DataFrame | None = None,
    positive_class: str | None = None,
) -> LabelSet:
    """Labels for the videos of a store; see :func:`_read_labels` for the arguments.

    Args:
        positive_class: For two classes, the one that is class 1 (the event: its F1 is
            reported and its score is predicted) (``--positive-class``). By default: when
            exactly one of the two is named like the absence of an event (see
            :func:`is_negative_name`: ``noFight``, ``non-violence``, ``normal``, ``0``,
            ``false``, ``background``, ...), the other one; otherwise the class that sorts
            last (``1`` of a 0/1 target). ``LabelSet.positive_note`` says which rule decided.

    Raises:
        LabelError: also when ``positive_class`` is not one of the two classes.
    """
    out = _read_labels(
        store_ids,
        labels,
        id_column=id_column,
        label_column=label_column,
        split_column=split_column,
        group_column=group_column,
        manifest=manifest,
    )
    if positive_class is not None:
        out = _with_positive(out, positive_class)
        out.positive_note = (
            f"event (positive) class: {positive_class!r} (--positive-class); "
            f"the other class is {out.classes[0]!r}"
        )
        return out
    return _default_positive(out)


def _with_positive(labels: LabelSet, positive: str) -> LabelSet:
    if labels.num_classes != 2 or positive not in labels.classes:
        raise LabelError(
            f"--positive-class {positive!r} must be one of two classes; the labels have "
            f"{', '.join(labels.classes)}"
        )
    if labels.classes[1] == positive:
        return labels
    labels.classes = [labels.classes[1], labels.classes[0]]
    labels.y = 1 - labels.y
    return labels


_NEGATIVE_NAMES = {
    "0",
    "false",
    "no",
    "none",
    "normal",
    "negative",
    "neg",
    "background",
    "bg",
    "nothing",
    "other",
}
_NEGATIVE_PREFIX = re.compile(r"^(?:[Nn][Oo][NnTt]?[-_ ]+(?=\w)|[Nn]o[nt]?(?=[A-Z]))")


def is_negative_name(name: str, other: str | None = None) -> bool:
    """Whether a class name reads as the absence of an event.

    True for ``0``, ``false``, ``no``, ``none``, ``normal``, ``negative``, ``neg``,
    ``background``, ``bg``, ``nothing``, ``other`` (any case), for ``no``/``non``/``not``
    followed by a separator or a capital (``no_fight``, ``non-violence``, ``noFight``), and
    for ``no``/``non``/``not`` + ``other`` (``nofight`` next to ``fight``). Words that merely
    start with those letters (``nose``, ``notebook``, ``nonstop``) are not negative.
    """
    text = name.strip()
    low = text.lower()
    if low in _NEGATIVE_NAMES or _NEGATIVE_PREFIX.match(text):
        return True
    if other:
        rest = re.sub(r"^(?:non|not|no)[-_ ]*", "", low)
        return rest != low and rest == other.strip().lower()
    return False


def _default_positive(labels: LabelSet) -> LabelSet:
    """Two classes: the event class is the one not named like an absence, else the last."""
    if labels.num_classes != 2:
        return labels
    a, b = labels.classes
    neg = [is_negative_name(a, b), is_negative_name(b, a)]
    if neg == [False, True]:
        labels = _with_positive(labels, a)
        why = f"{b!r} is named like the absence of an event"
    elif neg == [True, False]:
        why = f"{a!r} is named like the absence of an event"
    else:
        why = "it sorts last"
    labels.positive_note = (
        f"event (positive) class: {labels.classes[1]!r} ({why}); "
        f"the other class is {labels.classes[0]!r}; --positive-class changes it"
    )
    return labels


def _read_labels(
    store_ids: list[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    group_column: str | None = None,
    manifest: pd.DataFrame | None = None,
) -> LabelSet:
    """Labels for the videos of a store, from a CSV or (without one) from class folders.

    Args:
        store_ids: Ids of the store's videos with features.
        labels: CSV with an id/path column and a label column (``id,time_of_event,
            time_of_alert,target`` works as is); ``None`` reads the class from the folder
            layout (``class/x`` or ``split/class/x``).
        id_column, label_column, split_column, group_column: CSV column names (found
            automatically when ``None``; ``""`` ignores a split or group column).
        manifest: The store's manifest; its ``label``/``split`` columns are used when present
            and no CSV is given (plain ``.npy`` folders).

    Raises:
        LabelError: unknown ids, unparseable columns, one-example classes, ...
    """
    import pandas as pd  # on first use: reading features never pays for it

    if labels is None:
        return _from_folders(store_ids, manifest)
    df = _read_csv(Path(labels))
    cols = df.columns.tolist()
    idc = _pick(cols, id_column, ID_COLUMNS, "id", labels)
    lab = _pick(cols, label_column, LABEL_COLUMNS, "label", labels)
    spl = _pick(cols, split_column, SPLIT_COLUMNS, "split", labels, required=False)
    grp = _pick(cols, group_column, GROUP_COLUMNS, "group", labels, required=False)
    ids = _match_ids(df[idc].tolist(), store_ids, Path(labels), idc)
    ev = next((c for c in EVENT_COLUMNS if c in cols), None)
    return _assemble(
        ids,
        df[lab].tolist(),
        df[spl].tolist() if spl else None,
        df[grp].astype(str).to_numpy() if grp else None,
        pd.to_numeric(df[ev], errors="coerce").to_numpy(float) if ev else None,
        Path(labels),
    )


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd  # on first use: reading features never pays for it

    if not path.is_file():
        raise LabelError(f"--labels {path}: file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise LabelError(f"--labels {path}: not a readable CSV ({exc})") from None
    if df.empty:
        raise LabelError(f"--labels {path}: no rows")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _pick(
    cols: list[str],
    given: str | None,
    candidates: tuple[str, ...],
    what: str,
    path: object,
    *,
    required: bool = True,
) -> str | None:
    if given == "" and not required:  # "": ignore such a column even where one is found
        return None
    if given is not None:
        if given not in cols:
            raise LabelError(f"{path}: no column {given!r} (columns: {', '.join(cols)})")
        return given
    lower = {c.lower(): c for c in cols}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise LabelError(
            f"{path}: no {what} column (looked for {', '.join(candidates)}; columns: "
            f"{', '.join(cols)}); name it with --{what}-column"
        )
    return found


def _key(text: str) -> str:
    """Normalised id: posix path without a video/array extension."""
    t = text.strip().replace("\\", "/")
    return re.sub(r"\.(mp4|m4v|mov|avi|mkv|webm|ts|mpg|mpeg|wmv|flv|npy|gif)$", "", t, flags=re.I)


def _match_ids(raw: list[str], store_ids: list[str], path: Path, col: str) -> list[str]:
    """Map each CSV id to a store id: exact, then by file name, then by number (42 ~ 00042)."""
    import pandas as pd  # on first use: reading features never pays for it

    exact = {s: s for s in store_ids}
    by_name: dict[str, list[str]] = {}
    by_num: dict[int, list[str]] = {}
    for s in store_ids:
        base = s.rsplit("/", 1)[-1]
        by_name.setdefault(base, []).append(s)
        if base.isdigit():
            by_num.setdefault(int(base), []).append(s)
    out, unknown = [], []
    for row, value in enumerate(raw, start=2):
        k = _key(str(value))
        full = str(value).strip().replace("\\", "/")  # same-named inputs: id keeps extension
        hit = exact.get(full) or exact.get(k) or _unique(by_name.get(k.rsplit("/", 1)[-1]))
        hit = hit or _unique(by_name.get(full.rsplit("/", 1)[-1]))
        if hit is None and k.isdigit():
            hit = _unique(by_num.get(int(k)))
        if hit is None:
            unknown.append(f"line {row}: {value!r}")
        out.append(hit)
    if unknown:
        raise LabelError(
            f"{path}: {len(unknown)} {col} value(s) match no video in the store ("
            + "; ".join(unknown[:5])
            + (" ..." if len(unknown) > 5 else "")
            + "); extract those videos or fix the ids"
        )
    dup = pd.Series(out)[pd.Series(out).duplicated()].tolist()
    if dup:
        raise LabelError(f"{path}: several rows label the same video: {', '.join(dup[:5])}")
    return out  # type: ignore[return-value]


def _unique(hits: list[str] | None) -> str | None:
    return hits[0] if hits and len(hits) == 1 else None


def _from_folders(store_ids: list[str], manifest: pd.DataFrame | None) -> LabelSet:
    if manifest is not None and "label" in manifest and manifest["label"].notna().any():
        m = manifest.set_index("video_id").loc[store_ids]
        split = m["split"].tolist() if "split" in m and m["split"].notna().any() else None
        return _assemble(list(store_ids), m["label"].tolist(), split, None, None, "store")
    parts = [s.split("/") for s in store_ids]
    if not parts or any(len(p) < 2 for p in parts):
        flat = [s for s, p in zip(store_ids, parts, strict=True) if len(p) < 2][:3]
        raise LabelError(
            "no --labels CSV and the videos are not in class folders (e.g. "
            f"{', '.join(flat)}); give --labels or lay videos out as class/video"
        )
    split = [p[-3] if len(p) >= 3 else "" for p in parts]
    has_split = all(s.lower() in SPLIT_NAMES for s in split)
    return _assemble(
        list(store_ids), [p[-2] for p in parts], split if has_split else None, None, None, "folders"
    )


def _assemble(
    ids: list[str],
    labels: list[object],
    split: list[object] | None,
    groups: np.ndarray | None,
    event_s: np.ndarray | None,
    source: object,
) -> LabelSet:
    import pandas as pd

    text = [str(v).strip() for v in labels]
    empty = [i for i, t in enumerate(text) if t == ""]
    if empty:
        raise LabelError(f"{source}: empty label for {', '.join(ids[i] for i in empty[:5])}")
    classes = sorted(set(text), key=_class_order)
    if len(classes) < 2:
        raise LabelError(f"{source}: only one class ({classes[0]!r}); need at least two")
    counts = pd.Series(text).value_counts()
    lonely = counts[counts < 2].index.tolist()
    if lonely:
        raise LabelError(
            f"{source}: class(es) {', '.join(map(repr, lonely))} have a single example; "
            "each class needs at least two (one to train, one to validate)"
        )
    index = {c: i for i, c in enumerate(classes)}
    return LabelSet(
        ids,
        np.array([index[t] for t in text], np.int64),
        classes,
        None if split is None else _norm_split(split, source),
        groups,
        event_s,
    )


def _class_order(name: str) -> tuple[int, float | str]:
    """Numeric class names sort numerically (so 0/1 targets give class 1 = positive)."""
    try:
        return (0, float(name))
    except ValueError:
        return (1, name)


def _norm_split(values: list[object], source: object) -> np.ndarray:
    out = []
    for v in values:
        s = SPLIT_NAMES.get(str(v).strip().lower())
        if s is None:
            raise LabelError(f"{source}: unknown split {v!r} (use train, val or test)")
        out.append(s)
    return np.array(out)
