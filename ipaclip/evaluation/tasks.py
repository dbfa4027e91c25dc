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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        Where pictures go, if anywhere.
    """

    encoder: Any
    queries: dict[str, EmbedFn]
    ipa: IPAFn
    settings: dict[str, Any]
    words: list[str] | None = None
    plot_dir: Path | None = None
    _sample: list[str] | None = field(default=None, repr=False)

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


#: Every task, by name, in the order :func:`evaluate_model` runs them.
TASK_REGISTRY: dict[str, Task] = {}
# Keys of evaluate_model's results that are not tasks, and the tasks= value for all of them.
_RESERVED = ("config", "seconds", "summary", "plots", "all")


def register_task(
    name: str,
    *,
    rows: Mapping[str, tuple[str, ...]],
    summary: tuple[str, ...] = (),
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
        TASK_REGISTRY[name] = Task(name, fn, dict(rows), tuple(summary))
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
)
def geometry(ctx: EvaluationContext) -> dict:
    """The encoder's phoneme vectors against articulatory and IPA-chart distances."""
    from ipaclip.evaluation.geometry import evaluate_phoneme_geometry, plot_phoneme_map

    vectors = ctx.encoder.phoneme_vectors()
    s = ctx.settings
    out: dict[str, Any] = {
        "pronunciation": evaluate_phoneme_geometry(
            vectors, n_permutations=s["n_permutations"], random_state=s["random_state"]
        )
    }
    if ctx.plot_dir is not None:
        path = plot_phoneme_map(vectors, ctx.plot_dir / "phoneme_map.png")
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

    return {name: evaluate_human_similarity(fn) for name, fn in ctx.queries.items()}


@register_task(
    "nonwords",
    rows={"Pearson r": ("pearson",), "Spearman rho": ("spearman",)},
    summary=("Pearson r",),
)
def nonwords(ctx: EvaluationContext) -> dict:
    """Seeded nonwords: cosine against phonetic similarity (:mod:`.nonwords`)."""
    from ipaclip.evaluation.nonwords import generate_nonwords, nonword_phonetic_correlation

    items = generate_nonwords(ctx.settings["n_nonwords"], ctx.settings["random_state"])
    ipas = ctx.ipa(items)
    out: dict[str, Any] = {
        name: nonword_phonetic_correlation(items, fn, ipas=ipas) for name, fn in ctx.queries.items()
    }
    out["info"] = {"n_nonwords": len(items), "examples": items[:10]}
    return out


@register_task("respell", rows={"R@1": ("recall@1",), "MRR": ("mrr",)}, summary=("R@1",))
def respell(ctx: EvaluationContext) -> dict:
    """Respellings of sampled words retrieve them among the teacher's real words."""
    from ipaclip.evaluation.respell import generate_respellings, respelling_retrieval

    s = ctx.settings
    gallery = ctx.sample()
    found = generate_respellings(
        gallery[: s["n_respell"]],
        ctx.ipa,
        max_candidates=s["respell_candidates"],
        random_state=s["random_state"],
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
        return {"info": info}
    raw = respelling_retrieval(
        pairs, gallery, ctx.text, ctx.text, ctx.embed_ipa, ctx.ipa,
        fuse_weight=s["fuse_weight"], ks=(1, 5),
    )  # fmt: skip
    out: dict[str, Any] = {name: raw[name] for name in ("text", "pronunciation", "fused")}
    out["info"] = info
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
    from ipaclip.evaluation.pwesuite import evaluate_pwesuite

    s = ctx.settings
    return {
        name: evaluate_pwesuite(
            fn,
            n_words=s["n_words"],
            n_analogies=s["n_analogies"],
            n_classes=s["n_rhyme_classes"],
            rhyme_test_size=s["rhyme_test_size"],
            random_state=s["random_state"],
        )
        for name, fn in ctx.queries.items()
    }
