"""Temporal heads: every registered head on tiny sizes, padding invariance, the tree head."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError

from vidscope.models import StatsXGBoost, create_head, list_heads, pool_stats
from vidscope.models._layers import appearance_width
from vidscope.models._stats import fit_pca, project

D = 16
LAYOUT = [("appearance", 12), ("flow", 4)]
#: Tiny sizes per neural head; every registered neural head must appear here.
TINY: dict[str, dict[str, object]] = {
    "mean_linear": {},
    "mlp": {"hidden": 8},
    "lstm": {"hidden": 8},
    "conv1d": {"channels": 8},
    "transformer": {"d_model": 8, "heads": 2, "layers": 1, "ff": 16, "spatial": 8, "hidden": 8},
}
TREES = {"stats_xgboost"}
#: Heads tested in their own files: coop needs CLIP features and an open_clip checkpoint.
#: ensemble (members fitted by their own trainers) in tests/test_ensemble.py, linear_probe in
#: tests/test_linear_probe.py.
ELSEWHERE = {"coop", "ensemble", "videomae", "linear_probe"}  # + tests/test_coop*.py, videomae
NEURAL = sorted(TINY)


def tiny(name: str, num_outputs: int = 1, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_head(
        name, num_features=D, num_outputs=num_outputs, layout=LAYOUT, **{**TINY[name], **kw}
    )


def batch(lengths: list[int], length: int | None = None, seed: int = 0):
    """Random ``x [B, T, D]`` and a trailing-padding ``mask [B, T]``."""
    g = torch.Generator().manual_seed(seed)
    t = length or max(lengths)
    x = torch.randn(len(lengths), t, D, generator=g)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    return x, mask


def toy_task(n: int = 64, seed: int = 0, classes: int = 2):
    """Sequences of length 4-10 whose class is the sign (or arg-max) of directions in the mean."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(classes, D))
    y = rng.integers(0, classes, n)
    seqs = [rng.normal(size=(rng.integers(4, 11), D)) + 1.5 * dirs[c] for c in y]
    x = np.zeros((n, 10, D), dtype=np.float32)
    mask = np.zeros((n, 10), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)], mask[i, : len(s)] = s, True
    return x, mask, y


def test_every_registered_head_is_tested():
    assert set(list_heads()) == set(TINY) | TREES | ELSEWHERE


@pytest.mark.parametrize("num_outputs", [1, 3])
@pytest.mark.parametrize("name", NEURAL)
def test_forward_backward(name: str, num_outputs: int):
    head = tiny(name, num_outputs).train()
    assert head.kind == "torch"
    x, mask = batch([6, 3, 1, 5])
    out = head(x, mask)
    assert out.shape == (4, num_outputs) and out.dtype == torch.float32
    out.square().mean().backward()
    grads = [p.grad for p in head.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", NEURAL)
def test_padding_does_not_change_logits(name: str):
    head = tiny(name, 3).eval()
    x, mask = batch([5, 3, 1])
    x[~mask] = 1e4  # garbage in the padded steps
    extra = torch.full((3, 4, D), float("nan"))
    extra[:, 1] = -1e6
    x_long = torch.cat([x, extra], dim=1)  # [3, 9, D]
    mask_long = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        ref = head(x[:, :5], mask)
        got = head(x_long, mask_long)
        alone = head(x[1:2, :3], mask[1:2, :3])
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(alone, ref[1:2], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", NEURAL)
def test_empty_sequence_gives_finite_logits(name: str):
    x, mask = batch([0, 4], length=4)
    with torch.no_grad():
        assert torch.isfinite(tiny(name).eval()(x, mask)).all()


@pytest.mark.parametrize("name", NEURAL)
def test_config_rebuilds_the_same_head(name: str):
    head = tiny(name, 3).eval()
    config = json.loads(json.dumps(head.config))  # JSON-ready
    assert config["num_features"] == D and config["num_outputs"] == 3
    again = create_head(name, **config).eval()
    again.load_state_dict(head.state_dict())
    x, mask = batch([4, 2])
    with torch.no_grad():
        torch.testing.assert_close(again(x, mask), head(x, mask))


def test_unknown_head_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown --head 'nope'.*conv1d.*lstm.*transformer"):
        create_head("nope", num_features=D, num_outputs=1)


def test_none_kwargs_keep_defaults():
    head = create_head("mlp", num_features=D, num_outputs=1, hidden=None, dropout=None)
    assert head.config["hidden"] == 256 and head.config["dropout"] == 0.2
    assert create_head("lstm", num_features=D, num_outputs=1).config["hidden"] == 128


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="adds up to 20 dims"):
        create_head("mlp", num_features=D, num_outputs=1, layout=[("a", 12), ("b", 8)])
    with pytest.raises(ValueError, match="unknown pool 'median'"):
        create_head("mean_linear", num_features=D, num_outputs=1, pool="median")
    with pytest.raises(ValueError, match="divisible"):
        create_head("transformer", num_features=D, num_outputs=1, d_model=10, heads=4)


def test_appearance_part_is_the_first_of_several():
    assert appearance_width(D, LAYOUT) == 12
    assert appearance_width(D, [("clip", D)]) == D
    assert appearance_width(D, None) == D


@pytest.mark.parametrize("name", NEURAL)
def test_neural_head_learns_toy_task(name: str):
    x, mask, y = toy_task()
    x, mask, target = torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(y).float()
    head = tiny(name).train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(x, mask)[:, 0], target)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = head.eval()(x, mask)[:, 0] > 0
    assert (pred == target.bool()).float().mean() > 0.9


