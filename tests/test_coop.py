"""CoOp prompt learner: injection equals encode_text, prompt layouts, only context learns."""

from __future__ import annotations

import numpy as np
import pytest

from ._clip_tiny import ALL, EMBED, MOBILE, PLAIN, register_tiny, save_checkpoint

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

CLASSES = ["fighting", "people walking calmly", "an empty parking lot at night"]


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny-clip")
    register_tiny(root / "configs")
    return {
        n: str(save_checkpoint(n, root / f"{n}.safetensors", seed=i)) for i, n in enumerate(ALL)
    }


def _encoder(name: str, path: str):
    from vidscope.backbones import clip_text_encoder

    return clip_text_encoder(name, weights=path)


def _head(name: str, path: str, **options):
    from vidscope.models import create_head

    return create_head(
        "coop", num_features=EMBED, num_outputs=len(CLASSES), classes=CLASSES,
        backbone={"name": f"clip:{name}"}, weights=path, **options,
    )  # fmt: skip


@pytest.mark.parametrize("name", ALL)
def test_model_classes_are_the_real_ones(ckpts, name):
    enc = _encoder(name, ckpts[name])
    expected = "CLIP" if name == PLAIN else "CustomTextCLIP"
    assert type(enc.model).__name__ == expected
    parts = enc.parts()
    assert (parts.attn_mask is None) == (name != PLAIN)  # MobileCLIP: no causal mask
    assert isinstance(parts.text_projection, torch.nn.Linear) == name.endswith("linear")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("phrase", ["a video of a", "a blurry surveillance camera frame showing"])
