"""Export a fitted pronunciation encoder to ONNX: phoneme ids in, embedding out.

:func:`export_onnx` writes the encoder's torch core (:class:`ipaclip.nn.PronunciationTransformer`,
with its n-gram bag and the L2 normalisation ``transform`` applies) as one
ONNX graph, via ``torch.onnx.export``. Its inputs are what the core reads:

``table`` (float32, ``(n_rows, n_features)``)
    the token feature table of the batch (PanPhon features and channels, one row per
    distinct token, as :class:`ipaclip.PhonemeEmbedder` lays it out);
``row_vocab`` (int64, ``(n_rows,)``)
    each row's phoneme index in the encoder's vocabulary (0: special token or unknown);
``ids`` (int64, ``(batch, length)``)
    each position's row in ``table`` (0 past the item's end);
``lengths`` (int64, ``(batch,)``)
    tokens per item, ``<bos>`` and ``<eos>`` included;

and its output ``embedding`` (float32, ``(batch, d)``) is what ``encoder.transform`` returns.

**Featurisation stays in Python.** Text to IPA (espeak) and IPA to phoneme features (PanPhon)
are not tensors; :func:`onnx_inputs` turns IPA strings into the four arrays with the encoder's
own ``phoneme_embedder_``, exactly as ``transform`` does. An ONNX runtime alone therefore
embeds featurised items, not raw text.

The n-gram bag looks up each window's code (and each token's sound class) among sorted known
codes. torch does this with ``searchsorted``, which ONNX has no operator for; while tracing,
it is replaced by a binary search unrolled into ``log2(ngram_vocab_size)`` steps of gathers
and comparisons (the same index), so the bag stays inside the graph and the weights travel in
one file.

Needs ``onnx`` (``pip install 'ipaclip[export]'``); ``onnxruntime`` runs the file.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted

from ipaclip._batches import SequenceData
from ipaclip._io import atomic_file
from ipaclip._validation import check_string_items
from ipaclip.phonemes import PhonemeSequences

__all__ = ["ONNX_INPUTS", "export_onnx", "onnx_inputs"]

#: The exported graph's input names, in order.
ONNX_INPUTS = ("table", "row_vocab", "ids", "lengths")
_INSTALL_HINT = "pip install 'ipaclip[export]'"


class _Exportable(torch.nn.Module):
    """The encoder's core as ``transform`` runs it (L2-normalized rows)."""

    def __init__(self, core: torch.nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, table, row_vocab, ids, lengths):
        z = self.core(table, row_vocab, ids, lengths)
        return F.normalize(z, dim=-1)


def _binary_search(sorted_sequence: torch.Tensor, values: torch.Tensor, **kwargs: Any):
    """``torch.searchsorted(sorted_sequence, values)`` (left side, 1-D sequence) from ONNX ops.

    A binary search unrolled into ``bit_length(len(sorted_sequence))`` steps of gathers and
    comparisons: memory and time grow with ``log2`` of the known codes, not with their number.
    """
    if kwargs or sorted_sequence.dim() != 1:
        raise NotImplementedError("Only 1-D left searchsorted is rewritten for ONNX.")
    n = int(sorted_sequence.shape[0])
    lo = torch.zeros_like(values)
    hi = torch.full_like(values, n)
    for _ in range(max(1, n.bit_length())):
        mid = torch.div(lo + hi, 2, rounding_mode="floor")
        go = (sorted_sequence[mid.clamp(0, max(n - 1, 0))] < values) & (lo < hi)
        lo = torch.where(go, mid + 1, lo)
        hi = torch.where(go, hi, mid)
    return lo


@contextlib.contextmanager
def _searchsorted_unrolled():
    """Trace ``torch.searchsorted`` as an unrolled binary search (ONNX has no such operator).

    The n-gram bag finds each window's code, and each table row's sound class, among sorted
    known codes with ``searchsorted``; :func:`_binary_search` gives the same index.
    """
    original = torch.searchsorted
    torch.searchsorted = _binary_search
    try:
        yield
    finally:
        torch.searchsorted = original


def _min_width(encoder: Any) -> int:
    """Fewest padded positions the graph is traced for (an n-gram window needs ``ngram_max``)."""
    return max(2, int(encoder.config_.ngram_max or 0))


