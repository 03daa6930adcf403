"""Regressions found by a new user's walkthrough of the CLI (README only, real commands).

Each test fails on the code before its fix: a traceback or a wasted training for a typo, a
timeline that refused or mixed an earlier timeline's features, misleading one-line messages,
a hint printed twice, a leaderboard cut to ``0.567 ± 0…`` on an 80-column console.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from vidscope.cli import _train as cli_train
from vidscope.cli import main
from vidscope.cli._print import print_leaderboard
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.pipelines import timeline
from vidscope.training import TrainConfig, train
from vidscope.video import SamplingSpec

from .conftest import numbered_frames, write_video

FAST = dict(head="mean_linear", epochs=2, patience=2, batch_size=4, tensorboard=False)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six labelled 2 s clips, stores of 4 and 8 frames per clip, a run on each, and two
    longer videos to draw timelines of."""
    root = tmp_path_factory.mktemp("walk")
    rows = ["path,label"]
    for i in range(6):
        write_video(root / "clips" / f"c{i}.mp4", numbered_frames(50, seed=i))
        rows.append(f"clips/c{i}.mp4,{'fight' if i % 2 else 'noFight'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    for n in (4, 8):
        cfg = ExtractConfig(sampling=SamplingSpec("uniform", n))
        extract(root / "clips", root / f"store{n}", cfg, progress=False)
        train(root / f"store{n}", root / "labels.csv", out=root / f"run{n}",
              config=TrainConfig(**FAST))  # fmt: skip
    for i in (0, 1):
        write_video(root / "long" / f"long{i}.mp4", numbered_frames(100, seed=10 + i))
    return {"root": root, "store": root / "store4", "labels": root / "labels.csv"}


def test_timeline_of_another_run_into_the_same_out(walk, tmp_path):
    """A second run (other rate: 8 frames per 2 s clip) into the same --out used to stop on
    OUT/features, a cache the user never made, with a dump of both stores' settings."""
    root, video = walk["root"], walk["root"] / "long" / "long0.mp4"
    out = tmp_path / "tl"
    (a,) = timeline(root / "run4", video, out=out, progress=False)
    (b,) = timeline(root / "run8", video, out=out, progress=False)
    assert a.video_id == b.video_id == "long0"
    caches = sorted(p.name for p in out.iterdir() if p.name.startswith("features"))
    assert caches[0] == "features" and len(caches) == 2
    rates = sorted(open_store(out / c).meta["sampling"]["value"] for c in caches)
    assert rates == pytest.approx([2.0, 4.0])
    (again,) = timeline(root / "run8", video, out=out, progress=False)  # finds its cache
    assert len(list(out.glob("features*"))) == 2 and again.video_id == "long0"


def test_timeline_scores_only_the_videos_given(walk, tmp_path):
    """A second timeline into the same --out used to score every video cached there too."""
    root, out = walk["root"], tmp_path / "tl"
    timeline(root / "run4", root / "long" / "long0.mp4", out=out, progress=False)
    lines = timeline(root / "run4", root / "long" / "long1.mp4", out=out, progress=False)
    assert [t.video_id for t in lines] == ["long1"]


def test_timeline_without_run_names_the_mistake(walk, tmp_path, capsys):
    video = walk["root"] / "long" / "long0.mp4"
    assert main(["timeline", str(video), "--out", str(tmp_path / "tl")]) == 2
    err = capsys.readouterr().err
    assert "read as the RUN" in err and "--signal change" in err


def test_timeline_where_nothing_could_be_scored_says_so(walk, tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all\n")
    args = ["timeline", str(walk["root"] / "run4"), str(bad), "--out", str(tmp_path / "tl")]
    assert main([*args, "--quiet"]) == 1
    assert "no video could be scored" in capsys.readouterr().out


def test_timeline_says_where_the_report_is(walk, tmp_path, capsys):
    out = tmp_path / "tl"
    args = ["timeline", str(walk["root"] / "run4"), str(walk["root"] / "long" / "long0.mp4")]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    assert f"report {out / 'report.html'}" in capsys.readouterr().out.replace("\n", "")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--head-option", "hiden=8"], "did you mean 'hidden'"),
        (["--head", "stats_xgboost", "--head-option", "n_estimator=5"], "'n_estimators'"),
        (["--head", "mpl"], "did you mean 'mlp'"),
    ],
)
def test_train_refuses_a_typo_before_training(walk, tmp_path, capsys, flags, expected):
    """A misspelt --head-option used to end in a TypeError traceback and leave --out holding
    a split.json, which the next try called 'already holds a vidscope run'."""
    out = tmp_path / "run"
    args = ["train", str(walk["store"]), "--labels", str(walk["labels"]), "--out", str(out)]
    assert main([*args, *flags]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--heads", "mean_linear,xgboost"], "did you mean 'stats_xgboost'"),
        (
            ["--heads", "mean_linear,stats_xgboost", "--head-option", "dropout=0.3"],
            "head 'stats_xgboost' does not take it",
        ),
    ],
)
def test_compare_checks_every_head_before_the_first_trains(walk, tmp_path, capsys, flags, expected):
    """A typo in the second head name used to be found after the first head had trained;
    an option one of the heads does not take ended in a TypeError traceback."""
    out = tmp_path / "cmp"
    args = ["compare", str(walk["store"]), "--labels", str(walk["labels"]), "--out", str(out)]
    assert main([*args, *flags, "--epochs", "1", "--quiet"]) == 2
    assert expected in capsys.readouterr().err
    assert not (out / "mean_linear").exists()


def test_positive_class_hint_is_printed_once(walk, tmp_path, capsys):
    args = ["train", str(walk["store"]), "--labels", str(walk["labels"]), "--head"]
    assert main([*args, "mean_linear", "--epochs", "1", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "'noFight' is named like the absence" in out
    assert out.count("--positive-class") == 1


def test_leaderboard_figures_survive_an_80_column_console():
    rows = [
        {"head": "stats_xgboost", "accuracy": 0.567, "accuracy_std": 0.094, "f1": 0.67,
         "f1_std": 0.046, "roc_auc": 0.493, "roc_auc_std": 0.295, "f1_macro": 0.494,
         "f1_macro_std": 0.152, "params": 300, "train_s": 42.9},
        {"head": "mean_linear", "accuracy": 0.433, "accuracy_std": 0.047, "f1": 0.372,
         "f1_std": 0.263, "roc_auc": 0.507, "roc_auc_std": 0.038, "f1_macro": 0.355,
         "f1_macro_std": 0.099, "params": 3841, "train_s": 12.7},
    ]  # fmt: skip
    buf = io.StringIO()
    print_leaderboard(rows, Console(file=buf, width=80))
    text = buf.getvalue()
    assert "…" not in text
    for figure in ("0.094", "0.295", "0.152", "0.099", "stats_xgboost", "mean_linear"):
        assert figure in text


def test_interrupted_train_says_resume(monkeypatch, capsys):
    """Ctrl-C in train used to say 'rerun the same command', which then refuses the --out."""

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_train, "cmd_train", interrupted)
    assert main(["train", "store", "--labels", "l.csv", "--out", "run"]) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "rerun the same command" not in err


@pytest.mark.parametrize("command", ["heads", "backbones"])
def test_option_lists_are_not_cut_short(command, capsys):
    """`vidscope heads` / `backbones` on an 80-column console used to end cells with '…'
    (class_token_position=e…, weights from efficientnet-lite0-pytorc…)."""
    assert main([command]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    assert ("members=None" if command == "heads" else "tta_pool=mean") in out
