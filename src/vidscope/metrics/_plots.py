"""Evaluation plots written straight to PNG files.

Figures are built with ``matplotlib.figure.Figure`` on the Agg canvas, never through
``pyplot``: no display is needed, no global backend is switched, and nothing stays open.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import InputError
from ._ranking import average_precision, precision_recall_curve, roc_auc, roc_curve

# above this many classes the per-cell numbers are unreadable and are left out
_MAX_ANNOTATED_CLASSES = 30
_DPI = 120


def plot_confusion_matrix(
    cm: np.ndarray | list[list[int]],
    labels: list[str],
    path: str | Path,
    *,
    title: str | None = None,
    normalize: bool = True,
) -> Path:
    """Draw a confusion matrix as a PNG: counts in the cells, shading by row.

    Args:
        cm: ``[C, C]`` counts, rows = true class, columns = predicted class.
        labels: the C class names, in index order.
        path: PNG file to write; missing parent folders are created.
        title: figure title; ``None`` for a plain "Confusion matrix".
        normalize: shade each cell by its share of the row (the recall of that true
            class) and print that percentage under the count; ``False`` shades by count.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: if ``cm`` is not square or does not match ``labels``.
    """
    counts = np.asarray(cm, dtype=np.int64)
    num_classes = len(labels)
    if counts.shape != (num_classes, num_classes):
        raise InputError(
            f"Confusion matrix of shape {counts.shape} does not match {num_classes} labels."
        )
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    shade = shares if normalize else counts
    side = max(4.0, 0.6 * num_classes + 2.5)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, label="share of true class" if normalize else "count")
    if num_classes <= _MAX_ANNOTATED_CLASSES:
        _annotate(ax, counts, shares, shade, normalize)
    ax.set_xticks(range(num_classes), labels, rotation=45, ha="right")
    ax.set_yticks(range(num_classes), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix")
    return _save(fig, path)


def plot_roc_pr(
    y_true: np.ndarray, scores: np.ndarray, path: str | Path, *, title: str | None = None
) -> Path:
    """Draw the ROC curve and the precision-recall curve side by side as a PNG.

    Args:
        y_true: ``[N]`` binary targets, 1 = positive; both classes present.
        scores: ``[N]`` probabilities (or any score) of class 1.
        path: PNG file to write; missing parent folders are created.
        title: figure title; ``None`` for none.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: if ``y_true`` holds only one class (the curves are undefined).
    """
    y = np.asarray(y_true).ravel() == 1
    s = np.asarray(scores, dtype=np.float64).ravel()
    fpr, tpr = roc_curve(y, s)
    precision, recall = precision_recall_curve(y, s)
    fig = Figure(figsize=(10.0, 4.6), layout="constrained")
    roc_ax, pr_ax = fig.subplots(1, 2)
    roc_ax.plot(fpr, tpr, lw=2, label=f"ROC (AUC = {roc_auc(y, s):.3f})")
    roc_ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    # step-wise, the same curve that average precision sums
    pr_ax.plot(
        np.r_[0.0, recall],
        np.r_[1.0, precision],
        drawstyle="steps-pre",
        lw=2,
        label=f"PR (AP = {average_precision(y, s):.3f})",
    )
    prevalence = float(y.mean())
    pr_ax.axhline(prevalence, ls="--", color="grey", lw=1, label=f"chance ({prevalence:.2f})")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    for ax in (roc_ax, pr_ax):
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is roc_ax else "lower left")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _annotate(ax, counts: np.ndarray, shares: np.ndarray, shade: np.ndarray, pct: bool) -> None:
    """Write each cell's count (and row share) in a colour readable on its shading."""
    top = 1.0 if pct else max(float(shade.max()), 1.0)  # the colour scale's maximum
    for (i, j), count in np.ndenumerate(counts):
        text = f"{count}\n{shares[i, j]:.0%}" if pct else f"{count}"
        colour = "white" if shade[i, j] / top > 0.5 else "black"
        ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8)


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` to a PNG at ``path`` with the Agg canvas."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=_DPI)
    return out
