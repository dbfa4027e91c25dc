"""Search by sound: a score matrix and the nearest gallery items of each query.

:func:`semantic_search` follows ``sentence_transformers.util.semantic_search``: per query, a
list of ``{"corpus_id": int, "score": float}`` sorted by score, best first. The top ``k`` is
computed in blocks of queries and of gallery rows, so memory stays bounded by
``query_chunk_size * corpus_chunk_size`` scores however large the gallery is.

:class:`SearchMixin` gives :class:`~ipaclip.PronunciationEncoder` and
:class:`~ipaclip.IPACLIP` ``similarity(a, b)`` (as sentence-transformers'
``model.similarity``) and ``nearest(queries, gallery, k)``; both accept texts (embedded by the
model's ``encode``) or embeddings.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from ipaclip._targets import is_embeddings
from ipaclip._validation import check_string_items, unit_rows

__all__ = ["SearchMixin", "cosine_similarity", "semantic_search"]


def _rows(X: Any, name: str) -> np.ndarray:
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    X = unit_rows(X, name, zero_rows="keep")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d); got shape {X.shape}.")
    return X


def _check_pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} has width {a.shape[1]} but {names[1]} has width {b.shape[1]}; embed "
            "both with the same model (and, for IPACLIP, compatible query types)."
        )


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``(len(a), len(b))``.

    Examples
    --------
    >>> print(cosine_similarity([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0]]).round(3))
    [[1.   ]
     [0.707]]
    """
    A, B = _rows(a, "a"), _rows(b, "b")
    _check_pair(A, B, ("a", "b"))
    return A @ B.T


def _check_positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    return int(value)


def semantic_search(
    query_embeddings: Any,
    corpus_embeddings: Any,
    top_k: int = 5,
    *,
    query_chunk_size: int = 1024,
    corpus_chunk_size: int = 65536,
) -> list[list[dict[str, Any]]]:
    """The ``top_k`` corpus rows nearest (by cosine) to each query, best first.

    Parameters
    ----------
    query_embeddings : array-like or Tensor of shape (n_queries, d)
    corpus_embeddings : array-like or Tensor of shape (n_corpus, d)
    top_k : int, default=5
        Hits per query; at most ``n_corpus`` are returned.
    query_chunk_size, corpus_chunk_size : int
        Block sizes: at most ``query_chunk_size * corpus_chunk_size`` scores are held at once.

    Returns
    -------
    list of list of dict
        Per query, ``[{"corpus_id": int, "score": float}, ...]`` sorted by score (ties: lower
        ``corpus_id`` first).

    Examples
    --------
    >>> hits = semantic_search([[1.0, 0.0]], [[0.0, 1.0], [1.0, 0.1], [1.0, 0.0]], top_k=2)
    >>> [h["corpus_id"] for h in hits[0]]
    [2, 1]
    """
    Q = _rows(query_embeddings, "query_embeddings")
    C = _rows(corpus_embeddings, "corpus_embeddings")
    _check_pair(Q, C, ("query_embeddings", "corpus_embeddings"))
    k = min(_check_positive(top_k, "top_k"), C.shape[0])
    q_step = _check_positive(query_chunk_size, "query_chunk_size")
    c_step = _check_positive(corpus_chunk_size, "corpus_chunk_size")
    out: list[list[dict[str, Any]]] = []
    for q0 in range(0, Q.shape[0], q_step):
        q = Q[q0 : q0 + q_step]
        best_s = np.full((q.shape[0], 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((q.shape[0], 0), dtype=np.int64)
        for c0 in range(0, C.shape[0], c_step):
            s = np.concatenate([best_s, q @ C[c0 : c0 + c_step].T], axis=1)
            ids = np.concatenate(
                [
                    best_i,
                    np.broadcast_to(
                        np.arange(c0, min(c0 + c_step, C.shape[0])),
                        (len(q), s.shape[1] - best_i.shape[1]),
                    ),
                ],
                axis=1,
            )
            # Keep the k best of (kept so far, this block): by score, then by lower id.
            order = np.lexsort((ids, -s), axis=1)[:, :k]
            best_s = np.take_along_axis(s, order, axis=1)
            best_i = np.take_along_axis(ids, order, axis=1)
        out.extend(
            [{"corpus_id": int(i), "score": float(v)} for i, v in zip(row_i, row_s)]
            for row_i, row_s in zip(best_i, best_s)
        )
    return out


class SearchMixin:
    """``similarity`` and ``nearest`` for a model with ``encode(texts, **kwargs)``."""

    def _search_rows(self, X: Any, name: str, encode_kwargs: dict) -> np.ndarray:
        if isinstance(X, str):
            raise ValueError(
                f"{name} must be a list of texts or an array of embeddings, not a single "
                f"string; wrap it: [{X!r}]."
            )
        if is_embeddings(X) or hasattr(X, "detach"):
            return _rows(X, name)
        texts = check_string_items(X, what=f"{name} text")
        if not texts:
            raise ValueError(f"{name} is empty: at least one text is needed.")
        return _rows(self.encode(texts, **encode_kwargs), name)

    def similarity(self, a: Any, b: Any, **encode_kwargs: Any) -> np.ndarray:
        """Cosine scores of every item of ``a`` with every item of ``b``: ``(len(a), len(b))``.

        As sentence-transformers' ``model.similarity``. ``a`` and ``b`` are texts (embedded
        by :meth:`encode`, with ``encode_kwargs``) or embeddings.
        """
        A = self._search_rows(a, "a", encode_kwargs)
        B = self._search_rows(b, "b", encode_kwargs)
        _check_pair(A, B, ("a", "b"))
        return A @ B.T

    def nearest(
        self, queries: Any, gallery: Any, k: int = 5, **encode_kwargs: Any
    ) -> list[list[dict[str, Any]]]:
        """The ``k`` gallery items nearest to each query, as :func:`semantic_search` gives them.

        ``queries`` and ``gallery`` are texts (embedded by :meth:`encode`, with
        ``encode_kwargs``) or embeddings; embed a large gallery once and pass the array. The
        top ``k`` is computed in blocks (bounded memory).

        Returns
        -------
        list of list of dict
            Per query, ``[{"corpus_id": int, "score": float}, ...]``, best first;
            ``corpus_id`` indexes ``gallery``.
        """
        Q = self._search_rows(queries, "queries", encode_kwargs)
        G = self._search_rows(gallery, "gallery", encode_kwargs)
        return semantic_search(Q, G, k)
