"""The torch core: phoneme embeddings and a CLIP-style Transformer pronunciation encoder.

An architecture is data: an :class:`EncoderConfig` (a dataclass that saves to JSON) from which
:class:`PronunciationTransformer` is built; :meth:`EncoderConfig.parameter_shapes` says what
its weights look like without building it (loading checks a file against it first).
The encoder reads a batch as *ids into a table of token feature rows* (see
:class:`ipaclip.PhonemeSequences`): the first layer maps the small table, then gathers, so no
``(batch, length, features)`` float tensor of the corpus is ever built.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ipaclip._io import write_atomic
from ipaclip.inventory import FEATURE_NAMES
from ipaclip.ngrams import BOUNDARY_POLICIES, MAX_ORDER, check_code_range, ngram_codes
from ipaclip.phonemes import CHANNEL_NAMES

__all__ = [
    "EncoderConfig",
    "PhonemeProjection",
    "PronunciationTransformer",
    "cosine_schedule",
]

N_PANPHON = len(FEATURE_NAMES)
N_CHANNELS = len(CHANNEL_NAMES)


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of a pronunciation encoder.

    Parameters
    ----------
    embedding : {"ipa", "onehot"}
        ``"ipa"``: a linear map of each token's articulatory features and channels (the
        paper's IPA-based embedding). ``"onehot"``: a learned ``nn.Embedding`` per phoneme
        plus a linear map of the channels (the baseline).
    vocab_size : int
        Number of phonemes in the vocabulary (index 0 is reserved for "none": special
        tokens, tones and phonemes unseen in training).
    residual : bool
        ``"ipa"`` only: add a small learned per-phoneme vector (initialised to zero) to the
        feature map, so phonemes with equal features can still drift apart.
    width, layers, heads, mlp_ratio : int, int, int, float
        Transformer size, as in CLIP's text tower.
    context_length : int
        Longest token sequence, ``<bos>`` and ``<eos>`` included (learned positions).
    causal : bool
        Causal attention as in CLIP's text tower, or bidirectional (default).
    pooling : {"eos", "mean"}
        Read the output at the ``<eos>`` token (CLIP's choice) or average all tokens.
    output_dim : int
        Dimension of the projection: the teacher's embedding dimension.
    dropout : float
        Dropout in attention and MLP during training.
    ngram_max : int
        0: no n-gram bag. Otherwise the longest phoneme n-gram (orders 2 .. ``ngram_max``,
        the item boundaries as a symbol; see :mod:`ipaclip.ngrams`): the mean of the learned
        vectors of an item's known n-grams is added to the pooled vector before the
        projection, a fastText-style bag beside the Transformer. It lets the encoder learn a
        vector per *word* quickly (the teacher's word targets are arbitrary), while the
        Transformer keeps the geometry phonetic.
    ngram_vocab_size : int
        Number of known n-grams (those seen in fit, kept sorted in the ``ngram_codes``
        buffer and saved with the weights); unknown n-grams contribute nothing.
    ngram_class_count : int
        0: phoneme n-grams only. Otherwise the number of sound classes (the
        ``class_codes`` buffer) over which the same windows are coded a second time
        (``"ipa"`` only): an articulatory prior for the bag, so that a phoneme swapped for a
        near one keeps the class n-grams.
    ngram_boundaries : {"drop", "word", "across"}
        How the bag's windows read a word boundary of a sentence
        (:data:`ipaclip.ngrams.BOUNDARY_POLICIES`): dropped (encoders saved before issue
        #19), a word edge (a word's n-grams in a sentence are those it has alone), or a
        symbol that windows run across. Single words are coded alike by all three.
    """

    embedding: str = "ipa"
    vocab_size: int = 0
    residual: bool = False
    width: int = 256
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    context_length: int = 64
    causal: bool = False
    pooling: str = "eos"
    output_dim: int = 512
    dropout: float = 0.0
    ngram_max: int = 0
    ngram_vocab_size: int = 0
    ngram_class_count: int = 0
    ngram_boundaries: str = "drop"

    def __post_init__(self) -> None:
        if self.embedding not in ("ipa", "onehot"):
            raise ValueError(f"embedding={self.embedding!r}; expected 'ipa' or 'onehot'.")
        if self.pooling not in ("eos", "mean"):
            raise ValueError(f"pooling={self.pooling!r}; expected 'eos' or 'mean'.")
        if self.ngram_boundaries not in BOUNDARY_POLICIES:
            raise ValueError(
                f"ngram_boundaries={self.ngram_boundaries!r}; expected one of {BOUNDARY_POLICIES}."
            )
        for name in ("width", "layers", "heads", "context_length", "output_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}; expected a positive int.")
        if self.width % self.heads:
            raise ValueError(f"width={self.width} is not divisible by heads={self.heads}.")
        if self.vocab_size < 0:
            raise ValueError(f"vocab_size={self.vocab_size!r}; expected >= 0.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout!r}; expected 0 <= dropout < 1.")
        self._check_ngrams()

    def _check_ngrams(self) -> None:
        sizes = {
            k: getattr(self, k) for k in ("ngram_max", "ngram_vocab_size", "ngram_class_count")
        }
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r}; expected an int >= 0.")
        if not self.ngram_max:
            if self.ngram_vocab_size or self.ngram_class_count:
                raise ValueError(
                    "ngram_vocab_size and ngram_class_count must be 0 when ngram_max is 0 (no "
                    f"n-gram bag); got {self.ngram_vocab_size} and {self.ngram_class_count}."
                )
            return
        if not 2 <= self.ngram_max <= MAX_ORDER:
            raise ValueError(f"ngram_max={self.ngram_max!r}; expected 0 or 2 .. {MAX_ORDER}.")
        if self.ngram_vocab_size < 1:
            raise ValueError("ngram_vocab_size must be >= 1 when ngram_max is set.")
        if self.ngram_class_count and self.embedding != "ipa":
            raise ValueError(
                "ngram_class_count needs embedding='ipa' (classes come from features)."
            )
        try:
            check_code_range(self.vocab_size, self.ngram_max)
            check_code_range(self.ngram_class_count, self.ngram_max)
        except ValueError as exc:
            raise ValueError(
                f"vocab_size={self.vocab_size} / ngram_class_count={self.ngram_class_count} "
                f"with ngram_max={self.ngram_max}: {exc}"
            ) from None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown encoder config keys {sorted(unknown)}.")
        return cls(**data)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor in the state_dict of the encoder this config builds.

        Computed without allocating anything, so a saved model's weights can be checked
        against its config before any memory is spent on the module.

        Examples
        --------
        >>> EncoderConfig(width=8, layers=1, heads=2, output_dim=4).parameter_shapes()["projection"]
        (8, 4)
        """
        w, hidden = self.width, int(self.width * self.mlp_ratio)
        shapes: dict[str, tuple[int, ...]] = {
            "positional": (self.context_length, w),
            "projection": (w, self.output_dim),
        }
        if self.embedding == "ipa":
            shapes["embed.features.weight"] = (w, N_PANPHON + N_CHANNELS)
            if self.residual:
                shapes["embed.residual.weight"] = (self.vocab_size + 1, w)
        else:
            shapes["embed.phoneme.weight"] = (self.vocab_size + 1, w)
            shapes["embed.features.weight"] = (w, N_CHANNELS)
        shapes["embed.features.bias"] = (w,)
        block = {
            "ln_1.weight": (w,), "ln_1.bias": (w,),
            "qkv.weight": (3 * w, w), "qkv.bias": (3 * w,),
            "out.weight": (w, w), "out.bias": (w,),
            "ln_2.weight": (w,), "ln_2.bias": (w,),
            "mlp.0.weight": (hidden, w), "mlp.0.bias": (hidden,),
            "mlp.2.weight": (w, hidden), "mlp.2.bias": (w,),
        }  # fmt: skip
        for i in range(self.layers):
            shapes.update({f"blocks.{i}.{k}": v for k, v in block.items()})
        shapes["ln_final.weight"] = shapes["ln_final.bias"] = (w,)
        if self.ngram_max:
            shapes["ngrams.weight"] = (self.ngram_vocab_size + 1, w)
            shapes["ngram_codes"] = (self.ngram_vocab_size,)
            if self.ngram_class_count:
                shapes["class_codes"] = (self.ngram_class_count,)
        return shapes

    def save(self, path: str | Path) -> None:
        """Write the config as JSON, atomically (:func:`ipaclip._io.write_atomic`)."""
        write_atomic(path, json.dumps(self.to_dict(), indent=2).encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> EncoderConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


#: Positions whose initial vectors come from torch's global random stream (see _init_weights).
_STREAM_POSITIONS = 64


class PhonemeProjection(nn.Module):
    """Token table rows → vectors of the Transformer's width.

    ``forward(table, row_vocab)`` maps each row of a ``(n_rows, n_features)`` token feature
    table (PanPhon features then channels, as :class:`ipaclip.PhonemeEmbedder` lays them
    out) with its phoneme index ``row_vocab`` (0 for none) to a ``(n_rows, width)`` matrix.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.mode = config.embedding
        width = config.width
        if self.mode == "ipa":
            self.features = nn.Linear(N_PANPHON + N_CHANNELS, width)
            self.residual = (
                nn.Embedding(config.vocab_size + 1, width, padding_idx=0)
                if config.residual
                else None
            )
            if self.residual is not None:
                nn.init.zeros_(self.residual.weight)
        else:
            self.phoneme = nn.Embedding(config.vocab_size + 1, width, padding_idx=0)
            nn.init.normal_(self.phoneme.weight, std=0.02)
            with torch.no_grad():
                self.phoneme.weight[0].zero_()
            self.features = nn.Linear(N_CHANNELS, width)

    def forward(self, table: torch.Tensor, row_vocab: torch.Tensor) -> torch.Tensor:
        channels = table[:, -N_CHANNELS:]
        if self.mode == "ipa":
            if table.shape[1] != N_PANPHON + N_CHANNELS:
                raise ValueError(
                    f"An 'ipa' embedding expects {N_PANPHON + N_CHANNELS} features per token, "
                    f"got {table.shape[1]}: featurise with PhonemeEmbedder(embedding='ipa')."
                )
            out = self.features(table)
            if self.residual is not None:
                out = out + self.residual(row_vocab)
            return out
        return self.phoneme(row_vocab) + self.features(channels)


