"""Evaluators: one class per task, called as ``evaluator(model) -> dict[str, float]``.

As in sentence-transformers (``sentence_transformers/evaluation/``), each task is a class that
holds its own settings, is called on a model and returns flat scores with a primary metric;
:func:`~ipaclip.evaluation.suite.evaluate_model` runs several in a row (as
``SequentialEvaluator`` does). The shapes:

* ``__init__`` only stores keyword settings (scikit-learn style: ``get_params``,
  ``set_params``, ``clone``); they are checked against the class's
  ``_parameter_constraints`` when the evaluator is called.
* ``evaluator(model)`` takes a fitted :class:`~ipaclip.PronunciationEncoder`, an
  :class:`~ipaclip.IPACLIP` or one :class:`~ipaclip.evaluation.queries.Queries` (which
  ``evaluate_model`` builds once and passes to every evaluator).
* It returns ``{"{query}/{metric}": float}`` (query ``"text"``, ``"pronunciation"`` or
  ``"fused"``; nested metrics joined with ``/``, e.g. ``"pronunciation/summary/rhyme"``);
  ``primary_metric`` names the headline key. Everything else the call computed (counts,
  examples, ``None`` for a sub-task that could not run) is in ``info_``: the task's details
  under ``"info"``, and the non-score leaves of each query's result at their place.
  :func:`nest_result` puts the two back into the nested layout of ``evaluate_model``.

A subclass registers itself by declaring ``name``; the built-in tasks are found by importing
the public modules of :mod:`ipaclip.evaluation` on the first :func:`registry` call, so adding
a task touches its own module only::

    class RhymeCountEvaluator(Evaluator):
        name = "rhyme_count"
        primary_metric = "pronunciation/accuracy"
        rows = {"accuracy": ("accuracy",)}

        def compute(self, queries):
            return {"pronunciation": {"accuracy": score(queries.pronunciation)}}
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from sklearn.base import BaseEstimator

from ipaclip._validation import ParamsMixin
from ipaclip.evaluation._common import QUERY_TYPES, to_builtin
from ipaclip.evaluation.queries import Queries

__all__ = [
    "TASK_REGISTRY",
    "Evaluator",
    "nest_result",
    "parameter_docs",
    "registry",
    "result_rows",
    "split_result",
    "summary_rows",
]

logger = logging.getLogger(__name__)

# Keys of evaluate_model's results that are not tasks, and the evaluators= value for all of them.
_RESERVED = ("config", "seconds", "summary", "plots", "all")
_REGISTRY: dict[str, type[Evaluator]] = {}
_LOADED = False


class Evaluator(ParamsMixin, BaseEstimator):
    """Base class of the evaluation tasks.

    Class attributes (set by each task)
    -----------------------------------
    name : str
        The task's name: ``evaluate_model``'s key of its results, the prefix of its table
        rows and its name in ``--tasks``. Declaring it registers the class.
    primary_metric : str
        The headline key of the returned dict (e.g. ``"pronunciation/mean_cosine"``).
    greater_is_better : bool, default=True
        Whether a larger ``primary_metric`` is better.
    needs_teacher : bool, default=True
        Whether the task reads the text query (the teacher); ``evaluate_model`` refuses a
        model whose teacher is unknown only when such a task runs.
    rows : mapping of str to tuple of str
        Table rows: label -> keys into each query type's result
        (:func:`~ipaclip.evaluation.suite.format_results`).
    summary : tuple of str
        Labels of ``rows`` in the summary table (the README's headline figures).
    default_suite : bool, default=True
        Whether ``evaluate_model`` runs the task by default (``False`` for a task that needs
        data of its own, such as ``"multimodal"``).
    order : int, default=100
        Position in the registry (and in the default suite); ties keep registration order.

    Attributes
    ----------
    info_ : dict
        After a call: what the call computed besides the scores (see the module docstring).
    plots_ : dict of str to str
        After a call: pictures written (name -> path); empty if none.
    """

    name: ClassVar[str] = ""
    primary_metric: ClassVar[str] = ""
    greater_is_better: ClassVar[bool] = True
    needs_teacher: ClassVar[bool] = True
    rows: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    summary: ClassVar[tuple[str, ...]] = ()
    default_suite: ClassVar[bool] = True
    order: ClassVar[int] = 100

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _register(cls)

    def __call__(self, model: Any) -> dict[str, float]:
        """Score ``model`` (a fitted encoder, an ``IPACLIP`` or a ``Queries``)."""
        self._validate_params()
        queries = model if isinstance(model, Queries) else Queries.from_model(model)
        self.plots_: dict[str, str] = {}
        scores, self.info_ = split_result(to_builtin(self.compute(queries)))
        return scores

    def compute(self, queries: Queries) -> dict:
        """The task's nested result: ``{query type: {...}, "info": {...}}``."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute(queries).")


def _register(cls: type[Evaluator]) -> None:
    name = cls.__dict__["name"]
    if not isinstance(name, str) or not name.strip() or any(c in name for c in ",/"):
        raise ValueError(
            f"{cls.__name__}.name must be a non-empty string without ',' or '/' (it is a "
            f"results key and a value of --tasks); got {name!r}."
        )
    if name in _RESERVED:
        raise ValueError(f"{cls.__name__}.name must not be one of {_RESERVED}; got {name!r}.")
    unknown = [label for label in cls.summary if label not in cls.rows]
    if unknown:
        raise ValueError(f"Summary rows {unknown} of task {name!r} are not among its rows.")
    _REGISTRY[name] = cls


def _load_builtin() -> None:
    """Import the package's public modules once, so their evaluators register."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    package = importlib.import_module("ipaclip.evaluation")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"ipaclip.evaluation.{info.name}")


def registry() -> dict[str, type[Evaluator]]:
    """Every registered evaluator class by task name, in run order (``order``, then
    registration). Live: a class defined later is in the next call's answer."""
    _load_builtin()
    return dict(sorted(_REGISTRY.items(), key=lambda item: item[1].order))


class _LiveRegistry(Mapping):
    """:func:`registry` as a mapping that is read anew on every access."""

    def __getitem__(self, name: str) -> type[Evaluator]:
        return registry()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(registry())

    def __len__(self) -> int:
        return len(registry())

    def __repr__(self) -> str:
        return f"TASK_REGISTRY({list(registry())})"


#: The registry as a live read-only mapping (task name -> evaluator class).
TASK_REGISTRY: Mapping[str, type[Evaluator]] = _LiveRegistry()


def result_rows() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every registered table row: ``"task: label" -> (task, keys)``, in task order."""
    return {
        f"{name}: {label}": (name, tuple(keys))
        for name, cls in registry().items()
        for label, keys in cls.rows.items()
    }


def summary_rows() -> tuple[str, ...]:
    """The summary rows of every registered task, in task order."""
    return tuple(f"{name}: {label}" for name, cls in registry().items() for label in cls.summary)


# --------------------------------------------------------------------------------------------
# Flat scores and details
# --------------------------------------------------------------------------------------------
def split_result(nested: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """A task's nested result as flat float scores and the rest.

    Examples
    --------
    >>> split_result({"text": {"pearson": 0.5, "n_pairs": 3, "per": {"a": 0.1}},
    ...               "info": {"n": 3}})
    ({'text/pearson': 0.5, 'text/per/a': 0.1}, {'text': {'n_pairs': 3}, 'info': {'n': 3}})
    """
    scores: dict[str, float] = {}

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            rest = {}
            for key, item in value.items():
                kept = walk(item, (*path, str(key)))
                if kept is not _SCORE and kept is not _EMPTY:
                    rest[key] = kept
            return rest if rest or not value else _EMPTY
        if isinstance(value, float) and path[0] in QUERY_TYPES:
            scores["/".join(path)] = value
            return _SCORE
        return value

    info = {}
    for key, value in nested.items():
        kept = walk(value, (str(key),))
        if kept is not _SCORE and kept is not _EMPTY:
            info[key] = kept
    return scores, info


_SCORE = object()
_EMPTY = object()


def nest_result(scores: Mapping[str, float], info: Mapping[str, Any]) -> dict[str, Any]:
    """The nested result that :func:`split_result` split: ``{query: {...}, "info": ...}``.

    Examples
    --------
    >>> nest_result({"text/pearson": 0.5, "text/per/a": 0.1}, {"text": {"n_pairs": 3}})
    {'text': {'pearson': 0.5, 'per': {'a': 0.1}, 'n_pairs': 3}}
    """
    out: dict[str, Any] = {}
    for key, value in scores.items():
        *parents, leaf = key.split("/")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    def merge(into: dict, extra: Mapping) -> None:
        for key, value in extra.items():
            if isinstance(value, Mapping) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(out, info)
    return out


# --------------------------------------------------------------------------------------------
# Documentation of the settings (for the command line)
# --------------------------------------------------------------------------------------------
_PARAM = re.compile(r"^(\w+(?:, \w+)*) :")


def parameter_docs(cls: type) -> dict[str, str]:
    """The first sentence of each parameter's description in ``cls``'s numpydoc docstring.

    Examples
    --------
    >>> class A:
    ...     '''Title.
    ...
    ...     Parameters
    ...     ----------
    ...     n_words : int, default=10
    ...         Words to sample. More is slower.
    ...     '''
    >>> parameter_docs(A)
    {'n_words': 'Words to sample'}
    """
    doc = inspect.getdoc(cls) or ""
    lines = doc.splitlines()
    try:
        start = lines.index("Parameters") + 2
    except ValueError:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        sentence = " ".join(text).split(". ")[0].rstrip(".")
        for name in names:
            out.setdefault(name, sentence)

    for i in range(start, len(lines)):
        line = lines[i]
        if line and not line.startswith(" "):
            if i + 1 < len(lines) and lines[i + 1].startswith("---"):
                break  # the next section
            flush()
            match = _PARAM.match(line)
            names = match.group(1).split(", ") if match else []
            text = []
        elif line.strip():
            text.append(line.strip())
    flush()
    return out
