"""Regressions found by a new user's walkthrough of the CLI (second batch).

Each test fails on the code before its fix: ``--allow-missing`` that could not skip a video
whose extraction failed, ``predict`` errors naming a deleted temporary folder and partly
damaged videos scored without a word, settings dumps instead of the one difference, a CSV
called "no such feature store", a ``--path-column`` said to be missing although it was given,
a silently capped fold count and a head-option typo ending in a ``TypeError``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from vidscope.cli import main
from vidscope.errors import ConfigError
from vidscope.features import ExtractConfig, extract
from vidscope.training import TrainConfig, compare, train
from vidscope.video import SamplingSpec

from .conftest import EDGE, numbered_frames, write_video

FAST = dict(head="mean_linear", epochs=2, patience=2, batch_size=4, tensorboard=False)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six labelled 2 s clips and a text file named ``bad.mp4``, labelled by absolute path
    (as the walkthrough's CSVs were), a 4-frame store of them (``bad`` recorded failed) and a
    run trained on the six good clips."""
    root = tmp_path_factory.mktemp("walk2")
    rows = ["path,label"]
    for i in range(6):
        path = write_video(root / "clips" / f"c{i}.mp4", numbered_frames(50, seed=i))
        rows.append(f"{path},{'fight' if i % 2 else 'noFight'}")
    (root / "good.csv").write_text("\n".join(rows) + "\n")
    bad = root / "clips" / "bad.mp4"
    bad.write_text("not a video, only text\n")
    (root / "labels.csv").write_text("\n".join([*rows, f"{bad},fight"]) + "\n")
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 4))
    report = extract(root / "clips", root / "store", cfg, progress=False)
    assert list(report.failed) == ["bad"]
    train(root / "store", root / "good.csv", out=root / "run", config=TrainConfig(**FAST))
    return {"root": root, "store": root / "store", "labels": root / "labels.csv"}