def onnx_inputs(encoder: Any, X: Any) -> dict[str, np.ndarray]:
    """The exported graph's inputs for IPA strings (or ``PhonemeSequences``), as ``transform``
    featurises them.

    Parameters
    ----------
    encoder : PronunciationEncoder
        Fitted.
    X : iterable of str or PhonemeSequences
        IPA strings (featurised with ``encoder.phoneme_embedder_``) or sequences featurised
        as in fit.

    Returns
    -------
    dict
        ``{"table", "row_vocab", "ids", "lengths"}``: numpy arrays to pass to an ONNX
        runtime session (``session.run(None, onnx_inputs(encoder, X))``). Padding is added
        past the items' ends where the n-gram windows need it; it changes no output.
    """
    check_is_fitted(encoder)
    if isinstance(X, PhonemeSequences):
        seqs = X
    else:
        items = check_string_items(X, what="IPA string")
        if encoder.phoneme_embedder_ is None:
            raise ValueError(
                "This encoder was fitted on PhonemeSequences; pass PhonemeSequences "
                "featurised as in fit."
            )
        seqs = encoder.phoneme_embedder_.transform(items)
    if len(seqs) == 0:
        raise ValueError("X is empty: at least one item is needed.")
    limit = encoder.config_.context_length
    over = np.flatnonzero(seqs.lengths > limit)
    if len(over):
        i = int(over[0])
        raise ValueError(
            f"Item {i} has {seqs.lengths[i]} phoneme tokens, more than context_length="
            f"{limit}; shorten it or raise context_length."
        )
    data = SequenceData(seqs, encoder.vocabulary_, torch.device("cpu"))
    ids, lengths = data.batch_arrays(np.arange(len(seqs)))
    width = min(max(ids.shape[1], _min_width(encoder)), max(limit, ids.shape[1]))
    ids = np.pad(ids, ((0, 0), (0, width - ids.shape[1])))
    return {
        "table": data.table.numpy().astype(np.float32, copy=False),
        "row_vocab": data.row_vocab.numpy(),
        "ids": np.ascontiguousarray(ids, dtype=np.int64),
        "lengths": lengths,
    }


def export_onnx(
    encoder: Any,
    path: str | os.PathLike,
    *,
    opset_version: int = 17,
    overwrite: bool = False,
) -> Path:
    """Write a fitted encoder's core as an ONNX file: phoneme ids to embedding.

    The graph takes :data:`ONNX_INPUTS` (see the module's docstring; :func:`onnx_inputs`
    makes them from IPA strings) with any batch size, item length (up to
    ``context_length``) and table size, and returns ``encoder.transform``'s embedding
    (L2-normalized, as ``transform`` returns it). Featurisation (text to IPA to phoneme
    features) stays in Python.

    Parameters
    ----------
    encoder : PronunciationEncoder
        Fitted. Its weights are copied; the encoder is not changed.
    path : str or path-like
        The ``.onnx`` file, written atomically.
    opset_version : int, default=17
    overwrite : bool, default=False
        Replace an existing file at ``path``; without it an existing file is refused.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import onnxruntime  # doctest: +SKIP
    >>> export_onnx(encoder, "encoder.onnx")  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("encoder.onnx")  # doctest: +SKIP
    >>> Z = session.run(None, onnx_inputs(encoder, ["kwɪk"]))[0]  # doctest: +SKIP
    """
    import copy

    check_is_fitted(encoder)
    try:
        import onnx  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"Exporting to ONNX needs the onnx package, which is not installed: {_INSTALL_HINT}."
        ) from err
    out = Path(path)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(
            f"Refusing to replace {out}: it exists. Pass overwrite=True to replace it, or "
            "choose another path."
        )
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder; path must name the .onnx file to write.")
    core = copy.deepcopy(encoder.module_).to("cpu").float().eval()
    model = _Exportable(core).eval()
    # An example batch: two items, long enough for every n-gram window.
    vocab = list(encoder.vocabulary_)
    n_features = _n_features(encoder)
    width = min(max(4, _min_width(encoder) + 1), encoder.config_.context_length)
    table = torch.zeros(3 + len(vocab[:4]), n_features)
    row_vocab = torch.tensor([0, 0, 0] + [i + 1 for i in range(len(vocab[:4]))], dtype=torch.long)
    ids = torch.ones(2, width, dtype=torch.long)
    ids[:, 1 : width - 1] = 3
    ids[:, width - 1] = 2
    lengths = torch.tensor([width, width - 1], dtype=torch.long)
    ids[1, width - 2] = 2
    dynamic = {
        "table": {0: "rows", 1: "features"},
        "row_vocab": {0: "rows"},
        "ids": {0: "batch", 1: "length"},
        "lengths": {0: "batch"},
        "embedding": {0: "batch"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp, warnings.catch_warnings(), _searchsorted_unrolled():
        # The tracer warns about the length check it drops (onnx_inputs checks lengths).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # Advanced indexing with negative indices would be wrong; every index here is >= 0.
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            model,
            (table, row_vocab, ids, lengths),
            str(tmp),
            input_names=list(ONNX_INPUTS),
            output_names=["embedding"],
            dynamic_axes=dynamic,
            opset_version=opset_version,
            dynamo=False,
        )
    return out


def _n_features(encoder: Any) -> int:
    """Columns of the token table the encoder reads."""
    from ipaclip.nn import N_CHANNELS, N_PANPHON

    embedder = getattr(encoder, "phoneme_embedder_", None)
    if embedder is not None and len(encoder.vocabulary_):
        return int(embedder.transform([encoder.vocabulary_[0]]).table.shape[1])
    return N_PANPHON + N_CHANNELS