class _Block(nn.Module):
    """Pre-LayerNorm residual attention block (CLIP's ``ResidualAttentionBlock``)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.ln_1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        qkv = self.qkv(self.ln_1(x)).view(b, n, 3, self.heads, w // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        x = x + self.out(a.transpose(1, 2).reshape(b, n, w))
        return x + self.mlp(self.ln_2(x))


class PronunciationTransformer(nn.Module):
    """CLIP-style text tower over phoneme tokens, projected into the teacher's space.

    ``forward(table, row_vocab, ids, lengths)``: ``table`` (n_rows, n_features) token
    features, ``row_vocab`` (n_rows,) phoneme index of each row, ``ids`` (batch, length)
    rows of each position (0 is padding), ``lengths`` (batch,) real tokens per item. Returns
    ``(batch, output_dim)`` unnormalised embeddings.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = PhonemeProjection(config)
        self.positional = nn.Parameter(torch.empty(config.context_length, config.width))
        self.blocks = nn.ModuleList(
            _Block(config.width, config.heads, config.mlp_ratio, config.dropout)
            for _ in range(config.layers)
        )
        self.ln_final = nn.LayerNorm(config.width)
        self.projection = nn.Parameter(torch.empty(config.width, config.output_dim))
        self.ngrams = None
        if config.ngram_max:
            n = config.ngram_vocab_size
            # Zero vectors: a new n-gram starts by changing nothing. The last row is the
            # "unknown" padding row and stays zero.
            self.ngrams = nn.Embedding(n + 1, config.width, padding_idx=n)
            nn.init.zeros_(self.ngrams.weight)
            self.register_buffer("ngram_codes", torch.full((n,), -1, dtype=torch.long))
            if config.ngram_class_count:
                self.register_buffer(
                    "class_codes", torch.full((config.ngram_class_count,), -1, dtype=torch.long)
                )
        self._init_weights()

    def _init_weights(self) -> None:
        cfg = self.config
        # The first 64 positions are drawn from the global stream, the rest from a side
        # generator seeded from it without consuming it: a longer context (320 since issue
        # #19) changes no other weight's draw, so word-level models and their published
        # figures stay bit-identical to those trained with context_length=64.
        head = min(cfg.context_length, _STREAM_POSITIONS)
        with torch.no_grad():
            self.positional[:head].normal_(std=0.01)
            if cfg.context_length > head:
                side = torch.Generator().manual_seed(torch.initial_seed() ^ 0x5EED)
                rest = torch.empty(cfg.context_length - head, cfg.width)
                self.positional[head:] = rest.normal_(std=0.01, generator=side)
        proj_std = (cfg.width**-0.5) * ((2 * cfg.layers) ** -0.5)
        for block in self.blocks:
            nn.init.normal_(block.qkv.weight, std=cfg.width**-0.5)
            nn.init.normal_(block.out.weight, std=proj_std)
            nn.init.normal_(block.mlp[0].weight, std=(2 * cfg.width) ** -0.5)
            nn.init.normal_(block.mlp[2].weight, std=proj_std)
        nn.init.normal_(self.projection, std=cfg.width**-0.5)

    def forward(
        self,
        table: torch.Tensor,
        row_vocab: torch.Tensor,
        ids: torch.Tensor,
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        b, n = ids.shape
        if n > self.config.context_length:
            raise ValueError(
                f"Sequences of {n} tokens exceed the encoder's context_length="
                f"{self.config.context_length}."
            )
        rows = self.embed(table, row_vocab)
        x = rows[ids] + self.positional[:n]
        positions = torch.arange(n, device=ids.device)
        valid = positions[None, :] < lengths[:, None]  # (b, n)
        mask = valid[:, None, None, :]  # keys
        if self.config.causal:
            mask = mask & torch.ones(n, n, dtype=torch.bool, device=ids.device).tril()
        for block in self.blocks:
            x = block(x, mask)
        x = self.ln_final(x)
        if self.config.pooling == "eos":
            pooled = x[torch.arange(b, device=ids.device), lengths - 1]
        else:
            weights = valid.to(x.dtype) / lengths[:, None].to(x.dtype)
            pooled = torch.einsum("bn,bnw->bw", weights, x)
        if self.ngrams is not None:
            pooled = pooled + self.ngram_bag(table, row_vocab, ids, lengths)
        return pooled @ self.projection

    def set_ngrams(self, codes: torch.Tensor, class_codes: torch.Tensor | None = None) -> None:
        """Give the known n-grams and sound classes (from :func:`ipaclip.ngrams.ngram_vocabulary`).

        ``codes`` must be sorted and distinct, at most ``ngram_vocab_size`` of them (unused
        slots never match a code); ``class_codes`` sorted, exactly ``ngram_class_count``.
        """
        if self.ngrams is None:
            raise ValueError("This encoder has no n-gram bag (its config has ngram_max=0).")
        n = self.config.ngram_vocab_size
        if len(codes) > n:
            raise ValueError(f"{len(codes)} n-gram codes do not fit in ngram_vocab_size={n}.")
        with torch.no_grad():
            self.ngram_codes.fill_(torch.iinfo(torch.long).max)
            self.ngram_codes[: len(codes)] = codes.to(self.ngram_codes.device)
            if self.config.ngram_class_count:
                if class_codes is None or len(class_codes) != self.config.ngram_class_count:
                    raise ValueError(
                        f"class_codes must hold {self.config.ngram_class_count} sound classes."
                    )
                self.class_codes.copy_(class_codes)

    def ngram_bag(
        self, table: torch.Tensor, row_vocab: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the vectors of each item's known n-grams, ``(batch, width)`` (0 if none)."""
        cfg = self.config
        codes = ngram_codes(
            table,
            row_vocab,
            ids,
            lengths,
            vocab_size=cfg.vocab_size,
            max_order=cfg.ngram_max,
            class_codes=self.class_codes if cfg.ngram_class_count else None,
            boundaries=cfg.ngram_boundaries,
        )
        n = cfg.ngram_vocab_size
        index = torch.searchsorted(self.ngram_codes, codes).clamp_max(n - 1)
        known = (self.ngram_codes[index] == codes) & (codes >= 0)
        index = torch.where(known, index, torch.full_like(index, n))
        count = known.sum(1, keepdim=True).clamp_min(1).to(self.ngrams.weight.dtype)
        return self.ngrams(index).sum(1) / count

    def phoneme_vectors(self, table: torch.Tensor, row_vocab: torch.Tensor) -> torch.Tensor:
        """The input embedding of each table row (what evaluation 1 compares to the IPA chart)."""
        return self.embed(table, row_vocab)


def cosine_schedule(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
