"""The IPA symbol inventory: PanPhon's segments, our symbol map, and a tokenizer.

PanPhon silently drops every symbol it does not know. This module does not: every character of
an IPA string becomes a segment, a suprasegmental mark (stress, syllable break, tone number,
word or item boundary), or an *unknown* code that records the symbol, so callers can count and
report it. It is shared by :mod:`ipaclip.g2p` (to validate IPA input) and
:mod:`ipaclip.phonemes` (to turn IPA into phoneme feature sequences).

Tokenising a whole batch at once (one symbol-mapping pass, one regular-expression scan, one
dictionary lookup per token) is what makes featurisation several times faster than calling
PanPhon word by word.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ipaclip._validation import describe_item

__all__ = [
    "FEATURE_NAMES",
    "Inventory",
    "SymbolRule",
    "get_inventory",
    "symbol_rules",
]

#: PanPhon's 24 articulatory features, in PanPhon's order.
FEATURE_NAMES: tuple[str, ...] = (
    "syl", "son", "cons", "cont", "delrel", "lat", "nas", "strid", "voi", "sg", "cg", "ant",
    "cor", "distr", "lab", "hi", "lo", "back", "round", "velaric", "tense", "long", "hitone",
    "hireg",
)  # fmt: skip

STRESS_MARKS = {"ˈ": 1, "ˌ": 2}
SYLLABLE_MARK = "."
TONE_DIGITS = "123456789"
TONE_LETTERS = "˥˦˧˨˩"
TIE_BARS = "\u0361\u035c"

# Marker codes (segments have codes >= 0, their index in ``Inventory.segments``).
PRIMARY = -1
SECONDARY = -2
WORD = -3
SYLLABLE = -4
ITEM = -5
TONE_BASE = -10  # tone digit d has code TONE_BASE - d, so -11 .. -19
UNKNOWN_BASE = -100  # an unknown character c has code UNKNOWN_BASE - ord(c)

ITEM_SEPARATOR = "\n"
LENGTH = "ː"
LENGTH_RUN = LENGTH * 2
_LENGTH_RUN_RE = re.compile(f"{LENGTH}{{2,}}")


@dataclass(frozen=True)
class SymbolRule:
    """One row of the shipped symbol map (``ipaclip/data/ipa_symbol_map.csv``)."""

    source: str
    target: str
    reason: str


@functools.cache
def symbol_rules() -> tuple[SymbolRule, ...]:
    """The shipped table of symbols rewritten before segmentation.

    Returns
    -------
    tuple of SymbolRule
        Sources and targets are in Unicode NFD form. An empty target deletes the symbol.

    Examples
    --------
    >>> rules = {r.source: r.target for r in symbol_rules()}
    >>> rules["ɚ"] == unicodedata.normalize("NFD", "ə˞")
    True
    """
    text = resources.files("ipaclip").joinpath("data/ipa_symbol_map.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rules = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        target = " " if row["target"] == "<space>" else row["target"]
        rules.append(
            SymbolRule(
                source=unicodedata.normalize("NFD", row["source"]),
                target=unicodedata.normalize("NFD", target),
                reason=row["reason"],
            )
        )
    return tuple(rules)


class Inventory:
    """PanPhon's segment table plus the markers ipaclip keeps as channels.

    Use :func:`get_inventory` for the shared, cached instance: building one reads PanPhon's
    tables (about a second).

    Attributes
    ----------
    segments : tuple of str
        Every PanPhon segment (NFD); a segment's code is its index here.
    features : ndarray of shape (n_segments, 24), dtype int8
        PanPhon's feature values (+1, -1, 0) for each segment, columns in ``FEATURE_NAMES`` order.

    Unknown symbols (always single characters) need no table: the code of character ``c`` is
    ``UNKNOWN_BASE - ord(c)``, the same in every call and process, so nothing grows with the
    number of distinct unknown symbols met.
    """

    def __init__(self) -> None:
        import panphon

        self._ft = panphon.FeatureTable()
        if tuple(self._ft.names) != FEATURE_NAMES:
            raise RuntimeError(f"unexpected PanPhon feature names {self._ft.names}")
        self.segments: tuple[str, ...] = tuple(self._ft.seg_dict)
        self.segment_index = {seg: i for i, seg in enumerate(self.segments)}
        self.features = np.array(
            [self._ft.seg_dict[s].numeric() for s in self.segments], dtype=np.int8
        )

        self.rules = symbol_rules()
        self._rule_by_source = {r.source: r for r in self.rules}
        sources = sorted(self._rule_by_source, key=len, reverse=True)
        self._norm_re = re.compile("|".join(re.escape(s) for s in sources))

        # Diacritics: characters that follow a base inside PanPhon segments (not across a tie).
        diacritics = set()
        for seg in self.segments:
            for i, ch in enumerate(seg[1:], start=1):
                if ch not in TIE_BARS and seg[i - 1] not in TIE_BARS:
                    diacritics.add(ch)
        # Base letters also occur there (untied clusters such as "kp"); they stay bases, so an
        # untied cluster is read as two segments, as in espeak's output.
        standalone = set(self.segments)
        diacritics = {
            ch
            for ch in diacritics
            if ch not in standalone or unicodedata.category(ch) in ("Mn", "Lm", "Sk")
        } - set(TONE_LETTERS)
        self.diacritics = frozenset(diacritics)
        # Diacritics that also open segments (pre-glottalised ˀt): allowed before a base.
        prefixes = "".join(sorted({seg[0] for seg in self.segments} & diacritics))
        markers = "".join(STRESS_MARKS) + SYLLABLE_MARK + TONE_DIGITS + TONE_LETTERS + TIE_BARS
        not_base = re.escape(markers + "".join(sorted(diacritics)))
        dia = re.escape("".join(sorted(diacritics)))
        base = rf"[^\s{not_base}]"
        if prefixes:
            base_first = rf"[{re.escape(prefixes)}]?{base}"
        else:
            base_first = base
        tie = re.escape(TIE_BARS)
        # A segment: a base with its diacritics, optionally tied to a second one (t̪͡s̪).
        self._token_re = re.compile(
            rf"{base_first}[{dia}]*(?:[{tie}]{base}[{dia}]*)?|[{TONE_LETTERS}][{dia}]*|\n"
            rf"|[^\S\n]+|.",
            re.DOTALL,
        )
        self._single: dict[str, int] = {seg: i for i, seg in enumerate(self.segments)}
        self._single.update({m: -v for m, v in STRESS_MARKS.items()})
        self._single[SYLLABLE_MARK] = SYLLABLE
        self._single[ITEM_SEPARATOR] = ITEM
        self._single.update({d: TONE_BASE - int(d) for d in TONE_DIGITS})
        # Tokens that are not one known segment or marker, resolved once. Bounded because
        # distinct tokens with unknown symbols are unbounded (unknown="ignore" over arbitrary
        # text); functools.lru_cache is thread-safe, and the codes do not depend on it.
        self._resolve_cached = functools.lru_cache(maxsize=RESOLVE_CACHE_SIZE)(self._resolve)

    # -- symbol mapping --------------------------------------------------------------------
    def map_symbols(self, text: str, counts: Counter | None = None) -> str:
        """Apply Unicode NFD and the symbol map; count each rule used in ``counts``."""
        text = unicodedata.normalize("NFD", text)
        if counts is None:
            text = self._norm_re.sub(lambda m: self._rule_by_source[m.group()].target, text)
        else:

            def replace(match: re.Match) -> str:
                counts[match.group()] += 1
                return self._rule_by_source[match.group()].target

            text = self._norm_re.sub(replace, text)
        # Length marks that only meet after the table ("a::" -> "aːː", "aːːː") fold to one,
        # counted like the table's "ːː" rule; a stray second mark would be an unknown symbol.
        if LENGTH_RUN in text:
            if counts is not None:
                counts[LENGTH_RUN] += len(_LENGTH_RUN_RE.findall(text))
            text = _LENGTH_RUN_RE.sub(LENGTH, text)
        return text

    # -- tokenisation ----------------------------------------------------------------------
    def _resolve(self, token: str) -> tuple[int, ...]:
        """Codes for a token that is not a single known segment or marker."""
        if token.isspace():
            return (WORD,)
        codes: list[int] = []
        rest = token
        while rest:
            prefix = self._ft.longest_one_seg_prefix(rest, normalize=False)
            if prefix:
                codes.append(self.segment_index[prefix])
                rest = rest[len(prefix) :]
            elif rest[0] in TIE_BARS:
                # A tie joining two symbols that PanPhon does not know as one segment (a tied
                # diphthong, say): the tie carries no sound; the symbols stay separate segments.
                codes.append(WORD_TIE)
                rest = rest[1:]
            else:
                codes.append(UNKNOWN_BASE - ord(rest[0]))
                rest = rest[1:]
        return tuple(codes)

    def encode(self, items: Sequence[str]) -> tuple[np.ndarray, Counter]:
        """Normalise and tokenise a batch of IPA strings into one flat code array.

        Parameters
        ----------
        items : sequence of str
            IPA strings. A newline inside an item is read as a word boundary.

        Returns
        -------
        codes : ndarray of int32
            Segment codes (>= 0) and marker codes (< 0); items end with an ``ITEM`` code.
        symbol_counts : Counter
            How often each symbol-map rule's source was rewritten.
        """
        counts: Counter = Counter()
        text = ITEM_SEPARATOR.join(s.replace(ITEM_SEPARATOR, " ") for s in items)
        text = self.map_symbols(text, counts) + ITEM_SEPARATOR
        tokens = self._token_re.findall(text)
        single = self._single
        codes = [single.get(t, MISSING) for t in tokens]
        if MISSING in codes:
            resolve = self._resolve_cached
            out: list[int] = []
            for tok, code in zip(tokens, codes):
                if code != MISSING:
                    out.append(code)
                else:
                    out.extend(resolve(tok))
            codes = out
        arr = np.asarray(codes, dtype=np.int32)
        n_ties = int((arr == WORD_TIE).sum())
        if n_ties:
            arr = arr[arr != WORD_TIE]
            counts[UNTIED] += n_ties
        return arr, counts

    def encode_known(self, items: Sequence[str]) -> list[np.ndarray]:
        """Codes of each item (ending with its ``ITEM`` code); an unknown symbol is an error.

        Raises
        ------
        ValueError
            At the first symbol not in the inventory, naming the symbol, its code point, the
            item's index and the item.
        """
        codes, _ = self.encode(items)
        self.check_known(
            codes,
            items,
            "fix the input or add the symbol to ipaclip/data/ipa_symbol_map.csv.",
        )
        ends = np.flatnonzero(codes == ITEM)
        return np.split(codes, ends + 1)[: len(items)]

    def check_known(self, codes: np.ndarray, items: Sequence[str], remedy: str) -> None:
        """Raise at the first unknown symbol in ``codes`` (as made by :meth:`encode` from
        ``items``), naming the symbol, its code point, the item and its index, then ``remedy``.
        """
        unknown = np.flatnonzero(codes <= UNKNOWN_BASE)
        if not unknown.size:
            return
        p = int(unknown[0])
        i = int(np.count_nonzero(codes[:p] == ITEM))
        symbol = self.symbol(int(codes[p]))
        hint = ""
        if "A" <= symbol <= "Z":
            hint = f" A capital letter is not IPA: the input looks like spelling; {G2P_FIRST}."
        raise ValueError(
            f"IPA symbol {symbol!r} (U+{ord(symbol[0]):04X}) in item {i} "
            f"({describe_item(items[i])}) is not in the phoneme inventory; {remedy}{hint}"
        )

    def symbol(self, code: int) -> str:
        """A readable name for any code: the segment, the marker, or the unknown symbol."""
        if code >= 0:
            return self.segments[code]
        if code <= UNKNOWN_BASE:
            return chr(UNKNOWN_BASE - code)
        if TONE_BASE - 9 <= code <= TONE_BASE - 1:
            return str(TONE_BASE - code)
        return {PRIMARY: "ˈ", SECONDARY: "ˌ", WORD: " ", SYLLABLE: ".", ITEM: "\\n"}[code]

    def is_valid(self, ipa: str) -> bool:
        """Whether every character of ``ipa`` is a known segment or marker after symbol mapping."""
        codes, _ = self.encode([ipa])
        return bool((codes > UNKNOWN_BASE).all())


#: What to do with text where IPA belongs (in error messages).
G2P_FIRST = (
    "put an IPATransformer first to transcribe text into IPA (Pipeline([('ipa', "
    "IPATransformer()), ('enc', PronunciationEncoder())]))"
)
MISSING = -(10**9)
#: Most tokens (not single known segments or markers) whose resolution is kept.
RESOLVE_CACHE_SIZE = 65_536
#: Key in symbol-map counts for tie bars removed between symbols that are separate segments.
UNTIED = "\u0361 (tie between separate segments)"
WORD_TIE = -7  # internal: a tie bar dropped between two symbols that are separate segments


@functools.cache
def get_inventory() -> Inventory:
    """The shared :class:`Inventory` (built once per process)."""
    return Inventory()
