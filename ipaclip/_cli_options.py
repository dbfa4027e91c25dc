"""The command line's generated options, stored so that ``--help`` needs neither torch nor sklearn.

``ipaclip fit``'s estimator options come from ``PronunciationEncoder(recipe=Recipe())
.get_params(deep=True)`` and the two classes' numpydoc descriptions; ``ipaclip evaluate``'s
tasks and settings from the evaluator registry
(:func:`ipaclip.evaluation.suite.evaluator_settings`). Importing those takes seconds (torch,
sklearn), so :func:`describe_options` runs once, when they change, and its result is stored
in ``ipaclip/data/cli_options.json`` (:func:`stored_options`). :func:`load_options` reads
it, except for the parts whose modules this process has imported already (a program that
registered its own evaluator, say): those are read live, at no cost. A test checks that the
stored table equals the live one; regenerate it with ``python -m ipaclip._cli_options``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

__all__ = [
    "OPTIONS_FILE",
    "describe_options",
    "first_sentence",
    "load_options",
    "stored_options",
    "write_options",
]

OPTIONS_FILE = Path(__file__).parent / "data" / "cli_options.json"

#: Estimator parameters that are objects, not command-line values.
_NOT_OPTIONS = ("recipe", "callbacks")

_PARAM = re.compile(r"^(\w+(?:, \w+)*) : (.*)$")
_ROLE = re.compile(r":\w+:`~?([^`<]+?)(?: <[^>]+>)?`")


def _plain(text: str) -> str:
    """reStructuredText markup removed: ``:class:`~a.B``` gives ``B``, double backquotes go."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return text.replace("``", "")


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (up to the first ``". "``), without its full stop; two
    when the first is a fragment under 20 characters.

    Examples
    --------
    >>> first_sentence("Peak learning rate of AdamW. Warm-up first.")
    'Peak learning rate of AdamW'
    >>> first_sentence("0: none. Otherwise n-grams of orders 2 .. ngrams. More text.")
    '0: none. Otherwise n-grams of orders 2 .. ngrams'
    """
    sentences = re.split(r"(?<!\.)\. ", text.strip())
    keep = 2 if len(sentences[0]) < 20 else 1
    return ". ".join(sentences[:keep]).removesuffix(".")


def _numpydoc_parameters(doc: str) -> dict[str, tuple[str, str]]:
    """``name -> (type spec, description)`` from a numpydoc ``Parameters`` section."""
    lines = doc.splitlines()
    try:
        start = lines.index("Parameters") + 2
    except ValueError:
        return {}
    out: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    spec, text = "", []
    for i in range(start, len(lines) + 1):
        line = lines[i] if i < len(lines) else ""
        ends = i == len(lines) or (
            line and not line.startswith(" ") and i + 1 < len(lines) and lines[i + 1][:3] == "---"
        )
        if ends or (line and not line.startswith(" ")):
            for name in names:
                out.setdefault(name, (spec, " ".join(text)))
            if ends:
                break
            match = _PARAM.match(line)
            names, spec = (match.group(1).split(", "), match.group(2)) if match else ([], "")
            text = []
        elif line.strip():
            text.append(line.strip())
    return out


def describe_options(parts: tuple[str, ...] = ("fit", "evaluate")) -> dict:
    """The live option table (imports the estimator and the evaluator registry: seconds).

    Returns
    -------
    dict
        ``{"fit": [{"name", "default", "help"}, ...], "evaluate": {"tasks": [...],
        "settings": [{"name", "default", "help"}, ...]}}``. ``fit``'s help is the first
        sentence of the parameter's numpydoc description (its type when it has none); a
        ``bool`` default makes a ``--flag/--no-flag`` option.
    """
    out: dict = {}
    if "fit" in parts:
        out["fit"] = _fit_options()
    if "evaluate" in parts:
        from ipaclip.evaluation.evaluator import registry
        from ipaclip.evaluation.suite import evaluator_settings

        settings = [
            {"name": name, "default": default, "help": text}
            for name, (default, text) in evaluator_settings().items()
        ]
        out["evaluate"] = {"tasks": list(registry()), "settings": settings}
    return out


def _fit_options() -> list[dict]:
    import inspect

    from ipaclip.estimator import PronunciationEncoder
    from ipaclip.recipe import Recipe

    docs = _numpydoc_parameters(inspect.getdoc(PronunciationEncoder) or "")
    recipe_docs = _numpydoc_parameters(inspect.getdoc(Recipe) or "")
    fit = []
    for name, default in PronunciationEncoder(recipe=Recipe()).get_params(deep=True).items():
        if name in _NOT_OPTIONS:
            continue
        spec, text = (recipe_docs if name.startswith("recipe__") else docs).get(
            name.removeprefix("recipe__"), ("", "")
        )
        help_text = _plain(first_sentence(text)) if text else ""
        if not help_text:
            kind = _plain(spec.split(", default")[0])
            help_text = name.removeprefix("recipe__").replace("_", " ") + (
                f" ({kind})" if kind else ""
            )
        fit.append({"name": name, "default": default, "help": help_text})
    return fit


def stored_options() -> dict:
    """The option table stored in :data:`OPTIONS_FILE` (see :func:`describe_options`)."""
    return json.loads(OPTIONS_FILE.read_text("utf-8"))


#: The modules each part of the table is read from.
_SOURCES = {
    "fit": ("ipaclip.estimator", "ipaclip.recipe"),
    "evaluate": ("ipaclip.evaluation.evaluator", "ipaclip.evaluation.suite"),
}


def load_options() -> dict:
    """The option table: live for the parts whose modules are imported already, else stored.

    Cheap either way: a fresh ``ipaclip --help`` reads the stored table; a process that has
    imported the estimator or the evaluators (and perhaps registered an evaluator of its
    own) gets their live options.
    """
    live = tuple(k for k, mods in _SOURCES.items() if all(m in sys.modules for m in mods))
    options = stored_options() if len(live) < len(_SOURCES) else {}
    return {**options, **(describe_options(live) if live else {})}


def write_options() -> Path:
    """Store :func:`describe_options` in :data:`OPTIONS_FILE` (atomically); returns its path."""
    from ipaclip._io import write_atomic

    text = json.dumps(describe_options(), indent=1, ensure_ascii=False) + "\n"
    write_atomic(OPTIONS_FILE, text.encode("utf-8"))
    return OPTIONS_FILE


if __name__ == "__main__":  # pragma: no cover
    print(f"wrote {write_options()}")
