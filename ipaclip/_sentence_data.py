"""Sentence data for :mod:`ipaclip.datasets`: CLIP's ImageNet prompts and composed captions.

Two kinds of text, kept apart in the names and the docstrings:

* **real** text: the 1,000 ImageNet class names and the 80 prompt templates that CLIP's
  zero-shot classification uses (``open_clip.zero_shot_metadata``, in the ``open_clip_torch``
  wheel): :func:`imagenet_classnames`, :func:`imagenet_templates`, and their seeded split
  into seen/unseen classes and training/held-out templates, :func:`prompt_split`;
* **composed** text: :func:`composed_captions`, captions drawn from a small hand-written
  grammar (``ipaclip/data/caption_grammar.csv``), not sentences anyone wrote.

No caption corpus ships offline through PyPI with a licence to use it (see
``ipaclip/data/README.md``), hence the composed captions. Nothing here imports torch (the
prompts are read from open_clip's wheel without importing the ``open_clip`` package).
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from numbers import Integral
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np

from ipaclip._validation import Interval, StrOptions, check_params

__all__ = [
    "CAPTION_HELDOUT_FRACTION",
    "PromptSplit",
    "composed_captions",
    "imagenet_classnames",
    "imagenet_templates",
    "prompt_split",
    "sentence_mix",
]

_SEED = [Interval(Integral, 0, None, closed="left"), None]


def imagenet_classnames() -> list[str]:
    """The 1,000 ImageNet class names that CLIP's zero-shot classification prompts with.

    Real text: ``open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES`` from the
    ``open_clip_torch`` wheel (a dependency of ipaclip), the readable names OpenAI wrote for
    CLIP's ImageNet evaluation (Radford et al., 2021; open_clip is MIT-licensed). In
    ImageNet's class order (position = ImageNet label). Two names stand for two classes
    each (``"crane"``: the bird and the machine; ``"maillot"``), so 998 are distinct.

    Returns
    -------
    list of str

    Examples
    --------
    >>> names = imagenet_classnames()
    >>> len(names), len(set(names)), names[:2]
    (1000, 998, ['tench', 'goldfish'])
    """
    return list(_zero_shot_metadata().IMAGENET_CLASSNAMES)


def imagenet_templates() -> list[str]:
    """CLIP's 80 ImageNet prompt templates, as format strings with one ``{}``.

    Real text: ``open_clip.zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES``, the 80 templates
    of CLIP's prompt ensemble for ImageNet (Radford et al., 2021). open_clip ships them as
    callables (``lambda c: f"a bad photo of a {c}."``); each is returned here as that
    callable applied to ``"{}"``, so ``template.format(name)`` is the prompt CLIP uses. In
    open_clip's order.

    Returns
    -------
    list of str

    Examples
    --------
    >>> templates = imagenet_templates()
    >>> len(templates), templates[0], templates[0].format("goldfish")
    (80, 'a bad photo of a {}.', 'a bad photo of a goldfish.')
    """
    callables = _zero_shot_metadata().OPENAI_IMAGENET_TEMPLATES
    out = [template("{}") for template in callables]
    for template, fn in zip(out, callables):
        if template.count("{}") != 1 or template.format("x y") != fn("x y"):
            raise RuntimeError(
                f"open_clip's ImageNet template {template!r} is not a plain f-string of the "
                "class name; imagenet_templates() needs updating for this open_clip release."
            )
    return out


@functools.cache
def _zero_shot_metadata() -> ModuleType:
    """``open_clip.zero_shot_metadata``, read from the installed wheel without importing the
    ``open_clip`` package (which imports torch): the file is plain Python data."""
    if "open_clip.zero_shot_metadata" in sys.modules:
        return sys.modules["open_clip.zero_shot_metadata"]
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "CLIP's ImageNet prompts come from the open_clip_torch package (a dependency of "
            "ipaclip): pip install open_clip_torch."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "zero_shot_metadata.py"
    module_spec = importlib.util.spec_from_file_location("_ipaclip_zero_shot_metadata", path)
    if module_spec is None or module_spec.loader is None or not path.is_file():
        raise ImportError(
            f"open_clip_torch has no {path.name}; ipaclip needs open_clip_torch>=2.24."
        )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class PromptSplit:
    """A seeded split of CLIP's ImageNet prompts (made by :func:`prompt_split`).

    Attributes
    ----------
    seen_classes, unseen_classes : tuple of str
        Disjoint sets of distinct class names, each in ImageNet order; training uses the
        seen ones only.
    train_templates, heldout_templates : tuple of str
        Disjoint sets of templates (format strings, :func:`imagenet_templates`), each in
        open_clip's order; training uses the training ones only.
    random_state : int or None
        The seed the split was drawn with.
    """

    seen_classes: tuple[str, ...]
    unseen_classes: tuple[str, ...]
    train_templates: tuple[str, ...]
    heldout_templates: tuple[str, ...]
    random_state: int | None

    def prompts(
        self,
        classes: Literal["seen", "unseen", "all"] = "seen",
        templates: Literal["train", "heldout"] = "train",
    ) -> list[str]:
        """Every chosen class under every chosen template, template by template.

        ``prompts()`` is the training set (seen classes x training templates);
        ``prompts("all", "heldout")`` is every distinct class under the held-out templates.

        Examples
        --------
        >>> split = prompt_split(n_unseen_classes=2, n_heldout_templates=1)
        >>> len(split.prompts()), len(split.prompts("unseen", "heldout"))
        (78684, 2)
        """
        check_params(
            {
                "classes": [StrOptions({"seen", "unseen", "all"})],
                "templates": [StrOptions({"train", "heldout"})],
            },
            {"classes": classes, "templates": templates},
            "PromptSplit.prompts",
        )
        names = {
            "seen": self.seen_classes,
            "unseen": self.unseen_classes,
            "all": tuple(sorted(self.seen_classes + self.unseen_classes, key=_imagenet_order)),
        }[classes]
        chosen = self.train_templates if templates == "train" else self.heldout_templates
        return [template.format(name) for template in chosen for name in names]


def _imagenet_order(name: str) -> int:
    return _first_index()[name]


@functools.cache
def _first_index() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, name in enumerate(imagenet_classnames()):
        out.setdefault(name, i)
    return out


def prompt_split(
    random_state: int | None = 0,
    *,
    n_unseen_classes: int = 200,
    n_heldout_templates: int = 10,
) -> PromptSplit:
    """Seeded, disjoint seen/unseen classes and training/held-out templates of CLIP's prompts.

    The split is over the 998 distinct class names (a name that stands for two ImageNet
    classes is on one side only) and the 80 templates: ``rng =
    np.random.default_rng(random_state)`` permutes the names, whose first
    ``n_unseen_classes`` are unseen, then the templates, whose first ``n_heldout_templates``
    are held out. The defaults give a training set of 798 classes x 70 templates (55,860
    prompts) and 10 held-out templates, the sizes of issue 19's measurement. The split is
    the contract between training and evaluation: an evaluator told the same
    ``random_state`` and sizes scores against the same sides.

    Parameters
    ----------
    random_state : int or None, default=0
        Seed of the split (``None``: a fresh, unrepeatable one).
    n_unseen_classes : int, default=200
        Class names kept out of training (1 to 997).
    n_heldout_templates : int, default=10
        Templates kept out of training (1 to 79).

    Returns
    -------
    PromptSplit

    Examples
    --------
    >>> split = prompt_split(random_state=0)
    >>> len(split.seen_classes), len(split.unseen_classes)
    (798, 200)
    >>> len(split.train_templates), len(split.heldout_templates)
    (70, 10)
    >>> set(split.seen_classes) & set(split.unseen_classes)
    set()
    """
    check_params(
        {
            "random_state": _SEED,
            "n_unseen_classes": [Interval(Integral, 1, 997, closed="both")],
            "n_heldout_templates": [Interval(Integral, 1, 79, closed="both")],
        },
        {
            "random_state": random_state,
            "n_unseen_classes": n_unseen_classes,
            "n_heldout_templates": n_heldout_templates,
        },
        "prompt_split",
    )
    names = list(_first_index())  # distinct, in ImageNet order
    templates = imagenet_templates()
    rng = np.random.default_rng(random_state)
    unseen = set(rng.permutation(len(names))[: int(n_unseen_classes)].tolist())
    heldout = set(rng.permutation(len(templates))[: int(n_heldout_templates)].tolist())
    return PromptSplit(
        seen_classes=tuple(n for i, n in enumerate(names) if i not in unseen),
        unseen_classes=tuple(n for i, n in enumerate(names) if i in unseen),
        train_templates=tuple(t for i, t in enumerate(templates) if i not in heldout),
        heldout_templates=tuple(t for i, t in enumerate(templates) if i in heldout),
        random_state=None if random_state is None else int(random_state),
    )


# --------------------------------------------------------------------------------------------
# Composed captions
# --------------------------------------------------------------------------------------------
#: The share of the grammar's captions that belong to the held-out split.
CAPTION_HELDOUT_FRACTION = 0.1
_HELDOUT_BUCKETS = 10  # crc32(caption) % 10 == 0: held out
_DRAWS = 4096  # captions drawn per round: fixed, so a sample is a prefix of a larger one
_P_ADJECTIVE = 0.7
_P_TIME = 0.3


@functools.cache
def _grammar() -> dict[str, tuple[tuple[str, str], ...]]:
    text = resources.files("ipaclip").joinpath("data/caption_grammar.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    slots: dict[str, list[tuple[str, str]]] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        slots.setdefault(row["slot"], []).append((row["text"], row["plural"] or ""))
    return {slot: tuple(rows) for slot, rows in slots.items()}


def _caption_split(caption: str) -> str:
    held = zlib.crc32(caption.encode("utf-8")) % _HELDOUT_BUCKETS == 0
    return "heldout" if held else "train"


def _compose(g: dict, rng: np.random.Generator) -> list[str]:
    def pick(slot: str) -> np.ndarray:
        return rng.integers(len(g[slot]), size=_DRAWS)

    count, adjective, noun, verb, place, time = (
        pick(s) for s in ("count", "adjective", "noun", "verb", "place", "time")
    )
    has_adjective = rng.random(_DRAWS) < _P_ADJECTIVE
    has_time = rng.random(_DRAWS) < _P_TIME
    out = []
    for i in range(_DRAWS):
        det, plural = g["count"][count[i]]
        singular, plural_form = g["noun"][noun[i]]
        words = [g["adjective"][adjective[i]][0]] if has_adjective[i] else []
        words.append(plural_form if plural else singular)
        if det == "a" and words[0][0] in "aeiou":
            det = "an"
        words = [det, *words, g["verb"][verb[i]][0], g["place"][place[i]][0]]
        if has_time[i]:
            words.append(g["time"][time[i]][0])
        out.append(" ".join(words))
    return out


def composed_captions(
    n: int = 1000,
    random_state: int | None = 0,
    *,
    split: Literal["train", "heldout"] = "train",
) -> list[str]:
    """``n`` distinct captions composed from a small hand-written grammar (not real text).

    Each caption is a count, an optional adjective, a noun (plural after a plural count), a
    verb, a place and an optional time: "two small dogs running along the beach", "a sleepy
    surfer waiting in front of a house". The grammar (``ipaclip/data/caption_grammar.csv``:
    12 counts, 30 adjectives, 45 nouns, 20 verbs, 30 places, 8 times; 6 to 17 words, 8.6 on
    average) was written for ipaclip; the captions are *composed*, plausible in form but
    not sentences that anyone wrote, and their vocabulary is small. Use them to train and
    test that an encoder hears word order and sentence length, not as a stand-in for a
    caption corpus's variety.

    The two splits never share a caption, whatever ``n`` and ``random_state``: a caption is
    held out when the CRC-32 of its text is divisible by 10 (about
    :data:`CAPTION_HELDOUT_FRACTION` of the grammar's captions). They do share words and
    patterns. A sample is drawn in fixed rounds, so with the same ``random_state`` a smaller
    sample is the start of a larger one.

    Parameters
    ----------
    n : int, default=1000
        Captions to return (1 to 1,000,000), all distinct.
    random_state : int or None, default=0
        Seed of the draw (``None``: a fresh, unrepeatable one).
    split : {"train", "heldout"}, default="train"
        Which side of the fixed split to draw from.

    Returns
    -------
    list of str

    Examples
    --------
    >>> composed_captions(2, random_state=0)
    ['a pair of fluffy musicians hiding in the backyard', 'many girls racing next to a red car']
    >>> train, test = composed_captions(500), composed_captions(500, split="heldout")
    >>> set(train) & set(test)
    set()
    """
    check_params(
        {
            "n": [Interval(Integral, 1, 1_000_000, closed="both")],
            "random_state": _SEED,
            "split": [StrOptions({"train", "heldout"})],
        },
        {"n": n, "random_state": random_state, "split": split},
        "composed_captions",
    )
    grammar = _grammar()
    rng = np.random.default_rng(random_state)
    out: dict[str, None] = {}
    while len(out) < n:
        for caption in _compose(grammar, rng):
            if _caption_split(caption) == split:
                out.setdefault(caption)
                if len(out) == n:
                    break
    return list(out)


# --------------------------------------------------------------------------------------------
# The training mix
# --------------------------------------------------------------------------------------------
def sentence_mix(
    words: Sequence[str] = (),
    split: PromptSplit | None = None,
    *,
    n_prompts: int = 4000,
    n_word_prompts: int = 2000,
    n_captions: int = 500,
    random_state: int | None = 0,
) -> list[str]:
    """The sentences the default recipe was chosen with, to train beside ``words``.

    Three parts, in this order (issue 19's sentence study, README *Sentences*):

    * ``n_prompts`` prompts of the split's *seen* classes under its *training* templates
      (``split.prompts()``, a seeded sample; real text);
    * ``n_word_prompts`` of ``words``, each under one random training template ("a photo
      of a kettle."), so that a template is learned around many words, not only around the
      class names (real templates around your words);
    * ``n_captions`` composed captions of the training side (:func:`composed_captions`;
      composed, not real text).

    Pass the words themselves to the fit as well: the mix holds sentences only. With
    ``n_word_prompts > len(words)`` every word is used once.

    Parameters
    ----------
    words : sequence of str, default=()
        The training words (spellings) to put into templates.
    split : PromptSplit, optional
        Which classes and templates training may use; default ``prompt_split(0)``, the split
        that :class:`~ipaclip.evaluation.ZeroShotPromptEvaluator` scores by default (its
        held-out templates and unseen classes never appear here).
    n_prompts, n_word_prompts, n_captions : int, default=4000, 2000, 500
        Sizes of the three parts (0 leaves a part out). Chosen on the sentence study's dev
        split for the 10-minute budget of the demo (2 cores, 256 x 4, 8 epochs, about
        19,000 words): 6,000 / 3,000 / 2,000 scored a little higher but its 8 epochs take
        about 11 minutes; 500 captions score as 1,000 did (0.998 vs 1.000) at 30 s less.
    random_state : int or None, default=0
        Seed of every draw.

    Returns
    -------
    list of str

    Examples
    --------
    >>> mix = sentence_mix(["kettle", "violin"], n_prompts=2, n_word_prompts=2, n_captions=1)
    >>> len(mix), sum("kettle" in s or "violin" in s for s in mix[2:4])
    (5, 2)
    """
    check_params(
        {
            "n_prompts": [Interval(Integral, 0, None, closed="left")],
            "n_word_prompts": [Interval(Integral, 0, None, closed="left")],
            "n_captions": [Interval(Integral, 0, 1_000_000, closed="both")],
            "random_state": _SEED,
        },
        {
            "n_prompts": n_prompts,
            "n_word_prompts": n_word_prompts,
            "n_captions": n_captions,
            "random_state": random_state,
        },
        "sentence_mix",
    )
    if isinstance(words, str):
        raise TypeError(
            f"words must be a sequence of words, not one string ({words[:40]!r}); wrap it in a "
            "list."
        )
    split = prompt_split(0) if split is None else split
    rng = np.random.default_rng(random_state)
    seen = split.prompts()
    prompts = [seen[i] for i in rng.permutation(len(seen))[:n_prompts]]
    templates = split.train_templates
    chosen = rng.permutation(len(words))[:n_word_prompts]
    word_prompts = [templates[rng.integers(len(templates))].format(words[i]) for i in chosen]
    captions = composed_captions(n_captions, random_state) if n_captions else []
    return prompts + word_prompts + captions
