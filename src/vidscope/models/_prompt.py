"""CoOp's pieces: a frozen open_clip text tower fed embeddings, and the learnable prompt context.

:class:`TextTower` runs the text side of either open_clip model class (``CLIP`` keeps the
tower's parts on the model, ``CustomTextCLIP`` in ``model.text``; see
:func:`vidscope.backbones.TextTowerParts`) on token *embeddings*, so that learned context
vectors can stand where word embeddings stood. :class:`PromptLearner` builds, per class, the
token sequence ``[SOT] ctx_1 .. ctx_M <class tokens> [EOT]`` (or the class in the middle or in
front) and puts the context vectors into it (Zhou et al., "Learning to Prompt for
Vision-Language Models", IJCV 2022).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..backbones import TextTowerParts
from ..errors import ConfigError

Position = Literal["end", "middle", "front"]
POSITIONS = ("end", "middle", "front")


class TextTower(torch.nn.Module):
    """A frozen copy of an open_clip text tower: ``(embeds [N, L, W], tokens [N, L]) -> [N, E]``.

    ``forward(token_embedding(tokens), tokens)`` equals the model's ``encode_text(tokens)``
    (unnormalised). Under a causal mask with argmax pooling, positions after the last EOT
    cannot change the pooled feature, so they are cut before the transformer runs (exact, and
    ~3x less work for short prompts); a bidirectional tower (``no_causal_mask``, MobileCLIP)
    always runs the whole context.

    Args:
        parts: The tower's pieces. They are shared, not copied (a frozen tower is only read,
            so the heads of a k-fold run hold one tower); copy this module before moving it
            to another device (:meth:`moved`).
    """

    def __init__(self, parts: TextTowerParts) -> None:
        super().__init__()
        self.token_embedding = parts.token_embedding
        self.positional_embedding = parts.positional_embedding
        self.transformer = parts.transformer
        self.ln_final = parts.ln_final
        self.text_projection = parts.text_projection
        self.register_buffer("attn_mask", parts.attn_mask, persistent=False)
        self.pool_type = parts.pool_type
        self.eos_id = parts.eos_id
        self.requires_grad_(False)
        self.eval()

    def moved(self, device: torch.device) -> TextTower:
        """This tower on ``device``: itself if it is there, else a copy moved there (moving
        in place would move the shared parameters of every other holder too)."""
        if self.token_embedding.weight.device == device:
            return self
        return copy.deepcopy(self).to(device)

    @property
    def width(self) -> int:
        """W, the width of token embeddings."""
        return int(self.token_embedding.weight.shape[1])

    @torch.no_grad()
    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token embeddings ``[N, L, W]`` of ids ``[N, L]`` (no gradient: the tower is frozen)."""
        return self.token_embedding(tokens.to(self.token_embedding.weight.device))

    def forward(self, embeds: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Text features ``[N, E]`` (not normalised) of token embeddings ``[N, L, W]`` whose
        ids are ``tokens [N, L]`` (the ids locate EOT for pooling)."""
        from open_clip.transformer import text_global_pool

        mask = self.attn_mask
        if mask is not None and self.pool_type == "argmax":
            keep = int(tokens.argmax(-1).max()) + 1  # causal: later positions cannot matter
            embeds, tokens, mask = embeds[:, :keep], tokens[:, :keep], mask[:keep, :keep]
        length = embeds.shape[1]
        cast = self.transformer.get_cast_dtype()
        x = embeds.to(cast) + self.positional_embedding[:length].to(cast)  # [N, L, W]
        x = self.ln_final(self.transformer(x, attn_mask=mask))  # [N, L, W]
        x = text_global_pool(x, tokens, self.pool_type, eos_token_id=self.eos_id)  # [N, W]
        proj = self.text_projection
        if proj is None:
            return x
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj  # [N, E]


def content_ids(tokenizer: Any, text: str) -> list[int]:
    """The token ids of ``text`` without its start/end tokens and padding.

    Raises:
        ConfigError: for tokenizers without CLIP's start/end tokens (prompt learning needs
            them), or text that tokenizes to nothing.
    """
    sot, eot = getattr(tokenizer, "sot_token_id", None), getattr(tokenizer, "eot_token_id", None)
    if sot is None or eot is None:
        raise ConfigError(
            f"prompt learning needs open_clip's CLIP tokenizer; {type(tokenizer).__name__} "
            "has no start/end-of-text tokens"
        )
    row = tokenizer([text])[0].tolist()
    ids = row[1 : row.index(eot)] if eot in row else row[1:]
    if not ids:
        raise ConfigError(f"prompt text {text!r} gives no tokens")
    return ids


class PromptLearner(torch.nn.Module):
    """Learnable context vectors placed around each class's name tokens (CoOp).

    The class token sequences and the places of the context vectors in them are fixed at
    construction (the tokenizer needs no weights); the frozen embeddings of the other
    tokens are computed once per tower by :meth:`prepare`, under no-grad. Only ``ctx`` is a
    parameter.

    Args:
        tokenizer: open_clip's CLIP tokenizer of the model.
        class_texts: The text of each class, in label order (usually the class names).
        width: W of the tower's token embeddings.
        n_ctx: Number of context vectors M (ignored when ``ctx_init`` is given: its token
            count is M then).
        ctx_init: Phrase whose token embeddings initialise the context (``"a video of a"``);
            empty: random normal init with std 0.02, as CoOp.
        csc: Class-specific context (one set of M vectors per class) instead of one shared set.
        position: Where the class tokens go: after the context (``end``), between its two
            halves (``middle``) or before it (``front``).

    Attributes:
        ctx: ``[M, W]``, or ``[C, M, W]`` with ``csc``.
        tokens: ``[C, L]`` token ids of the prompts (context slots hold the id of ``"X"``).
    """

    def __init__(
        self,
        tokenizer: Any,
        class_texts: list[str],
        *,
        width: int,
        n_ctx: int = 16,
        ctx_init: str = "",
        csc: bool = False,
        position: Position = "end",
    ) -> None:
        super().__init__()
        if position not in POSITIONS:
            raise ConfigError(f"--head-option class_token_position must be one of {POSITIONS}")
        self.init_ids = content_ids(tokenizer, ctx_init) if ctx_init else []
        n_ctx = len(self.init_ids) or int(n_ctx)
        if n_ctx < 1:
            raise ConfigError(f"--head-option n_ctx must be >= 1, got {n_ctx}")
        self.n_ctx, self.csc, self.position = n_ctx, bool(csc), position
        num = len(class_texts)
        ctx = torch.empty(num, n_ctx, width) if self.csc else torch.empty(n_ctx, width)
        self.ctx = torch.nn.Parameter(torch.nn.init.normal_(ctx, std=0.02))
        tokens, rows, cols = _prompt_tokens(tokenizer, class_texts, n_ctx, position)
        self.register_buffer("tokens", tokens, persistent=False)  # [C, L]
        self.register_buffer("slot_rows", rows, persistent=False)  # [C * M]
        self.register_buffer("slot_cols", cols, persistent=False)  # [C * M]
        self._base: torch.Tensor | None = None  # [C, L, W] frozen token embeddings

    def prepare(self, tower: TextTower, *, init_ctx: bool) -> None:
        """Cache the frozen token embeddings from ``tower``; with ``init_ctx`` and a
        ``ctx_init`` phrase, set the context to the phrase's token embeddings."""
        self._base = tower.embed(self.tokens)  # [C, L, W], no grad
        if init_ctx and self.init_ids:
            phrase = tower.embed(torch.tensor([self.init_ids]))[0]  # [M, W]
            with torch.no_grad():
                self.ctx.copy_(phrase.expand_as(self.ctx))

    def forward(self) -> torch.Tensor:
        """The prompt embeddings ``[C, L, W]``: frozen tokens with the context put in."""
        if self._base is None:
            raise RuntimeError("PromptLearner.prepare(tower) must run before forward")
        base = self._base
        if base.device != self.ctx.device:
            base = self._base = base.to(self.ctx.device)
        num, width = base.shape[0], base.shape[2]
        ctx = self.ctx if self.csc else self.ctx.unsqueeze(0).expand(num, -1, -1)  # [C, M, W]
        values = ctx.reshape(-1, width).to(base.dtype)  # [C * M, W], class-major
        return base.index_put((self.slot_rows, self.slot_cols), values)


