"""Which of two classes is the event: named like an event beats named like its absence."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.data import LabelError, read_labels
from vidscope.data._labels import is_negative_name

IDS = [f"v{i}" for i in range(6)]


def _labels(tmp_path, names: list[str], **kw):
    csv = tmp_path / "labels.csv"
    csv.write_text("id,label\n" + "".join(f"{v},{n}\n" for v, n in zip(IDS, names, strict=True)))
    return read_labels(IDS, csv, **kw)


@pytest.mark.parametrize(
    ("negative", "positive"),
    [
        ("noFight", "fight"),  # sorted alone, noFight would be the event
        ("nofight", "fight"),
        ("no_fight", "fight"),
        ("NonViolence", "Violence"),
        ("non-violence", "violence"),
        ("normal", "accident"),
        ("Normal", "Abuse"),
        ("negative", "positive"),
        ("background", "goal"),
        ("none", "crash"),
        ("false", "true"),
        ("0", "1"),
    ],
)
def test_event_named_class_is_positive(tmp_path, negative, positive):
    labels = _labels(tmp_path, [negative, positive] * 3)
    assert labels.classes == [negative, positive] and labels.positive_class == positive
    assert list(labels.y) == [0, 1] * 3  # y follows the class order
    assert repr(positive) in labels.positive_note and "--positive-class" in labels.positive_note


def test_flip_keeps_rows_with_their_class(tmp_path):
    labels = _labels(tmp_path, ["fight", "noFight", "noFight", "fight", "noFight", "noFight"])
    assert labels.classes == ["noFight", "fight"]
    assert [labels.classes[k] for k in labels.y] == [
        "fight", "noFight", "noFight", "fight", "noFight", "noFight"
    ]  # fmt: skip
    assert "named like the absence of an event" in labels.positive_note
    assert labels.subset(np.array([0, 1])).positive_note == labels.positive_note


def test_no_rule_applies_sort_order_decides(tmp_path):
    for a, b in (("cat", "dog"), ("nose", "ear"), ("notebook", "laptop"), ("normal", "none")):
        labels = _labels(tmp_path, [a, b] * 3)
        assert labels.positive_class == max(a, b) and "sorts last" in labels.positive_note


def test_positive_class_flag_wins(tmp_path):
    labels = _labels(tmp_path, ["noFight", "fight"] * 3, positive_class="noFight")
    assert labels.classes == ["fight", "noFight"] and "(--positive-class)" in labels.positive_note
    with pytest.raises(LabelError, match="--positive-class 'brawl'"):
        _labels(tmp_path, ["noFight", "fight"] * 3, positive_class="brawl")


def test_multi_class_has_no_positive(tmp_path):
    labels = _labels(tmp_path, ["a", "b", "c"] * 2)
    assert labels.positive_class is None and labels.positive_note is None


def test_negative_names():
    assert is_negative_name("noFight") and is_negative_name("no fight")
    assert is_negative_name("nonfight", "fight") and not is_negative_name("nonfight")
    assert not is_negative_name("nonstop") and not is_negative_name("Notice")
    assert not is_negative_name("north", "th")  # "no" + "rth" != "th"
