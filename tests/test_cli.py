"""The CLI as a user meets it: help for every flag, one-line errors for mistakes, tracebacks
for bugs, safe output files, warnings that name both sides."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope import __version__
from vidscope.cli import build_parser, main

OLD = Path(__file__).parent / "data" / "old_format"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser, _ = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_command_has_help_and_defaults_show():
    missing = [
        f"{name} {'/'.join(a.option_strings) or a.dest}"
        for name, sub in _subparsers().items()
        for a in sub._actions
        if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()
    ]
    assert not missing, f"options without help: {missing}"
    text = " ".join(_subparsers()["train"].format_help().split())
    assert "(default: mlp)" in text and "default 60" in text and "default 15" in text
    timeline = " ".join(_subparsers()["timeline"].format_help().split())
    assert "default 0.25" in timeline and "3 curve samples" in timeline


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out


def test_a_bug_shows_its_traceback(monkeypatch):
    import vidscope.cli._extract as ex

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ex, "cmd_info", broken)
    monkeypatch.setattr(ex, "add_parser", _patched(ex.add_parser, "info", broken))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["info", "x"])


def _patched(add_parser, name, fn):
    def add(sub):
        commands = add_parser(sub)
        commands[name] = fn
        return commands

    return add


@pytest.fixture
def run_and_store(tmp_path):
    run, store = tmp_path / "run", tmp_path / "store"
    shutil.copytree(OLD / "run_xgb", run)
    shutil.copytree(OLD / "store", store)
    return run, store


def test_predict_prints_a_table_without_out(run_and_store, capsys):
    run, store = run_and_store
    assert main(["predict", str(run), str(store), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "score" in out and "v0" in out and "v7" in out


def test_predict_refuses_unsafe_outputs(run_and_store, tmp_path, capsys):
    run, store = run_and_store
    manifest = store / "manifest.parquet"
    before = manifest.read_bytes()
    assert main(["predict", str(run), str(store), "--out", str(manifest)]) == 2
    assert "inside the feature store" in capsys.readouterr().err
    assert manifest.read_bytes() == before
    assert main(["predict", str(run), str(store), "--out", str(run / "p.csv")]) == 2
    assert "inside the run" in capsys.readouterr().err
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    assert main(["predict", str(run), str(store), "--out", str(other), "--overwrite"]) == 2
    assert other.read_text() == "keep me"
    csv = tmp_path / "p.csv"
    assert main(["predict", str(run), str(store), "--out", str(csv), "--quiet"]) == 0
    assert main(["predict", str(run), str(store), "--out", str(csv), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["predict", str(run), str(store), "--out", str(csv), "--overwrite"]) == 0
    assert len(pd.read_csv(csv)) == 8


def test_sampling_mismatch_warns_naming_both(run_and_store, capsys):
    run, store = run_and_store
    meta = json.loads((store / "store.json").read_text())
    meta["sampling"] = {"mode": "uniform", "value": 16, "max_frames": None}
    (store / "store.json").write_text(json.dumps(meta))
    assert main(["predict", str(run), str(store), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "16 frames" in err and "4" in err


def test_os_errors_are_one_line(run_and_store, tmp_path, capsys):
    _, store = run_and_store
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        main(
            [
                "train",
                str(store),
                "--labels",
                str(OLD / "labels.csv"),
                "--out",
                str(blocker / "run"),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(blocker) in err


def test_predict_marks_unusable_videos_instead_of_scoring_them(run_and_store, tmp_path):
    run, store = run_and_store
    bad = np.load(store / "features" / "v3.npy")
    bad[1, 2] = np.nan
    np.save(store / "features" / "v3.npy", bad)
    np.save(store / "features" / "v5.npy", bad[:0])
    np.save(store / "features" / "v5.t.npy", np.zeros(0))
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(store), "--out", str(out), "--quiet"]) == 0
    df = pd.read_csv(out, keep_default_na=False).set_index("id")
    assert len(df) == 8 and df.loc["v0", "error"] == "" and df.loc["v0", "score"] != ""
    assert "NaN" in df.loc["v3", "error"] and df.loc["v3", "score"] == ""
    assert "no samples" in df.loc["v5", "error"] and df.loc["v5", "score"] == ""


def test_timeline_embed_limit_reaches_the_report(tmp_path):
    from tests.conftest import numbered_frames, write_video

    video = write_video(tmp_path / "clip.mp4", numbered_frames(20), fps=10)
    base = ["timeline", str(video), "--signal", "change", "--backbone", "flow", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "data:video/mp4;base64" in (tmp_path / "a" / "report.html").read_text()
    assert main([*base, "--out", str(tmp_path / "b"), "--embed-limit", "0"]) == 0
    html = (tmp_path / "b" / "report.html").read_text()
    assert "data:video/mp4;base64" not in html and "clip.mp4" in html


def test_top_k_lists_the_best_classes_first():
    from vidscope.cli._predict import with_top_k

    cols = {"id": ["a", "b", "c"], "label": ["x", "z", float("nan")],
            "score_x": [0.6, 0.1, float("nan")], "score_y": [0.3, 0.2, float("nan")],
            "score_z": [0.1, 0.7, float("nan")]}  # fmt: skip
    out = with_top_k(cols, ["x", "y", "z"], 2)
    assert list(out) == ["id", "label", "top_k", "score_x", "score_y", "score_z"]
    assert out["top_k"] == ["x;y", "z;y", ""]  # no score, no classes


def test_predict_csv_is_written_as_pandas_writes_it(tmp_path):
    import numpy as np

    from vidscope.cli._predict import write_csv

    cols = {"id": ["a", "b,c", "d"], "score": [np.float64(0.73), np.float64(1 / 3), np.nan],
            "label": [np.str_("x"), "y", None], "error": ["", "", "bad, file"]}  # fmt: skip
    write_csv(tmp_path / "ours.csv", cols)
    pd.DataFrame(cols).to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "pandas.csv").read_text()
