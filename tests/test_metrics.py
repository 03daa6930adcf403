"""Evaluation metrics agree with scikit-learn; thresholds, folds, plots and tables work."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from vidscope.metrics import (
    aggregate_folds,
    choose_threshold,
    classification_report,
    leaderboard_table,
    metrics_table,
    per_class_table,
    plot_confusion_matrix,
    plot_roc_pr,
)

TOL = 1e-10
BINARY = ["background", "event"]
FOUR = ["walk", "run", "jump", "fall"]


def binary_problem(seed: int, n: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced (~20% positive) targets and scores on a 0.05 grid, so many ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    scores = np.clip(0.25 * y + rng.random(n) * 0.75, 0.0, 1.0)
    return y, np.round(scores * 20) / 20


def four_class_problem(
    seed: int, n: int = 300, *, absent: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced 4-class targets; integer logits give tied rows; class 3 is never argmax."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.45, 0.3, 0.15, 0.1])
    if absent is not None:
        y[y == absent] = 0
    logits = rng.integers(0, 3, size=(n, 4)).astype(np.float64)
    logits[np.arange(n), y] += 1.5
    logits[:, 3] = -6.0  # never predicted, still a non-zero probability
    proba = np.exp(logits)
    return y, proba / proba.sum(axis=1, keepdims=True)


def assert_close(actual: float | None, expected: float, name: str) -> None:
    assert actual is not None, name
    assert abs(actual - expected) <= TOL, f"{name}: {actual!r} != sklearn {expected!r}"


def assert_plain_json(value: object) -> None:
    """Only builtin types, recursively (np.float64 subclasses float, so check exactly)."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)
    else:
        assert value is None or type(value) in (str, int, float), (value, type(value))


def check_against_sklearn(report: dict, y: np.ndarray, pred: np.ndarray, labels: list) -> None:
    """Every label-based metric of ``report`` against sklearn on predictions ``pred``."""
    idx = list(range(len(labels)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(report["accuracy"], skm.accuracy_score(y, pred), "accuracy")
        bal = skm.balanced_accuracy_score(y, pred)
        assert_close(report["balanced_accuracy"], bal, "balanced_accuracy")
        for average in ("macro", "weighted"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                y, pred, labels=idx, average=average, zero_division=0
            )
            assert_close(report[f"precision_{average}"], p, f"precision_{average}")
            assert_close(report[f"recall_{average}"], r, f"recall_{average}")
            assert_close(report[f"f1_{average}"], f, f"f1_{average}")
        headline = "binary" if len(labels) == 2 else "macro"
        p, r, f, _ = skm.precision_recall_fscore_support(
            y, pred, labels=idx, average=headline, zero_division=0
        )
        p_c, r_c, f_c, s_c = skm.precision_recall_fscore_support(
            y, pred, labels=idx, average=None, zero_division=0
        )
    assert_close(report["precision"], p, "precision")
    assert_close(report["recall"], r, "recall")
    assert_close(report["f1"], f, "f1")
    for i, row in enumerate(report["per_class"]):
        assert row["label"] == labels[i]
        assert_close(row["precision"], p_c[i], f"precision[{i}]")
        assert_close(row["recall"], r_c[i], f"recall[{i}]")
        assert_close(row["f1"], f_c[i], f"f1[{i}]")
        assert row["support"] == s_c[i]
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=idx).tolist()
    assert report["num_samples"] == len(y)
    assert report["labels"] == labels
    assert_plain_json(report)
    json.dumps(report)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [None, 0.3, 0.65, 0.95])
def test_binary_matches_sklearn(seed: int, threshold: float | None) -> None:
    y, scores = binary_problem(seed)
    report = classification_report(y, scores, labels=BINARY, threshold=threshold)
    cut = 0.5 if threshold is None else threshold
    check_against_sklearn(report, y, (scores >= cut).astype(int), BINARY)
    assert report["threshold"] == cut
    assert_close(report["roc_auc"], skm.roc_auc_score(y, scores), "roc_auc")
    ap = skm.average_precision_score(y, scores)
    assert_close(report["average_precision"], ap, "average_precision")
    assert_close(report["log_loss"], skm.log_loss(y, scores, labels=[0, 1]), "log_loss")


def test_binary_accepts_two_column_probabilities() -> None:
    y, scores = binary_problem(0)
    two = np.stack([1 - scores, scores], axis=1)
    expected = classification_report(y, scores, labels=BINARY)
    assert classification_report(y, two, labels=BINARY) == expected


