"""``--device`` / ``--precision``: resolution, autocast, gradient scaling, and every neural
head training on the CPU in bf16 (on a GPU too, where one is usable)."""

from __future__ import annotations

import pytest
import torch

from tests.test_train import TINY, make_npy_store
from vidscope.errors import ConfigError
from vidscope.training import TrainConfig, load_run, train
from vidscope.training._device import DevicePlan, device_plan, optimiser_step, resolve_device

CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine's cores are shared: one torch thread is much faster than two here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_device_resolution_and_clear_refusals():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    with pytest.raises(ConfigError, match="--device must be auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    if not CUDA:
        with pytest.raises(ConfigError, match=r"--device cuda:0: no usable CUDA GPU"):
            resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="--precision fp16 needs a CUDA GPU"):
        device_plan("cpu", "fp16")
    with pytest.raises(ConfigError, match="--precision must be"):
        device_plan("cpu", "fp8")
    with pytest.raises(ConfigError, match="--precision"):
        TrainConfig(precision="half")  # type: ignore[arg-type]


def test_autocast_and_scaler_follow_the_precision():
    layer = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)
    bf16, fp32 = device_plan("cpu", "bf16"), device_plan("cpu", "fp32")
    with torch.no_grad(), bf16.autocast():
        assert layer(x).dtype == torch.bfloat16
    with torch.no_grad(), fp32.autocast():
        assert layer(x).dtype == torch.float32
    assert not bf16.scaler().is_enabled() and not fp32.scaler().is_enabled()
    assert bf16.describe() == "cpu, bf16"


def test_an_overflowing_fp16_step_is_skipped_and_the_scale_drops():
    plan = DevicePlan(torch.device("cpu"), "fp16")  # the scaler logic, runnable on the CPU
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = plan.scaler()
    assert scaler.is_enabled()
    scale = scaler.get_scale()
    scaler.scale((p * float("inf")).sum()).backward()
    assert optimiser_step(plan, scaler, opt, [p]) is False
    assert torch.equal(p.detach(), torch.ones(3)) and scaler.get_scale() < scale
    opt.zero_grad()
    scaler.scale((p * 2).sum()).backward()
    assert optimiser_step(plan, scaler, opt, [p]) is True
    assert torch.allclose(p.detach(), torch.full((3,), 0.8))  # unscaled gradient 2, lr 0.1


@pytest.mark.parametrize("head", [h for h in TINY if h != "stats_xgboost"])
def test_every_neural_head_trains_in_bf16_on_cpu(tmp_path, head):
    store = make_npy_store(tmp_path / "s")
    cfg = TrainConfig(
        head=head,
        head_options=TINY[head],
        epochs=15,
        patience=15,
        lr=1e-2,
        batch_size=16,
        tensorboard=False,
        device="cpu",
        precision="bf16",
    )
    result = train(store, out=tmp_path / "run", config=cfg)
    assert result.report["accuracy"] >= 0.9, result.report
    spec = load_run(tmp_path / "run").spec
    assert spec.train["device"] == "cpu" and spec.train["precision"] == "bf16"


@pytest.mark.skipif(not CUDA, reason="needs a usable CUDA GPU")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_a_head_trains_on_the_gpu(tmp_path, precision):
    store = make_npy_store(tmp_path / "s")
    cfg = TrainConfig(
        head="transformer",
        head_options=TINY["transformer"],
        epochs=15,
        patience=15,
        lr=1e-2,
        batch_size=16,
        tensorboard=False,
        device="cuda",
        precision=precision,
    )
    result = train(store, out=tmp_path / "run", config=cfg)
    assert result.report["accuracy"] >= 0.9
    run = load_run(tmp_path / "run")
    assert len(run.predict(store)) == 60  # the saved run scores on the CPU
