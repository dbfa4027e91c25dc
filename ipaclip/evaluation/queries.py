"""What an evaluator asks of a model: the three query types on words, G2P and the encoder.

:class:`Queries` is built once per model (:meth:`Queries.from_model`) and handed to every
evaluator (:class:`~ipaclip.evaluation.evaluator.Evaluator`). It holds:

* ``text``: the teacher on the words (the spelling), L2-normalized rows;
* ``pronunciation``: the pronunciation encoder on the words' IPA (``g2p`` then ``embed_ipa``);
* ``fused``: :func:`ipaclip.fuse` of the two, ``fuse_weight`` the pronunciation's share;
* ``g2p``: words to IPA strings; ``embed_ipa``: IPA strings to L2-normalized rows;
* ``encoder``: the fitted :class:`~ipaclip.PronunciationEncoder` (its phoneme vectors,
  its vocabulary).

It also shares what several evaluators compute from the same model: the seeded CMUdict
sample (:meth:`Queries.sample`) and any result keyed by the caller (:meth:`Queries.memo`,
e.g. Vitz & Winkler's correlations, which ``"human"`` and ``"pwesuite"`` both report).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

from ipaclip._validation import unit_rows
from ipaclip.datasets import sample_words
from ipaclip.evaluation._common import QUERY_TYPES, EmbedFn, G2PFn
from ipaclip.fusion import check_fuse_weight, fuse
from ipaclip.g2p import resolve_g2p

__all__ = ["Queries"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Queries:
    """The query functions of one model, shared by every evaluator of a run.

    Parameters
    ----------
    text : callable
        ``list[str] -> (n, d)`` rows: the teacher on the words.
    g2p : callable
        ``list[str] -> list[str]``: words to IPA strings.
    embed_ipa : callable
        ``list[str] -> (n, d)`` rows: the pronunciation encoder on IPA strings.
    encoder : PronunciationEncoder, optional
        The fitted encoder (``"geometry"`` reads its phoneme vectors, ``"triplets"`` its
        vocabulary).
    fuse_weight : float in [0, 1], default=0.5
        The pronunciation's share in :meth:`fused`.
    name : str, default="model"
        The model's name, for the titles of pictures.
    teacher_known : bool, default=True
        False for a model fitted on precomputed targets with no ``teacher=``: :meth:`text`
        then refuses (an evaluator that needs the teacher cannot run).

    Examples
    --------
    >>> import numpy as np
    >>> def letters(items):
    ...     X = np.zeros((len(items), 26))
    ...     for i, w in enumerate(items):
    ...         for ch in w:
    ...             X[i, ord(ch) - 97] += 1
    ...     return X
    >>> q = Queries(text=letters, g2p=lambda ws: list(ws), embed_ipa=letters, fuse_weight=0.5)
    >>> [round(float(v), 4) for v in q.fused(["ab"])[0, :3]]
    [0.7071, 0.7071, 0.0]
    >>> list(q.functions)
    ['text', 'pronunciation', 'fused']
    """

    def __init__(
        self,
        *,
        text: EmbedFn,
        g2p: G2PFn,
        embed_ipa: EmbedFn,
        encoder: Any = None,
        fuse_weight: float = 0.5,
        name: str = "model",
        teacher_known: bool = True,
    ) -> None:
        for what, fn in (("text", text), ("g2p", g2p), ("embed_ipa", embed_ipa)):
            if not callable(fn):
                raise TypeError(f"Queries: {what} must be callable; got {type(fn).__name__}.")
        self._text = text
        self.g2p = g2p
        self._embed_ipa = embed_ipa
        self.encoder = encoder
        self.fuse_weight = check_fuse_weight(fuse_weight, "Queries")
        self.name = name
        self.teacher_known = bool(teacher_known)
        #: The running evaluator's progress bar (set by ``evaluate_model``), or None.
        self.progress: Any = None
        self._memo: dict[Hashable, Any] = {}

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_model(
        cls,
        model: Any,
        teacher: Any = None,
        g2p: Any = None,
        fuse_weight: float = 0.5,
        *,
        name: str | None = None,
    ) -> Queries:
        """The queries of a fitted :class:`~ipaclip.PronunciationEncoder` or an
        :class:`~ipaclip.IPACLIP`.

        Parameters
        ----------
        model : PronunciationEncoder or IPACLIP
            For an ``IPACLIP``: its pronunciation encoder, its ``teacher`` (unless
            ``teacher`` is given) and its ``g2p`` (unless ``g2p`` is given).
        teacher : object with ``transform(list_of_str)``, optional
            Replaces the model's teacher for the text query. Default: the encoder's teacher
            (``encoder.embed_targets``). A model fitted on precomputed targets
            (``encoder.teacher_id_ is None``) has no known teacher: ``text`` then raises.
        g2p : IPATransformer or callable, optional
            Words to IPA. Default: the G2P saved with the model (``encoder.g2p_``), else
            ``IPATransformer()``.
        fuse_weight : float in [0, 1], default=0.5
            The pronunciation's share in the fused query.
        name : str, optional
            The model's name (pictures' titles). Default: the encoder's class and
            ``embedding``.
        """
        if teacher is not None and not hasattr(teacher, "transform"):
            raise TypeError(
                f"teacher must have a transform(list_of_str) method; got {type(teacher).__name__}."
            )
        encoder = model
        if hasattr(model, "pronunciation_encoder"):  # IPACLIP
            encoder = model.pronunciation_encoder
            teacher = model.teacher if teacher is None else teacher
            g2p = model.g2p if g2p is None else g2p
        known = teacher is not None or not hasattr(encoder, "teacher_id_")
        known = known or bool(encoder.teacher_id_)
        encoder = _quiet(encoder)
        g2p_fn = _g2p_function(encoder, g2p)
        return cls(
            text=_text_function(encoder, teacher, known),
            g2p=g2p_fn,
            embed_ipa=lambda ipas: unit_rows(encoder.transform(list(ipas)), zero_rows="keep"),
            encoder=encoder,
            fuse_weight=fuse_weight,
            name=name or _default_name(encoder),
            teacher_known=known,
        )

    # ----------------------------------------------------------------------------------------
    def text(self, words: list[str]) -> np.ndarray:
        """The teacher on the words."""
        return self._text(list(words))

    def embed_ipa(self, ipas: list[str]) -> np.ndarray:
        """The pronunciation encoder on IPA strings, L2-normalized."""
        return self._embed_ipa(list(ipas))

    def pronunciation(self, words: list[str]) -> np.ndarray:
        """The pronunciation encoder on the words' IPA (``embed_ipa(g2p(words))``)."""
        return self._embed_ipa(list(self.g2p(list(words))))

    def fused(self, words: list[str]) -> np.ndarray:
        """:func:`ipaclip.fuse` of :meth:`text` and :meth:`pronunciation`."""
        return fuse(self.text(words), self.pronunciation(words), self.fuse_weight)

    @property
    def functions(self) -> dict[str, EmbedFn]:
        """``{"text": ..., "pronunciation": ..., "fused": ...}`` (the table's column order)."""
        return {q: getattr(self, q) for q in QUERY_TYPES}

    # ----------------------------------------------------------------------------------------
    def sample(self, n_words: int, random_state: int | None) -> list[str]:
        """The seeded sample of ``n_words`` CMUdict words (drawn once per setting)."""
        return self.memo(
            ("sample", n_words, random_state), lambda: sample_words(n_words, random_state)
        )

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, run once per ``key`` for these queries (shared by evaluators)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def track(self, items: Iterable[T], describe: Callable[[T], str] = str) -> Iterator[T]:
        """Iterate over ``items``, one step each of the running evaluator's progress bar.

        An evaluator's long loops go through this, so that ``verbose=1`` shows where it is
        (``describe(item)`` names the step). Without a bar it is plain iteration.
        """
        items = list(items)
        bar = self.progress
        if bar is None:
            yield from items
            return
        # The suite opens each bar with one placeholder step; the first loop replaces it.
        bar.total = len(items) if bar.n == 0 else bar.total + len(items)
        for item in items:  # no forced refresh: the bar shows once its task passed 2 s
            bar.set_postfix_str(describe(item), refresh=False)
            yield item
            bar.update(1)


