"""Text to IPA: :class:`IPATransformer` and its grapheme-to-phoneme backends.

The default backend is espeak-ng through ``phonemizer``, with the shared library and voice data
that the ``espeakng-loader`` wheel bundles, so no system package is needed. ``epitran`` (rule
based) and ``"ipa"`` (input that is already IPA, validated) are the alternatives, and a user
lexicon is consulted before any backend.

What is removed from a text before G2P (punctuation, by default) is counted, never silently
dropped; what cannot be pronounced (emoji, symbols) is an error that names the item.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import logging
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin

from ipaclip._validation import (
    Integral,
    Interval,
    InvalidParameterError,
    ParamsMixin,
    StrOptions,
    check_string_items,
    describe_item,
)

__all__ = ["IPATransformer", "available_languages", "resolve_g2p"]

logger = logging.getLogger(__name__)

BACKENDS = ("espeak", "epitran", "ipa")
_FLAG_RE = re.compile(r"\([^()\s]*\)")
_WORD_RE = re.compile(r"[^\W\d_](?:[\w\u0300-\u036f'’-]*[^\W_])?|\d+", re.UNICODE)
_SAFE_RE = re.compile(r"[^\w\s]|[\d_]")
_WORD_JOINERS = "'’-"

# Phonemised texts, per backend configuration (bounded; cleared when full).
_CACHE: dict[tuple, dict[str, str]] = {}
_CACHE_LOCK = threading.Lock()
# One espeak engine per process (cached below) is not thread-safe: threads take turns.
_ESPEAK_LOCK = threading.Lock()
CACHE_SIZE = 200_000
# phonemizer warns about word-count mismatches and kept flags on every call; ipaclip counts
# language switches itself, so only its errors are shown.
_PHONEMIZER_LOGGER = logging.getLogger("ipaclip.g2p.phonemizer")
_PHONEMIZER_LOGGER.setLevel(logging.ERROR)


# --------------------------------------------------------------------------------------------
# espeak-ng
# --------------------------------------------------------------------------------------------
@functools.cache
def _espeak_ready() -> None:
    """Point phonemizer at the espeak-ng library and data bundled by espeakng-loader."""
    try:
        import espeakng_loader
        from phonemizer.backend.espeak.wrapper import EspeakWrapper
    except ImportError as exc:  # pragma: no cover - both are install requirements
        raise ImportError(
            "The espeak backend needs 'phonemizer' and 'espeakng-loader': "
            "pip install phonemizer espeakng-loader"
        ) from exc
    if not os.environ.get("PHONEMIZER_ESPEAK_LIBRARY"):
        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())


@functools.cache
def _espeak_languages() -> dict[str, str]:
    _espeak_ready()
    from phonemizer.backend import EspeakBackend

    return dict(sorted(EspeakBackend.supported_languages().items()))


@functools.cache
def _epitran_languages() -> dict[str, str]:
    try:
        import epitran
    except ImportError as exc:
        raise ImportError(
            "The epitran backend needs 'epitran': pip install 'ipaclip[epitran]'"
        ) from exc
    folder = Path(epitran.__file__).parent / "data" / "map"
    codes = {p.stem for p in folder.glob("*.csv")}
    # Languages with their own backend have no map file (English needs flite's lex_lookup).
    try:
        from epitran._epitran import SPECIAL_LANGUAGE_BACKENDS
    except ImportError:  # pragma: no cover - older epitran
        SPECIAL_LANGUAGE_BACKENDS = {"eng-Latn": None}
    codes.update(SPECIAL_LANGUAGE_BACKENDS)
    return {code: code for code in sorted(codes)}


def available_languages(backend: str = "espeak") -> dict[str, str]:
    """Language codes a backend accepts, mapped to their names.

    Parameters
    ----------
    backend : {"espeak", "epitran"}

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> langs = available_languages()
    >>> "en-us" in langs and "fr-fr" in langs and len(langs) > 100
    True
    """
    if backend == "espeak":
        return dict(_espeak_languages())
    if backend == "epitran":
        return dict(_epitran_languages())
    raise ValueError(f"backend={backend!r} has no language list; use 'espeak' or 'epitran'.")


def _check_language(backend: str, language: str, caller: str) -> None:
    langs = available_languages(backend)
    if language not in langs:
        close = difflib.get_close_matches(language, list(langs), n=5, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InvalidParameterError(
            f"Unknown language {language!r} for the {backend} backend (parameter language of "
            f"{caller}).{hint} ipaclip.available_languages({backend!r}) lists all {len(langs)}."
        )


@functools.cache
def _espeak_backend(language: str, with_stress: bool, tie: bool):
    _espeak_ready()
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(
        language,
        with_stress=with_stress,
        tie=tie,
        language_switch="keep-flags",
        logger=_PHONEMIZER_LOGGER,
    )


@functools.cache
def _epitran_backend(language: str):
    import epitran

    try:
        backend = epitran.Epitran(language)
        backend.transliterate("a")
    except Exception as exc:  # epitran raises KeyError/OSError when flite is missing
        raise RuntimeError(
            f"epitran cannot load {language!r} here ({type(exc).__name__}: {exc}). "
            "Some epitran languages (English among them) need the 'flite' lex_lookup binary; "
            "use backend='espeak' for those."
        ) from exc
    return backend


def _g2p_chunk(config: tuple, texts: list[str]) -> list[str]:
    """Phonemise a chunk of cleaned texts with one backend (runs in joblib workers)."""
    backend, language, with_stress, tie = config
    if backend == "espeak":
        from phonemizer.separator import Separator

        engine = _espeak_backend(language, with_stress, tie)
        with _ESPEAK_LOCK:
            return engine.phonemize(texts, separator=Separator(word=" ", phone=""), strip=True)
    engine = _epitran_backend(language)
    return [" ".join(engine.transliterate(w) for w in t.split()) for t in texts]


# --------------------------------------------------------------------------------------------
# The transformer
# --------------------------------------------------------------------------------------------
class IPATransformer(ParamsMixin, TransformerMixin, BaseEstimator):
    """Transcribe texts (words or whole captions) into IPA.

    Parameters
    ----------
    backend : {"espeak", "epitran", "ipa"}, default="espeak"
        ``"espeak"``: espeak-ng via phonemizer, with the library bundled by espeakng-loader
        (more than 100 languages, no system package). ``"epitran"``: rule-based epitran, for
        the languages it supports without a system binary. ``"ipa"``: the input already is
        IPA; it is passed through after checking that every symbol is known.
    language : str, default="en-us"
        A language code of the backend: an espeak voice (``available_languages()``) or an
        epitran code such as ``"deu-Latn"`` (``available_languages("epitran")``).
    lexicon : dict, str or Path, default=None
        Word to IPA pronunciations consulted before the backend (case-insensitive). A path may
        name a JSON object or a two-column TSV/CSV file (word, IPA). Words it lacks go to the
        backend, phrase by phrase, so context is kept around them.
    with_stress : bool, default=True
        Keep primary (ˈ) and secondary (ˌ) stress marks.
    tie : bool, default=True
        Ask espeak to tie the letters of one phoneme (t͡ʃ, a͡ɪ). Affricates then become single
        segments downstream; ties between symbols that PanPhon keeps separate (diphthongs) are
        removed and counted by :class:`~ipaclip.PhonemeEmbedder`.
    word_separator : str, default=" "
        What separates words in the output. Downstream word-boundary handling expects
        whitespace; use another string only for display.
    numbers : {"expand", "raise"}, default="expand"
        ``"expand"`` lets the backend read digits as number words in the language (``"42"`` →
        /fɔːɹti tuː/); ``"raise"`` rejects items with digits.
    punctuation : {"strip", "raise"}, default="strip"
        Punctuation carries no phonemes: ``"strip"`` removes it (apostrophes and hyphens inside
        words are kept) and counts what was removed in ``report_``; ``"raise"`` rejects it.
    symbols : {"raise", "strip"}, default="raise"
        Emoji and other symbols (``unicodedata`` categories S* and C*) are errors by default;
        ``"strip"`` removes and counts them.
    language_switch : {"warn", "raise", "ignore"}, default="warn"
        espeak switches voice for words it reads in another language (or script it cannot
        read, which it spells in English). The switch flags are always removed from the IPA;
        this says whether to log a warning, raise, or stay silent (they are counted anyway).
    n_jobs : int, default=None
        Parallel G2P through joblib (``None`` means 1). A joblib backend set by the user
        (``joblib.parallel_backend("dask")``, ray) distributes the work unchanged.
    batch_size : int, default=4096
        Texts per backend call and per joblib task.
    cache : bool, default=True
        Memoise transcriptions per configuration within the process (bounded), so repeated
        texts cost nothing.

    Attributes
    ----------
    report_ : dict
        Set by ``fit_transform``: counts of items, unique texts, lexicon hits, stripped
        punctuation and symbols (by character) and language switches.

    Examples
    --------
    >>> g2p = IPATransformer()
    >>> g2p.fit_transform(["knight", "night", "a black cat"])
    ['nˈa͡ɪt', 'nˈa͡ɪt', 'ɐ blˈæk kˈæt']
    """

    _parameter_constraints = {
        "backend": [StrOptions(set(BACKENDS))],
        "lexicon": [Mapping, str, os.PathLike, None],
        "with_stress": ["boolean"],
        "tie": ["boolean"],
        "word_separator": [str],
        "numbers": [StrOptions({"expand", "raise"})],
        "punctuation": [StrOptions({"strip", "raise"})],
        "symbols": [StrOptions({"raise", "strip"})],
        "language_switch": [StrOptions({"warn", "raise", "ignore"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache": ["boolean"],
    }

    def __init__(
        self,
        backend: str = "espeak",
        *,
        language: str = "en-us",
        lexicon: Mapping[str, str] | str | os.PathLike | None = None,
        with_stress: bool = True,
        tie: bool = True,
        word_separator: str = " ",
        numbers: str = "expand",
        punctuation: str = "strip",
        symbols: str = "raise",
        language_switch: str = "warn",
        n_jobs: int | None = None,
        batch_size: int = 4096,
        cache: bool = True,
    ) -> None:
        self.backend = backend
        self.language = language
        self.lexicon = lexicon
        self.with_stress = with_stress
        self.tie = tie
        self.word_separator = word_separator
        self.numbers = numbers
        self.punctuation = punctuation
        self.symbols = symbols
        self.language_switch = language_switch
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.cache = cache

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags

    # -- parameters ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        # What a constraint table cannot say: a separator must not be empty, and the
        # language must be one the backend knows.
        if not self.word_separator:
            raise InvalidParameterError(
                f"word_separator must be a non-empty str; got {self.word_separator!r} "
                "(parameter of IPATransformer)."
            )
        if self.backend != "ipa":
            _check_language(self.backend, self.language, type(self).__name__)

    def _config(self) -> tuple:
        return (self.backend, self.language, bool(self.with_stress), bool(self.tie))

    @functools.cached_property
    def _lexicon_map(self) -> dict[str, str]:
        return _load_lexicon(self.lexicon)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_lexicon_map", None)
        return state

    def __setattr__(self, name, value):
        # set_params must invalidate the parsed lexicon.
        if name == "lexicon":
            self.__dict__.pop("_lexicon_map", None)
        super().__setattr__(name, value)

    # -- sklearn API -----------------------------------------------------------------------
    def fit(self, X=None, y=None):
        """Check the parameters and load the backend; learns nothing from ``X``."""
        self._validate_params()
        if self.backend == "espeak":
            _espeak_backend(*self._config()[1:])
        elif self.backend == "epitran":
            _epitran_backend(self.language)
        return self

    def fit_transform(self, X, y=None, **fit_params) -> list[str]:
        """Fit, transcribe ``X``, and keep the counts of this call in ``report_``."""
        self.fit(X)
        out, self.report_ = self._transcribe(X)
        return out

    def transform(self, X) -> list[str]:
        """Transcribe ``X`` (an iterable of str) into a list of IPA strings."""
        self._validate_params()
        out, _ = self._transcribe(X)
        return out

    def get_feature_names_out(self, input_features=None):
        import numpy as np

        return np.asarray(["ipa"], dtype=object)

    # -- work ------------------------------------------------------------------------------
    def _transcribe(self, X) -> tuple[list[str], dict]:
        items = check_string_items(X)
        report: dict = {
            "n_items": len(items),
            "n_unique": 0,
            "lexicon_hits": 0,
            "stripped": Counter(),
            "language_switches": 0,
        }
        if self.backend == "ipa":
            return self._passthrough(items), report

        unique = list(dict.fromkeys(items))
        report["n_unique"] = len(unique)
        first: dict[str, int] = {}  # first index of each text, for messages
        for i, text in enumerate(items):
            first.setdefault(text, i)

        cleaned = {text: self._prepare(text, first[text], report) for text in unique}
        ipa_of = self._phonemize(list(dict.fromkeys(cleaned.values())), report)

        lexicon = self._lexicon_map
        sep = self.word_separator
        result: dict[str, str] = {}
        for text, phrase in cleaned.items():
            words = ipa_of[phrase].split()
            if lexicon:
                words = self._apply_lexicon(phrase, words, report)
            if not words:
                raise ValueError(
                    f"Item {first[text]} ({describe_item(text)}): the {self.backend} backend "
                    f"produced no phonemes for language {self.language!r}."
                )
            result[text] = sep.join(words)
        if report["stripped"]:
            logger.info("Removed before G2P (not pronounced): %s", dict(report["stripped"]))
        return [result[t] for t in items], report

    def _prepare(self, text: str, index: int, report: dict) -> str:
        """Clean one text (see ``punctuation``, ``symbols``, ``numbers``) for the backend."""
        text = unicodedata.normalize("NFC", text)
        if _SAFE_RE.search(text):
            text = self._clean(text, index, report)
        return " ".join(text.split())

    def _apply_lexicon(self, phrase: str, words: list[str], report: dict) -> list[str]:
        """Put lexicon pronunciations in place of the backend's, word by word.

        The backend reads the whole phrase, so the words around a lexicon entry keep their
        context (an isolated "a" would be read as the letter). Where the backend's word count
        differs from the text's (numbers read as several words), the phrase is read again in
        runs between the lexicon words.
        """
        lexicon = self._lexicon_map
        tokens = phrase.split()
        hits = [i for i, w in enumerate(tokens) if w.lower() in lexicon]
        if not hits:
            return words
        report["lexicon_hits"] += len(hits)
        if len(words) == len(tokens):
            return [
                lexicon[t.lower()] if i in hits else w
                for i, (t, w) in enumerate(zip(tokens, words))
            ]
        out: list[str] = []
        run: list[str] = []
        runs: list[str] = []
        layout: list[tuple[bool, str]] = []
        for t in tokens + [None]:
            if t is None or t.lower() in lexicon:
                if run:
                    runs.append(" ".join(run))
                    layout.append((False, runs[-1]))
                    run = []
                if t is not None:
                    layout.append((True, lexicon[t.lower()]))
            else:
                run.append(t)
        ipa_runs = self._phonemize(runs, report) if runs else {}
        for from_lexicon, value in layout:
            out.extend([value] if from_lexicon else ipa_runs[value].split())
        return out

    def _clean(self, text: str, index: int, report: dict) -> str:
        chars = list(text)
        n = len(chars)
        for i, ch in enumerate(chars):
            if ch.isspace():
                continue
            cat = unicodedata.category(ch)
            if cat[0] in "LM":
                continue
            if cat[0] == "N":
                if self.numbers == "raise":
                    raise ValueError(
                        f"Item {index} ({describe_item(text)}) contains the digit {ch!r}; "
                        "pass numbers='expand' to have them read as number words, or spell "
                        "them out."
                    )
                continue
            if ch in _WORD_JOINERS and 0 < i < n - 1:
                before, after = chars[i - 1], chars[i + 1]
                if before.isalnum() and after.isalnum():
                    continue  # don't, ice-cream
            if cat[0] == "P" or ch in _WORD_JOINERS:
                if self.punctuation == "raise":
                    raise ValueError(
                        f"Item {index} ({describe_item(text)}) contains the punctuation "
                        f"{ch!r}; pass punctuation='strip' to remove it."
                    )
                report["stripped"][ch] += 1
                chars[i] = " "
                continue
            # S* (symbols, emoji) and C* (control, private use, unassigned)
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            if self.symbols == "raise":
                raise ValueError(
                    f"Item {index} ({describe_item(text)}) contains {ch!r} ({name}), which "
                    "cannot be pronounced; remove it or pass symbols='strip'."
                )
            report["stripped"][ch] += 1
            chars[i] = " "
        cleaned = "".join(chars)
        if not any(c.isalnum() for c in cleaned):
            raise ValueError(
                f"Item {index} ({describe_item(text)}) has nothing to pronounce once "
                "punctuation and symbols are removed."
            )
        return cleaned

    def _phonemize(self, phrases: list[str], report: dict) -> dict[str, str]:
        config = self._config()
        cache = _CACHE.setdefault(config, {}) if self.cache else {}
        todo = [p for p in phrases if p not in cache]
        if todo:
            size = self.batch_size
            chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
            n_jobs = self.n_jobs if self.n_jobs is not None else 1
            if n_jobs == 1 or len(chunks) == 1:
                outputs = [_g2p_chunk(config, c) for c in chunks]
            else:
                outputs = Parallel(n_jobs=n_jobs)(delayed(_g2p_chunk)(config, c) for c in chunks)
            with _CACHE_LOCK:
                if self.cache and len(cache) + len(todo) > CACHE_SIZE:
                    cache.clear()
                for chunk, out in zip(chunks, outputs):
                    cache.update(zip(chunk, out))
            fresh = {p: ipa for chunk, out in zip(chunks, outputs) for p, ipa in zip(chunk, out)}
        else:
            fresh = {}
        result = {}
        switched = []
        for p in phrases:
            ipa = fresh[p] if p in fresh else cache[p]
            if "(" in ipa:
                ipa = _FLAG_RE.sub(" ", ipa.replace("\u0361(", "(")).strip()
                ipa = " ".join(ipa.replace("\u0361)", ")").split())
                switched.append(p)
            result[p] = ipa
        if switched:
            report["language_switches"] += len(switched)
            msg = (
                f"espeak switched language for {len(switched)} text(s) in {self.language!r}, "
                f"for example {switched[0]!r}: it reads words of another language, or a script "
                "this voice cannot read, with another voice."
            )
            if self.language_switch == "raise":
                raise ValueError(msg + " Pass language_switch='warn' to accept them.")
            if self.language_switch == "warn":
                logger.warning(msg)
        return result

    def _passthrough(self, items: Sequence[str]) -> list[str]:
        from ipaclip.inventory import get_inventory

        get_inventory().encode_known(items)  # validates: an unknown symbol is an error
        return [" ".join(item.split()).replace(" ", self.word_separator) for item in items]


def _load_lexicon(lexicon) -> dict[str, str]:
    if lexicon is None:
        return {}
    if isinstance(lexicon, Mapping):
        entries = dict(lexicon)
        source = "lexicon"
    else:
        path = Path(lexicon)
        if not path.is_file():
            raise FileNotFoundError(f"Lexicon file {str(path)!r} does not exist.")
        source = str(path)
        if path.suffix == ".json":
            entries = json.loads(path.read_text("utf-8"))
        else:
            delimiter = "," if path.suffix == ".csv" else "\t"
            entries = {}
            with path.open(encoding="utf-8", newline="") as f:
                for n, row in enumerate(csv.reader(f, delimiter=delimiter), start=1):
                    if not row or row[0].startswith("#"):
                        continue
                    if len(row) != 2:
                        raise ValueError(
                            f"{source}, line {n}: expected 2 columns (word, IPA), got {row!r}."
                        )
                    entries[row[0]] = row[1]
    out = {}
    for word, ipa in entries.items():
        if not isinstance(word, str) or not isinstance(ipa, str) or not word.strip():
            raise ValueError(f"{source}: entry {word!r} -> {ipa!r} is not a (word, IPA) pair.")
        if not ipa.strip():
            raise ValueError(f"{source}: the pronunciation of {word!r} is empty.")
        if len(word.split()) != 1:
            raise ValueError(f"{source}: entry {word!r} must be a single word.")
        out[word.lower()] = ipa.strip()
    return out


def resolve_g2p(g2p=None, saved=None):
    """The G2P to use: ``g2p`` if given, else ``saved`` (the one saved with a model), else the
    default English :class:`IPATransformer`.

    This is the one place that decides the default; :class:`~ipaclip.IPACLIP`, the
    evaluation suite and the command line all ask it.

    Examples
    --------
    >>> resolve_g2p().language
    'en-us'
    >>> resolve_g2p(saved=IPATransformer(language="fr-fr")).language
    'fr-fr'
    """
    if g2p is not None:
        return g2p
    if saved is not None:
        return saved
    return IPATransformer()
