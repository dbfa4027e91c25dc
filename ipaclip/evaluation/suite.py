"""One call that runs every evaluation on a fitted pronunciation encoder.

:func:`evaluate_model` scores three kinds of query for each task where that is meaningful:

* ``"text"``: the teacher on the spelling (``encoder.embed_targets(words)``);
* ``"pronunciation"``: the encoder on the G2P's IPA (``encoder.transform(g2p(words))``);
* ``"fused"``: :func:`ipaclip.fuse` of the two, ``fuse_weight`` the pronunciation share.

The tasks are registered in :mod:`ipaclip.evaluation.tasks` (one evaluator per task, with the
table rows it contributes; adding a task touches that module only):

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
``"triplets"``
    :mod:`~ipaclip.evaluation.triplets`: minimal-pair triplets on seeded nonwords, with the
    near phoneme English or foreign (pronunciation only).

:func:`format_results` prints the numbers as one table (rows: task and metric; columns: the
three query types); ``metrics=SUMMARY_METRICS`` keeps the rows of the README's table.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from ipaclip._progress import make_bar
from ipaclip._validation import Interval, check_params, unit_rows
from ipaclip.evaluation._common import QUERY_TYPES, EmbedFn, IPAFn, to_builtin
from ipaclip.evaluation.tasks import TASK_REGISTRY, EvaluationContext, result_rows, summary_rows
from ipaclip.fusion import FUSE_WEIGHT, fuse
from ipaclip.g2p import resolve_g2p

logger = logging.getLogger(__name__)

__all__ = [
    "QUERY_TYPES",
    "RESULT_ROWS",
    "SUMMARY_METRICS",
    "TASKS",
    "evaluate_model",
    "format_results",
    "lookup_result",
    "summary_table",
]

#: The built-in tasks, in the order :func:`evaluate_model` runs them (the registry of
#: :mod:`ipaclip.evaluation.tasks`; a task registered later runs after them).
TASKS: tuple[str, ...] = tuple(TASK_REGISTRY)

#: Rows of :func:`format_results`: ``label -> (task, keys)``, where the value of a query type
#: ``q`` is ``results[task][q][keys[0]][keys[1]]...`` (the built-in tasks' rows).
RESULT_ROWS: dict[str, tuple[str, tuple[str, ...]]] = result_rows()

#: The headline rows (the README's results table): the summary rows of every task.
SUMMARY_METRICS: tuple[str, ...] = summary_rows()

_POSITIVE = [Interval(Integral, 1, None, closed="left")]
_CONSTRAINTS: dict[str, list[Any]] = {
    "n_words": [Interval(Integral, 3, None, closed="left")],
    "n_nonwords": [Interval(Integral, 3, None, closed="left")],
    "n_triplets": _POSITIVE,
    "n_respell": _POSITIVE,
    "respell_candidates": _POSITIVE,
    "n_permutations": _POSITIVE,
    "n_analogies": _POSITIVE,
    "n_rhyme_classes": _POSITIVE,
    "rhyme_test_size": [
        Interval(Integral, 1, None, closed="left"),
        Interval(Real, 0, 1, closed="neither"),
    ],  # fmt: skip
    "fuse_weight": FUSE_WEIGHT,
    "random_state": [Interval(Integral, 0, None, closed="left"), None],
    "verbose": [Interval(Integral, 0, None, closed="left"), "boolean"],
}


def _check_tasks(tasks: str | Sequence[str] | None) -> list[str]:
    if tasks is None or tasks == "all":
        return list(TASK_REGISTRY)
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in TASK_REGISTRY]
    if unknown:
        raise ValueError(f"Unknown task(s) {unknown}; choose from {list(TASK_REGISTRY)}.")
    if not tasks:
        raise ValueError(f"No task given; choose from {list(TASK_REGISTRY)}.")
    return [t for t in TASK_REGISTRY if t in tasks]


def _ipa_function(encoder: Any, g2p: Any) -> IPAFn:
    g2p = resolve_g2p(g2p, saved=getattr(encoder, "g2p_", None))
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
        return lambda words: unit_rows(teacher.transform(list(words)), zero_rows="keep")

    def text(words: list[str]) -> np.ndarray:
        try:
            return encoder.embed_targets(list(words))
        except (ValueError, OSError, ImportError, RuntimeError) as exc:
            raise ValueError(
                f"The model's teacher ({encoder.teacher!r}) could not embed text: {exc}. "
                "Pass teacher= (an object with transform(list_of_str)) to evaluate_model."
            ) from exc

    return text


def _queries(encoder: Any, text: EmbedFn, ipa: IPAFn, fuse_weight: float) -> dict[str, EmbedFn]:
    """The three query types on words: teacher on text, encoder on IPA, and their fusion."""

    def pronunciation(words: list[str]) -> np.ndarray:
        return unit_rows(encoder.transform(ipa(list(words))), zero_rows="keep")

    def fused(words: list[str]) -> np.ndarray:
        return fuse(text(words), pronunciation(words), fuse_weight)

    return {"text": text, "pronunciation": pronunciation, "fused": fused}


def evaluate_model(
    encoder: Any,
    *,
    g2p: Any = None,
    teacher: Any = None,
    tasks: str | Sequence[str] | None = None,
    words: Sequence[str] | None = None,
    n_words: int = 1000,
    n_nonwords: int = 200,
    n_triplets: int = 1000,
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
    model_name: str | None = None,
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
        text queries and galleries. Needed when the saved teacher cannot be resolved (e.g.
        a model distilled from an in-memory CLIP), and when the model was fitted on
        precomputed target embeddings (``encoder.teacher_id_ is None``): its teacher is then
        unknown, and every task but ``"geometry"`` refuses to guess it.
    tasks : str or sequence of str, optional
        Any of the registered tasks (:data:`TASKS`, and any added with
        :func:`~ipaclip.evaluation.tasks.register_task`); a comma-separated string works too.
        They run in registry order. Default (or ``"all"``): every task.
    words : sequence of str, optional
        Words for ``"fidelity"`` (e.g. held-out words); default ``n_words`` seeded CMUdict
        words.
    n_words : int, default=1000
        CMUdict words for ``"fidelity"``, the respelling gallery and ``"pwesuite"``.
    n_nonwords : int, default=200
        Nonwords for ``"nonwords"`` (all pairs are scored).
    n_triplets : int, default=1000
        Nonwords that ``"triplets"`` swaps a phoneme of (one triplet per nonword and
        condition, fewer where no phoneme can be swapped).
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
        0 prints and logs nothing; 1 shows one progress bar per task, one at a time, with a
        step per sub-task or query type (PWESuite: 3 query types x 5 tasks); 2 also logs
        each task's time at INFO (it is always logged at DEBUG).
    plot_dir : str or Path, optional
        Draw pictures there (needs matplotlib, ``pip install 'ipaclip[plot]'``): the summary
        as grouped bars (``summary.png``, :func:`~ipaclip.evaluation.plots.plot_summary`)
        and, when ``"geometry"`` runs, the phoneme map (``phoneme_map.png``). Their paths
        are returned under ``"plots"``.
    model_name : str, optional
        The model's name in the pictures' titles (recorded in ``"config"``). Default: the
        encoder's class and ``embedding``.

    Returns
    -------
    dict
        ``"config"`` (the settings), ``"seconds"`` (per task), ``"summary"`` (the summary
        rows of the tasks that ran, ``{row: {query type: value or None}}``), ``"plots"``
        (``{picture: path}``, empty without ``plot_dir``), and one entry per task:
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
    settings = {
        "n_words": n_words,
        "n_nonwords": n_nonwords,
        "n_triplets": n_triplets,
        "n_respell": n_respell,
        "respell_candidates": respell_candidates,
        "n_permutations": n_permutations,
        "n_analogies": n_analogies,
        "n_rhyme_classes": n_rhyme_classes,
        "rhyme_test_size": rhyme_test_size,
        "fuse_weight": fuse_weight,
        "random_state": random_state,
    }
    check_params(_CONSTRAINTS, {**settings, "verbose": verbose}, "evaluate_model")
    settings = {k: v.item() if isinstance(v, np.generic) else v for k, v in settings.items()}
    settings["fuse_weight"] = float(fuse_weight)
    if teacher is not None and not hasattr(teacher, "transform"):
        raise TypeError(
            f"teacher must have a transform(list_of_str) method; got {type(teacher).__name__}."
        )
    _check_teacher_known(encoder, teacher, task_list)
    encoder = _quiet(encoder)
    if plot_dir is not None:
        from ipaclip.evaluation.plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
    ipa = _ipa_function(encoder, g2p)
    text = _text_function(encoder, teacher)
    context = EvaluationContext(
        encoder=encoder,
        queries=_queries(encoder, text, ipa, settings["fuse_weight"]),
        ipa=ipa,
        settings=settings,
        words=None if words is None else list(words),
        plot_dir=None if plot_dir is None else Path(plot_dir),
        name=model_name or _default_name(encoder),
    )
    results: dict[str, Any] = {
        "config": {
            "tasks": task_list,
            "teacher": str(getattr(encoder, "teacher_id_", None) or getattr(encoder, "teacher", ""))
            if teacher is None
            else f"{type(teacher).__name__} (passed as teacher=)",
            **settings,
            "model_name": context.name,
        },
        "seconds": {},
    }
    for i, name in enumerate(task_list, 1):
        start = time.perf_counter()
        results[name] = to_builtin(_run_task(context, name, f"[{i}/{len(task_list)}]", verbose))
        results["seconds"][name] = round(time.perf_counter() - start, 3)
        level = logging.INFO if verbose >= 2 else logging.DEBUG
        logger.log(level, "%s done in %.1f s", name, results["seconds"][name])
    results["summary"] = summary_table(results)
    if context.plot_dir is not None:
        from ipaclip.evaluation.plots import plot_summary

        if results["summary"]:
            context.add_plot("summary", plot_summary(results, context.plot_dir / "summary.png"))
    results["plots"] = dict(context.plots)
    return results


def _run_task(context: EvaluationContext, name: str, position: str, verbose: int) -> dict:
    """One task under its own progress bar (one step unless the task tracks its steps)."""
    if not verbose:
        return TASK_REGISTRY[name].evaluate(context)
    bar = make_bar(1, f"evaluate {position} {name}", verbose, unit="step")  # after 2 s
    context.progress = bar
    try:
        out = TASK_REGISTRY[name].evaluate(context)
        if bar.n == 0:  # the task has no steps of its own: it is one
            bar.update(1)
        return out
    finally:
        bar.close()
        context.progress = None


def _check_teacher_known(encoder: Any, teacher: Any, task_list: list[str]) -> None:
    """Refuse to score a model fitted on precomputed targets against a teacher it never saw."""
    if teacher is not None or not hasattr(encoder, "teacher_id_") or encoder.teacher_id_:
        return
    needing = [t for t in task_list if TASK_REGISTRY[t].needs_teacher]
    if needing:
        raise ValueError(
            "This model was fitted on precomputed target embeddings (encoder.teacher_id_ is "
            "None), so the text queries and galleries of "
            f"{', '.join(needing)} cannot come from its teacher: the encoder's teacher "
            f"parameter ({getattr(encoder, 'teacher', None)!r}) did not make those targets. "
            "Pass teacher= (an object with transform(list_of_str) that embeds text into the "
            "targets' space), or run only tasks=['geometry']."
        )


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


def summary_table(results: dict) -> dict[str, dict[str, float | None]]:
    """The summary rows of the tasks in ``results``: ``{row: {query type: value or None}}``.

    Examples
    --------
    >>> summary_table({"human": {"text": {"pearson": 0.25}}})
    {'human: Pearson r': {'text': 0.25, 'pronunciation': None, 'fused': None}}
    """
    rows = result_rows()
    return {
        label: {q: lookup_result(results, rows[label][0], q, rows[label][1]) for q in QUERY_TYPES}
        for label in summary_rows()
        if rows[label][0] in results
    }


def lookup_result(results: dict, task: str, query: str, keys: Sequence[str]) -> float | None:
    """The number at ``results[task][query][keys[0]][keys[1]]...``, or ``None``.

    Examples
    --------
    >>> lookup_result({"human": {"text": {"pearson": 0.25}}}, "human", "text", ("pearson",))
    0.25
    >>> lookup_result({"human": {}}, "human", "fused", ("pearson",)) is None
    True
    """
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
        row. Only rows of tasks that ran are printed; cells with no value print ``-``.

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
    rows = result_rows()
    labels = list(rows) if metrics is None else list(metrics)
    unknown = [m for m in labels if m not in rows]
    if unknown:
        raise ValueError(f"Unknown metric row(s) {unknown}; choose from {list(rows)}.")
    labels = [label for label in labels if rows[label][0] in results]  # tasks that ran
    width = max([len("metric")] + [len(label) for label in labels]) + 2
    width = max(width, 36)
    lines = [f"{'metric':<{width}}" + "".join(f"{q:>{max(len(q), 6) + 2}}" for q in QUERY_TYPES)]
    for label in labels:
        task, keys = rows[label]
        cells = []
        for q in QUERY_TYPES:
            v = lookup_result(results, task, q, keys)
            text = "-" if v is None or math.isnan(v) else f"{v:.3f}"
            cells.append(f"{text:>{max(len(q), 6) + 2}}")
        lines.append(f"{label:<{width}}" + "".join(cells))
    return "\n".join(lines)