# --------------------------------------------------------------------------------------------
def _g2p_function(encoder: Any, g2p: Any) -> G2PFn:
    g2p = resolve_g2p(g2p, saved=getattr(encoder, "g2p_", None))
    if hasattr(g2p, "fit_transform"):
        transformer = g2p

        def words_to_ipa(words: list[str]) -> list[str]:
            return list(transformer.fit_transform(list(words)))

        return words_to_ipa
    if callable(g2p):
        return lambda words: list(g2p(list(words)))
    raise TypeError(
        f"g2p must be an IPATransformer (or an object with fit_transform) or a callable "
        f"list[str] -> list[str]; got {type(g2p).__name__}."
    )


def _text_function(encoder: Any, teacher: Any, known: bool) -> EmbedFn:
    if teacher is not None:
        return lambda words: unit_rows(teacher.transform(list(words)), zero_rows="keep")

    def text(words: list[str]) -> np.ndarray:
        if not known:
            raise ValueError(
                "This model was fitted on precomputed target embeddings (encoder.teacher_id_ "
                "is None), so the text queries and galleries cannot come from its teacher: "
                f"the encoder's teacher parameter ({getattr(encoder, 'teacher', None)!r}) did "
                "not make those targets. Pass teacher= (an object with transform(list_of_str) "
                "that embeds text into the targets' space)."
            )
        try:
            return encoder.embed_targets(list(words))
        except (ValueError, OSError, ImportError, RuntimeError) as exc:
            raise ValueError(
                f"The model's teacher ({encoder.teacher!r}) could not embed text: {exc}. "
                "Pass teacher= (an object with transform(list_of_str)) to evaluate_model."
            ) from exc

    return text


def _quiet(encoder: Any) -> Any:
    """``encoder`` without bars of its own: a shallow copy with ``verbose=0`` (the fitted
    weights are shared, the caller's object is untouched); the suite's ``verbose`` alone
    decides what is shown, one bar per task."""
    if not getattr(encoder, "verbose", 0) or not hasattr(encoder, "set_params"):
        return encoder
    # Not copy.copy: pickling's __getstate__ would drop the loaded teacher (seconds to reload).
    quiet = object.__new__(type(encoder))
    quiet.__dict__.update(vars(encoder))
    quiet.set_params(verbose=0)
    return quiet


def _default_name(encoder: Any) -> str:
    embedding = getattr(encoder, "embedding", None)
    name = type(encoder).__name__
    return f"{name} ({embedding})" if isinstance(embedding, str) else name