# --- StatsXGBoost -------------------------------------------------------------------------


def test_pool_stats_by_hand():
    x = np.array(
        [
            [[1.0, 0.0], [3.0, 2.0], [2.0, 8.0]],
            [[4.0, -1.0], [6.0, -5.0], [np.nan, 1e9]],  # last step is padding
        ]
    )
    mask = np.array([[True, True, True], [True, True, False]])
    got = pool_stats(x, mask)
    assert got.shape == (2, 10) and got.dtype == np.float32
    std0 = [np.std([1, 3, 2]), np.std([0, 2, 8])]
    expected = [
        [2, 10 / 3, *std0, 3, 8, 1, 0, 1.5, 4],  # mean, std, max, min, mean |delta|
        [5, -3, 1, 2, 6, -1, 4, -5, 2, 4],
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert pool_stats(x, mask, deltas=False).shape == (2, 8)
    single = pool_stats(x[:, :1], mask[:, :1])
    np.testing.assert_array_equal(single[:, 8:], 0)  # one frame: no change
    assert np.isnan(pool_stats(x, np.zeros_like(mask))).all()  # no frames: missing


def test_pool_stats_accepts_lists_and_masks_with_holes():
    x, mask, _ = toy_task(8)
    seqs = [s[m] for s, m in zip(x, mask, strict=True)]
    np.testing.assert_allclose(pool_stats(*_padded(seqs)), pool_stats(x, mask), rtol=1e-6)
    holes = np.full((8, 20, D), np.nan, dtype=np.float32)
    holes[:, ::2] = x
    holed = np.zeros((8, 20), dtype=bool)
    holed[:, ::2] = mask
    np.testing.assert_allclose(pool_stats(holes, holed), pool_stats(x, mask), rtol=1e-6)


def _padded(seqs):
    from vidscope.models._stats import as_padded

    return as_padded(seqs)


def test_stats_xgboost_follows_sklearn_contract():
    est = StatsXGBoost(n_estimators=5, deltas=False)
    assert is_classifier(est) and est.kind == "tree"
    params = est.get_params()
    assert params["n_estimators"] == 5 and params["max_depth"] == 4 and not params["deltas"]
    assert params["max_dims"] == 128 and params["max_bin"] == 64
    assert est.set_params(max_depth=2) is est and est.max_depth == 2
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    x, mask, y = toy_task(24)
    with pytest.raises(NotFittedError):
        est.predict(x, mask)
    assert est.fit(x, y, mask=mask) is est
    fitted = {k for k in vars(est) if k.endswith("_")}
    assert {"classes_", "n_features_in_", "booster_", "pca_mean_", "pca_components_"} <= fitted
    assert est.n_features_in_ == D and list(est.classes_) == [0, 1]
    assert not any(k.endswith("_") for k in vars(clone(est)))


@pytest.mark.parametrize(("classes", "max_dims"), [(2, 128), (3, 128), (2, 8), (3, 8)])
def test_stats_xgboost_learns_and_round_trips(tmp_path: Path, classes: int, max_dims: int):
    x, mask, y = toy_task(160, classes=classes)
    labels = np.array(["crash", "near", "normal"])[y]
    est = StatsXGBoost(n_estimators=40, n_jobs=1, max_dims=max_dims)
    est.fit(x[:120], labels[:120], mask=mask[:120])
    assert (est.pca_components_ is None) == (max_dims >= D)  # D = 16: PCA only for 8
    proba = est.predict_proba(x[120:], mask[120:])
    assert proba.shape == (40, classes)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert (est.predict(x[120:], mask[120:]) == labels[120:]).mean() > 0.9
    margins = est.decision_function(x[120:], mask[120:])
    assert margins.shape == ((40,) if classes == 2 else (40, classes))
    loaded = StatsXGBoost.load(est.save(tmp_path / "model"))
    assert not list(tmp_path.glob("**/*.pkl")) and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(x[120:], mask[120:]), proba)
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    if est.pca_components_ is not None:
        np.testing.assert_array_equal(loaded.pca_components_, est.pca_components_)
        np.testing.assert_array_equal(loaded.pca_mean_, est.pca_mean_)
    seqs = [s[m] for s, m in zip(x[120:], mask[120:], strict=True)]
    np.testing.assert_allclose(est.predict_proba(seqs), proba, rtol=1e-6)


