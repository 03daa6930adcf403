"""Timeline calibration from clip labels: composed long videos, each scored by a fold model
that did not train on its clips (``calibrate_timeline_on_clips``, ``vidscope calibrate``)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main
from vidscope.errors import ConfigError, VidscopeError
from vidscope.features import FeatureStore, open_store
from vidscope.localize import (
    ClipFeatures,
    calibrate_timeline,
    calibrate_timeline_on_clips,
    compose_clips,
    compose_store,
    read_calibration,
)
from vidscope.localize._calibrate_clips import _fold_runs
from vidscope.training import LabelOptions, TrainConfig, WindowOptions, load_run, train

OLD = Path(__file__).parent / "data" / "old_format"
D = 6
TREE = TrainConfig(head="stats_xgboost", head_options={"n_estimators": 20}, tensorboard=False,
                   threshold_from="cv")  # fmt: skip


def clip_store(root: Path, *, fps: float = 4.0, n: int = 40) -> Path:
    """``root/store`` (``n`` 2 s clips at ``fps``, 4 per source group, half of them 'fight')
    and ``root/labels.csv`` (id, label, group). Column 0 marks a fight clip (+1) or not (-1)."""
    old = open_store(OLD / "store")
    meta = {**old.meta, "layout": [["a", D]], "sampling": {"mode": "fps", "value": fps,
                                                            "max_frames": None}}  # fmt: skip
    meta["backbone"] = {**old.meta["backbone"], "name": "a", "num_features": D}
    store = FeatureStore.create(root / "store", meta)
    rng = np.random.default_rng(0)
    rows = []
    t = round(2.0 * fps)
    for i in range(n):
        vid, group, fight = f"v{i:02d}", f"g{i // 4:02d}", i % 4 >= 2
        x = rng.normal(size=(t, D)).astype(np.float32) * 0.5
        x[:, 0] = 1.0 if fight else -1.0
        x[:, 1:3] += rng.normal() * 0.3 + (0.8 if fight else 0.0)
        rel = store.write(vid, x, np.arange(t) / fps)
        store.record({**old.rows["v0"], "video_id": vid, "path": f"/x/{vid}.mp4",
                      "features": rel, "duration_s": 2.0, "num_samples": t})  # fmt: skip
        rows.append(f"{vid},{'fight' if fight else 'calm'},{group}")
    store.compact()
    (root / "labels.csv").write_text("id,label,group\n" + "\n".join(rows) + "\n")
    return root / "store"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clipcal")
    store = clip_store(root)
    opts = LabelOptions(root / "labels.csv", group_column="group")
    train(store, opts, out=root / "run", config=TREE)
    return root, store, opts


def test_compose_uses_every_event_clip_once_at_its_true_times():
    rng = np.random.default_rng(3)
    marks = [np.tile(np.float32([1.0 if k < 5 else -1.0, k]), (6, 1)) for k in range(12)]
    clips = [ClipFeatures(m, np.arange(6) * 0.5, 3.0, k < 5) for k, m in enumerate(marks)]
    videos = compose_clips(clips, rng, gap_s=(2.0, 4.0), max_event_clips=2, label="fight")
    assert 1 <= len(videos) <= 2  # 5 event clips: 3-5 stretches, 4 per video
    used = []
    for v in videos:
        assert np.all(np.diff(v.times_s) > 0) and v.times_s[-1] < v.duration_s
        inside = np.zeros(len(v.times_s), bool)
        gaps = [v.events[0].start_s] + [
            b.start_s - a.end_s for a, b in zip(v.events, v.events[1:], strict=False)
        ]
        gaps.append(v.duration_s - v.events[-1].end_s)
        assert all(2.0 - 1e-9 <= g <= 4.0 + 1e-9 for g in gaps)
        for e in v.events:
            assert e.label == "fight" and round(e.end_s - e.start_s, 6) in (3.0, 6.0)
            inside |= (v.times_s >= e.start_s) & (v.times_s < e.end_s)
        assert np.all(v.features[inside, 0] == 1.0) and np.all(v.features[~inside, 0] == -1.0)
        used += list(v.features[inside, 1])
    counts = pd.Series(used).value_counts()
    assert sorted(counts.index) == [0, 1, 2, 3, 4] and set(counts) == {6}  # each once, whole
    many = compose_clips(clips, np.random.default_rng(0), num_videos=3, max_event_clips=1)
    assert len(many) == 3 and sum(len(v.events) for v in many) == 5


def test_compose_refuses_what_it_cannot_compose():
    x = np.zeros((4, 2), np.float32)
    only_events = [ClipFeatures(x, np.arange(4.0), 4.0, True)]
    with pytest.raises(ConfigError, match="event and background"):
        compose_clips(only_events, np.random.default_rng(0))
    both = [*only_events, ClipFeatures(x, np.arange(4.0), 4.0, False)]
    with pytest.raises(ConfigError, match="gap seconds"):
        compose_clips(both, np.random.default_rng(0), gap_s=(5.0, 1.0))
    with pytest.raises(ConfigError, match="--event-clips"):
        compose_clips(both, np.random.default_rng(0), max_event_clips=0)


def test_fold_models_never_score_clips_they_trained_on(trained, tmp_path):
    root, store, opts = trained
    run = load_run(root / "run")
    runs, _ = _fold_runs(run, open_store(store), opts, 4, 0, tmp_path / "cv")
    groups = pd.read_csv(root / "labels.csv").set_index("id")["group"]
    scored = []
    for fold_run, test in runs:
        split = json.loads((fold_run.path / "split.json").read_text())
        seen = set(split["train"]) | set(split["val"])
        ids = [v for v, _ in test]
        assert not seen & set(ids)
        assert not set(groups[list(seen)]) & set(groups[ids])  # a source stays in one fold
        assert fold_run.spec.train["threshold_from"] == "val"  # no nested cross-fit
        assert fold_run.spec.head == run.spec.head
        scored += ids
    assert sorted(scored) == sorted(groups.index)  # every clip scored exactly once


def test_calibration_on_clips_is_saved_and_used(trained, tmp_path):
    root, store, opts = trained
    run = tmp_path / "run"
    import shutil

    shutil.copytree(root / "run", run)
    cal = calibrate_timeline_on_clips(run, store, opts, folds=4, shuffles=2, seed=1)
    assert cal.source == "clips" and cal.folds == 4 and cal.num_clips == 40
    assert cal.num_events >= 2 * 20 / 2  # 20 fight clips per shuffle, 1-2 per event
    # sampled at the timeline's rate, so the only note is about the 20 distinct fight clips
    assert len(cal.notes) == 1 and "only 20 fight clip(s)" in cal.notes[0]
    saved = read_calibration(run)
    assert saved["source"] == "clips" and saved["segments"]["threshold"] == cal.segments.threshold
    # the fold models separate these clips well, so the composed videos' events are found
    assert cal.f1[0] > 0.8
    again = calibrate_timeline_on_clips(run, store, opts, folds=4, shuffles=2, seed=1,
                                        write=False)  # fmt: skip
    assert again.segments == cal.segments  # seeded: the same folds, models and compositions


def test_calibration_on_clips_says_when_the_sampling_differs(tmp_path):
    store = clip_store(tmp_path, fps=2.0, n=24)
    opts = LabelOptions(tmp_path / "labels.csv", group_column="group")
    train(store, opts, out=tmp_path / "run", config=TREE)
    from vidscope.localize import TimelineConfig

    cal = calibrate_timeline_on_clips(tmp_path / "run", store, opts, folds=3, shuffles=1,
                                      config=TimelineConfig(fps=4.0), write=False)  # fmt: skip
    assert sum("--fps 4" in n for n in cal.notes) == 1


def test_calibration_on_clips_refuses_what_it_cannot_cross_fit(trained, tmp_path):
    root, store, opts = trained
    other = tmp_path / "labels.csv"
    df = pd.read_csv(root / "labels.csv")
    df.assign(label=np.where(df["label"] == "fight", "push", "calm")).to_csv(other, index=False)
    with pytest.raises(ConfigError, match="do not match the run's"):
        calibrate_timeline_on_clips(root / "run", store, LabelOptions(other), write=False)
    with pytest.raises(ConfigError, match="shuffles"):
        calibrate_timeline_on_clips(root / "run", store, opts, shuffles=0, write=False)
    three = tmp_path / "three.csv"
    df.assign(label=[f"c{i % 3}" for i in range(len(df))]).to_csv(three, index=False)
    train(store, LabelOptions(three), out=tmp_path / "multi", config=TREE, threshold_from="val")
    with pytest.raises(ConfigError, match="binary run"):
        calibrate_timeline_on_clips(tmp_path / "multi", store, LabelOptions(three))


def test_cli_calibrate_from_clips_and_from_annotations(trained, tmp_path, capsys):
    root, store, _ = trained
    import shutil

    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    labels = ["--labels", str(root / "labels.csv"), "--group-column", "group"]
    args = ["calibrate", str(run), str(store), *labels, "--folds", "3", "--shuffles", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "composed of 40 labelled clips" in printed and "3 fold models" in printed
    assert read_calibration(run)["source"] == "clips"
    # annotated long videos: here, a composition written as a store with its events
    comp = tmp_path / "long"
    st = FeatureStore.create(comp, dict(open_store(store).meta))
    clips = [ClipFeatures(*_clip(open_store(store), v), v in _fights(root)) for v in
             open_store(store).ids()]  # fmt: skip
    (video,) = compose_clips(clips, np.random.default_rng(0), num_videos=1)
    rel = st.write("long", video.features, video.times_s)
    st.record({"video_id": "long", "path": "long.mp4", "status": "ok", "features": rel,
               "duration_s": video.duration_s, "num_samples": len(video.times_s)})  # fmt: skip
    st.compact()
    events = tmp_path / "events.csv"
    pd.DataFrame(
        [("long.mp4", e.start_s, e.end_s, "fight") for e in video.events],
        columns=["file_name", "start_time", "end_time", "label"],
    ).to_csv(events, index=False)
    assert main(["calibrate", str(run), str(comp), "--annotations", str(events)]) == 0
    printed = capsys.readouterr().out
    assert f"1 video(s), {len(video.events)} event(s)" in printed and "are few" in printed
    assert read_calibration(run)["source"] == "annotations"
    same = calibrate_timeline(run, comp, events, write=False)
    assert read_calibration(run)["segments"]["threshold"] == same.segments.threshold
    # neither or both sources, and a bad --gap, are one-line errors
    assert main(["calibrate", str(run), str(store)]) == 2
    assert main(["calibrate", str(run), str(store), *labels, "--annotations", str(events)]) == 2
    assert main(["calibrate", str(run), str(store), *labels, "--gap", "x"]) == 2
    err = capsys.readouterr().err
    assert "give --labels" in err and "not both" in err and "--gap expects" in err
    assert (
        main(["calibrate", str(run), str(comp), "--annotations", str(events), "--folds", "3"]) == 2
    )
    assert "--folds: only with --labels" in capsys.readouterr().err


def _clip(st, vid):
    seq = st.load(vid)
    return seq.features, seq.times_s, 2.0


def _fights(root: Path) -> set[str]:
    df = pd.read_csv(root / "labels.csv")
    return set(df.loc[df["label"] == "fight", "id"])


def test_compose_keeps_time_order_with_clips_sampled_late():
    """Uniformly sampled clips start after 0: a short cut of one has no sample inside it."""
    rng = np.random.default_rng(0)
    clips = []
    for k in range(30):
        dur = float(rng.uniform(1.0, 12.0))
        x = np.tile(np.float32([1.0 if k < 10 else -1.0]), (16, 1))
        clips.append(ClipFeatures(x, (np.arange(16) + 0.5) * dur / 16, dur, k < 10))
    for seed in range(40):
        for v in compose_clips(clips, np.random.default_rng(seed), gap_s=(0.2, 3.0)):
            assert np.all(np.diff(v.times_s) > 0) and v.times_s[-1] < v.duration_s
            inside = np.zeros(len(v.times_s), bool)
            for e in v.events:
                inside |= (v.times_s >= e.start_s) & (v.times_s < e.end_s)
            assert np.all(v.features[inside, 0] == 1.0) and np.all(v.features[~inside, 0] == -1.0)


def test_folds_are_capped_at_the_sources_of_each_class(trained, tmp_path):
    root, store, _ = trained
    df = pd.read_csv(root / "labels.csv")
    few = tmp_path / "few.csv"
    df.assign(group=[f"s{i // 16}" for i in range(len(df))]).to_csv(few, index=False)
    run = load_run(root / "run")
    opts = LabelOptions(few, group_column="group")
    runs, notes = _fold_runs(run, open_store(store), opts, 5, 0, tmp_path / "cv")
    assert len(runs) == 3 and any("--folds 5 capped at 3" in n for n in notes)
    groups = df.set_index("id").assign(group=[f"s{i // 16}" for i in range(len(df))])["group"]
    for fold_run, test in runs:
        split = json.loads((fold_run.path / "split.json").read_text())
        seen = set(split["train"]) | set(split["val"])
        assert not set(groups[list(seen)]) & set(groups[[v for v, _ in test]])
    one = tmp_path / "one.csv"  # every fight clip from one source: nothing to cross-fit
    df.assign(group=np.where(df["label"] == "fight", "f", df["group"])).to_csv(one, index=False)
    with pytest.raises(ConfigError, match="1 source groups with 'fight' clips"):
        calibrate_timeline_on_clips(root / "run", store, LabelOptions(one, group_column="group"))


def test_bad_options_fail_before_any_training(trained, tmp_path, monkeypatch):
    root, store, opts = trained
    import vidscope.training as training

    def no_training(*a, **k):
        raise AssertionError("trained before checking the options")

    monkeypatch.setattr(training, "train", no_training)
    for kw, message in [
        (dict(gap_s=(5.0, 1.0)), "--gap seconds"),
        (dict(gap_s=(0.0, 5.0)), "--gap seconds"),
        (dict(max_event_clips=0), "--event-clips"),
        (dict(shuffles=0), "--shuffles"),
        (dict(seed=-1), "--seed must be >= 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            calibrate_timeline_on_clips(root / "run", store, opts, **kw)
    gone = load_run(root / "run")
    gone.path = tmp_path / "missing"  # a run folder that cannot take timeline.json
    with pytest.raises(VidscopeError, match=r"cannot write timeline\.json"):
        calibrate_timeline_on_clips(gone, store, opts)


def test_compose_store_writes_window_training_data(trained, tmp_path, capsys):
    root, store, opts = trained
    out, videos = compose_store(store, opts, tmp_path / "comp", shuffles=2, seed=0)
    st = open_store(out)
    assert sorted(st.ids()) == [f"comp{i:04d}" for i in range(len(videos))]
    events = pd.read_csv(out / "events.csv")
    assert len(events) == sum(len(v.events) for v in videos) and set(events["label"]) == {"fight"}
    fights = 0
    for i, v in enumerate(videos):
        seq = st.load(f"comp{i:04d}")
        np.testing.assert_array_equal(seq.features, v.features)
        fights += int((seq.features[:, 0] == 1.0).sum())
    assert fights == 2 * 20 * 8  # 20 fight clips of 8 samples, once per shuffle
    with pytest.raises(ConfigError, match="not an empty folder"):
        compose_store(store, opts, out)
    three = tmp_path / "three.csv"
    df = pd.read_csv(root / "labels.csv")
    df.assign(label=[f"c{i % 3}" for i in range(len(df))]).to_csv(three, index=False)
    with pytest.raises(ConfigError, match="two classes"):
        compose_store(store, LabelOptions(three), tmp_path / "c3")
    args = ["compose", str(store), "--labels", str(root / "labels.csv"), "--out"]
    assert main([*args, str(tmp_path / "cli"), "--shuffles", "1"]) == 0
    assert "vidscope train" in capsys.readouterr().out
    assert (tmp_path / "cli" / "events.csv").exists()
    assert main([*args, str(tmp_path / "cli")]) == 2
    assert main([*args, str(tmp_path / "neg"), "--seed", "-1"]) == 2
    assert "--seed must be >= 0" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--seed must be >= 0"):
        TrainConfig(seed=-1)


def test_window_level_run_calibrated_on_clips(trained, tmp_path):
    """A window-level run trained on compositions: its fold models are window-level runs
    trained on compositions of the other folds' clips only."""
    _, store, opts = trained
    comp, _ = compose_store(store, opts, tmp_path / "comp", shuffles=1, seed=0)
    win = WindowOptions(comp / "events.csv", window_s=1.0, overlap=0.5)
    train(comp, out=tmp_path / "wrun", config=TREE, threshold_from="val", windows=win)
    wrun = load_run(tmp_path / "wrun")
    assert wrun.classes == ["normal", "fight"]
    runs, _ = _fold_runs(wrun, open_store(store), opts, 3, 0, tmp_path / "cv",
                         recipe={"label": "fight"}, shuffles=1)  # fmt: skip
    st = open_store(store)
    assert sorted(v for _, test in runs for v, _ in test) == sorted(st.ids())
    for k, (fold_run, test) in enumerate(runs):
        assert fold_run.spec.window == wrun.spec.window
        seen = open_store(tmp_path / "cv" / f"fold{k}" / "store")
        rows = np.concatenate([seen.load(v).features for v in seen.ids()])
        for v, _ in test:  # no held-out clip's samples in its fold model's training videos
            x = st.load(v).features
            assert not (rows[:, None, :] == x[None, :, :]).all(axis=2).any()
    cal = calibrate_timeline_on_clips(wrun, store, opts, folds=3, shuffles=1, write=False)
    assert cal.source == "clips" and cal.folds == 3 and cal.window_s == 1.0
    assert cal.f1[0] > 0.5


