"""Text to IPA: :class:`IPATransformer` and its grapheme-to-phoneme backends.

The default backend is espeak-ng through ``phonemizer``, with the shared library and voice data
that the ``espeakng-loader`` wheel bundles, so no system package is needed. ``epitran`` (rule
based) and ``"ipa"`` (input that is already IPA, validated) are the alternatives, and a user
lexicon is consulted before any backend.

What is removed from a text before G2P (punctuation, by default) is counted, never silently
dropped; what cannot be pronounced (emoji, symbols) is an error that names the item. Letters
and digits are read in their plain form (fullwidth ``ｃａｔ`` and mathematical ``𝐜𝐚𝐭`` as
``cat``, ``٦٦`` as ``66``), counted; a letter the voice reads as nothing is counted and
logged.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from sklearn.base import BaseEstimator, TransformerMixin, clone

from ipaclip._g2p_engines import (
    available_languages,
    check_language,
    load,
    read,
    unread_characters,
)
from ipaclip._validation import (
    Integral,
    Interval,
    InvalidParameterError,
    ParamsMixin,
    StrOptions,
    check_string_items,
    describe_item,
)
from ipaclip.lexicon import load_lexicon
from ipaclip.scripts import (
    foreign_letters,
    foreign_letters_message,
    letter_script,
    plain_form,
    refused_route,
    route_voice,
    voice_scripts,
)

__all__ = ["IPATransformer", "available_languages", "load_lexicon", "resolve_g2p"]

logger = logging.getLogger(__name__)

BACKENDS = ("espeak", "epitran", "ipa")
_FLAG_RE = re.compile(r"\([^()\s]*\)")
_SAFE_RE = re.compile(r"[^\w\s]|[\d_]")
_WORD_JOINERS = "'’-"


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
        /fɔːɹti tuː/), digits of every script included (``"٤٢"``, ``"４２"`` and ``"४२"`` are
        read as ``"42"``); ``"raise"`` rejects items with digits, naming the digit.
    punctuation : {"strip", "raise"}, default="strip"
        Punctuation carries no phonemes: ``"strip"`` removes it (apostrophes and hyphens inside
        words are kept) and counts what was removed in ``report_``; ``"raise"`` rejects it.
    symbols : {"raise", "strip"}, default="raise"
        Emoji and other symbols (``unicodedata`` categories S* and C*) are errors by default;
        ``"strip"`` removes and counts them.
    language_switch : {"warn", "raise", "ignore"}, default="warn"
        Words read with another voice than ``language``: espeak switches voice for words it
        knows from another language, and ``script_mismatch="route"`` sends words in a script
        the voice does not read to a voice that does. The switch flags are always removed
        from the IPA and the texts counted in ``report_["language_switches"]``; this says
        whether to log a warning, raise, or stay silent. It says the same for words read
        *without* a switch although their Latin letters are not the language's (``ß`` in
        "Straße" given to the English voice, read /stɹˈeɪs/): the letters are counted in
        ``report_["foreign_letters"]``, and the warning or error names the item, the word
        and voices that write them (``language="de"``). Which letters each voice's language
        writes is in ``ipaclip/data/voice_scripts.csv`` (English: a-z and the loanword
        letters of café, naïve, jalapeño); voices not listed there are not checked.
    script_mismatch : {"route", "raise", "spell"}, default="route"
        Letters of a script the voice does not read (Cyrillic or Han given to the English
        voice; :mod:`ipaclip.scripts` knows which voice reads what). espeak would spell them
        out one by one with invented letter names ("世界" as "chinese letter" twice), without
        a flag. ``"route"`` reads such words with a voice of their script (Cyrillic: ``ru``,
        Greek: ``el``, Han: ``cmn``, kana: ``ja``, Hangul: ``ko``, Arabic: ``ar``, Hebrew:
        ``he``, Devanagari: ``hi``...), which is a language switch (see
        ``language_switch``: a warning by default); a script no voice reads is an error,
        and so is a script the voice's own language writes but the voice cannot read
        (kanji for ``language="ja"``: another voice would read them in another language).
        ``"raise"`` rejects them, naming the item and the word. ``"spell"`` keeps espeak's
        letter names, with a warning. Either way the words are counted by script in
        ``report_["script_mismatches"]``. Pass the text's own ``language`` for text that
        is all in another script.
    n_jobs : int, default=None
        Parallel G2P through ``joblib.Parallel`` (``None`` means 1, -1 all cores), in chunks
        of at most ``batch_size`` texts, at least one per worker. With joblib's default process
        pool (loky), texts are read in parallel only from 100,000 uncached texts on
        (``ipaclip._g2p_engines.PARALLEL_MIN_TEXTS``): starting the workers takes seconds,
        while one process reads over 10,000 words a second. A backend the caller chose
        (``joblib.parallel_config(backend="dask")``, ray) is used at any size and distributes
        the work unchanged.
    batch_size : int, default=4096
        Most texts per backend call and per joblib task.
    cache : bool, default=True
        Memoise transcriptions per configuration within the process, in a thread-safe cache
        that forgets the least recently used entries beyond 64 MiB of texts and readings
        (``ipaclip._g2p_engines.CACHE_BYTES``), so repeated texts cost nothing.

    Attributes
    ----------
    report_ : dict
        Set by ``fit_transform``: counts of items, unique texts, lexicon hits, stripped
        punctuation and symbols (by character), letters and digits read in their plain form (by
        character), characters read as nothing (``"unread"``, by character), language
        switches (texts), script mismatches (words, by script) and foreign letters (Latin
        letters the language does not write, by character).

    Notes
    -----
    Before reading, every text is put in Unicode NFC, and letters and digits that have a
    plain form are replaced by it, each counted by character in ``report_["plain_forms"]``:
    compatibility characters take their NFKC form (fullwidth ``ｃａｔ``, mathematical
    ``𝐜𝐚𝐭``, ligatures such as ``ﬁ``, circled digits), and decimal digits of every script
    become ASCII digits (``unicodedata.decimal``), so ``numbers="expand"`` reads them as
    number words. Latin-1 is left as it is (espeak reads ``µ`` as "micro" and ``²`` as
    "two"), and symbols keep their ``symbols`` policy (``™`` stays an error).

    espeak reads a few letters and numbers as nothing at all (Latin extended letters such as
    ``ꜣ``, the okina ``ʻ``, Ethiopic numbers ``፩``, fractions ``⅕``): each such character is
    found by asking the voice that reads it (once per process), counted in
    ``report_["unread"]`` and named in a logged warning, never lost silently.

    Examples
    --------
    >>> g2p = IPATransformer()
    >>> g2p.fit_transform(["knight", "night", "a black cat"])
    ['nˈa͡ɪt', 'nˈa͡ɪt', 'ɐ blˈæk kˈæt']

    A word in a script the English voice cannot read goes to a voice that can:

    >>> g2p = IPATransformer(language_switch="ignore")
    >>> g2p.fit_transform(["a cat called Мурка"])
    ['ɐ kˈæt kˈɔːld mˈurka']
    >>> g2p.report_["script_mismatches"], g2p.report_["language_switches"]
    (Counter({'Cyrillic': 1}), 1)
    """

    _parameter_constraints = {
        "backend": [StrOptions(set(BACKENDS))],
        "language": [str],
        "lexicon": [Mapping, str, os.PathLike, None],
        "with_stress": ["boolean"],
        "tie": ["boolean"],
        "word_separator": [str],
        "numbers": [StrOptions({"expand", "raise"})],
        "punctuation": [StrOptions({"strip", "raise"})],
        "symbols": [StrOptions({"raise", "strip"})],
        "language_switch": [StrOptions({"warn", "raise", "ignore"})],
        "script_mismatch": [StrOptions({"route", "raise", "spell"})],
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
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
        script_mismatch: str = "route",
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
        self.script_mismatch = script_mismatch
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
            check_language(self.backend, self.language, type(self).__name__)

    def _config(self) -> tuple:
        return (self.backend, self.language, bool(self.with_stress), bool(self.tie))

    @functools.cached_property
    def _lexicon_map(self) -> dict[str, str]:
        return load_lexicon(self.lexicon)

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
        if self.backend != "ipa":
            load(self._config())
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
            "plain_forms": Counter(),
            "unread": Counter(),
            "language_switches": 0,
            "script_mismatches": Counter(),
            "foreign_letters": Counter(),
        }
        if self.backend == "ipa":
            return self._passthrough(items), report

        unique = list(dict.fromkeys(items))
        report["n_unique"] = len(unique)
        first: dict[str, int] = {}  # first index of each text, for messages
        for i, text in enumerate(items):
            first.setdefault(text, i)
        cleaned = {text: self._prepare(text, first[text], report) for text in unique}
        source: dict[str, str] = {}  # a text of each cleaned phrase, for messages
        for text, phrase in cleaned.items():
            source.setdefault(phrase, text)

        # Phrases with words in a script the voice does not read become runs of words for
        # other voices (script_mismatch); the others are read whole by the voice.
        main = self._config()
        scripts = voice_scripts(self.backend, self.language)
        latin = scripts is None or "Latin" in scripts
        plans: dict[str, list[tuple[tuple, str]]] = {}
        runs: dict[tuple, dict[str, None]] = defaultdict(dict)
        for phrase, text in source.items():
            if scripts is None or (latin and phrase.isascii()):
                runs[main][phrase] = None
                continue
            plans[phrase] = self._plan(phrase, scripts, first[text], text, report)
            for config, run in plans[phrase]:
                runs[config][run] = None
        self._check_letters(plans, source, first, report)
        self._count_unread(source, scripts, report)
        readings = {config: self._read(config, list(texts)) for config, texts in runs.items()}

        ipa_of: dict[str, str] = {}
        hits_of: Counter = Counter()
        switched = []
        espeak_switched = False
        lexicon = self._lexicon_map
        for phrase in source:
            words: list[str] = []
            other_voice = False
            for config, run in plans.get(phrase) or ((main, phrase),):
                ipa, flagged = readings[config][run]
                run_words = ipa.split()
                if lexicon and config == main:
                    run_words, hits, reread_flagged = self._apply_lexicon(run, run_words)
                    hits_of[phrase] += hits
                    flagged = flagged or reread_flagged
                espeak_switched |= flagged
                words += run_words
                other_voice |= flagged or config != main
            if not words:
                text = source[phrase]
                raise ValueError(
                    f"Item {first[text]} ({describe_item(text)}): the {self.backend} backend "
                    f"produced no phonemes for language {self.language!r}."
                )
            if other_voice:
                switched.append(source[phrase])
            ipa_of[phrase] = self.word_separator.join(words)
        if hits_of:
            report["lexicon_hits"] = sum(hits_of[phrase] for phrase in cleaned.values())
        self._report_switches(switched, espeak_switched, report)
        if report["stripped"]:
            logger.info("Removed before G2P (not pronounced): %s", dict(report["stripped"]))
        if report["plain_forms"]:
            logger.info("Read in their plain form: %s", dict(report["plain_forms"]))
        return [ipa_of[cleaned[t]] for t in items], report

    def _plan(
        self, phrase: str, scripts, index: int, text: str, report: dict
    ) -> list[tuple[tuple, str]]:
        """``phrase`` as ``(configuration, run of words)`` pairs, by ``script_mismatch``.

        A word (or the part of one) in a script the voice does not read is a run of its own,
        for a voice of that script; lexicon words stay with the phrase's voice.
        """
        main = self._config()
        lexicon = self._lexicon_map
        pieces: list[list] = []  # [script or None (readable), text, starts a word]
        for word in phrase.split(" "):
            if word.lower() in lexicon:
                pieces.append([None, word, True])
                continue
            found = [letter_script(ch) for ch in word]
            # None: a letter the voice reads, or what belongs to no script (digits, marks,
            # apostrophes), which goes with the letters around it.
            keys = [None if s in scripts else s for s in found]
            current = next((k for k, s in zip(keys, found) if s is not None), None)
            for j, (ch, s, key) in enumerate(zip(word, found, keys)):
                if s is not None:
                    current = key
                if j and pieces[-1][0] == current:
                    pieces[-1][1] += ch
                else:
                    pieces.append([current, ch, j == 0])
        foreign = [(script, piece) for script, piece, _ in pieces if script is not None]
        if not foreign:
            return [(main, phrase)]
        for script, _ in foreign:
            report["script_mismatches"][script] += 1

        def where(script: str, piece: str) -> str:
            return (
                f"Item {index} ({describe_item(text)}): {piece!r} is in the {script} script, "
                f"which the {self.backend} voice {self.language!r} does not read"
            )

        if self.script_mismatch == "raise":
            script, piece = foreign[0]
            voice = route_voice(script)
            route = ""
            if refused_route(self.language, script):
                raise ValueError(f"{where(script, piece)}: {refused_route(self.language, script)}.")
            if voice:
                route = f"script_mismatch='route' to read it with the {voice!r} voice, "
            raise ValueError(
                f"{where(script, piece)}; espeak would spell its letters out with invented "
                f"names. Pass {route}the text's own language=..., or remove it."
            )
        if self.script_mismatch == "spell":
            return [(main, phrase)]
        plan: list[tuple[tuple, str]] = []
        for script, piece, starts_word in pieces:
            config = main
            if script is not None:
                voice = route_voice(script)
                if refused_route(self.language, script):
                    raise ValueError(
                        f"{where(script, piece)}: {refused_route(self.language, script)}, or "
                        "script_mismatch='spell' to keep espeak's letter names."
                    )
                if voice is None:
                    raise ValueError(
                        f"{where(script, piece)}, and no espeak voice reads {script}: "
                        "transliterate it or remove it."
                    )
                config = ("espeak", voice, bool(self.with_stress), bool(self.tie))
            if plan and plan[-1][0] == config:
                plan[-1] = (config, plan[-1][1] + (" " if starts_word else "") + piece)
            else:
                plan.append((config, piece))
        return plan

    def _check_letters(self, plans: dict, source: dict, first: dict, report: dict) -> None:
        """Count the Latin letters of words that their voice's language does not write, and
        warn, raise or not (``language_switch``); before any reading."""
        found = []  # (item, text, word, letters, voice)
        for phrase, plan in plans.items():
            for config, run in plan:
                for word in run.split() if config[0] == "espeak" else ():
                    if word.lower() in self._lexicon_map:
                        continue  # the user's pronunciation
                    odd = foreign_letters(config[1], word)
                    for ch in odd:
                        report["foreign_letters"][ch] += word.lower().count(ch)
                    if odd:
                        found.append((first[source[phrase]], source[phrase], word, odd, config[1]))
        if not found or self.language_switch == "ignore":
            return
        msg = foreign_letters_message(*min(found))
        if self.language_switch == "raise":
            raise ValueError(f"{msg}, or language_switch='warn' to read it anyway.")
        logger.warning(
            "%d word(s) have letters their voice's language does not write (counted in "
            "report_['foreign_letters']). %s, or language_switch='ignore'.",
            len(found),
            msg,
        )

    def _read(self, config: tuple, texts: list[str]) -> dict[str, tuple[str, bool]]:
        """Each text's IPA without espeak's language-switch flags, and whether it had any."""
        raw = read(config, texts, n_jobs=self.n_jobs, batch_size=self.batch_size, cache=self.cache)
        out = {}
        for text in texts:
            ipa = raw[text]
            flagged = "(" in ipa
            if flagged:
                ipa = _FLAG_RE.sub(" ", ipa.replace("\u0361(", "(")).strip()
                ipa = " ".join(ipa.replace("\u0361)", ")").split())
            out[text] = (ipa, flagged)
        return out

    def _report_switches(self, switched: list[str], by_espeak: bool, report: dict) -> None:
        """Count texts read partly with another voice; warn, raise or not (language_switch)."""
        mismatches = report["script_mismatches"]
        if mismatches and self.script_mismatch == "spell":
            logger.warning(
                "%d word(s) in scripts the %r voice does not read were spelled out letter by "
                "letter (script_mismatch='spell'): %s.",
                sum(mismatches.values()),
                self.language,
                dict(mismatches),
            )
        if not switched:
            return
        report["language_switches"] += len(switched)
        why = []
        if by_espeak:
            why.append("espeak read words of another language with that language's voice")
        if mismatches and self.script_mismatch == "route":
            routed = ", ".join(
                f"{n} in {script} to {route_voice(script)!r}" for script, n in mismatches.items()
            )
            why.append(f"words in scripts this voice cannot read went to other voices ({routed})")
        msg = (
            f"G2P switched language for {len(switched)} text(s) in {self.language!r}, for "
            f"example {switched[0]!r}: {'; '.join(why)}."
        )
        if self.language_switch == "raise":
            raise ValueError(msg + " Pass language_switch='warn' to accept them.")
        if self.language_switch == "warn":
            logger.warning(msg)

    def _prepare(self, text: str, index: int, report: dict) -> str:
        """Clean one text (see ``punctuation``, ``symbols``, ``numbers``) for the backend."""
        text = unicodedata.normalize("NFC", text)
        if not text.isascii():
            text = self._plain_forms(text, index, report)
        if _SAFE_RE.search(text):
            text = self._clean(text, index, report)
        return " ".join(text.split())

    def _plain_forms(self, text: str, index: int, report: dict) -> str:
        """Letters and digits in their plain form (see Notes), counted by character."""
        plain = {}
        for ch in set(text):
            form = plain_form(ch)  # None for ASCII and what is not a letter or number
            if form is None:
                continue
            if self.numbers == "raise" and unicodedata.category(ch)[0] == "N":
                raise ValueError(
                    f"Item {index} ({describe_item(text)}) contains the digit {ch!r} "
                    f"({unicodedata.name(ch, 'unnamed')}); pass numbers='expand' to have it "
                    "read as a number word, or spell it out."
                )
            plain[ch] = form
            report["plain_forms"][ch] += text.count(ch)
        if not plain:
            return text
        return unicodedata.normalize("NFC", "".join(plain.get(ch, ch) for ch in text))

    def _count_unread(self, source: dict[str, str], scripts, report: dict) -> None:
        """Count (and log) the letters and numbers each phrase's voice reads as nothing.

        espeak drops some characters without a trace (``ꜣ``, ``ʻ``, ``፩``). Each character is
        asked of the voice that will read it (the phrase's, or the one its script is routed
        to) once per process; words taken from the lexicon are not read, so not asked.
        """
        main = self._config()
        lexicon = self._lexicon_map
        read: list[str] = []  # what of each phrase the backend reads
        wanted: dict[tuple, set[str]] = defaultdict(set)
        for phrase in source:
            if phrase.isascii():
                continue
            if lexicon:
                phrase = " ".join(w for w in phrase.split() if w.lower() not in lexicon)
            read.append(phrase)
            for ch in set(phrase):
                if not ch.isascii() and unicodedata.category(ch)[0] in "LN":
                    config = self._reader(ch, scripts, main)
                    if config is not None:
                        wanted[config].add(ch)
        unread = {ch for config, chars in wanted.items() for ch in unread_characters(config, chars)}
        if not unread:
            return
        for phrase in read:
            for ch in unread.intersection(phrase):
                report["unread"][ch] += phrase.count(ch)
        named = ", ".join(
            f"{ch!r} ({unicodedata.name(ch, 'unnamed')}) x{n}" for ch, n in report["unread"].items()
        )
        logger.warning(
            "The %s backend reads %d character(s) as nothing, so they are not pronounced "
            "(counted in report_['unread']): %s.",
            self.backend,
            sum(report["unread"].values()),
            named,
        )

    def _reader(self, ch: str, scripts, main: tuple) -> tuple | None:
        """The configuration that reads ``ch`` (None: its script is an error elsewhere)."""
        script = letter_script(ch)
        if scripts is None or script is None or script in scripts:
            return main
        if self.script_mismatch == "spell":
            return main
        voice = route_voice(script)
        if self.script_mismatch == "raise" or voice is None:
            return None
        return ("espeak", voice, bool(self.with_stress), bool(self.tie))

    def _apply_lexicon(self, phrase: str, words: list[str]) -> tuple[list[str], int, bool]:
        """Put lexicon pronunciations in place of the backend's, word by word.

        The backend reads the whole phrase, so the words around a lexicon entry keep their
        context (an isolated "a" would be read as the letter). Where the backend's word count
        differs from the text's (numbers read as several words), the phrase is read again in
        runs between the lexicon words.

        Returns the words, the number of lexicon words, and whether a run read again switched
        language.
        """
        lexicon = self._lexicon_map
        tokens = phrase.split()
        hits = [i for i, w in enumerate(tokens) if w.lower() in lexicon]
        if not hits:
            return words, 0, False
        if len(words) == len(tokens):
            words = [
                lexicon[t.lower()] if i in hits else w
                for i, (t, w) in enumerate(zip(tokens, words))
            ]
            return words, len(hits), False
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
        ipa_runs = self._read(self._config(), runs) if runs else {}
        for from_lexicon, value in layout:
            out.extend([value] if from_lexicon else ipa_runs[value][0].split())
        return out, len(hits), any(flagged for _, flagged in ipa_runs.values())

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

    def _passthrough(self, items: Sequence[str]) -> list[str]:
        from ipaclip.inventory import get_inventory

        get_inventory().encode_known(items)  # validates: an unknown symbol is an error
        return [" ".join(item.split()).replace(" ", self.word_separator) for item in items]


def resolve_g2p(g2p=None, saved=None, *, language: str | None = None):
    """The G2P to use: ``g2p`` if given, else ``saved`` (the one saved with a model), else the
    default English :class:`IPATransformer`; with ``language``, a clone of it reading that
    language (the G2P given or saved is left as it is).

    This is the one place that decides the default; :class:`~ipaclip.IPACLIP`, the
    evaluation suite and the command line all ask it.

    Examples
    --------
    >>> resolve_g2p().language
    'en-us'
    >>> saved = IPATransformer(language="fr-fr")
    >>> resolve_g2p(saved=saved).language, resolve_g2p(saved=saved, language="de").language
    ('fr-fr', 'de')
    >>> saved.language
    'fr-fr'
    """
    out = g2p if g2p is not None else saved if saved is not None else IPATransformer()
    if language is None:
        return out
    if "language" not in getattr(out, "get_params", dict)():
        raise InvalidParameterError(
            f"language={language!r} needs a G2P with a language parameter (an "
            f"IPATransformer); this one is {out!r}. Pass texts already read as ipa=[...]."
        )
    return clone(out).set_params(language=language)