def test_stats_xgboost_from_registry_checks_shapes(tmp_path: Path):
    est = create_head("stats_xgboost", num_features=D, num_outputs=1, n_estimators=5, n_jobs=None)
    assert isinstance(est, StatsXGBoost) and est.kind == "tree" and est.n_jobs is None
    assert create_head("stats_xgboost", **est.config).get_params() == est.get_params()
    x, mask, y = toy_task(24)
    with pytest.raises(ValueError, match="num_outputs=1 but the labels have 3 classes"):
        est.fit(x, np.arange(24) % 3, mask=mask)
    est.fit(x, y, mask=mask)
    with pytest.raises(ValueError, match="trained on 16"):
        est.predict(x[..., :8], mask)
    with pytest.raises(FileNotFoundError, match="not a saved stats_xgboost model"):
        StatsXGBoost.load(tmp_path)


def test_frame_pca_keeps_the_top_axes():
    rng = np.random.default_rng(0)
    scales = np.array([5.0, 3.0, 2.0])[:, None]
    basis = np.linalg.qr(rng.normal(size=(D, 3)))[0].T  # [3, D] orthonormal
    x = (rng.normal(size=(6, 9, 3)) @ (scales * basis) + 7.0).astype(np.float32)  # rank 3
    mask = np.ones((6, 9), dtype=bool)
    mask[:, 7:] = False
    x[:, 7:] = np.nan  # padding must not reach the fit
    mean, comps = fit_pca(x, mask, 3)
    assert mean.shape == (D,) and comps.shape == (3, D) and comps.dtype == np.float32
    np.testing.assert_allclose(comps @ comps.T, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(comps.T @ comps, basis.T @ basis, atol=1e-4)  # same span
    z = project(x, (mean, comps))  # [6, 9, 3]
    assert z.shape == (6, 9, 3) and np.isnan(z[:, 7:]).all()
    np.testing.assert_allclose(z[mask] @ comps + mean, x[mask], atol=1e-4)  # lossless
    assert fit_pca(x, mask, D) is None and fit_pca(x, mask, None) is None
    assert project(x, None) is x
    again = fit_pca(x, mask, 3, max_frames=20, seed=1)  # estimated on 20 of the 42 frames
    np.testing.assert_allclose(again[1].T @ again[1], basis.T @ basis, atol=1e-4)


def test_stats_xgboost_reduces_wide_frames(tmp_path: Path):
    x, mask, y = toy_task(120)
    est = StatsXGBoost(n_estimators=20, n_jobs=1, max_dims=4, deltas=False).fit(x, y, mask=mask)
    assert est.pca_components_.shape == (4, D) and est.n_features_in_ == D
    assert est.booster_.num_features() == 4 * 4  # mean/std/max/min of 4 axes, not of D
    est.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "estimator.json").read_text())
    assert meta["pca"]["components"]["shape"] == [4, D]
    raw = StatsXGBoost(n_estimators=20, n_jobs=1, max_dims=None).fit(x, y, mask=mask)
    assert raw.pca_components_ is None and raw.booster_.num_features() == 5 * D
    off = create_head("stats_xgboost", num_features=D, num_outputs=1, max_dims=0, n_estimators=2)
    assert off.fit(x, y, mask=mask).pca_components_ is None  # 0 = off (create_head drops None)
    with pytest.raises(ValueError, match="max_dims must be >= 0"):
        StatsXGBoost(max_dims=-1).fit(x, y, mask=mask)