def test_composed_windows_validate_on_clips_they_did_not_train_on(trained, tmp_path):
    """Every arrangement reuses every clip, so `compose` composes grouped folds apart and
    names each video's fold in events.csv: the window-level run's validation windows then
    hold no sample of a clip its training windows hold (with groups by video they did)."""
    _, store, opts = trained
    notes: list[str] = []
    comp, _ = compose_store(store, opts, tmp_path / "comp", shuffles=3, seed=1, folds=4,
                                 notes=notes)  # fmt: skip
    events = pd.read_csv(comp / "events.csv")
    assert set(events["group"]) == {f"fold{k}" for k in range(4)}
    assert events.groupby("file_name")["group"].nunique().max() == 1
    win = WindowOptions(comp / "events.csv", window_s=1.0, overlap=0.5)
    res = train(comp, out=tmp_path / "wrun", config=TREE, threshold_from="val", windows=win)
    assert any("of 4 source groups" in n for n in res.notes)
    split = json.loads((tmp_path / "wrun" / "split.json").read_text())
    st = open_store(comp)

    def rows(window_ids):
        vids = sorted({w.split("@")[0] for w in window_ids})
        return {tuple(r) for v in vids for r in st.load(v).features.round(5)}

    train_rows, val_rows = rows(split["train"]), rows(split["val"])
    assert train_rows and val_rows and not train_rows & val_rows
    clips = open_store(store)
    for v in clips.ids():  # each clip's samples sit on one side only
        x = {tuple(r) for r in clips.load(v).features.round(5)}
        assert not (x & train_rows and x & val_rows)