def test_injected_phrase_equals_encode_text(ckpts, name, phrase):
    """Context initialised from a phrase's real token embeddings gives exactly the model's own
    text features of ``phrase + " " + class``: the injection is right."""
    enc = _encoder(name, ckpts[name])
    head = _head(name, ckpts[name], ctx_init=phrase).eval()
    assert head.prompts.n_ctx == len(enc.tokenizer.encode(phrase))
    with torch.no_grad():
        mine = head.text_features()  # [C, E] normalised
        ref = enc.model.encode_text(enc.tokenizer([f"{phrase} {c}" for c in CLASSES]))
    np.testing.assert_allclose(mine.numpy(), torch.nn.functional.normalize(ref, dim=-1).numpy(),
                               atol=1e-5, rtol=0)  # fmt: skip
    unnormalised = head.tower()(head.prompts(), head.prompts.tokens)
    np.testing.assert_allclose(unnormalised.detach().numpy(), ref.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", [PLAIN, MOBILE])
def test_csc_with_phrase_also_equals_encode_text(ckpts, name):
    enc = _encoder(name, ckpts[name])
    head = _head(name, ckpts[name], ctx_init="a photo of", csc="true").eval()
    assert tuple(head.prompts.ctx.shape) == (len(CLASSES), 3, 32)
    with torch.no_grad():
        ref = enc.model.encode_text(
            enc.tokenizer([f"a photo of {c}" for c in CLASSES]), normalize=True
        )
        np.testing.assert_allclose(head.text_features().numpy(), ref.numpy(), atol=1e-5)


@pytest.mark.parametrize("position", ["end", "middle", "front"])
@pytest.mark.parametrize("csc", [False, True])
def test_prompt_shapes_and_token_order(ckpts, position, csc):
    enc = _encoder(PLAIN, ckpts[PLAIN])
    tok = enc.tokenizer
    head = _head(PLAIN, ckpts[PLAIN], n_ctx=4, csc=csc, class_token_position=position)
    p = head.prompts
    assert tuple(p.ctx.shape) == ((3, 4, 32) if csc else (4, 32))
    assert tuple(p().shape) == (3, 77, 32) and tuple(p.tokens.shape) == (3, 77)
    x = tok.encode("X")[0]
    for c, name in enumerate(CLASSES):
        ids = tok.encode(name)
        layout = {
            "end": [x] * 4 + ids,
            "middle": [x] * 2 + ids + [x] * 2,
            "front": ids + [x] * 4,
        }[position]
        expected = [tok.sot_token_id, *layout, tok.eot_token_id]
        row = p.tokens[c].tolist()
        assert row[: len(expected)] == expected and set(row[len(expected) :]) == {0}
        # each context vector sits where an "X" stands, in order
        cols = p.slot_cols[p.slot_rows == c].tolist()
        assert cols == [i + 1 for i, t in enumerate(layout) if t == x]
        embeds = p()[c]
        ctx = p.ctx[c] if csc else p.ctx
        torch.testing.assert_close(embeds[cols], ctx)
        others = [i for i in range(77) if i not in cols]
        torch.testing.assert_close(embeds[others], enc.model.token_embedding(p.tokens[c])[others])


def test_only_the_context_gets_gradients(ckpts):
    head = _head(MOBILE, ckpts[MOBILE], n_ctx=4).train()
    assert [n for n, _ in head.named_parameters()] == ["prompts.ctx"]
    assert list(head.state_dict()) == ["prompts.ctx"]  # the frozen tower is never saved
    x = torch.nn.functional.normalize(torch.randn(2, 5, EMBED), dim=-1)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    loss = head.training_loss(x, mask, torch.tensor([0, 2]))
    loss.backward()
    assert head.prompts.ctx.grad is not None and head.prompts.ctx.grad.abs().sum() > 0
    tower = head.tower()
    assert all(not q.requires_grad and q.grad is None for q in tower.parameters())
    assert head.prompts._base is not None and not head.prompts._base.requires_grad


def test_text_features_follow_the_context_and_cache_under_no_grad(ckpts):
    head = _head(PLAIN, ckpts[PLAIN], n_ctx=4)
    with torch.no_grad():
        a = head.text_features()
        assert head.text_features() is a  # cached while the context is unchanged
        head.prompts.ctx.add_(0.5)
        b = head.text_features()
    assert not torch.allclose(a, b)  # recomputed after a change
    assert head.text_features().requires_grad  # with grad: always recomputed


def test_binary_outputs_are_log_odds_and_padding_is_ignored(ckpts):
    from vidscope.models import create_head

    head = create_head(
        "coop", num_features=EMBED, num_outputs=1, classes=["normal", "fight"],
        backbone={"name": f"clip:{PLAIN}"}, weights=ckpts[PLAIN], n_ctx=2,
    ).eval()  # fmt: skip
    x = torch.nn.functional.normalize(torch.randn(1, 4, EMBED), dim=-1)
    with torch.no_grad():
        both = head.class_logits(x)  # [1, 4, 2]
        frames = head.frame_logits(x, torch.ones(1, 4, dtype=torch.bool))
        torch.testing.assert_close(frames[..., 0], both[..., 1] - both[..., 0])
        padded = torch.cat([x, torch.randn(1, 3, EMBED)], 1)
        mask = torch.tensor([[True] * 4 + [False] * 3])
        torch.testing.assert_close(head(padded, mask), head(x, mask[:, :4]))
        torch.testing.assert_close(head(x, mask[:, :4])[0, 0], frames[0, :, 0].mean())


def test_bad_options_and_features_are_user_errors(ckpts, tmp_path):
    from vidscope.errors import ConfigError, WeightsError

    with pytest.raises(ConfigError, match="class_token_position"):
        _head(PLAIN, ckpts[PLAIN], class_token_position="left")
    with pytest.raises(ConfigError, match="CLIP image features"):
        from vidscope.models import create_head

        create_head("coop", num_features=EMBED, num_outputs=2, classes=["a", "b"],
                    backbone={"name": "efficientnet_lite0"})  # fmt: skip
    with pytest.raises(ConfigError, match="77"):
        _head(PLAIN, ckpts[PLAIN], n_ctx=80)
    with pytest.raises(WeightsError, match="digest"):
        _head(PLAIN, ckpts[PLAIN]).__class__  # noqa: B018 - the right file works
        from vidscope.models import create_head

        create_head("coop", num_features=EMBED, num_outputs=3, classes=CLASSES,
                    backbone={"name": f"clip:{PLAIN}", "weights": "0123456789abcdef"},
                    weights=ckpts[PLAIN])  # fmt: skip


def test_coops_recipe_fills_the_flags_left_unset(ckpts):
    """The trainer resolves unset optimiser flags from the head's ``train_defaults``."""
    from vidscope.training import TrainConfig

    head = _head(PLAIN, ckpts[PLAIN], n_ctx=2)
    cfg = TrainConfig(head="coop").resolved(head.train_defaults)
    got = (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size,
           cfg.warmup_epochs, cfg.warmup_lr)  # fmt: skip
    assert got == ("sgd", 0.002, 0.9, 5e-4, 32, 1.0, 1e-5)
    assert TrainConfig(head="coop", lr=0.01).resolved(head.train_defaults).lr == 0.01


def test_training_windows_cut_from_sequences(ckpts):
    from vidscope.models._coop import window_index

    assert window_index(10, 4, 0.5)[:, 0].tolist() == [0, 2, 4, 6]
    assert window_index(11, 4, 0.5)[:, 0].tolist() == [0, 2, 4, 6, 7]  # the tail is covered
    assert window_index(3, 4, 0.5).tolist() == [[0, 1, 2]]
    head = _head(PLAIN, ckpts[PLAIN], n_ctx=2, temporal_agg="max", window=4, overlap=0.5)
    x = torch.nn.functional.normalize(torch.randn(2, 6, EMBED), dim=-1)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 3:] = False  # 3 frames: its second window (frames 2-5) keeps frame 2 only
    y = torch.tensor([2, 0])
    with torch.no_grad():
        logits = head.class_logits(x)  # [2, 6, C]
        pooled = torch.stack([logits[0, 0:4].amax(0), logits[0, 2:6].amax(0),
                              logits[1, 0:3].amax(0), logits[1, 2:3].amax(0)])  # fmt: skip
        expected = torch.nn.functional.cross_entropy(pooled, torch.tensor([2, 2, 0, 0]))
        torch.testing.assert_close(head.training_loss(x, mask, y), expected)
    from vidscope.errors import ConfigError

    with pytest.raises(ConfigError, match="window"):
        _head(PLAIN, ckpts[PLAIN], window=4)  # frame samples need no windows


def test_onnx_export_is_declined(ckpts):
    import io

    head = _head(PLAIN, ckpts[PLAIN], n_ctx=2).eval()
    assert head.onnx_export is False
    x, mask = torch.randn(1, 3, EMBED), torch.ones(1, 3, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="stay in PyTorch"):
        torch.onnx.export(head, (x, mask), io.BytesIO(), dynamo=False)


def test_heads_share_one_frozen_tower_and_moving_copies_it(ckpts):
    """k-fold members hold one tower, not k copies; a device move copies, never moves the
    shared parameters."""
    a, b = _head(MOBILE, ckpts[MOBILE], n_ctx=2), _head(MOBILE, ckpts[MOBILE], n_ctx=4)
    ta, tb = a.tower(), b.tower()
    assert ta.token_embedding.weight.data_ptr() == tb.token_embedding.weight.data_ptr()
    assert ta.moved(torch.device("cpu")) is ta
    moved = ta.moved(torch.device("meta"))
    assert moved is not ta and moved.token_embedding.weight.is_meta
    assert ta.token_embedding.weight.device.type == "cpu"