def test_train_allow_missing_skips_a_video_whose_extraction_failed(walk, tmp_path, capsys):
    """A labelled video recorded failed used to be 'a path value that matches no video in
    the store', with or without --allow-missing."""
    args = ["train", str(walk["store"]), "--labels", str(walk["labels"]), "--head"]
    args += ["mean_linear", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "(bad)" in err and "--allow-missing" in err and "match no video" not in err
    assert main([*args, "--allow-missing"]) == 0
    assert "1 labelled video(s) without features were left out" in capsys.readouterr().out


def test_evaluate_allow_missing_skips_a_video_whose_extraction_failed(walk, capsys):
    args = ["evaluate", str(walk["root"] / "run"), str(walk["store"])]
    args += ["--labels", str(walk["labels"])]
    assert main(args) == 2
    assert "(bad)" in capsys.readouterr().err
    assert main([*args, "--allow-missing"]) == 0


def test_predict_on_videos_says_why_and_flags_partial_videos(walk, tmp_path, edge_expected):
    """predict on raw videos used to give a failed video the error "/tmp/vidscope-predict-
    .../store: video 'bad' failed to extract: ..." (a folder deleted by then), and scored a
    video cut short without a word."""
    assert edge_expected["truncated_tail.mp4"]["status"] == "partial"
    videos = tmp_path / "videos"
    videos.mkdir()
    for path in (walk["root"] / "clips" / "c0.mp4", walk["root"] / "clips" / "bad.mp4"):
        shutil.copy(path, videos)
    shutil.copy(EDGE / "truncated_tail.mp4", videos)
    out = tmp_path / "p.csv"
    assert main(["predict", str(walk["root"] / "run"), str(videos), "--out", str(out)]) == 0
    rows = {r["id"]: r for r in csv.DictReader(out.open())}
    assert rows["bad"]["error"] == "extraction failed: not a video: the file holds plain text"
    assert rows["c0"]["note"] == "" and rows["c0"]["score"]
    assert rows["truncated_tail"]["score"] and rows["truncated_tail"]["error"] == ""
    assert rows["truncated_tail"]["note"].startswith("partial: file cut short")


def test_extract_into_a_store_of_other_settings_says_the_difference(walk, capsys):
    """Used to dump both settings in full: "sampling: store has {'max_frames': None, 'mode':
    'uniform', 'value': 4}, asked {'mode': 'uniform', 'value': 16, 'max_frames': None}"."""
    args = ["extract", str(walk["root"] / "clips"), "--out", str(walk["store"]), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "store has 4 frames uniform, this run asks 16 frames uniform (the default)" in err
    assert "pass --frames 4 to add to it" in err and "{" not in err
    assert main([*args, "--frames", "4", "--dtype", "float16"]) == 2
    err = capsys.readouterr().err
    assert "store has --dtype float32, this run float16" in err and "pass --dtype float32" in err


def test_info_on_a_csv_says_it_is_a_file(walk, capsys):
    """`vidscope info labels.csv` used to say "no such feature store (run `vidscope extract
    VIDEOS --out labels.csv`)", advice that would extract into the labels' name."""
    assert main(["info", str(walk["labels"])]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a feature store" in err and "--labels" in err
    assert "--out labels.csv" not in err.replace("\n", "")


def test_extract_names_a_path_column_that_is_not_there(walk, tmp_path, capsys):
    """--path-column file on a CSV without it used to say "no path column (looked for file
    ...); pass --path-column", although the flag had been passed."""
    args = ["extract", str(walk["labels"]), "--out", str(tmp_path / "s"), "--quiet"]
    assert main([*args, "--path-column", "file"]) == 2
    err = capsys.readouterr().err
    assert "no path column 'file' in the CSV, as --path-column asks" in err
    assert "its columns: path, label" in err and "pass --path-column" not in err
    assert main([*args, "--path-column", "paths"]) == 2
    assert "did you mean 'path'?" in capsys.readouterr().err


def test_capped_fold_count_is_said(walk, tmp_path):
    """--folds 50 on 30 clips used to become 15 folds without a word."""
    cfg = TrainConfig(**{**FAST, "split": "kfold", "folds": 5})
    result = train(walk["store"], walk["root"] / "good.csv", out=tmp_path / "run", config=cfg)
    assert len(result.splits) == 3
    assert any(
        n.startswith("--folds 5 capped at 3: the smallest class") and "has 3 video(s)" in n
        for n in result.notes
    ), result.notes


def test_python_train_refuses_a_head_option_typo_before_training(walk, tmp_path):
    """TrainConfig(head_options={"hiden": 64}) used to end in a TypeError deep inside the
    head's constructor, after the labels were read and the run folder made."""
    cfg = TrainConfig(**{**FAST, "head_options": {"hiden": 64}})
    good = walk["root"] / "good.csv"
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"--head-option hiden \(did you mean 'hidden'\?\): "
                       r"head 'mean_linear' does not take it"):  # fmt: skip
        train(walk["store"], good, out=out, config=cfg)
    assert not out.exists()
    cfg = TrainConfig(**{**FAST, "head_options": {"dropout": 0.3}})
    heads = ["mean_linear", "stats_xgboost"]
    with pytest.raises(ConfigError, match="head 'stats_xgboost' does not take it"):
        compare(walk["store"], good, heads=heads, out=tmp_path / "cmp", config=cfg)
    assert not (tmp_path / "cmp").exists()


def test_url_list_with_a_wrong_path_column_names_the_column_and_the_csvs_columns():
    """A CSV list read from a URL used to say "no path column (the CSV has ...); pass
    --path-column" although the flag was passed; it now gives the local CSV's message."""
    import fsspec

    from vidscope.errors import InputError
    from vidscope.features._fsspec import resolve_urls

    fs = fsspec.filesystem("memory")
    fs.pipe("/walk2/list.csv", b"path,label\na.mp4,x\n")
    with pytest.raises(InputError, match=r"no path column 'paths' in the CSV, as --path-column "
                       r"asks \(did you mean 'path'\? its columns: path, label\)"):  # fmt: skip
        resolve_urls("memory://walk2/list.csv", path_column="paths")
    with pytest.raises(InputError, match=r"looked for path, video.*the CSV has name, label"):
        fs.pipe("/walk2/other.csv", b"name,label\na.mp4,x\n")
        resolve_urls("memory://walk2/other.csv")
    assert [u.path for u in resolve_urls("memory://walk2/list.csv")] == ["memory:///walk2/a.mp4"]


def test_train_says_it_splits_by_the_group_column(tmp_path, capsys):
    from .test_ensemble import fused_store

    store, labels = fused_store(tmp_path)
    rows = list(csv.DictReader(labels.open()))
    with (tmp_path / "grouped.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, [*rows[0], "source_group"])
        w.writeheader()
        w.writerows({**r, "source_group": f"cam{i % 10}"} for i, r in enumerate(rows))
    args = ["train", str(store), "--out", str(tmp_path / "r"), "--head", "mean_linear",
            "--epochs", "1"]  # fmt: skip
    assert main([*args, "--labels", str(tmp_path / "grouped.csv")]) == 0
    assert "10 source groups (the labels' group column)" in capsys.readouterr().out
    assert main([*args, "--labels", str(labels), "--out", str(tmp_path / "r2")]) == 0
    assert "source groups" not in capsys.readouterr().out


def test_a_rerun_with_nothing_to_do_shows_no_empty_bar(tmp_path, capsys):
    """A second ``extract`` of the same clip used to draw a ``0/0`` progress bar."""
    clip = write_video(tmp_path / "c.mp4", numbered_frames(20))
    args = ["extract", str(clip), "--out", str(tmp_path / "st"), "--frames", "4"]
    assert main(args) == 0
    assert "1/1" in capsys.readouterr().err  # the bar is drawn when there is work
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 video(s) already in the store: skipped" in err and "0/0" not in err


def test_listed_symlinks_keep_their_own_names_as_ids(tmp_path):
    """Ids of a ``.txt`` list used to come from the links' targets: two links to one file
    were refused as the same video, and a link named for its label lost the name."""
    from vidscope.features import resolve_videos

    target = write_video(tmp_path / "raw" / "0a1b2c.mp4", numbered_frames(10))
    (tmp_path / "set").mkdir()
    for name in ("fight_01.mp4", "fight_02.mp4"):
        (tmp_path / "set" / name).symlink_to(target)
    listing = tmp_path / "set" / "videos.txt"
    listing.write_text("fight_01.mp4\nfight_02.mp4\n")
    items = resolve_videos(listing)
    assert [i.video_id for i in items] == ["fight_01", "fight_02"]
    assert all(i.path.resolve() == target.resolve() for i in items)


def test_dot_dot_after_a_linked_folder_and_one_file_listed_twice(tmp_path):
    """``link/../x.mp4`` is the file beside the link's target, not ``x.mp4`` beside the list;
    one file named through a linked folder and through its real folder is listed twice."""
    from vidscope.errors import VidscopeError
    from vidscope.features import resolve_videos

    real = tmp_path / "data" / "real"
    write_video(real / "a.mp4", numbered_frames(10))
    write_video(tmp_path / "data" / "x.mp4", numbered_frames(10, seed=1))
    proj = tmp_path / "proj"
    write_video(proj / "x.mp4", numbered_frames(10, seed=2))
    (proj / "link").symlink_to(real, target_is_directory=True)
    (proj / "v.txt").write_text("link/../x.mp4\nx.mp4\n")
    items = resolve_videos(proj / "v.txt")
    assert [i.path.resolve() for i in items] == [(tmp_path / "data" / "x.mp4").resolve(),
                                                (proj / "x.mp4").resolve()]  # fmt: skip
    assert len({i.video_id for i in items}) == 2
    (proj / "twice.txt").write_text("link/a.mp4\n../data/real/a.mp4\n")
    with pytest.raises(VidscopeError, match="same video id"):
        resolve_videos(proj / "twice.txt")