def test_stats_xgboost_loads_models_saved_before_the_pca(tmp_path: Path):
    x, mask, y = toy_task(40)
    est = StatsXGBoost(n_estimators=5, n_jobs=1, max_dims=0, max_bin=256).fit(x, y, mask=mask)
    meta_path = est.save(tmp_path / "m") / "estimator.json"
    meta = json.loads(meta_path.read_text())
    del meta["pca"], meta["params"]["max_dims"], meta["params"]["max_bin"]  # the old format
    meta_path.write_text(json.dumps(meta))
    old = StatsXGBoost.load(tmp_path / "m")
    assert old.get_params() == est.get_params() and old.pca_components_ is None
    np.testing.assert_array_equal(old.predict_proba(x, mask), est.predict_proba(x, mask))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_padding_invariance_both_directions(bidirectional: bool) -> None:
    torch.manual_seed(0)
    head = create_head(
        "lstm", num_features=6, num_outputs=2, hidden=8, bidirectional=bidirectional
    ).eval()
    x = torch.randn(1, 5, 6)
    padded = torch.cat([x, torch.full((1, 4, 6), 1e4)], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 4])
    with torch.no_grad():
        alone = head(x, torch.ones(1, 5, dtype=torch.bool))
        torch.testing.assert_close(head(padded, mask), alone, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ fused layouts
def test_stats_xgboost_keeps_narrow_fused_parts_out_of_the_pca(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    width = 40
    x = rng.normal(0, 5.0, (60, 6, width)).astype(np.float32)
    y = rng.integers(0, 2, 60)
    x[:, :, -4:] = 0.01 * rng.normal(size=(60, 6, 4)) + 0.05 * y[:, None, None]
    head = create_head("stats_xgboost", num_features=width, num_outputs=1,
                       layout=[("appearance", width - 4), ("flow", 4)], max_dims=8,
                       n_estimators=20)  # fmt: skip
    assert head.keep_last == 4
    head.fit(x, y, mask=np.ones((60, 6), bool))
    assert head.pca_components_.shape == (8, width - 4)  # the PCA saw the wide part only
    assert (head.predict(x, np.ones((60, 6), bool)) == y).mean() > 0.9
    loaded = StatsXGBoost.load(head.save(tmp_path / "m.json"))
    assert loaded.keep_last == 4
    np.testing.assert_allclose(loaded.predict_proba(x), head.predict_proba(x), rtol=1e-6)
    with pytest.raises(ValueError, match="keep_last"):
        StatsXGBoost(keep_last=width).fit(x, y)
