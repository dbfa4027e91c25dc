"""The tasks of :func:`~ipaclip.evaluation.suite.evaluate_model`: one evaluator each, by name.

Every task is a function ``(context) -> dict`` registered with :func:`register_task` under its
name, together with the rows it contributes to the results table. The
:class:`EvaluationContext` holds what the tasks share: the query functions (``"text"``,
``"pronunciation"`` and ``"fused"``, each ``list of words -> unit rows``), the IPA function,
the encoder, the seeded CMUdict word sample and the settings. The suite builds one context
and runs the registered tasks in order (as sentence-transformers' ``SequentialEvaluator``
runs its evaluators).

Adding a task touches one place: a function here, decorated with :func:`register_task`::

    @register_task("my_task", rows={"accuracy": ("accuracy",)}, summary=("accuracy",))
    def my_task(ctx: EvaluationContext) -> dict:
        return {q: {"accuracy": score(fn, ctx.sample())} for q, fn in ctx.queries.items()}

A task returns ``{query type: its result, ..., "info": {...}}`` (any subset of the query
types); a row ``label -> keys`` reads ``result[query][keys[0]][keys[1]]...`` and appears in
the table as ``"my_task: label"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ipaclip._validation import unit_rows
from ipaclip.datasets import sample_words
from ipaclip.evaluation._common import EmbedFn, IPAFn

__all__ = [
    "TASK_REGISTRY",
    "EvaluationContext",
    "Task",
    "register_task",
    "result_rows",
    "summary_rows",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class EvaluationContext:
    """What every task reads.

    Attributes
    ----------
    encoder : PronunciationEncoder
        The fitted encoder (``transform`` on IPA, ``phoneme_vectors``).
    queries : dict of str to callable
        ``"text"``, ``"pronunciation"`` and ``"fused"``: words -> L2-normalised rows.
    ipa : callable
        Words to IPA (the G2P).
    settings : dict
        The sizes and seeds of :func:`~ipaclip.evaluation.suite.evaluate_model`
        (``n_words``, ``n_nonwords``, ..., ``fuse_weight``, ``random_state``).
    words : list of str or None
        Words given for ``"fidelity"``; ``None`` uses :meth:`sample`.
    plot_dir : Path or None
        Where pictures go, if anywhere; a task that draws one records it with
        :meth:`add_plot`.
    name : str
        The model's name, for titles.
    plots : dict of str to str
        The pictures written so far (name -> path).
    """

    encoder: Any
    queries: dict[str, EmbedFn]
    ipa: IPAFn
    settings: dict[str, Any]
    words: list[str] | None = None
    plot_dir: Path | None = None
    name: str = "model"
    plots: dict[str, str] = field(default_factory=dict)
    progress: Any = field(default=None, repr=False)  # the running task's bar (set by the suite)
    _sample: list[str] | None = field(default=None, repr=False)

    def track(self, items: Iterable[T], describe: Callable[[T], str] = str) -> Iterator[T]:
        """Iterate over ``items``, one progress step each (shown in the running task's bar).

        A task's long loops go through this, so that ``verbose=1`` shows where it is
        (``describe(item)`` names the step). Without a bar it is plain iteration.
        """
        items = list(items)
        bar = self.progress
        if bar is None:
            yield from items
            return
        # The suite opens each task's bar with one placeholder step; the first loop replaces it.
        bar.total = len(items) if bar.n == 0 else bar.total + len(items)
        for item in items:  # no forced refresh: the bar shows once its task passed 2 s
            bar.set_postfix_str(describe(item), refresh=False)
            yield item
            bar.update(1)

    def add_plot(self, name: str, path: str | os.PathLike) -> None:
        """Record a picture written by the running task."""
        self.plots[name] = str(path)

    @property
    def text(self) -> EmbedFn:
        """The text query (the teacher on the words)."""
        return self.queries["text"]

    def embed_ipa(self, ipas: list[str]) -> np.ndarray:
        """The encoder on IPA strings, L2-normalised (the pronunciation query without G2P)."""
        return unit_rows(self.encoder.transform(list(ipas)), zero_rows="keep")

    def sample(self) -> list[str]:
        """The seeded sample of ``settings["n_words"]`` CMUdict words (drawn once)."""
        if self._sample is None:
            self._sample = sample_words(self.settings["n_words"], self.settings["random_state"])
        return self._sample


@dataclass(frozen=True)
class Task:
    """A registered task: its evaluator and the rows it adds to the results table."""

    name: str
    evaluate: Callable[[EvaluationContext], dict]
    rows: Mapping[str, tuple[str, ...]]
    summary: tuple[str, ...] = ()
    needs_teacher: bool = True


#: Every task, by name, in the order :func:`evaluate_model` runs them.
TASK_REGISTRY: dict[str, Task] = {}
# Keys of evaluate_model's results that are not tasks, and the tasks= value for all of them.
_RESERVED = ("config", "seconds", "summary", "plots", "all")


def register_task(
    name: str,
    *,
    rows: Mapping[str, tuple[str, ...]],
    summary: tuple[str, ...] = (),
    needs_teacher: bool = True,
) -> Callable[[Callable[[EvaluationContext], dict]], Callable[[EvaluationContext], dict]]:
    """Register ``fn(context) -> dict`` as the evaluator of task ``name``.

    Parameters
    ----------
    name : str
        The task's name (``tasks=`` of ``evaluate_model``, the prefix of its table rows).
    rows : mapping of str to tuple of str
        Table rows: label -> keys into each query type's result.
    summary : tuple of str
        Labels of ``rows`` that belong in the summary table.
    needs_teacher : bool, default=True
        Whether the task reads the text query (the teacher). ``evaluate_model`` refuses a
        model whose teacher is unknown only when a task that needs it runs.
    """
    if not isinstance(name, str) or not name.strip() or "," in name or name in _RESERVED:
        raise ValueError(
            f"A task name must be a non-empty string without commas, not one of {_RESERVED} "
            f"(it is a key of the results and a value of tasks=); got {name!r}."
        )
    unknown = [label for label in summary if label not in rows]
    if unknown:
        raise ValueError(f"Summary rows {unknown} of task {name!r} are not among its rows.")

    def decorate(fn: Callable[[EvaluationContext], dict]) -> Callable[[EvaluationContext], dict]:
        TASK_REGISTRY[name] = Task(name, fn, dict(rows), tuple(summary), bool(needs_teacher))
        return fn

    return decorate


def result_rows() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every registered table row: ``"task: label" -> (task, keys)``, in task order."""
    return {
        f"{task.name}: {label}": (task.name, tuple(keys))
        for task in TASK_REGISTRY.values()
        for label, keys in task.rows.items()
    }


def summary_rows() -> tuple[str, ...]:
    """The summary rows of every registered task, in task order."""
    return tuple(f"{t.name}: {label}" for t in TASK_REGISTRY.values() for label in t.summary)


# --------------------------------------------------------------------------------------------
# The tasks, in the order they run
# --------------------------------------------------------------------------------------------
@register_task(
    "fidelity",
    rows={"mean cosine": ("mean_cosine",), "R@1": ("recall@1",), "R@5": ("recall@5",)},
    summary=("mean cosine",),
)
def fidelity(ctx: EvaluationContext) -> dict:
    """The pronunciation embeddings against the teacher's embeddings of the same words."""
    from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

    words = ctx.sample() if ctx.words is None else list(ctx.words)
    if len(words) < 2:
        raise ValueError(f"fidelity needs at least 2 words; got {len(words)}.")
    labels: dict[str, int] = {}
    label = np.array([labels.setdefault(w, len(labels)) for w in words])
    positives = label[:, None] == label[None, :]
    T = ctx.text(words)
    Q = ctx.queries["pronunciation"](words)
    S = Q @ T.T
    return {
        "pronunciation": {
            "mean_cosine": float(np.mean(np.sum(Q * T, axis=1))),
            "recall@1": recall_at_k(S, positives, 1),
            "recall@5": recall_at_k(S, positives, min(5, len(words))),
            "mrr": mean_reciprocal_rank(S, positives),
        },
        "info": {"n_words": len(words), "n_distinct": len(labels)},
    }


@register_task(
    "geometry",
    rows={
        "articulatory rho (all)": ("all", "articulatory", "spearman"),
        "chart rho (consonants)": ("consonants", "chart", "spearman"),
        "chart rho (vowels)": ("vowels", "chart", "spearman"),
    },
    summary=("articulatory rho (all)",),
    needs_teacher=False,
)
def geometry(ctx: EvaluationContext) -> dict:
    """The encoder's phoneme vectors against articulatory and IPA-chart distances."""
    from ipaclip.evaluation.geometry import evaluate_phoneme_geometry
    from ipaclip.evaluation.plots import plot_phoneme_map

    vectors = ctx.encoder.phoneme_vectors()
    s = ctx.settings
    steps = ["Mantel tests"] + (["phoneme map"] if ctx.plot_dir is not None else [])
    out: dict[str, Any] = {}
    for step in ctx.track(steps):
        if step == "Mantel tests":
            out["pronunciation"] = evaluate_phoneme_geometry(
                vectors, n_permutations=s["n_permutations"], random_state=s["random_state"]
            )
        else:
            path = plot_phoneme_map(vectors, ctx.plot_dir / "phoneme_map.png", name=ctx.name)
            ctx.add_plot("phoneme_map", path)
            out["info"] = {"plot": str(path)}
    return out


@register_task(
    "human",
    rows={"Pearson r": ("pearson",), "Spearman rho": ("spearman",)},
    summary=("Pearson r",),
)
def human(ctx: EvaluationContext) -> dict:
    """Vitz & Winkler's human similarity ratings (:mod:`ipaclip.evaluation.human`)."""
    from ipaclip.evaluation.human import evaluate_human_similarity

    return {name: evaluate_human_similarity(ctx.queries[name]) for name in ctx.track(ctx.queries)}


@register_task(
    "nonwords",
    rows={"Pearson r": ("pearson",), "Spearman rho": ("spearman",)},
    summary=("Pearson r",),
)
def nonwords(ctx: EvaluationContext) -> dict:
    """Seeded nonwords: cosine against phonetic similarity (:mod:`.nonwords`)."""
    from ipaclip.evaluation.nonwords import generate_nonwords, nonword_phonetic_correlation

    out: dict[str, Any] = {}
    for step in ctx.track(["generate", *ctx.queries]):
        if step == "generate":
            items = generate_nonwords(ctx.settings["n_nonwords"], ctx.settings["random_state"])
            ipas = ctx.ipa(items)
        else:
            out[step] = nonword_phonetic_correlation(items, ctx.queries[step], ipas=ipas)
    out["info"] = {"n_nonwords": len(items), "examples": items[:10]}
    return out


@register_task("respell", rows={"R@1": ("recall@1",), "MRR": ("mrr",)}, summary=("R@1",))
def respell(ctx: EvaluationContext) -> dict:
    """Respellings of sampled words retrieve them among the teacher's real words."""
    from ipaclip.evaluation.respell import generate_respellings, respelling_retrieval

    s = ctx.settings
    gallery = ctx.sample()
    out: dict[str, Any] = {}
    for step in ctx.track(["respellings", "retrieval"]):
        if step == "respellings":
            found = generate_respellings(
                gallery[: s["n_respell"]],
                ctx.ipa,
                max_candidates=s["respell_candidates"],
                random_state=s["random_state"],
            )
            pairs = [(r["word"], r["respelling"]) for r in found if r["respelling"]]
            out["info"] = {
                "n_words": len(found),
                "n_respelled": len(pairs),
                "n_gallery": len(gallery),
                "examples": [list(p) for p in pairs[:10]],
            }
            if not pairs:
                logger.warning("No respelling found for any of %d words; skipped.", len(found))
                return out
        else:
            raw = respelling_retrieval(
                pairs, gallery, ctx.text, ctx.text, ctx.embed_ipa, ctx.ipa,
                fuse_weight=s["fuse_weight"], ks=(1, 5),
            )  # fmt: skip
            out = {**{q: raw[q] for q in ("text", "pronunciation", "fused")}, "info": out["info"]}
    return out


@register_task(
    "pwesuite",
    rows={
        "articulatory distance r": ("summary", "articulatory_distance"),
        "retrieval rank score": ("summary", "retrieval"),
        "analogies top-2": ("summary", "analogies"),
        "rhyme accuracy": ("summary", "rhyme"),
    },
    summary=("articulatory distance r",),
)
def pwesuite(ctx: EvaluationContext) -> dict:
    """PWESuite's tasks (:mod:`ipaclip.evaluation.pwesuite`) for each query type."""
    from ipaclip.evaluation.pwesuite import TASKS as SUBTASKS
    from ipaclip.evaluation.pwesuite import iter_pwesuite, pwesuite_summary

    s = ctx.settings
    runs = {
        name: iter_pwesuite(
            fn,
            n_words=s["n_words"],
            n_analogies=s["n_analogies"],
            n_classes=s["n_rhyme_classes"],
            rhyme_test_size=s["rhyme_test_size"],
            random_state=s["random_state"],
        )
        for name, fn in ctx.queries.items()
    }
    out: dict[str, dict] = {name: {} for name in runs}
    steps = [(name, sub) for name in runs for sub in SUBTASKS]  # iter_pwesuite's order
    for name, sub in ctx.track(steps, lambda step: f"{step[0]}: {step[1]}"):
        done, out[name][sub] = next(runs[name])
        if done != sub:  # pragma: no cover - the two orders are one constant
            raise RuntimeError(f"PWESuite ran {done!r} where {sub!r} was expected.")
    for result in out.values():
        result["summary"] = pwesuite_summary(result)
    return out


@register_task(
    "triplets",
    rows={
        "accuracy (English)": ("native", "accuracy"),
        "accuracy (foreign)": ("foreign", "accuracy"),
    },
    summary=("accuracy (English)", "accuracy (foreign)"),
    needs_teacher=False,
)
def triplets(ctx: EvaluationContext) -> dict:
    """Minimal-pair triplets on seeded nonwords (:mod:`.triplets`): is a one-feature swap
    nearer than a far swap? The foreign near phonemes are those the encoder never saw."""
    from ipaclip.evaluation.nonwords import generate_nonwords
    from ipaclip.evaluation.triplets import (
        FOREIGN_PHONEMES,
        minimal_pair_triplets,
        triplet_accuracy,
    )

    s = ctx.settings
    seen = set(getattr(ctx.encoder, "vocabulary_", ()))
    foreign = [p for p in FOREIGN_PHONEMES if p not in seen]
    scores: dict[str, Any] = {}
    info: dict[str, Any] = {"n_foreign_candidates": len(foreign)}
    for step in ctx.track(["generate", "native", "foreign"]):
        if step == "generate":
            nonwords = generate_nonwords(s["n_triplets"], s["random_state"])
            bases = ctx.ipa(nonwords)
            info["n_bases"] = len(bases)
            continue
        if step == "foreign" and not foreign:
            logger.warning("The encoder has seen every foreign phoneme; no foreign triplets.")
            continue
        found = minimal_pair_triplets(
            bases, condition=step, random_state=s["random_state"], foreign=foreign
        )
        info[f"examples_{step}"] = [[t["base"], t["near"], t["far"]] for t in found[:5]]
        if found:
            scores[step] = triplet_accuracy(ctx.embed_ipa, found)
    return {"pronunciation": scores, "info": info}
