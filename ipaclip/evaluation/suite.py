"""One call that runs every evaluation on a fitted pronunciation encoder.

:func:`evaluate_model` scores three kinds of query for each task where that is meaningful:

* ``"text"``: the teacher on the spelling (``encoder.embed_targets(words)``);
* ``"pronunciation"``: the encoder on the G2P's IPA (``encoder.transform(g2p(words))``);
* ``"fused"``: :func:`ipaclip.model.fuse` of the two, ``fuse_weight`` the pronunciation share.

The tasks are

``"fidelity"``
    The pronunciation embeddings of CMUdict words against the teacher's embeddings of the
    same words: mean cosine and recall@k of each word's own teacher embedding in a gallery
    of all of them. (Pronunciation only: the text and fused queries contain the target.)
``"geometry"``
    :func:`~ipaclip.evaluation.geometry.evaluate_phoneme_geometry` on the encoder's phoneme
    vectors (pronunciation only).
``"human"``
    :func:`~ipaclip.evaluation.human.evaluate_human_similarity` (Vitz & Winkler ratings).
``"nonwords"``
    :func:`~ipaclip.evaluation.nonwords.nonword_phonetic_correlation` on seeded nonwords.
``"respell"``
    :func:`~ipaclip.evaluation.respell.respelling_retrieval`: respellings of CMUdict words
    retrieve the intended word among the teacher embeddings of real words.
``"pwesuite"``
    :func:`~ipaclip.evaluation.pwesuite.evaluate_pwesuite` (articulatory distance, retrieval,
    sound analogies, rhyme).

:func:`format_results` prints the numbers as one table (rows: task and metric; columns: the
three query types); ``metrics=SUMMARY_METRICS`` keeps the rows of the README's table.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

__all__ = [
    "QUERY_TYPES",
    "RESULT_ROWS",
    "SUMMARY_METRICS",
    "TASKS",
    "evaluate_model",
    "format_results",
]

#: Every task :func:`evaluate_model` knows, in the order it runs them.
TASKS: tuple[str, ...] = ("fidelity", "geometry", "human", "nonwords", "respell", "pwesuite")

#: The query types, i.e. the columns of :func:`format_results`.
QUERY_TYPES: tuple[str, ...] = ("text", "pronunciation", "fused")

#: Rows of :func:`format_results`: ``label -> (task, keys)``, where the value of a query type
#: ``q`` is ``results[task][q][keys[0]][keys[1]]...``.
RESULT_ROWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fidelity: mean cosine": ("fidelity", ("mean_cosine",)),
    "fidelity: R@1": ("fidelity", ("recall@1",)),
    "fidelity: R@5": ("fidelity", ("recall@5",)),
    "geometry: articulatory rho (all)": ("geometry", ("all", "articulatory", "spearman")),
    "geometry: chart rho (consonants)": ("geometry", ("consonants", "chart", "spearman")),
    "geometry: chart rho (vowels)": ("geometry", ("vowels", "chart", "spearman")),
    "human: Pearson r": ("human", ("pearson",)),
    "human: Spearman rho": ("human", ("spearman",)),
    "nonwords: Pearson r": ("nonwords", ("pearson",)),
    "nonwords: Spearman rho": ("nonwords", ("spearman",)),
    "respell: R@1": ("respell", ("recall@1",)),
    "respell: MRR": ("respell", ("mrr",)),
    "pwesuite: articulatory distance r": ("pwesuite", ("summary", "articulatory_distance")),
    "pwesuite: retrieval rank score": ("pwesuite", ("summary", "retrieval")),
    "pwesuite: analogies top-2": ("pwesuite", ("summary", "analogies")),
    "pwesuite: rhyme accuracy": ("pwesuite", ("summary", "rhyme")),
}

#: The headline rows (the README's results table): distillation fidelity, human similarity,
#: articulatory-distance correlation, nonword correlation and respelling recall@1.
SUMMARY_METRICS: tuple[str, ...] = (
    "fidelity: mean cosine",
    "human: Pearson r",
    "pwesuite: articulatory distance r",
    "nonwords: Pearson r",
    "respell: R@1",
)

EmbedFn = Callable[[list[str]], np.ndarray]


def _unit(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _builtin(value: Any) -> Any:
    """Numpy scalars/arrays and tuples to JSON-ready Python values, recursively."""
    if isinstance(value, dict):
        return {str(k): _builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_builtin(v) for v in value]
    if isinstance(value, np.ndarray):
        return _builtin(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _check_tasks(tasks: str | Sequence[str]) -> list[str]:
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"Unknown task(s) {unknown}; choose from {list(TASKS)}.")
    if not tasks:
        raise ValueError(f"No task given; choose from {list(TASKS)}.")
    return [t for t in TASKS if t in tasks]


def _check_size(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _ipa_function(encoder: Any, g2p: Any) -> Callable[[list[str]], list[str]]:
    if g2p is None:
        g2p = getattr(encoder, "g2p_", None)
    if g2p is None:
        from ipaclip.g2p import IPATransformer

        logger.info("No g2p given and none saved with the model: using IPATransformer().")
        g2p = IPATransformer()
    if hasattr(g2p, "fit_transform"):
        transformer = g2p

        def ipa(words: list[str]) -> list[str]:
            return list(transformer.fit_transform(list(words)))

        return ipa
    if callable(g2p):
        return lambda words: list(g2p(list(words)))
    raise TypeError(
        f"g2p must be an IPATransformer (or an object with fit_transform) or a callable "
        f"list[str] -> list[str]; got {type(g2p).__name__}."
    )


def _text_function(encoder: Any, teacher: Any) -> EmbedFn:
    if teacher is not None:
        if not hasattr(teacher, "transform"):
            raise TypeError(
                f"teacher must have a transform(list_of_str) method; got {type(teacher).__name__}."
            )
        return lambda words: _unit(teacher.transform(list(words)))

    def text(words: list[str]) -> np.ndarray:
        try:
            return encoder.embed_targets(list(words))
        except (ValueError, OSError, ImportError, RuntimeError) as exc:
            raise ValueError(
                f"The model's teacher ({encoder.teacher!r}) could not embed text: {exc}. "
                "Pass teacher= (an object with transform(list_of_str)) to evaluate_model."
            ) from exc

    return text


def _fidelity(words: list[str], text: EmbedFn, queries: dict[str, EmbedFn]) -> dict:
    from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

    labels: dict[str, int] = {}
    label = np.array([labels.setdefault(w, len(labels)) for w in words])
    positives = label[:, None] == label[None, :]
    T = text(words)
    out: dict[str, Any] = {}
    for name, fn in queries.items():
        Q = fn(words)
        S = Q @ T.T
        out[name] = {
            "mean_cosine": float(np.mean(np.sum(Q * T, axis=1))),
            "recall@1": recall_at_k(S, positives, 1),
            "recall@5": recall_at_k(S, positives, min(5, len(words))),
            "mrr": mean_reciprocal_rank(S, positives),
        }
    out["info"] = {"n_words": len(words), "n_distinct": len(labels)}
    return out


def evaluate_model(
    encoder: Any,
    *,
    g2p: Any = None,
    teacher: Any = None,
    tasks: str | Sequence[str] = TASKS,
    words: Sequence[str] | None = None,
    n_words: int = 1000,
    n_nonwords: int = 200,
    n_respell: int = 200,
    respell_candidates: int = 60,
    n_permutations: int = 999,
    n_analogies: int = 200,
    n_rhyme_classes: int = 500,
    rhyme_test_size: int | float = 500,
    fuse_weight: float = 0.5,
    random_state: int | None = 0,
    verbose: int = 1,
    plot_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the evaluation tasks on a fitted pronunciation encoder.

    Parameters
    ----------
    encoder : PronunciationEncoder
        Fitted (or loaded with :meth:`~ipaclip.PronunciationEncoder.load`).
    g2p : IPATransformer or callable, optional
        Words to IPA. Default: the G2P saved with the model (``encoder.g2p_``), else
        ``IPATransformer()``.
    teacher : object, optional
        An object with ``transform(list_of_str)`` that replaces the model's teacher for the
        text queries and galleries (needed when the saved teacher cannot be resolved, e.g.
        a model distilled from an in-memory CLIP).
    tasks : str or sequence of str, default=TASKS
        Any of :data:`TASKS` (a comma-separated string works too); they run in
        :data:`TASKS` order.
    words : sequence of str, optional
        Words for ``"fidelity"`` (e.g. held-out words); default ``n_words`` seeded CMUdict
        words.
    n_words : int, default=1000
        CMUdict words for ``"fidelity"``, the respelling gallery and ``"pwesuite"``.
    n_nonwords : int, default=200
        Nonwords for ``"nonwords"`` (all pairs are scored).
    n_respell : int, default=200
        Words (the first of the ``n_words`` sample) that ``"respell"`` tries to respell.
    respell_candidates : int, default=60
        Most respelling candidates transcribed per word.
    n_permutations : int, default=999
        Mantel permutations for ``"geometry"``.
    n_analogies, n_rhyme_classes, rhyme_test_size : default=200, 500, 500
        Sizes of PWESuite's analogy and rhyme tasks.
    fuse_weight : float in [0, 1], default=0.5
        Share of the pronunciation embedding in the fused query.
    random_state : int or None, default=0
        Seeds every sample (words, nonwords, respellings, permutations).
    verbose : int, default=1
        0 silent; 1 a progress bar over tasks and a log line per task.
    plot_dir : str or Path, optional
        With ``"geometry"``, also draw the phoneme map to ``plot_dir/phoneme_map.png``
        (needs matplotlib).

    Returns
    -------
    dict
        ``"config"`` (the settings), ``"seconds"`` (per task), and one entry per task:
        ``{query type: that task's result, "info": {...}}`` (``"geometry"`` has only
        ``"pronunciation"``, and so has ``"fidelity"``: the text and fused queries contain
        the teacher embedding they are scored against). Every value is a plain Python type,
        ready for ``json.dump``.

    Examples
    --------
    A stand-in "encoder" whose teacher and pronunciation embeddings are the same letter
    counts, so the pronunciation query retrieves every word's teacher embedding:

    >>> import numpy as np
    >>> def letters(words):
    ...     X = np.zeros((len(words), 26))
    ...     for i, w in enumerate(words):
    ...         for ch in w:
    ...             X[i, ord(ch) - 97] += 1
    ...     return X / np.linalg.norm(X, axis=1, keepdims=True)
    >>> class Encoder:
    ...     teacher = "letters"
    ...     def embed_targets(self, words):
    ...         return letters(words)
    ...     def transform(self, ipas):   # the "IPA" below is the word itself
    ...         return letters(ipas)
    >>> res = evaluate_model(Encoder(), g2p=lambda ws: ws, tasks="fidelity",
    ...                      words=["cat", "dog", "bird"], verbose=0)
    >>> fid = res["fidelity"]["pronunciation"]
    >>> round(fid["mean_cosine"], 6), fid["recall@1"]
    (1.0, 1.0)
    """
    task_list = _check_tasks(tasks)
    n_words = _check_size("n_words", n_words, 3)
    n_nonwords = _check_size("n_nonwords", n_nonwords, 3)
    n_respell = _check_size("n_respell", n_respell, 1)
    respell_candidates = _check_size("respell_candidates", respell_candidates, 1)
    n_permutations = _check_size("n_permutations", n_permutations, 1)
    from ipaclip.fusion import check_fuse_weight, fuse

    fuse_weight = check_fuse_weight(fuse_weight, "evaluate_model")
    ipa = _ipa_function(encoder, g2p)
    text = _text_function(encoder, teacher)

    def pron(items: list[str]) -> np.ndarray:
        return _unit(encoder.transform(ipa(list(items))))

    def fused(items: list[str]) -> np.ndarray:
        return fuse(text(items), pron(items), fuse_weight)

    queries: dict[str, EmbedFn] = {"text": text, "pronunciation": pron, "fused": fused}
    sample: list[str] | None = None

    def cmu_sample() -> list[str]:
        nonlocal sample
        if sample is None:
            from ipaclip.evaluation.pwesuite import sample_words

            sample = sample_words(n_words, random_state)
        return sample

    results: dict[str, Any] = {
        "config": {
            "tasks": task_list,
            "teacher": str(getattr(encoder, "teacher_id_", None) or getattr(encoder, "teacher", ""))
            if teacher is None
            else f"{type(teacher).__name__} (passed as teacher=)",
            "n_words": n_words,
            "n_nonwords": n_nonwords,
            "n_respell": n_respell,
            "respell_candidates": respell_candidates,
            "n_permutations": n_permutations,
            "n_analogies": n_analogies,
            "n_rhyme_classes": n_rhyme_classes,
            "rhyme_test_size": rhyme_test_size,
            "fuse_weight": fuse_weight,
            "random_state": random_state,
        },
        "seconds": {},
    }
    bar = tqdm(task_list, desc="evaluate", disable=not verbose)
    for task in bar:
        bar.set_postfix_str(task)
        start = time.perf_counter()
        if task == "fidelity":
            fid_words = cmu_sample() if words is None else list(words)
            if len(fid_words) < 2:
                raise ValueError(f"fidelity needs at least 2 words; got {len(fid_words)}.")
            out = _fidelity(fid_words, text, {"pronunciation": pron})
        elif task == "geometry":
            from ipaclip.evaluation.geometry import evaluate_phoneme_geometry, plot_phoneme_map

            vectors = encoder.phoneme_vectors()
            out = {
                "pronunciation": evaluate_phoneme_geometry(
                    vectors, n_permutations=n_permutations, random_state=random_state
                )
            }
            if plot_dir is not None:
                path = plot_phoneme_map(vectors, Path(plot_dir) / "phoneme_map.png")
                out["info"] = {"plot": str(path)}
        elif task == "human":
            from ipaclip.evaluation.human import evaluate_human_similarity

            out = {name: evaluate_human_similarity(fn) for name, fn in queries.items()}
        elif task == "nonwords":
            from ipaclip.evaluation.nonwords import generate_nonwords, nonword_phonetic_correlation

            nonwords = generate_nonwords(n_nonwords, random_state)
            ipas = ipa(nonwords)
            out = {
                name: nonword_phonetic_correlation(nonwords, fn, ipas=ipas)
                for name, fn in queries.items()
            }
            out["info"] = {"n_nonwords": len(nonwords), "examples": nonwords[:10]}
        elif task == "respell":
            from ipaclip.evaluation.respell import generate_respellings, respelling_retrieval

            gallery = cmu_sample()
            found = generate_respellings(
                gallery[:n_respell],
                ipa,
                max_candidates=respell_candidates,
                random_state=random_state,
            )
            pairs = [(r["word"], r["respelling"]) for r in found if r["respelling"]]
            info = {
                "n_words": len(found),
                "n_respelled": len(pairs),
                "n_gallery": len(gallery),
                "examples": [list(p) for p in pairs[:10]],
            }
            if not pairs:
                logger.warning("No respelling found for any of %d words; skipped.", len(found))
                out = {"info": info}
            else:

                def pron_ipa(ipas: list[str]) -> np.ndarray:  # respelling_retrieval transcribes
                    return _unit(encoder.transform(list(ipas)))

                raw = respelling_retrieval(
                    pairs, gallery, text, text, pron_ipa, ipa, fuse_weight=fuse_weight, ks=(1, 5)
                )
                out = {"text": raw["text"], "pronunciation": raw["pron"], "fused": raw["fused"]}
                out["info"] = info
        else:  # pwesuite
            from ipaclip.evaluation.pwesuite import evaluate_pwesuite

            out = {
                name: evaluate_pwesuite(
                    fn,
                    n_words=n_words,
                    n_analogies=n_analogies,
                    n_classes=n_rhyme_classes,
                    rhyme_test_size=rhyme_test_size,
                    random_state=random_state,
                )
                for name, fn in queries.items()
            }
        results[task] = _builtin(out)
        results["seconds"][task] = round(time.perf_counter() - start, 3)
        if verbose:
            logger.info("%s done in %.1f s", task, results["seconds"][task])
    return results