@pytest.mark.parametrize("seed", range(6))
def test_multiclass_matches_sklearn(seed: int) -> None:
    y, proba = four_class_problem(seed)
    assert len(np.unique(proba[:, 0])) < len(y) // 2  # plenty of ties
    report = classification_report(y, proba, labels=FOUR, threshold=0.9)
    pred = proba.argmax(axis=1)
    assert 3 not in pred and 3 in y  # a class present but never predicted
    check_against_sklearn(report, y, pred, FOUR)
    assert report["threshold"] is None
    auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=[0, 1, 2, 3])
    assert_close(report["roc_auc"], auc, "roc_auc")
    onehot = label_binarize(y, classes=[0, 1, 2, 3])
    ap = skm.average_precision_score(onehot, proba, average="macro")
    assert_close(report["average_precision"], ap, "average_precision")
    assert_close(report["log_loss"], skm.log_loss(y, proba, labels=[0, 1, 2, 3]), "log_loss")


def test_multiclass_absent_class_averages_over_present_classes() -> None:
    y, proba = four_class_problem(7, absent=2)
    report = classification_report(y, proba, labels=FOUR)
    check_against_sklearn(report, y, proba.argmax(axis=1), FOUR)
    present = [0, 1, 3]
    onehot = label_binarize(y, classes=[0, 1, 2, 3])[:, present]
    auc = skm.roc_auc_score(onehot, proba[:, present], average="macro")
    assert_close(report["roc_auc"], auc, "roc_auc")
    ap = skm.average_precision_score(onehot, proba[:, present], average="macro")
    assert_close(report["average_precision"], ap, "average_precision")


def test_one_class_present_gives_no_auc() -> None:
    scores = np.array([0.2, 0.7, 0.4, 0.9])
    negatives = classification_report(np.zeros(4, int), scores, labels=BINARY)
    assert negatives["roc_auc"] is None and negatives["average_precision"] is None
    assert negatives["accuracy"] == 0.5 and negatives["f1"] == 0.0
    positives = classification_report(np.ones(4, int), scores, labels=BINARY)
    assert positives["roc_auc"] is None and positives["average_precision"] == 1.0
    _, proba = four_class_problem(0, n=20)
    assert classification_report(np.zeros(20, int), proba, labels=FOUR)["roc_auc"] is None


def test_bad_inputs_are_explained() -> None:
    y = np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="logits"):
        classification_report(y, np.array([-2.0, 3.0, 1.0, -1.0]), labels=BINARY)
    with pytest.raises(ValueError, match="outside"):
        classification_report(np.array([0, 1, 2, 0]), np.full(4, 0.5), labels=BINARY)
    with pytest.raises(ValueError, match="shape"):
        classification_report(y, np.full((4, 3), 1 / 3), labels=FOUR)
    with pytest.raises(ValueError, match="sum to 1"):
        classification_report(y, np.full((4, 4), 0.5), labels=FOUR)


def test_choose_threshold_hand_examples() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.9])
    # F1 at 0.9, 0.8, 0.6, 0.4, 0.35, 0.1 = 1/2, 4/5, 2/3, 4/7, 3/4, 2/3
    assert choose_threshold(y, scores) == 0.8
    assert choose_threshold(y, scores, metric="youden") == 0.8
    # balanced accuracy 0.75 at both 0.9 and 0.3: the one nearer 0.5 wins
    y, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.3, 0.6, 0.9])
    assert choose_threshold(y, scores, metric="balanced_accuracy") == 0.3
    assert choose_threshold(y, scores, metric="youden") == 0.3
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold(np.zeros(4, int), scores)
    with pytest.raises(ValueError, match="Unknown"):
        choose_threshold(y, scores, metric="accuracy")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(4))
def test_choose_threshold_reaches_the_best_candidate(seed: int) -> None:
    y, scores = binary_problem(seed, n=150)
    candidates = np.unique(scores)
    for metric, score_fn in (
        ("f1", lambda p: skm.f1_score(y, p, zero_division=0)),
        ("balanced_accuracy", lambda p: skm.balanced_accuracy_score(y, p)),
    ):
        best = max(score_fn(scores >= t) for t in candidates)
        chosen = choose_threshold(y, scores, metric=metric)
        assert chosen in candidates
        assert abs(score_fn(scores >= chosen) - best) <= TOL, metric


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    with Image.open(path) as image:
        assert image.width > 200 and image.height > 200


