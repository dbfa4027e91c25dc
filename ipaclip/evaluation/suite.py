"""One call that runs several evaluators on a model, as sentence-transformers'
``SequentialEvaluator`` does.

:func:`evaluate_model` builds the model's :class:`~ipaclip.evaluation.queries.Queries` once
(three query types on words, where that is meaningful):

* ``"text"``: the teacher on the spelling (``encoder.embed_targets(words)``);
* ``"pronunciation"``: the encoder on the G2P's IPA (``encoder.transform(g2p(words))``);
* ``"fused"``: :func:`ipaclip.fuse` of the two, ``fuse_weight`` the pronunciation share;

then calls each evaluator (:class:`~ipaclip.evaluation.evaluator.Evaluator`) on it and
nests their flat scores and details as ``results[task][query][metric]``. The evaluators
are registered by name in :func:`~ipaclip.evaluation.evaluator.registry`; the default suite
is, in order:

``"fidelity"``
    :class:`~ipaclip.evaluation.fidelity.FidelityEvaluator`: the pronunciation embeddings
    of CMUdict words against the teacher's embeddings of the same words.
``"geometry"``
    :class:`~ipaclip.evaluation.geometry.GeometryEvaluator`: the encoder's phoneme
    vectors against articulatory and IPA-chart distances (pronunciation only).
``"human"``
    :class:`~ipaclip.evaluation.human.HumanSimilarityEvaluator` (Vitz & Winkler ratings).
``"nonwords"``
    :class:`~ipaclip.evaluation.nonwords.NonwordEvaluator`: seeded nonwords, cosine
    against phonetic similarity.
``"respell"``
    :class:`~ipaclip.evaluation.respell.RespellingEvaluator`: respellings of CMUdict words
    retrieve the intended word among the teacher embeddings of real words.
``"pwesuite"``
    :class:`~ipaclip.evaluation.pwesuite.PWESuiteEvaluator` (articulatory distance,
    retrieval, sound analogies, rhyme; its human-similarity task is ``"human"``'s, scored
    once).
``"triplets"``
    :class:`~ipaclip.evaluation.triplets.TripletEvaluator`: minimal-pair triplets on
    seeded nonwords, with the near phoneme English or foreign (pronunciation only).

``"multimodal"`` (:class:`~ipaclip.evaluation.multimodal.MultimodalEvaluator`) is registered
too but needs images, so it runs only when asked. So do the two sentence tasks, slower and
about sentences rather than words: ``"prompts"``
(:class:`~ipaclip.evaluation.prompts.ZeroShotPromptEvaluator`, CLIP's ImageNet prompts under
held-out templates, seen and unseen classes) and ``"captions"``
(:class:`~ipaclip.evaluation.captions.CaptionRetrievalEvaluator`, held-out composed captions).

:func:`format_results` prints the numbers as one table (rows: task and metric; columns: the
three query types) as text, Markdown, LaTeX (``booktabs``) or JSON; ``metrics=SUMMARY_METRICS``
keeps the rows of the README's table. :func:`evaluate_seeds` runs the suite over several
seeds (``random_state=0 .. n - 1``) and gives each figure as mean ± sd.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from ipaclip._progress import make_bar
from ipaclip._validation import Interval, StrOptions, check_params
from ipaclip.evaluation._common import QUERY_TYPES, to_builtin
from ipaclip.evaluation.evaluator import (
    Evaluator,
    nest_result,
    parameter_docs,
    registry,
    result_rows,
    summary_rows,
)
from ipaclip.evaluation.queries import Queries
from ipaclip.fusion import FUSE_WEIGHT

logger = logging.getLogger(__name__)

__all__ = [
    "QUERY_TYPES",
    "RESULT_ROWS",  # noqa: F822 - read from the live registry by __getattr__
    "SUMMARY_METRICS",  # noqa: F822
    "evaluate_model",
    "evaluate_seeds",
    "evaluator_settings",
    "format_results",
    "lookup_result",
    "summary_table",
]

_CONSTRAINTS: dict[str, list[Any]] = {
    "fuse_weight": FUSE_WEIGHT,
    "verbose": [Interval(Integral, 0, None, closed="left"), "boolean"],
}


def __getattr__(name: str) -> Any:
    # Read from the live registry on each access (a task defined later adds its rows).
    if name == "RESULT_ROWS":
        return result_rows()
    if name == "SUMMARY_METRICS":
        return summary_rows()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _settings_of(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def evaluator_settings() -> dict[str, tuple[Any, str]]:
    """The registered evaluators' number settings: ``name -> (default, description)``.

    Settings whose default is an int or a float (sizes, seeds), deduplicated in registry
    order; the description is the first sentence of the first evaluator's numpydoc entry,
    followed by the tasks that take the setting (the command line's ``evaluate`` options are
    made from this).

    Examples
    --------
    >>> evaluator_settings()["n_words"]
    (1000, 'CMUdict words to sample (unless words is given) (fidelity, respell, pwesuite)')
    """
    out: dict[str, tuple[Any, str]] = {}
    users: dict[str, list[str]] = {}
    for task, cls in registry().items():
        docs = parameter_docs(cls)
        for name, param in inspect.signature(cls.__init__).parameters.items():
            default = param.default
            if isinstance(default, bool) or not isinstance(default, int | float):
                continue
            users.setdefault(name, []).append(task)
            if name not in out:
                out[name] = (default, docs.get(name, "").replace("``", ""))
    return {k: (d, f"{text} ({', '.join(users[k])})") for k, (d, text) in out.items()}


def _check_settings(settings: dict[str, Any]) -> None:
    """Every setting belongs to some registered evaluator and satisfies its constraint."""
    owners: dict[str, type] = {}
    for cls in registry().values():
        for param in _settings_of(cls):
            owners.setdefault(param, cls)
    unknown = sorted(set(settings) - set(owners))
    if unknown:
        raise TypeError(
            f"evaluate_model() got unknown setting(s) {unknown}; the evaluators' settings "
            f"are {sorted(owners)}."
        )
    for key, value in settings.items():
        constraints = getattr(owners[key], "_parameter_constraints", {})
        if key in constraints:
            check_params({key: constraints[key]}, {key: value}, "evaluate_model")


def _evaluators(evaluators: Any, settings: dict[str, Any], plot_dir: Any) -> list[Evaluator]:
    tasks = registry()
    if evaluators is None or (isinstance(evaluators, str) and evaluators.strip() == "all"):
        evaluators = [name for name, cls in tasks.items() if cls.default_suite]
    elif isinstance(evaluators, str | Evaluator):
        evaluators = (
            [t.strip() for t in evaluators.split(",")]
            if isinstance(evaluators, str)
            else [evaluators]
        )
        evaluators = [t for t in evaluators if t != ""]
    evaluators = list(evaluators)
    unknown = [t for t in evaluators if isinstance(t, str) and t not in tasks]
    if unknown:
        raise ValueError(f"Unknown task(s) {unknown}; choose from {list(tasks)}.")
    if not evaluators:
        raise ValueError(f"No task given; choose from {list(tasks)}.")
    _check_settings(settings)
    out: list[Evaluator] = []
    for item in evaluators:
        if isinstance(item, str):
            cls = tasks[item]
            own = _settings_of(cls)
            params = {k: v for k, v in settings.items() if k in own}
            if plot_dir is not None and "plot_dir" in own:
                params["plot_dir"] = plot_dir
            item = cls(**params)
        elif not isinstance(item, Evaluator):
            raise TypeError(
                f"evaluators must hold task names or Evaluator objects; got {type(item).__name__}."
            )
        out.append(item)
    names = [ev.name for ev in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"Task(s) {repeated} given twice; each task's results have one key.")
    for ev in out:
        ev._validate_params()  # every setting is checked before any work
    return out


def _config_settings(evaluators: list[Evaluator]) -> dict[str, Any]:
    """The scalar settings of the evaluators (first evaluator's value where two differ).

    The same keys and values as before evaluators were objects, for the default suite."""
    out: dict[str, Any] = {}
    for ev in evaluators:
        defaults = inspect.signature(type(ev).__init__).parameters
        for key, value in ev.get_params(deep=False).items():
            if key == "plot_dir" or key in out or (value is None and defaults[key].default is None):
                continue  # pictures are under "plots"; an unset optional is not a setting
            if isinstance(value, np.generic):
                value = value.item()
            if value is None or isinstance(value, bool | int | float | str):
                out[key] = value
    return out


def evaluate_model(
    model: Any,
    evaluators: str | Sequence[str | Evaluator] | None = None,
    *,
    teacher: Any = None,
    g2p: Any = None,
    fuse_weight: float = 0.5,
    verbose: int = 1,
    plot_dir: str | Path | None = None,
    model_name: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Run evaluators on a fitted pronunciation encoder (or an ``IPACLIP``).

    Parameters
    ----------
    model : PronunciationEncoder, IPACLIP or Queries
        Fitted (or loaded with :meth:`~ipaclip.PronunciationEncoder.load`). A
        :class:`~ipaclip.evaluation.queries.Queries` is used as it is (its own teacher, G2P,
        ``fuse_weight`` and name; ``fuse_weight=`` and ``model_name=`` are then ignored).
    evaluators : str or sequence of (str or Evaluator), optional
        :class:`~ipaclip.evaluation.evaluator.Evaluator` objects (with their own settings)
        or registered task names (``list(ipaclip.evaluation.registry())``), which get the
        evaluator's defaults and ``settings``; a comma-separated string of names works too.
        They run in the order given. Default (or ``"all"``): the default suite (every
        registered task but ``"multimodal"``, in registry order).
    teacher : object, optional
        An object with ``transform(list_of_str)`` that replaces the model's teacher for the
        text queries and galleries. Needed when the saved teacher cannot be resolved (e.g.
        a model distilled from an in-memory CLIP), and when the model was fitted on
        precomputed target embeddings (``encoder.teacher_id_ is None``): its teacher is then
        unknown, and every task that reads it refuses to guess it.
    g2p : IPATransformer or callable, optional
        Words to IPA. Default: the G2P saved with the model (``encoder.g2p_``), else
        ``IPATransformer()``.
    fuse_weight : float in [0, 1], default=0.5
        Share of the pronunciation embedding in the fused query.
    verbose : int, default=1
        0 prints and logs nothing; 1 shows one progress bar per task, one at a time, with a
        step per sub-task or query type (PWESuite: 3 query types x 5 tasks); 2 also logs
        each task's time at INFO (it is always logged at DEBUG).
    plot_dir : str or Path, optional
        Draw pictures there (needs matplotlib, ``pip install 'ipaclip[plot]'``): the summary
        as grouped bars (``summary.png``, :func:`~ipaclip.evaluation.plots.plot_summary`)
        and, for tasks given by name that draw (``"geometry"``: ``phoneme_map.png``), their
        pictures. Their paths are returned under ``"plots"``.
    model_name : str, optional
        The model's name in the pictures' titles (recorded in ``"config"``). Default: the
        encoder's class and ``embedding``.
    **settings
        Settings of the evaluators given by name: each is set on every such evaluator whose
        constructor takes it (``n_words=200`` sets ``"fidelity"``'s, ``"respell"``'s and
        ``"pwesuite"``'s). A setting that no registered evaluator takes is a ``TypeError``.
        Evaluator objects keep their own settings. The built-in ones: ``words``,
        ``n_words`` (default 1000), ``n_nonwords`` (200), ``n_triplets`` (1000),
        ``n_respell`` (200), ``respell_candidates`` (60), ``n_permutations`` (999),
        ``n_analogies`` (200), ``n_rhyme_classes`` (500), ``rhyme_test_size`` (500),
        ``random_state`` (0); see each evaluator's docstring.

    Returns
    -------
    dict
        ``"config"`` (the tasks, the teacher, the evaluators' scalar settings,
        ``fuse_weight`` and ``model_name``), ``"seconds"`` (per task), ``"summary"`` (the
        summary rows of the tasks that ran, ``{row: {query type: value or None}}``),
        ``"plots"`` (``{picture: path}``, empty without pictures), and one entry per task:
        ``{query type: that task's result, "info": {...}}``, the evaluator's scores
        (``"pronunciation/recall@1"``) and ``info_`` nested (:func:`nest_result`).
        (``"geometry"`` has only ``"pronunciation"``, and so has ``"fidelity"``: the text and
        fused queries contain the teacher embedding they are scored against.) Every value
        is a plain Python type, ready for ``json.dump``.

    Examples
    --------
    A stand-in "encoder" whose teacher and pronunciation embeddings are the same letter
    counts, so the pronunciation query retrieves every word's teacher embedding:

    >>> import numpy as np
    >>> from ipaclip.evaluation.fidelity import FidelityEvaluator
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
    >>> res = evaluate_model(Encoder(), [FidelityEvaluator(words=["cat", "dog", "bird"])],
    ...                      g2p=lambda ws: ws, verbose=0)
    >>> fid = res["fidelity"]["pronunciation"]
    >>> round(fid["mean_cosine"], 6), fid["recall@1"]
    (1.0, 1.0)

    The same by name, with the setting as a keyword:

    >>> res = evaluate_model(Encoder(), "fidelity", g2p=lambda ws: ws, verbose=0,
    ...                      words=["cat", "dog", "bird"])
    >>> res["fidelity"]["pronunciation"]["recall@1"]
    1.0
    """
    check_params(_CONSTRAINTS, {"fuse_weight": fuse_weight, "verbose": verbose}, "evaluate_model")
    run = _evaluators(evaluators, settings, plot_dir)
    if isinstance(model, Queries):
        if teacher is not None or g2p is not None:
            raise ValueError(
                "model is a Queries, which already holds its text query and G2P; pass "
                "teacher= and g2p= to Queries.from_model instead."
            )
        queries = model  # with its own fuse_weight and name
    else:
        queries = Queries.from_model(model, teacher, g2p, fuse_weight, name=model_name)
    _check_teacher_known(queries, run)
    if plot_dir is not None:
        from ipaclip.evaluation.plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
    results: dict[str, Any] = {
        "config": {
            "tasks": [ev.name for ev in run],
            "teacher": _teacher_name(model, queries, teacher),
            **_config_settings(run),
            "fuse_weight": queries.fuse_weight,
            "model_name": queries.name,
        },
        "seconds": {},
    }
    if "random_state" in results["config"]:  # the order of the keys before evaluator objects
        results["config"]["random_state"] = results["config"].pop("random_state")
        results["config"]["model_name"] = results["config"].pop("model_name")
    plots: dict[str, str] = {}
    for i, ev in enumerate(run, 1):
        start = time.perf_counter()
        scores = _run(ev, queries, f"[{i}/{len(run)}]", verbose)
        results[ev.name] = to_builtin(nest_result(scores, ev.info_))
        plots.update(ev.plots_)
        results["seconds"][ev.name] = round(time.perf_counter() - start, 3)
        level = logging.INFO if verbose >= 2 else logging.DEBUG
        logger.log(level, "%s done in %.1f s", ev.name, results["seconds"][ev.name])
    results["summary"] = summary_table(results)
    if plot_dir is not None and results["summary"]:
        from ipaclip.evaluation.plots import plot_summary

        plots["summary"] = str(plot_summary(results, Path(plot_dir) / "summary.png"))
    results["plots"] = plots
    return results


def _run(ev: Evaluator, queries: Queries, position: str, verbose: int) -> dict[str, float]:
    """One evaluator under its own progress bar (one step unless it tracks its steps)."""
    if not verbose:
        return ev(queries)
    bar = make_bar(1, f"evaluate {position} {ev.name}", verbose, unit="step")  # after 2 s
    queries.progress = bar
    try:
        out = ev(queries)
        if bar.n == 0:  # the task has no steps of its own: it is one
            bar.update(1)
        return out
    finally:
        bar.close()
        queries.progress = None


def _teacher_name(model: Any, queries: Queries, teacher: Any) -> str:
    if teacher is None and hasattr(model, "pronunciation_encoder"):
        teacher = model.teacher  # IPACLIP's
    if teacher is not None:
        return f"{type(teacher).__name__} (passed as teacher=)"
    encoder = queries.encoder
    return str(getattr(encoder, "teacher_id_", None) or getattr(encoder, "teacher", ""))


def _check_teacher_known(queries: Queries, run: list[Evaluator]) -> None:
    """Refuse to score a model fitted on precomputed targets against a teacher it never saw."""
    needing = [ev.name for ev in run if ev.needs_teacher]
    if needing and not queries.teacher_known:
        raise ValueError(
            "This model was fitted on precomputed target embeddings (encoder.teacher_id_ is "
            "None), so the text queries and galleries of "
            f"{', '.join(needing)} cannot come from its teacher: the encoder's teacher "
            f"parameter ({getattr(queries.encoder, 'teacher', None)!r}) did not make those "
            "targets. Pass teacher= (an object with transform(list_of_str) that embeds text "
            "into the targets' space), or run only evaluators=['geometry']."
        )


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


FORMATS = ("text", "markdown", "latex", "json")


def _cell(mean: float | None, sd: float | None) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    return f"{mean:.3f}" if sd is None or math.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"}
_LATEX_SPECIAL.update({"~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                       "\\": r"\textbackslash{}"})  # fmt: skip


def _latex(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(c, c) for c in text)
    return out.replace("±", r"$\pm$")


def format_results(
    results: dict, metrics: Sequence[str] | None = None, *, format: str = "text"
) -> str:
    r"""A table of :func:`evaluate_model`'s (or :func:`evaluate_seeds`') results: rows
    metrics, columns query types.

    Parameters
    ----------
    results : dict
        :func:`evaluate_model`'s result (or the same loaded back from JSON). From
        :func:`evaluate_seeds`, each cell is the mean and the standard deviation over the
        seeds, printed ``0.912 ± 0.004``.
    metrics : sequence of str, optional
        Row labels from :data:`RESULT_ROWS` (e.g. :data:`SUMMARY_METRICS`); default every
        row. Only rows of tasks that ran are printed; cells with no value print ``-``.
    format : {"text", "markdown", "latex", "json"}, default="text"
        ``"text"``: aligned columns for a terminal. ``"markdown"``: a pipe table.
        ``"latex"``: a ``tabular`` with ``booktabs`` rules (``\usepackage{booktabs}``),
        special characters escaped. ``"json"``: the numbers, unrounded,
        ``{row: {query type: value or null}}`` (from :func:`evaluate_seeds`:
        ``{"mean", "sd", "n_seeds"}`` per cell).

    Returns
    -------
    str

    Examples
    --------
    >>> res = {"human": {"text": {"pearson": 0.25}, "pronunciation": {"pearson": 0.5}}}
    >>> print(format_results(res, metrics=["human: Pearson r"]))
    metric                                  text  pronunciation   fused
    human: Pearson r                       0.250          0.500       -
    >>> print(format_results(res, metrics=["human: Pearson r"], format="markdown"))
    | metric | text | pronunciation | fused |
    |:--|--:|--:|--:|
    | human: Pearson r | 0.250 | 0.500 | - |
    """
    check_params({"format": [StrOptions(set(FORMATS))]}, {"format": format}, "format_results")
    rows = result_rows()
    labels = list(rows) if metrics is None else list(metrics)
    unknown = [m for m in labels if m not in rows]
    if unknown:
        raise ValueError(f"Unknown metric row(s) {unknown}; choose from {list(rows)}.")
    labels = [label for label in labels if rows[label][0] in results]  # tasks that ran
    seeds = results.get("seeds") if isinstance(results.get("seeds"), dict) else None
    sd_tree = seeds.get("sd", {}) if seeds else None
    table: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    for label in labels:
        task, keys = rows[label]
        table[label] = {
            q: (
                lookup_result(results, task, q, keys),
                None if sd_tree is None else lookup_result(sd_tree, task, q, keys),
            )
            for q in QUERY_TYPES
        }
    if format == "json":
        import json

        def number(mean: float | None, sd: float | None) -> Any:
            mean = None if mean is None or math.isnan(mean) else mean
            if seeds is None:
                return mean
            sd = None if sd is None or math.isnan(sd) else sd
            return {"mean": mean, "sd": sd, "n_seeds": seeds.get("n_seeds")}

        data = {label: {q: number(*row[q]) for q in QUERY_TYPES} for label, row in table.items()}
        return json.dumps(data, indent=2, ensure_ascii=False)
    cells = {label: [_cell(*table[label][q]) for q in QUERY_TYPES] for label in labels}
    if format == "markdown":
        lines = ["| metric | " + " | ".join(QUERY_TYPES) + " |",
                 "|:--|" + "--:|" * len(QUERY_TYPES)]  # fmt: skip
        lines += [f"| {label} | " + " | ".join(cells[label]) + " |" for label in labels]
        return "\n".join(lines)
    if format == "latex":
        lines = [
            "% needs \\usepackage{booktabs}",
            "\\begin{tabular}{l" + "r" * len(QUERY_TYPES) + "}",
            "\\toprule",
            " & ".join(["metric", *QUERY_TYPES]) + " \\\\",
            "\\midrule",
        ]
        for label in labels:
            row = [_latex(label)] + ["--" if c == "-" else _latex(c) for c in cells[label]]
            lines.append(" & ".join(row) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines)
    width = max([len("metric")] + [len(label) for label in labels]) + 2
    width = max(width, 36)
    cols = [
        max([len(q), 6] + [len(cells[label][i]) for label in labels]) + 2
        for i, q in enumerate(QUERY_TYPES)
    ]
    lines = [f"{'metric':<{width}}" + "".join(f"{q:>{w}}" for q, w in zip(QUERY_TYPES, cols))]
    for label in labels:
        lines.append(f"{label:<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells[label], cols)))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Several seeds
# --------------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _pool(runs: list[Any]) -> tuple[Any, Any]:
    """Mean and sd trees of the same-shaped ``runs``: numbers averaged (sd with ddof=1, None
    for one run); anything else kept when equal in every run, else the list of the runs'
    values (nothing is dropped). The sd tree holds only the numeric leaves."""
    first = runs[0]
    if all(isinstance(r, dict) for r in runs) and all(r.keys() == first.keys() for r in runs):
        pooled = {k: _pool([r[k] for r in runs]) for k in first}
        sd = {k: v[1] for k, v in pooled.items() if v[1] is not _NO_SD}
        return {k: v[0] for k, v in pooled.items()}, sd
    if all(_is_number(r) for r in runs):
        values = np.array([float(r) for r in runs])
        if np.isnan(values).any():
            return [float(v) for v in values], _NO_SD
        sd = float(values.std(ddof=1)) if len(values) > 1 else None
        if all(r == first for r in runs):
            return first, sd
        return float(values.mean()), sd
    if all(r == first for r in runs):
        return first, _NO_SD
    return list(runs), _NO_SD


_NO_SD = object()


def evaluate_seeds(model: Any, n_seeds: int, **evaluate_model_kwargs: Any) -> dict[str, Any]:
    """Run :func:`evaluate_model` with ``random_state=0 .. n_seeds - 1``: each figure as the
    mean and the standard deviation over the seeds.

    The seed sets every evaluator's ``random_state`` (word samples, nonwords, permutations,
    splits), on evaluators given by name and on :class:`Evaluator` objects alike (a copy of
    each object, with its ``random_state`` set). The model's queries are built once and
    shared by the runs, so the teacher embeds each word once.

    Parameters
    ----------
    model : PronunciationEncoder, IPACLIP or Queries
        As for :func:`evaluate_model`.
    n_seeds : int >= 1
    **evaluate_model_kwargs
        :func:`evaluate_model`'s other arguments (``evaluators``, ``teacher``, ``g2p``,
        ``fuse_weight``, ``verbose``, ``plot_dir``, ``model_name`` and the evaluators'
        settings), but not ``random_state``. Pictures (``plot_dir``) are drawn for seed 0,
        and the summary's bars show the means.

    Returns
    -------
    dict
        :func:`evaluate_model`'s result with every number the mean over the seeds (a
        value that is not a number is kept when every seed gave the same one, else listed
        per seed; ``config["random_state"]`` lists the seeds), and ``"seeds"``:
        ``{"n_seeds", "random_state", "sd", "summaries"}``: ``sd`` the sample standard
        deviations (``ddof=1``; None for one seed) nested as the results are, and
        ``summaries`` each seed's summary table. :func:`format_results` prints
        ``mean ± sd``.

    Examples
    --------
    >>> import numpy as np
    >>> from ipaclip.evaluation.fidelity import FidelityEvaluator
    >>> class Encoder:  # pronunciation = teacher + noise that does not depend on the seed
    ...     teacher = "random"
    ...     def embed_targets(self, words):
    ...         return np.stack([np.random.default_rng(len(w)).normal(size=8) for w in words])
    ...     def transform(self, ipas):
    ...         return self.embed_targets(ipas) + 0.5
    >>> res = evaluate_seeds(Encoder(), 3, evaluators=[FidelityEvaluator(n_words=20)],
    ...                      g2p=lambda ws: ws, verbose=0)
    >>> res["config"]["random_state"], res["seeds"]["n_seeds"]
    ([0, 1, 2], 3)
    >>> print(format_results(res, ["fidelity: mean cosine"]))  # doctest: +ELLIPSIS
    metric ...pronunciation ...
    fidelity: mean cosine ... ± ...
    """
    check_params(
        {"n_seeds": [Interval(Integral, 1, None, closed="left")]},
        {"n_seeds": n_seeds},
        "evaluate_seeds",
    )
    if "random_state" in evaluate_model_kwargs:
        raise TypeError(
            "evaluate_seeds() sets random_state itself (0 .. n_seeds - 1); do not pass it."
        )
    kwargs = dict(evaluate_model_kwargs)
    teacher, g2p = kwargs.pop("teacher", None), kwargs.pop("g2p", None)
    fuse_weight = kwargs.pop("fuse_weight", 0.5)
    model_name = kwargs.pop("model_name", None)
    plot_dir = kwargs.pop("plot_dir", None)
    evaluators = kwargs.pop("evaluators", None)
    check_params(_CONSTRAINTS, {"fuse_weight": fuse_weight}, "evaluate_seeds")
    queries = model
    if not isinstance(model, Queries):
        queries = Queries.from_model(model, teacher, g2p, fuse_weight, name=model_name)
    elif teacher is not None or g2p is not None:
        raise ValueError(
            "model is a Queries, which already holds its text query and G2P; pass "
            "teacher= and g2p= to Queries.from_model instead."
        )
    seeds = list(range(int(n_seeds)))
    runs = []
    for seed in seeds:
        runs.append(
            evaluate_model(
                queries,
                _seeded(evaluators, seed),
                plot_dir=plot_dir if seed == 0 else None,
                random_state=seed,
                **kwargs,
            )
        )
        logger.debug("evaluate_seeds: seed %d of %d done", seed + 1, len(seeds))
    tasks = runs[0]["config"]["tasks"]
    out: dict[str, Any] = {"config": dict(runs[0]["config"])}
    out["config"]["random_state"] = seeds
    out["config"]["teacher"] = _teacher_name(model, queries, teacher)
    out["seconds"], _ = _pool([r["seconds"] for r in runs])
    sd: dict[str, Any] = {}
    for task in tasks:
        out[task], sd[task] = _pool([r[task] for r in runs])
    out["summary"] = summary_table(out)
    out["plots"] = dict(runs[0]["plots"])
    if plot_dir is not None and out["summary"]:
        from ipaclip.evaluation.plots import plot_summary

        out["plots"]["summary"] = str(plot_summary(out, Path(plot_dir) / "summary.png"))
    out["seeds"] = {
        "n_seeds": len(seeds),
        "random_state": seeds,
        "sd": sd,
        "summaries": [r["summary"] for r in runs],
    }
    return out


def _seeded(evaluators: Any, seed: int) -> Any:
    """``evaluators`` with every Evaluator object copied and given ``random_state=seed``."""
    if evaluators is None or isinstance(evaluators, str):
        return evaluators
    if isinstance(evaluators, Evaluator):
        evaluators = [evaluators]
    out = []
    for ev in evaluators:
        if isinstance(ev, Evaluator) and "random_state" in ev.get_params(deep=False):
            ev = clone(ev).set_params(random_state=seed)
        out.append(ev)
    return out