def _lookup(results: dict, task: str, query: str, keys: tuple[str, ...]) -> float | None:
    value: Any = results.get(task, {}).get(query)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def format_results(results: dict, metrics: Sequence[str] | None = None) -> str:
    """A text table of :func:`evaluate_model`'s results: rows metrics, columns query types.

    Parameters
    ----------
    results : dict
        :func:`evaluate_model`'s result (or the same loaded back from JSON).
    metrics : sequence of str, optional
        Row labels from :data:`RESULT_ROWS` (e.g. :data:`SUMMARY_METRICS`); default every
        row of a task that was run. Cells with no value print ``-``.

    Returns
    -------
    str

    Examples
    --------
    >>> res = {"human": {"text": {"pearson": 0.25}, "pronunciation": {"pearson": 0.5}}}
    >>> print(format_results(res, metrics=["human: Pearson r"]))
    metric                                  text  pronunciation   fused
    human: Pearson r                       0.250          0.500       -
    """
    if metrics is None:
        labels = [label for label, (task, _) in RESULT_ROWS.items() if task in results]
    else:
        labels = list(metrics)
        unknown = [m for m in labels if m not in RESULT_ROWS]
        if unknown:
            raise ValueError(f"Unknown metric row(s) {unknown}; choose from {list(RESULT_ROWS)}.")
    width = max([len("metric")] + [len(label) for label in labels]) + 2
    width = max(width, 36)
    lines = [f"{'metric':<{width}}" + "".join(f"{q:>{max(len(q), 6) + 2}}" for q in QUERY_TYPES)]
    for label in labels:
        task, keys = RESULT_ROWS[label]
        cells = []
        for q in QUERY_TYPES:
            v = _lookup(results, task, q, keys)
            text = "-" if v is None or math.isnan(v) else f"{v:.3f}"
            cells.append(f"{text:>{max(len(q), 6) + 2}}")
        lines.append(f"{label:<{width}}" + "".join(cells))
    return "\n".join(lines)
