"""XGBoost trees scored with numpy (models._forest): the same probabilities as XGBoost, and
runs fall back to XGBoost when a model carries no passed check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidscope.models import Forest, StatsXGBoost, TreeScorer, load_scorer


def _data(n: int, t: int, d: int, classes: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x[y == 1, :, :5] += 0.8
    mask = np.ones((n, t), bool)
    mask[::7, t // 2 :] = False
    mask[5] = False  # no frames: every statistic is missing (NaN)
    return x, y, mask


@pytest.mark.parametrize("classes", [2, 3])
def test_numpy_forest_matches_xgboost(tmp_path, classes):
    x, y, mask = _data(120, 12, 300, classes, seed=classes)
    est = StatsXGBoost(n_estimators=40, max_dims=64, keep_last=4).fit(x, y, mask)
    assert est.numpy_check_["max_abs_diff"] <= 1e-6 and est.numpy_check_["rows"] == 120
    est.save(tmp_path / "m")
    scorer = load_scorer(tmp_path / "m")
    assert isinstance(scorer, TreeScorer) and scorer.num_trees() == 40 * (
        classes if classes > 2 else 1
    )
    xt, _, mt = _data(40, 9, 300, classes, seed=10 + classes)
    xt[3, :, 7] = np.nan  # missing values take each node's default branch
    np.testing.assert_allclose(scorer.predict_proba(xt, mt), est.predict_proba(xt, mt), atol=1e-6)
    np.testing.assert_allclose(
        scorer.decision_function(xt, mt), est.decision_function(xt, mt), atol=1e-5
    )
    assert (scorer.predict(xt, mt) == est.predict(xt, mt)).all()


def test_a_model_without_a_passed_check_loads_xgboost(tmp_path):
    x, y, mask = _data(60, 6, 20, 2, seed=0)
    StatsXGBoost(n_estimators=10).fit(x, y, mask).save(tmp_path / "m")
    meta_path = tmp_path / "m" / "estimator.json"
    meta = json.loads(meta_path.read_text())
    for check in (None, {**meta["numpy_check"], "max_abs_diff": 0.01}):
        meta["numpy_check"] = check  # saved before the check existed / a failed check
        meta_path.write_text(json.dumps(meta))
        assert load_scorer(tmp_path / "m") is None


def test_forest_refuses_boosters_it_cannot_walk():
    from vidscope.errors import InputError

    with pytest.raises(InputError, match="gbtree"):
        Forest.from_json({"learner": {"gradient_booster": {"name": "gblinear"}}})
