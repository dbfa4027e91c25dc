"""IPA-CLIP: image, text and pronunciation encoders in one embedding space.

:class:`IPACLIP` holds CLIP's own (frozen) image and text encoders and a pronunciation
encoder distilled from that text encoder, with the G2P that turns text into IPA. Because the
pronunciation encoder was trained to land where the text encoder does, its embeddings can be
compared with image embeddings directly, and mixed with text embeddings into a *fused*
query.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import TransformerTags
from sklearn.utils.validation import check_is_fitted

from ipaclip._targets import check_target_array, is_embeddings
from ipaclip._validation import check_string_items, unit_rows
from ipaclip.estimator import PronunciationEncoder
from ipaclip.fusion import check_fuse_weight, fuse
from ipaclip.g2p import resolve_g2p
from ipaclip.search import SearchMixin

__all__ = ["IPACLIP", "fuse"]


class IPACLIP(SearchMixin, BaseEstimator):
    """CLIP with ears: image, text and pronunciation encoders side by side.

    Parameters
    ----------
    pronunciation_encoder : PronunciationEncoder
        A fitted encoder, distilled from ``teacher`` (or from the same teacher).
    teacher : transformer or None, default=None
        The frozen text encoder (the teacher) (``transform(list_of_str) -> (n, d)``), e.g.
        :class:`~ipaclip.teachers.CLIPTextEncoder`. ``None`` uses the pronunciation
        encoder's own teacher (resolved from its ``teacher`` parameter). An encoder fitted
        on precomputed target arrays (``teacher_id_`` is ``None``) has no known teacher:
        ``teacher`` is then required (``fit`` and the text tower refuse to guess).
    image_encoder : transformer or None, default=None
        The frozen image encoder, e.g. :class:`~ipaclip.teachers.CLIPImageEncoder`; needed
        only by :meth:`encode_image`.
    g2p : IPATransformer or None, default=None
        Text to IPA for :meth:`encode_pronunciation`. ``None`` uses the G2P saved with the
        encoder (``pronunciation_encoder.g2p_``), else a default English
        :class:`~ipaclip.IPATransformer`.
    fuse_weight : float, default=0.5
        Share of the pronunciation embedding in the fused query (0 = text only, 1 =
        pronunciation only). The paper's abstract does not fix it; 0.5 weighs both equally.
    logit_scale : float, default=100.0
        Multiplier of cosine similarities in :meth:`logits` (CLIP's learned scale saturates
        at 100).

    Examples
    --------
    >>> import numpy as np
    >>> from ipaclip import IPACLIP, PronunciationEncoder
    >>> texts = ["cat", "dog", "bird", "fish"]
    >>> targets = np.eye(4, 8, dtype=np.float32)
    >>> enc = PronunciationEncoder(width=16, layers=1, heads=2, epochs=2, random_state=0)
    >>> model = IPACLIP(enc.fit(["kæt", "dɔɡ", "bɝd", "fɪʃ"], targets))
    >>> model.encode_pronunciation(ipa=["kæt"]).shape
    (1, 8)
    """

    def __init__(
        self,
        pronunciation_encoder: PronunciationEncoder,
        teacher: Any = None,
        image_encoder: Any = None,
        g2p: Any = None,
        fuse_weight: float = 0.5,
        logit_scale: float = 100.0,
    ) -> None:
        self.pronunciation_encoder = pronunciation_encoder
        self.teacher = teacher
        self.image_encoder = image_encoder
        self.g2p = g2p
        self.fuse_weight = fuse_weight
        self.logit_scale = logit_scale

    def fit(self, X: Any = None, y: Any = None) -> IPACLIP:
        """Check that the pronunciation encoder is fitted; nothing is learned here.

        IPACLIP is an estimator *over a fitted encoder*: ``clone`` keeps that encoder (see
        ``__sklearn_clone__``), so ``GridSearchCV(IPACLIP(encoder), {"fuse_weight": [...]},
        scoring=...)`` tries weights without refitting anything.
        """
        self._check_fitted()
        self._check_teacher_known()
        check_fuse_weight(self.fuse_weight, "IPACLIP")
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """The fused queries of the texts ``X`` (:meth:`encode_query`): what scorers score.

        ipaclip's scorers (:mod:`ipaclip.metrics`) compare ``transform(X)`` with
        :meth:`embed_targets` ``(y)``, so on an IPACLIP they score the fused query (at
        ``fuse_weight``) of each text in ``X`` against the teacher's embedding of its target.
        """
        return self.encode_query(X)

    def embed_targets(self, y: Any) -> np.ndarray:
        """Targets in the shared space: texts through the teacher, or rows as given (unit rows)."""
        if is_embeddings(y):
            return unit_rows(check_target_array(y), "y")
        return self.encode_text(y)

    def __sklearn_clone__(self) -> IPACLIP:
        # The encoder is the fitted thing this estimator wraps (as FrozenEstimator does):
        # clones share it, and only IPACLIP's own parameters are copied.
        from sklearn.base import clone

        params = self.get_params(deep=False)
        for name in ("teacher", "image_encoder", "g2p"):
            if params[name] is not None and hasattr(params[name], "get_params"):
                params[name] = clone(params[name])
        return type(self)(**params)

    def __sklearn_tags__(self):
        # transform() gives the fused query of texts: a string-input transformer.
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        try:
            check_is_fitted(self.pronunciation_encoder)
        except Exception:
            return False
        return True

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        teacher: Any = None,
        image_encoder: Any = None,
        **params: Any,
    ) -> IPACLIP:
        """Build from a folder written by :meth:`PronunciationEncoder.save`.

        For a CLIP teacher, pass its :class:`~ipaclip.teachers.CLIPTextEncoder` and
        :class:`~ipaclip.teachers.CLIPImageEncoder` (with the weights the encoder was
        distilled from); ``None`` resolves the text encoder from the saved teacher identity.
        """
        encoder = PronunciationEncoder.load(path)
        return cls(encoder, teacher=teacher, image_encoder=image_encoder, **params)

    # ------------------------------------------------------------------------------------
    def _teacher(self) -> Any:
        if self.teacher is not None:
            return self.teacher
        self._check_teacher_known()
        return self.pronunciation_encoder.get_teacher()

    def _check_teacher_known(self) -> None:
        """Refuse to guess the text tower of an encoder fitted on precomputed targets."""
        encoder = self.pronunciation_encoder
        if self.teacher is None and getattr(encoder, "teacher_id_", "") is None:
            raise ValueError(
                "This IPACLIP's pronunciation encoder was fitted on precomputed target "
                "embeddings (encoder.teacher_id_ is None), so its teacher is unknown and the "
                f"default {encoder.teacher!r} would be a guess; pass the text encoder those "
                "targets came from: IPACLIP(encoder, teacher=...)."
            )

    def _g2p(self, language: str | None = None) -> Any:
        # Resolved on each call, not stored: get_params() stays as given.
        saved = getattr(self.pronunciation_encoder, "g2p_", None)
        return resolve_g2p(self.g2p, saved=saved, language=language)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise ValueError(
                "The pronunciation encoder of this IPACLIP is not fitted; fit it or load one "
                "with IPACLIP.load(folder)."
            )

    # ------------------------------------------------------------------------------------
    def encode_image(self, images: Iterable[Any]) -> np.ndarray:
        """Image embeddings (L2-normalised) from the image encoder."""
        if self.image_encoder is None:
            raise ValueError(
                "This IPACLIP has no image encoder; pass image_encoder=CLIPImageEncoder(...) "
                "with the CLIP the pronunciation encoder was distilled from."
            )
        return unit_rows(self.image_encoder.transform(images), "image embeddings", zero_rows="keep")

    def encode_text(self, texts: Iterable[str]) -> np.ndarray:
        """Text embeddings (L2-normalised) from the frozen text encoder."""
        texts = check_string_items(texts, what="text")
        return unit_rows(self._teacher().transform(texts), "text embeddings", zero_rows="keep")

    def encode_pronunciation(
        self,
        texts: Iterable[str] | None = None,
        *,
        ipa: Iterable[str] | None = None,
        language: str | None = None,
    ) -> np.ndarray:
        """Pronunciation embeddings from texts (through the G2P) or from IPA strings.

        Exactly one of ``texts`` and ``ipa`` is given. ``language`` reads the texts in that
        language for this call (a copy of the G2P; ``g2p`` and the saved one stay as they are).
        """
        self._check_fitted()
        if (texts is None) == (ipa is None):
            raise ValueError("Pass exactly one of texts= (run through the G2P) and ipa=.")
        if ipa is None:
            texts = check_string_items(texts, what="text")
            ipa = self._g2p(language).fit_transform(texts)
        elif language is not None:
            raise ValueError(f"language={language!r} is for texts the G2P reads, not ipa=.")
        else:
            ipa = check_string_items(ipa, what="IPA string")
        return unit_rows(
            self.pronunciation_encoder.transform(ipa), "pronunciations", zero_rows="keep"
        )

    def encode_query(
        self, texts: Iterable[str], weight: float | None = None, *, language: str | None = None
    ) -> np.ndarray:
        """Fused query of texts: text and pronunciation embeddings mixed by ``weight``.

        ``weight`` defaults to ``fuse_weight``; see :func:`fuse`. ``language`` is the G2P's
        for this call (:meth:`encode_pronunciation`).
        """
        texts = check_string_items(texts, what="text")
        w = check_fuse_weight(self.fuse_weight if weight is None else weight, "IPACLIP")
        text = self.encode_text(texts) if w < 1.0 else None
        pronunciation = self.encode_pronunciation(texts, language=language) if w > 0.0 else None
        if text is None:
            return pronunciation
        if pronunciation is None:
            return text
        return fuse(text, pronunciation, w)

    def encode(
        self,
        texts: Iterable[str] | str,
        *,
        query: str = "fused",
        language: str | None = None,
        batch_size: int | None = None,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        convert_to_tensor: bool = False,
    ) -> Any:
        """sentence-transformers' ``encode``: texts in, one vector each.

        Parameters
        ----------
        texts : str or iterable of str
            A single string gives a single vector.
        query : {"fused", "pronunciation", "text"}, default="fused"
            Which embedding: the fused query (:meth:`encode_query`), the pronunciation
            (:meth:`encode_pronunciation`) or the text (:meth:`encode_text`).
        language : str, optional
            The language the G2P reads the texts in, for this call (an espeak voice,
            ``"de"``); the G2P itself is not changed. The text tower reads texts as they are.
        batch_size, show_progress_bar
            Passed to the pronunciation encoder (see
            :meth:`PronunciationEncoder.encode <ipaclip.PronunciationEncoder.encode>`).
        normalize_embeddings : bool, default=True
            The embeddings are unit vectors already; ``False`` is accepted for
            compatibility and changes nothing.
        convert_to_tensor : bool, default=False
            Return a ``torch.Tensor``.
        """
        single = isinstance(texts, str)
        items = check_string_items([texts] if single else texts, what="text")
        if query == "text" and language is not None:
            raise ValueError(f"language={language!r} is for the G2P; query='text' does not use it.")
        if query == "text":
            out = self.encode_text(items)
        elif query == "pronunciation":
            out = self.pronunciation_encoder.encode(
                ipa=self._g2p(language).fit_transform(items),
                batch_size=batch_size,
                show_progress_bar=show_progress_bar,
            )
        elif query == "fused":
            out = self.encode_query(items, language=language)
        else:
            raise ValueError(f"query must be 'fused', 'pronunciation' or 'text'; got {query!r}.")
        out = out[0] if single else out
        if convert_to_tensor:
            import torch

            return torch.from_numpy(np.ascontiguousarray(out))
        return out

    def logits(self, queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
        """``logit_scale`` times the cosine similarity of every query with every gallery row.

        A softmax over a row gives CLIP-style probabilities (e.g. zero-shot classes).
        """
        q = unit_rows(queries, "queries", zero_rows="keep")
        g = unit_rows(gallery, "gallery", zero_rows="keep")
        if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
            raise ValueError(
                f"queries {q.shape} and gallery {g.shape} must be 2-D with the same width."
            )
        return float(self.logit_scale) * (q @ g.T)

    def classify(
        self,
        images: Iterable[Any],
        class_names: Sequence[str],
        *,
        query: str = "fused",
        template: str = "a photo of a {}",
    ) -> np.ndarray:
        """Zero-shot class probabilities of images, ``(n_images, n_classes)``.

        ``query`` is ``"text"``, ``"pronunciation"`` or ``"fused"``: how the prompts
        ``template.format(name)`` are embedded.
        """
        names = check_string_items(class_names, what="class name")
        prompts = [template.format(n) for n in names]
        if query == "text":
            Q = self.encode_text(prompts)
        elif query == "pronunciation":
            Q = self.encode_pronunciation(prompts)
        elif query == "fused":
            Q = self.encode_query(prompts)
        else:
            raise ValueError(f"query must be 'text', 'pronunciation' or 'fused', got {query!r}.")
        L = self.logits(self.encode_image(images), Q)
        L = L - L.max(axis=1, keepdims=True)
        P = np.exp(L)
        return P / P.sum(axis=1, keepdims=True)
