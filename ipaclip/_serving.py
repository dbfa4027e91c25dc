"""The serving path of :class:`~ipaclip.PronunciationEncoder`: featurise, check, embed.

:class:`EmbeddingMixin` holds what a fitted encoder does with new input (``transform``,
``encode``, ``phoneme_vectors``) and the checks it shares with ``fit`` (the sequences'
layout and length). Each input is validated once: by the phoneme embedder for IPA strings,
by the G2P for texts.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted

from ipaclip._batches import SequenceData, embed_rows
from ipaclip._progress import progress
from ipaclip._spelling import check_ipa_input
from ipaclip._validation import check_string_items
from ipaclip.distributed import check_device, local_device
from ipaclip.phonemes import PhonemeEmbedder, PhonemeSequences
from ipaclip.sequences import apply_truncation

__all__ = ["EmbeddingMixin", "resolve_device"]


def resolve_device(device: str) -> torch.device:
    """``device`` checked against this machine's devices; ``cuda`` is this rank's GPU."""
    return local_device(check_device(device))


class EmbeddingMixin:
    """``transform``, ``encode`` and ``phoneme_vectors`` of a fitted encoder.

    Reads the fitted ``module_``, ``config_``, ``vocabulary_``, ``phoneme_embedder_``,
    ``layout_`` and ``embedding_dim_``, and the parameters ``device``, ``precision``,
    ``truncation`` and ``verbose``; sets ``n_truncated_`` and ``truncated_items_``.
    """

    def _featurise(
        self,
        X,
        embedder: PhonemeEmbedder | None,
        context_length: int | None = None,
        *,
        where: str | None = None,
    ) -> PhonemeSequences:
        """``X`` as phoneme sequences (given as such, or featurised and checked by
        ``embedder``), cut to ``context_length`` (the fitted one by default) as
        ``truncation`` says; sets ``n_truncated_`` and ``truncated_items_``.

        IPA strings from the user (``where`` names the method) first pass the spelling check
        under ``check_spelling``, as in ``fit``; the G2P's own output (``where=None``) does not.
        """
        if context_length is None:
            context_length = self.config_.context_length
        items = None
        if isinstance(X, PhonemeSequences):
            seqs = X
        elif embedder is None:
            raise ValueError(
                "This encoder was fitted on PhonemeSequences; transform needs PhonemeSequences "
                "too (or refit it on IPA strings)."
            )
        else:
            featuriser = copy.copy(embedder)  # the fitted state, shared; the limit is ours
            featuriser.max_length = None
            items = check_string_items(X, what="IPA string")
            if where is not None:
                check_ipa_input(items, getattr(self, "check_spelling", "raise"), where)
            seqs = featuriser.transform(items)
        if len(seqs) == 0:
            raise ValueError("X is empty: at least one item is needed.")
        seqs, cut = apply_truncation(
            seqs, context_length, self.truncation, items, limit_name="context_length"
        )
        self.n_truncated_, self.truncated_items_ = len(cut), cut.tolist()
        return seqs

    def _check_layout(self, seqs: PhonemeSequences) -> None:
        """Refuse sequences whose features mean something else than at fit time."""
        expected = getattr(self, "layout_", None)
        if expected is None or seqs.layout is None or seqs.layout == expected:
            return
        raise ValueError(
            "X was featurised with another layout than the sequences this encoder was fitted "
            f"on: {seqs.layout.describe_differences(expected)}. Featurise it with the "
            "encoder's own phoneme_embedder_ (or the same PhonemeEmbedder settings as in fit)."
        )

    def transform(self, X) -> np.ndarray:
        """Embed pronunciations: ``(n, d)`` float32, L2-normalised rows."""
        check_is_fitted(self)
        self._validate_params()
        where = f"{type(self).__name__}.transform"
        return self._embed(self._featurise(X, self.phoneme_embedder_, where=where))

    def _embed(
        self,
        seqs: PhonemeSequences,
        *,
        normalize: bool = True,
        batch_size: int | None = None,
        verbose: int | None = None,
    ) -> np.ndarray:
        """The module's output rows for ``seqs`` (L2-normalised unless ``normalize=False``)."""
        self._check_layout(seqs)
        verbose = self.verbose if verbose is None else verbose
        device = resolve_device(self.device)
        module = self.module_.to(device).eval()
        data = SequenceData(seqs, self.vocabulary_, device)
        out = np.empty((len(seqs), self.embedding_dim_), dtype=np.float32)
        rows = np.arange(len(seqs))
        batches = embed_rows(module, data, rows, batch_size, self.precision)
        with progress(len(seqs), "embedding", verbose, unit="item") as bar:
            for index, z in batches:
                if normalize:
                    z = F.normalize(z, dim=-1)
                out[index] = z.cpu().numpy()
                bar.update(len(index))
        return out

    def encode(
        self,
        texts=None,
        *,
        ipa=None,
        language: str | None = None,
        batch_size: int | None = None,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        convert_to_tensor: bool = False,
    ):
        """Embed texts as sentence-transformers' ``encode`` does: texts in, vectors out.

        Parameters
        ----------
        texts : str or iterable of str, optional
            Texts, transcribed by the G2P saved with the model (``g2p_``) or the default
            English :class:`~ipaclip.IPATransformer`. A single string gives a single vector.
        ipa : str or iterable of str, optional
            IPA strings instead of texts (``ipa`` always means IPA strings: see the glossary);
            checked by the phoneme embedder and the spelling check. Give ``texts`` or
            ``ipa``, not both.
        language : str, optional
            Read the texts in this language (an espeak voice, ``"de"``) for this call: a
            copy of the G2P with that ``language``; the saved ``g2p_`` is not changed.
        batch_size : int, optional
            Most items per batch; batches also hold at most
            :data:`~ipaclip._batches.INFERENCE_MAX_TOKENS` padded tokens (the only cap by
            default). The rows do not depend on it.
        show_progress_bar : bool, optional
            Defaults to ``verbose >= 1``.
        normalize_embeddings : bool, default=True
            ``False``: the module's raw output rows.
        convert_to_tensor : bool, default=False
            Return a ``torch.Tensor`` instead of a numpy array.

        Returns
        -------
        ndarray or Tensor of shape (n, d), or (d,) for a single string
        """
        from ipaclip.g2p import resolve_g2p

        check_is_fitted(self)
        self._validate_params()
        if (texts is None) == (ipa is None):
            raise ValueError(
                "encode needs texts (read by the G2P) or ipa= (IPA strings), one of the two; "
                f"got {'both' if texts is not None else 'neither'}."
            )
        given = texts if ipa is None else ipa
        single = isinstance(given, str)
        items = [given] if single else given
        if ipa is not None and language is not None:
            raise ValueError(f"language={language!r} is for texts the G2P reads, not ipa=.")
        if ipa is None:
            g2p = resolve_g2p(saved=getattr(self, "g2p_", None), language=language)
            items = g2p.fit_transform(items)
        out = self._embed(
            self._featurise(
                items, self.phoneme_embedder_, where="encode(ipa=...)" if ipa is not None else None
            ),
            normalize=bool(normalize_embeddings),
            batch_size=batch_size,
            verbose=None if show_progress_bar is None else int(bool(show_progress_bar)),
        )
        if single:
            out = out[0]
        return torch.from_numpy(out) if convert_to_tensor else out

    def phoneme_vectors(self, symbols: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The learned input embedding of each phoneme (no stress, not word-initial).

        Parameters
        ----------
        symbols : sequence of str, optional
            IPA segments; by default the fitted vocabulary. With ``embedding="ipa"`` any
            PanPhon segment has a vector, seen in training or not.
        """
        check_is_fitted(self)
        symbols = list(self.vocabulary_ if symbols is None else symbols)
        # The IPA layout serves both modes: "onehot" reads only the channels and the index.
        featuriser = PhonemeEmbedder(add_special_tokens=False, word_boundary="none")
        seqs = featuriser.fit(symbols).transform(symbols)
        bad = [s for s, n in zip(symbols, seqs.lengths) if n != 1]
        if bad:
            raise ValueError(f"Not single segments: {bad[:10]}.")
        data = SequenceData(seqs, self.vocabulary_, torch.device("cpu"))
        with torch.inference_mode():
            rows = self.module_.phoneme_vectors(data.table, data.row_vocab).numpy()
        return {s: rows[seqs.ids[i]].copy() for i, s in enumerate(symbols)}
