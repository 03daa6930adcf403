"""Reading existing ``.npy`` feature folders (``root/split/class/*.npy``) as a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import StoreError
from ._store import FeatureStore

#: Backbone name recorded for a plain ``.npy`` folder (which says nothing of its backbone).
NPY_BACKBONE = "unknown (npy folder)"


def open_npy_folder(root: Path) -> FeatureStore:
    """Index every ``*.npy`` under ``root`` (no ``store.json`` needed, nothing re-extracted).

    Each ``[T, D]`` array becomes one video whose id is its path relative to ``root`` without
    the suffix. With ``split/class/x.npy`` the manifest gets ``split`` and ``label`` columns,
    with ``class/x.npy`` a ``label`` column. Arrays are only memory-mapped here to read their
    shape. Times are frame indices (the folder holds no timestamps).

    Raises:
        StoreError: no arrays, an array that is not 2-D, or arrays of different widths.
    """
    files = sorted(p for p in root.rglob("*.npy") if not p.name.endswith(".t.npy"))
    if not files:
        raise StoreError(f"{root}: not a vidscope store (no store.json) and holds no .npy arrays")
    rows: dict[str, dict[str, object]] = {}
    widths: dict[int, str] = {}
    for f in files:
        rel = f.relative_to(root)
        try:
            arr = np.load(f, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{f}: unreadable .npy array ({exc})") from None
        if arr.ndim != 2:
            raise StoreError(f"{f}: expected a [T, D] array, got shape {arr.shape}")
        widths.setdefault(int(arr.shape[1]), str(rel))
        vid = rel.with_suffix("").as_posix()
        parts = rel.parts
        rows[vid] = {
            "video_id": vid, "path": str(f), "status": "ok", "error": None,
            "num_samples": int(arr.shape[0]), "features": rel.as_posix(),
            "label": parts[-2] if len(parts) >= 2 else None,
            "split": parts[-3] if len(parts) >= 3 else None,
        }  # fmt: skip
    if len(widths) > 1:
        seen = ", ".join(f"D={d} (e.g. {p})" for d, p in widths.items())
        raise StoreError(f"{root}: arrays have different feature widths: {seen}")
    (d,) = widths
    meta = {"backbone": {"name": NPY_BACKBONE}, "layout": [["npy", d]], "format": "npy"}
    store = FeatureStore(root, meta)
    store._rows = rows
    return store
