"""manifest.parquet through PyArrow alone: round trips, old files, pandas readers, and a store
that writes and reads its manifest without importing pandas (issue 14, item 3)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.features import FeatureStore, open_store
from vidscope.features._manifest_file import read_rows, write_rows
from vidscope.features._store import MANIFEST_COLUMNS

OLD = Path(__file__).parent / "data" / "old_format" / "store"
META = {"layout": [["x", 3]], "dtype": "float32"}


def test_rows_round_trip_with_missing_values_and_types(tmp_path: Path):
    rows = [
        {"video_id": "a/é", "num_samples": 16, "duration_s": 2.5, "error": None, "bytes": 2**40},
        {"video_id": "b", "num_samples": None, "duration_s": float("nan"), "error": "bad: ü"},
        {"video_id": "c", "num_samples": np.int64(3), "duration_s": np.float32(1.5)},
    ]
    path = tmp_path / "m.parquet"
    write_rows(path, rows, MANIFEST_COLUMNS)
    back = read_rows(path)
    assert [list(r) for r in back] == [MANIFEST_COLUMNS] * 3
    assert [r["video_id"] for r in back] == ["a/é", "b", "c"]
    assert [r["num_samples"] for r in back] == [16, None, 3]
    assert all(type(r["num_samples"]) is int for r in (back[0], back[2]))
    assert back[0]["bytes"] == 2**40 and back[0]["error"] is None and back[1]["error"] == "bad: ü"
    assert [r["duration_s"] for r in back] == [2.5, None, 1.5]
    assert back[1]["checksum"] is None and back[2]["features"] is None
    df = pd.read_parquet(path)  # readers using pandas see what pandas wrote before
    assert list(df.columns) == MANIFEST_COLUMNS and df["num_samples"].isna().tolist() == [
        False, True, False,
    ]  # fmt: skip
    assert df.loc[0, "num_samples"] == 16 and df.loc[2, "duration_s"] == 1.5


def test_empty_manifest_and_non_integral_values_are_kept(tmp_path: Path):
    path = tmp_path / "m.parquet"
    write_rows(path, [], MANIFEST_COLUMNS)
    assert read_rows(path) == [] and list(pd.read_parquet(path).columns) == MANIFEST_COLUMNS
    write_rows(path, [{"video_id": "a", "rotation": 90.5}], ["video_id", "rotation"])
    assert read_rows(path) == [{"video_id": "a", "rotation": 90.5}]  # not truncated to 90


def test_old_pandas_written_manifest_reads_as_before():
    """The committed store was written through pandas (no bytes/checksum columns)."""
    new = read_rows(OLD / "manifest.parquet")
    old = pd.read_parquet(OLD / "manifest.parquet").to_dict("records")
    assert len(new) == len(old) > 0
    for n, o in zip(new, old, strict=True):
        assert set(n) == set(o)
        for k, v in o.items():
            if isinstance(v, float) and math.isnan(v):
                assert n[k] is None, k
            else:
                assert n[k] == v and type(n[k]) is type(v), (k, n[k], v)
    store = open_store(OLD)
    assert store.rows[new[0]["video_id"]].get("checksum") is None
    assert store.load(new[0]["video_id"]).features.ndim == 2


def test_pandas_written_float_ints_come_back_as_ints(tmp_path: Path):
    """pandas stored an integer column holding a missing value as floats (16.0, NaN)."""
    df = pd.DataFrame({"video_id": ["a", "b"], "num_samples": [16, None], "error": [None, None]})
    df.to_parquet(tmp_path / "m.parquet", index=False)
    assert read_rows(tmp_path / "m.parquet") == [
        {"video_id": "a", "num_samples": 16, "error": None},
        {"video_id": "b", "num_samples": None, "error": None},
    ]


def test_store_manifest_is_written_and_read_without_pandas(tmp_path: Path):
    """A writer, and then a reader, in a fresh process: manifest folded, rows and arrays read
    back; the writer imports neither pandas nor PyArrow, the reader no pandas (they cost
    ~100 and ~25 MiB in every extract run)."""
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from vidscope.features._store import open_for_writing, open_store
        root = {str(tmp_path / "s")!r}
        with open_for_writing(root, {META!r}) as store:
            for n in (2, 3):
                rel = store.write(f"v{{n}}", np.ones((n, 3)), np.arange(float(n)))
                store.record({{"video_id": f"v{{n}}", "status": "ok", "features": rel,
                               "num_samples": n, "duration_s": n / 2}})
            store.record({{"video_id": "bad", "status": "failed", "error": "no video"}})
        written = sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "pyarrow"))
        assert not written, written  # the Parquet file is written without PyArrow
        store = open_store(root)
        assert store.ids() == ["v2", "v3"], store.ids()
        assert store.rows["v3"]["num_samples"] == 3 and store.rows["bad"]["num_samples"] is None
        assert all(store.verify(v) is None for v in store.ids())
        assert store.load("v3").features.shape == (3, 3)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "torch")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert not (tmp_path / "s" / "manifest.journal.jsonl").exists()
    df = open_store(tmp_path / "s").manifest()  # still a DataFrame for callers that want one
    assert list(df["video_id"]) == ["bad", "v2", "v3"] and df["num_samples"].isna().sum() == 1


def test_damaged_manifest_is_one_store_error(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", META)
    rel = store.write("a", np.ones((2, 3)), np.arange(2.0))
    store.record({"video_id": "a", "status": "ok", "features": rel})
    store.compact()
    (tmp_path / "s" / "manifest.parquet").write_bytes(b"PAR1 not really")
    from vidscope.errors import StoreError

    with pytest.raises(StoreError, match=r"manifest.parquet: unreadable manifest"):
        _ = open_store(tmp_path / "s").rows


def test_parquet_writer_is_read_by_pyarrow_and_pandas(tmp_path: Path):
    """More than 15 columns (Thrift's long list header), 1,000 rows, nulls, UTF-8, extremes."""
    import pyarrow.parquet as pq

    from vidscope.features._parquet import parquet_bytes

    n = 1000
    rows = range(n)
    cols = [(f"i{k}", "int", [None if i % 7 == k else i * 10**k for i in rows]) for k in range(9)]
    cols += [(f"f{k}", "float", [None if i % 5 == k else i / 3 for i in rows]) for k in range(4)]
    cols += [(f"s{k}", "str", [None if i % 3 == k else f"v{i}/ü" * k for i in rows])
             for k in range(3)]  # fmt: skip
    cols += [("big", "int", [-(2**62), 2**62 - 1] * (n // 2)), ("none", "str", [None] * n)]
    path = tmp_path / "m.parquet"
    path.write_bytes(parquet_bytes(cols))
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == n and meta.num_columns == len(cols) and meta.num_row_groups == 1
    table = pq.read_table(path)  # the dataset reader too
    for name, _, values in cols:
        assert table.column(name).to_pylist() == values, name
    df = pd.read_parquet(path)
    assert df["s1"].isna().sum() == len([i for i in range(n) if i % 3 == 1])
    assert df["i0"].dtype == float and df["big"].dtype == np.int64  # nulls: floats, as pandas
    empty = tmp_path / "e.parquet"
    empty.write_bytes(parquet_bytes([(n, kind, []) for n, kind, _ in cols]))
    assert pq.read_table(empty).num_rows == 0 and pq.read_table(empty).schema == table.schema