def test_annotation_groups_are_read_and_conflicts_refused(tmp_path):
    from vidscope.data import read_annotation_groups
    from vidscope.data._labels import LabelError

    csv = tmp_path / "events.csv"
    csv.write_text("file_name,start_time,end_time,group\na.mp4,1,2,cam1\na.mp4,3,4,cam1\n"
                   "b.mp4,,,cam2\nc.mp4,1,2,\n")  # fmt: skip
    assert read_annotation_groups(csv, video_ids=["a", "b", "c"]) == {"a": "cam1", "b": "cam2"}
    plain = tmp_path / "plain.csv"
    plain.write_text("file_name,start_time,end_time\na.mp4,1,2\n")
    assert read_annotation_groups(plain, video_ids=["a"]) == {}
    csv.write_text("file_name,start_time,end_time,source_group\na.mp4,1,2,x\na.mp4,3,4,y\n")
    with pytest.raises(LabelError, match="'x' and 'y'"):
        read_annotation_groups(csv, video_ids=["a"])


def test_a_split_column_the_folds_replace_is_ignored(trained, tmp_path):
    """`calibrate --labels` and `compose` make their own folds: a split column of the labels
    (found automatically, with values train would refuse) is not read."""
    root, store, _ = trained
    odd = tmp_path / "odd.csv"
    df = pd.read_csv(root / "labels.csv")
    df.assign(split=["holdout" if i % 2 else "" for i in range(len(df))]).to_csv(odd, index=False)
    opts = LabelOptions(odd, group_column="group")
    cal = calibrate_timeline_on_clips(root / "run", store, opts, folds=2, shuffles=1, write=False)
    assert cal.folds == 2
    comp, videos = compose_store(store, opts, tmp_path / "comp", shuffles=1, folds=2)
    assert videos and (comp / "events.csv").exists()