def _prompt_tokens(
    tokenizer: Any, class_texts: list[str], n_ctx: int, position: Position
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids ``[C, L]`` of every class prompt and the (row, column) of each context slot.

    Raises:
        ConfigError: a prompt longer than the tokenizer's context length.
    """
    sot, eot = tokenizer.sot_token_id, tokenizer.eot_token_id
    length = int(tokenizer.context_length)
    slot = content_ids(tokenizer, "X")[0]
    half = n_ctx // 2 if position == "middle" else (0 if position == "front" else n_ctx)
    tokens = torch.zeros(len(class_texts), length, dtype=torch.long)
    rows: list[int] = []
    cols: list[int] = []
    for c, text in enumerate(class_texts):
        name = content_ids(tokenizer, text)
        if position == "front":
            seq, starts = [sot, *name, *[slot] * n_ctx, eot], 1 + len(name)
        else:  # end (half = M) or middle: ctx[:half] name ctx[half:]
            seq = [sot, *[slot] * half, *name, *[slot] * (n_ctx - half), eot]
            starts = 1
        if len(seq) > length:
            raise ConfigError(
                f"the prompt of class {text!r} needs {len(seq)} tokens, more than the model's "
                f"{length}; use fewer context vectors (--head-option n_ctx) or a shorter name"
            )
        tokens[c, : len(seq)] = torch.tensor(seq)
        places = [starts + i for i in range(n_ctx)]
        if position == "middle":
            places = [1 + i for i in range(half)]
            places += [1 + half + len(name) + i for i in range(n_ctx - half)]
        rows += [c] * n_ctx
        cols += places
    return tokens, torch.tensor(rows), torch.tensor(cols)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Unit length along the last axis."""
    return F.normalize(x, dim=-1)