def test_plots_write_pngs(tmp_path) -> None:
    y, proba = four_class_problem(1)
    report = classification_report(y, proba, labels=FOUR)
    cm_path = tmp_path / "plots" / "cm.png"
    assert plot_confusion_matrix(report["confusion_matrix"], FOUR, cm_path, title="t") == cm_path
    assert_png(cm_path)
    plot_confusion_matrix(np.zeros((2, 2), int), BINARY, tmp_path / "raw.png", normalize=False)
    assert_png(tmp_path / "raw.png")
    y, scores = binary_problem(1)
    assert_png(plot_roc_pr(y, scores, tmp_path / "roc_pr.png", title="binary"))
    with pytest.raises(ValueError, match="does not match"):
        plot_confusion_matrix(np.zeros((3, 3)), BINARY, tmp_path / "bad.png")


def fold(acc: float, auc: float | None, cm: list[list[int]]) -> dict:
    return {
        "accuracy": acc,
        "roc_auc": auc,
        "threshold": 0.5,
        "confusion_matrix": cm,
        "per_class": [
            {"label": "a", "precision": acc, "recall": 1.0, "f1": 0.5, "support": 3},
            {"label": "b", "precision": 0.0, "recall": acc, "f1": 0.5, "support": 2},
        ],
        "num_samples": 5,
        "labels": ["a", "b"],
    }


def test_aggregate_folds_hand_example() -> None:
    folds = [fold(0.8, 0.9, [[3, 0], [1, 1]]), fold(0.6, None, [[2, 1], [1, 1]])]
    out = aggregate_folds(folds)
    assert out["accuracy"] == pytest.approx(0.7) and out["accuracy_std"] == pytest.approx(0.1)
    assert out["roc_auc"] == 0.9 and out["roc_auc_std"] == 0.0  # only where defined
    assert out["threshold"] == 0.5 and out["threshold_std"] == 0.0
    assert out["confusion_matrix"] == [[5, 1], [2, 2]]
    assert out["num_samples"] == 10 and out["num_folds"] == 2 and out["labels"] == ["a", "b"]
    first = out["per_class"][0]
    assert first["precision"] == pytest.approx(0.7) and first["support"] == 6
    assert first["precision_std"] == pytest.approx(0.1)
    assert_plain_json(out)
    with pytest.raises(ValueError, match="labels"):
        aggregate_folds([folds[0], {**folds[1], "labels": ["a", "c"]}])


def test_aggregate_real_reports_matches_numpy() -> None:
    reports = [classification_report(*binary_problem(s), labels=BINARY) for s in range(3)]
    out = aggregate_folds(reports)
    f1s = [r["f1"] for r in reports]
    assert_close(out["f1"], float(np.mean(f1s)), "f1")
    assert_close(out["f1_std"], float(np.std(f1s)), "f1_std")
    assert "per_class_std" not in out and "labels_std" not in out


def render(*tables) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    for table in tables:
        console.print(table)
    return console.export_text()


def test_tables_render_numbers() -> None:
    y, scores = binary_problem(2)
    report = classification_report(y, scores, labels=BINARY)
    text = render(metrics_table(report, title="val"), per_class_table(report))
    assert "val" in text and f"{report['accuracy']:.4f}" in text
    assert f"{report['roc_auc']:.4f}" in text and "'event'" in text
    assert f"{report['per_class'][1]['f1']:.4f}" in text and "weighted avg" in text
    summary = aggregate_folds([fold(0.8, 0.9, [[3, 0], [1, 1]]), fold(0.6, None, [[2, 1], [1, 1]])])
    text = render(metrics_table(summary), per_class_table(summary))
    assert "2 folds" in text and "0.7000 ± 0.1000" in text


def test_leaderboard_sorts_and_shows_std() -> None:
    rows = [
        {"head": "mean_pool", "f1_macro": 0.61, "accuracy": 0.7, "params": 2_050},
        {"head": "gru", "f1_macro": 0.74, "f1_macro_std": 0.02, "train_s": 12.34},
        {"head": "no_metric", "accuracy": 0.1},
    ]
    text = render(leaderboard_table(rows))
    assert text.index("gru") < text.index("mean_pool") < text.index("no_metric")
    assert "0.740 ± 0.020" in text and "2,050" in text and "12.3s" in text
    text = render(leaderboard_table(rows, sort_by="accuracy"))
    assert text.index("mean_pool") < text.index("no_metric") < text.index("gru")


def test_metrics_do_not_import_plotting() -> None:
    code = (
        "import sys, numpy as np; from vidscope.metrics import classification_report;"
        "classification_report(np.array([0, 1]), np.array([0.2, 0.9]), labels=['a', 'b']);"
        "assert 'matplotlib' not in sys.modules and 'rich' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