def test_cli_train_calibrate_timeline_is_one_command(trained, tmp_path, capsys):
    """`train --calibrate-timeline`: the run, then `calibrate --labels` on it, in one command
    (the same settings as the two commands); refused with --annotations before training."""
    root, store, _ = trained
    labels = ["--labels", str(root / "labels.csv"), "--group-column", "group"]
    tree = ["--head", "stats_xgboost", "--head-option", "n_estimators=20", "--threshold-from",
            "cv"]  # fmt: skip
    out = tmp_path / "run"
    assert main(["train", str(store), *labels, *tree, "--out", str(out),
                 "--calibrate-timeline"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "calibrating the timeline" in printed and "5 fold models trained" in printed
    saved = read_calibration(out)
    assert saved["source"] == "clips" and saved["folds"] == 5
    same = calibrate_timeline_on_clips(out, store, LabelOptions(root / "labels.csv",
                                       group_column="group"), write=False)  # fmt: skip
    assert saved["segments"]["threshold"] == same.segments.threshold
    events = tmp_path / "e.csv"
    events.write_text("file_name,start_time,end_time\nv00.mp4,0,1\n")
    bad = ["train", str(store), *tree, "--out", str(tmp_path / "w"), "--calibrate-timeline",
           "--annotations", str(events)]  # fmt: skip
    assert main(bad) == 2 and not (tmp_path / "w").exists()
    assert "--calibrate-timeline composes the labelled clips" in capsys.readouterr().err
    three = tmp_path / "three.csv"  # labels it cannot calibrate on: refused before training
    df = pd.read_csv(root / "labels.csv")
    df.assign(label=[f"c{i % 3}" for i in range(len(df))]).to_csv(three, index=False)
    multi = ["train", str(store), "--labels", str(three), *tree[:4], "--out",
             str(tmp_path / "m"), "--calibrate-timeline"]  # fmt: skip
    assert main(multi) == 2 and not (tmp_path / "m").exists()
    assert "--calibrate-timeline needs two classes" in capsys.readouterr().err


def test_too_few_groups_still_keep_each_video_whole(trained, tmp_path, capsys):
    """An events CSV whose group column names one source: the windows are split by video
    (never across one, whose windows overlap), not without groups; and compose with one
    source of the event class composes all clips together, with a note, instead of failing."""
    root, store, opts = trained
    comp, _ = compose_store(store, opts, tmp_path / "comp", shuffles=2, seed=0)
    events = pd.read_csv(comp / "events.csv").assign(group="cam1")
    events.to_csv(comp / "one.csv", index=False)
    win = WindowOptions(comp / "one.csv", window_s=1.0, overlap=0.5)
    res = train(comp, out=tmp_path / "wrun", config=TREE, threshold_from="val", windows=win)
    assert any("split by video" in n for n in res.notes)
    split = json.loads((tmp_path / "wrun" / "split.json").read_text())
    side = lambda part: {w.split("@")[0] for w in split[part]}  # noqa: E731
    assert side("train") and side("val") and not side("train") & side("val")
    one = tmp_path / "one_source.csv"  # every fight clip from one source
    df = pd.read_csv(root / "labels.csv")
    df.assign(group=np.where(df["label"] == "fight", "f", df["group"])).to_csv(one, index=False)
    notes: list[str] = []
    _, videos = compose_store(store, LabelOptions(one, group_column="group"), tmp_path / "c1",
                              shuffles=1, notes=notes)  # fmt: skip
    assert videos and any("composed without folds" in n for n in notes)
    assert "group" not in pd.read_csv(tmp_path / "c1" / "events.csv").columns
    args = ["compose", str(store), "--labels", str(one), "--group-column", "group", "--out"]
    assert main([*args, str(tmp_path / "c2")]) == 0
    assert "composed without folds" in " ".join(capsys.readouterr().out.split())


def test_cli_train_compose_is_the_window_level_recipe_in_one_command(trained, tmp_path, capsys):
    """`train --labels --compose --window W --calibrate-timeline`: compose (grouped folds) into
    OUT.composed, a window-level run on it, and the clip-labels calibration of that run."""
    root, store, _ = trained
    labels = ["--labels", str(root / "labels.csv"), "--group-column", "group"]
    tree = ["--head", "stats_xgboost", "--head-option", "n_estimators=20"]
    out = tmp_path / "wrun"
    args = ["train", str(store), *labels, *tree, "--out", str(out), "--compose", "--window", "1",
            "--overlap", "0.5", "--calibrate-timeline"]  # fmt: skip
    assert main(args) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "long videos composed of the labelled clips" in printed and "fold models" in printed
    run = load_run(out)
    assert run.spec.window == {"window_s": 1.0, "stride_s": 0.5}
    assert run.classes == ["normal", "fight"]
    events = pd.read_csv(tmp_path / "wrun.composed" / "events.csv")
    assert events["group"].nunique() == 5
    saved = read_calibration(out)
    assert saved["source"] == "clips" and saved["window_s"] == 1.0
    # --shuffles sets the arrangements of the training videos and of the calibration alike
    # (2 for both by default with --compose, as measured)
    one = tmp_path / "one"
    at = lambda where: [str(where) if a == str(out) else a for a in args]  # noqa: E731
    assert main([*at(one), "--shuffles", "1"]) == 0
    capsys.readouterr()
    assert 2 * len(pd.read_csv(tmp_path / "one.composed" / "events.csv")["file_name"].unique()) == (
        len(events["file_name"].unique())
    )
    assert 2 * read_calibration(one)["num_videos"] == saved["num_videos"]
    for extra, message in ((["--gap", "0,2"], "--gap seconds must satisfy"),
                           (["--event-clips", "0"], "--event-clips must be >= 1"),
                           (["--shuffles", "0"], "--shuffles must be >= 1")):  # fmt: skip
        assert main([*at(tmp_path / "bad"), *extra]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "bad.composed").exists()
    plain = ["train", str(store), *labels, *tree, "--out", str(tmp_path / "plain")]
    assert main([*plain, "--gap", "2,4", "--shuffles", "3"]) == 2
    assert "--shuffles, --gap: only with --compose or --calibrate-timeline" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "plain").exists()
    assert main(args) == 2  # an existing run: refused before composing again
    assert "exists and is not empty" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    events_file = tmp_path / "e.csv"
    events_file.write_text("file_name,start_time,end_time\nv00.mp4,0,1\n")
    for extra, message in ((["--annotations", str(events_file)], "drop --annotations"),
                           (["--resume"], "drop --resume")):  # fmt: skip
        bad = ["train", str(store), *labels, *tree, "--out", str(tmp_path / "x"), "--compose",
               *extra]  # fmt: skip
        assert main(bad) == 2 and not (tmp_path / "x.composed").exists()
        assert message in capsys.readouterr().err
    auto = ["train", str(store), *labels, "--head", "auto", "--out", str(tmp_path / "a"),
            "--compose"]  # fmt: skip
    assert main(auto) == 2 and "name the head" in capsys.readouterr().err


def test_train_compose_checks_before_composing_and_honours_label_flags(trained, tmp_path, capsys):
    """`train --compose`: a bad --overlap is refused before anything is composed; a composed
    folder left by an earlier run is named with the way out; --allow-missing leaves out a
    labelled clip whose extraction failed (as plain `train` does) instead of failing."""
    root, store, _ = trained
    labels = ["--labels", str(root / "labels.csv"), "--group-column", "group"]
    tree = ["--head", "stats_xgboost", "--head-option", "n_estimators=20"]
    out = tmp_path / "w"
    base = ["train", str(store), *labels, *tree, "--out", str(out), "--compose", "--window", "1"]
    assert main([*base, "--overlap", "1"]) == 2
    assert "--overlap must be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "w.composed").exists()  # nothing composed
    (tmp_path / "w.composed").mkdir()
    (tmp_path / "w.composed" / "x.txt").write_text("left over")
    assert main([*base, "--overlap", "0.5"]) == 2
    assert "--overwrite replaces it" in capsys.readouterr().err and not out.exists()
    # a labelled clip whose extraction failed
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    st = open_store(copy)
    st.record({**st.rows["v00"], "video_id": "v99", "path": "/x/v99.mp4", "features": None,
               "status": "failed", "num_samples": 0})  # fmt: skip
    st.compact()
    more = tmp_path / "more.csv"
    more.write_text((root / "labels.csv").read_text() + "v99,fight,g99\n")
    args = [
        "train",
        str(copy),
        "--labels",
        str(more),
        "--group-column",
        "group",
        *tree,
        "--out",
        str(tmp_path / "m"),
        "--compose",
        "--window",
        "1",
        "--overlap",
        "0.5",
    ]
    assert main(args) == 2
    assert "v99" in capsys.readouterr().err
    assert main([*args, "--allow-missing", "--overwrite"]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    assert "1 labelled video(s) without features were left out" in " ".join(
        capsys.readouterr().out.split()
    )


def test_annotation_groups_from_a_named_column(tmp_path):
    """`--group-column` names the annotations' group column too; a file without it is refused."""
    from vidscope.data import read_annotation_groups
    from vidscope.data._labels import LabelError

    events = tmp_path / "e.csv"
    events.write_text("file_name,start_time,end_time,camera,group\na.mp4,0,1,c1,x\n"
                      "b.mp4,2,3,c1,y\n")  # fmt: skip
    ids = ["a", "b"]
    assert read_annotation_groups(events, video_ids=ids) == {"a": "x", "b": "y"}
    assert read_annotation_groups(events, video_ids=ids, group_column="Camera") == {
        "a": "c1",
        "b": "c1",
    }
    with pytest.raises(LabelError, match="no column 'site'"):
        read_annotation_groups(events, video_ids=ids, group_column="site")


def test_linear_probe_inner_cv_keeps_windows_of_a_video_together():
    """With one source group on the training side, the probe's inner CV (choosing C) is
    grouped by the windows' videos, never splitting overlapping windows of one video."""
    from vidscope.data import LabelSet, SequenceSet
    from vidscope.training._linear import LinearTrainer

    n = 24
    video = np.repeat([f"v{i}" for i in range(6)], 4)
    labels = LabelSet([f"{v}@{k}" for k, v in enumerate(video)], np.arange(n) % 2,
                      ["calm", "fight"], groups=np.array(["cam"] * n), units=video)  # fmt: skip
    data = SequenceSet(labels, [np.ones((3, 2), np.float32) * k for k in range(n)],
                       [np.arange(3.0)] * n, [("a", 2)])  # fmt: skip
    seen = {}

    class Spy:
        def fit(self, x, y, *, mask, groups):
            seen["groups"] = groups

    LinearTrainer().fit_rows(Spy(), data, np.arange(n))
    np.testing.assert_array_equal(seen["groups"], video)


def test_fold_models_train_ensemble_members_with_their_own_optimiser_defaults(
    tmp_path, monkeypatch
):
    """An ensemble member whose head has its own optimiser defaults (CoOp's SGD, lr 0.002, ...)
    trains with them in the run; the fold models, rebuilt from the run's config.json, must
    train it with them too, not with the run-level values the ensemble resolved to."""
    from vidscope.models._pooling import PoolingHead
    from vidscope.training._ensemble import EnsembleTrainer

    own = {"optimizer": "sgd", "lr": 0.05, "weight_decay": 5e-4, "warmup_epochs": 1.0}
    monkeypatch.setattr(PoolingHead, "train_defaults", own, raising=False)
    seen: list[dict[str, object]] = []
    fit = EnsembleTrainer.fit

    def recording_fit(self, model, *a, **k):
        out = fit(self, model, *a, **k)
        seen.extend({f: getattr(m.cfg, f) for f in ("head", *own)} for m in model.members)
        return out

    monkeypatch.setattr(EnsembleTrainer, "fit", recording_fit)
    store = clip_store(tmp_path, n=24)
    opts = LabelOptions(tmp_path / "labels.csv", group_column="group")
    members = "mean_linear@a,stats_xgboost:n_estimators=10@a"
    cfg = TrainConfig(head="ensemble", head_options={"members": members}, epochs=3,
                      tensorboard=False, export_onnx=False)  # fmt: skip
    train(store, opts, out=tmp_path / "run", config=cfg)
    assert seen[0] == {"head": "mean_linear", **own}  # the run: the head's own defaults
    assert seen[1]["lr"] == 1e-3  # the tree member: the run-level default
    run = load_run(tmp_path / "run")
    assert run.spec.train["lr"] == 1e-3 and "lr" in run.spec.train["unset"]
    seen.clear()
    _fold_runs(run, open_store(store), opts, 3, 0, tmp_path / "cv")
    assert len(seen) == 6
    assert seen[0::2] == [{"head": "mean_linear", **own}] * 3  # the fold models: the same
    given = TrainConfig.from_record(replace(cfg, lr=0.02).record())  # an explicit --lr stays
    assert (given.lr, given.optimizer) == (0.02, None)
    old = {k: v for k, v in run.spec.train.items() if k != "unset"}  # an earlier run's record
    assert TrainConfig.from_record(old).lr == 1e-3
