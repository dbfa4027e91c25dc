"""IPA to phoneme feature sequences: :class:`PhonemeEmbedder` (making
:class:`~ipaclip.sequences.PhonemeSequences`) and :func:`looks_like_spelling`.

Each position of a sequence is a *token*: a segment (a phoneme with its diacritics), a tone
number, a word boundary, or a special token (start, end, padding, unknown). A token's feature
vector has two parts:

``segment part``
    ``embedding="ipa"``: PanPhon's 24 articulatory features of the segment (+1, -1, 0), so
    /p/ and /b/ differ in one feature and /p/ and /a/ in many (the paper's IPA-based
    embedding). ``embedding="onehot"``: a one-hot vector over the phoneme vocabulary learned
    in ``fit`` (the baseline). Tones and special tokens have an all-zero segment part.
``channels`` (the same in both modes)
    ``stress_primary``, ``stress_secondary`` (the segment follows ˈ or ˌ),
    ``syllable_start`` (the segment follows a syllable break "."), ``word_start`` (the first
    segment of a word, used when ``word_boundary="feature"``), ``tone_1`` .. ``tone_9`` (tone
    numbers as espeak writes them, e.g. Mandarin "ma1"), and the indicator channels ``bos``,
    ``eos``, ``word_boundary`` and ``unk``. Padding is all zeros.

Length (ː) and tone letters (˥ .. ˩) are not channels: PanPhon encodes them in its ``long``,
``hitone`` and ``hireg`` features.

Sequences are stored as integer ids into one small table of token feature rows, so the torch
core gathers features per batch instead of holding a padded ``(n, L, F)`` array.

Lowercase Latin letters are valid IPA, so spelling ("cat", "quick") would featurise without an
error and teach a model letters; ``fit`` checks for it first (``check_spelling``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ipaclip._validation import (
    Integral,
    Interval,
    ParamsMixin,
    StrOptions,
    check_string_items,
    describe_item,
)
from ipaclip.inventory import (
    FEATURE_NAMES,
    G2P_FIRST,
    ITEM,
    PRIMARY,
    SECONDARY,
    SYLLABLE,
    TONE_BASE,
    UNKNOWN_BASE,
    WORD,
    get_inventory,
)
from ipaclip.sequences import (
    TRUNCATION_OPTIONS,
    PhonemeSequences,
    SequenceLayout,
    apply_truncation,
    offsets_of,
)

__all__ = [
    "CHANNEL_NAMES",
    "PhonemeEmbedder",
    "PhonemeSequences",
    "SPECIAL_TOKENS",
    "SequenceLayout",
    "looks_like_spelling",
]

logger = logging.getLogger(__name__)

#: Special tokens, in the order of their base codes.
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<wb>", "<unk>")
PAD, BOS, EOS, WB, UNK = range(5)
N_TONES = 9
TONE0 = len(SPECIAL_TOKENS) - 1  # tone d has base code TONE0 + d
N_SPECIAL = TONE0 + N_TONES + 1  # segment code s has base code N_SPECIAL + s

#: The channels that follow the segment part, in order.
CHANNEL_NAMES: tuple[str, ...] = (
    ("stress_primary", "stress_secondary", "syllable_start", "word_start")
    + tuple(f"tone_{d}" for d in range(1, N_TONES + 1))
    + ("bos", "eos", "word_boundary", "unk")
)
_BASE_CHANNEL = {BOS: "bos", EOS: "eos", WB: "word_boundary", UNK: "unk"}
N_ARTICULATORY = len(FEATURE_NAMES)

# -- spelling detection ----------------------------------------------------------------------
# Symbols found in IPA but not in English spelling: IPA Extensions, spacing modifiers (stress,
# length, ʰ), phonetic extensions (ᵻ), tie bars, and the IPA letters of Latin-1/Greek.
_IPA_MARK = re.compile("[\u0250-\u02ff\u1d00-\u1dbf\u0361\u035cæðθŋøœβχç]")
# Spelling patterns, in items without such symbols. English digraphs IPA never writes (it
# has θ ð ʃ t͡ʃ f w k kw) count double; letters and pairs that IPA uses for other languages
# (c, q, x, y, a plain g instead of ɡ, doubled letters, vowel pairs) once.
_DIGRAPHS = re.compile(r"th|sh|ch|ph|wh|gh|ck|qu")
_SPELLING = re.compile(r"[cgqxy]|ee|oo|ea|ou|oa|ai|([bcdfgklmnprstvz])\1")
_CAPITAL = re.compile("[A-Z]")
_LETTER = re.compile(r"[^\W\d_]")
_SPELLING_SHARE = 0.2  # of the batch's items, with at most half of them showing IPA symbols
_SPELLING_SAMPLE = 10_000  # items looked at for the patterns (evenly spaced) in a large batch


def looks_like_spelling(items: Sequence[str]) -> str | None:
    """Why ``items`` look like ordinary spelling rather than IPA, or None when they do not.

    Lowercase Latin letters are valid IPA, so spelling passed where IPA belongs would be
    featurised without an error. This looks for what a G2P never writes: capital letters (in
    any item), and, among items with no IPA symbol or stress mark, English spelling patterns:
    digraphs such as "th", "sh", "ck", "qu" (IPA writes θ, ʃ, k, kw), and letters or pairs
    IPA gives other sounds (c, q, x, y, a plain g, doubled letters, "ee", "ou"). The batch
    looks like spelling when such items are at least a fifth of it, and at most half of it
    shows an IPA symbol, with three items or more or one item that shows two patterns.

    Digits are no evidence: espeak writes tones as digits ("ma5"). Measured on 20,000
    CMUdict words (``benchmarks/bench_frontend.py``): no IPA transcription by
    ``IPATransformer`` is flagged, alone or in batches, with or without stress; their spellings
    are flagged alone a third of the time, in 97% of batches of three and in every batch of
    ten. In a batch of more than 10,000 items, the patterns are looked for in 10,000 of them,
    evenly spaced.

    Parameters
    ----------
    items : sequence of str

    Returns
    -------
    str or None
        The reason, naming an example item, or None.

    Examples
    --------
    >>> looks_like_spelling(["kˈæt", "kwˈɪk", "ðə"]) is None
    True
    >>> looks_like_spelling(["cat", "quick", "the"])
    "3 of 3 items have no IPA symbol and spelling patterns, e.g. 'qu' in item 1 ('quick')"
    >>> looks_like_spelling(["kˈæt", "Paris"])
    "item 1 ('Paris') has the capital letter 'P', which IPA does not use"
    """
    for i, item in enumerate(items):
        capital = _CAPITAL.search(item)
        if capital:
            return (
                f"item {i} ({describe_item(item)}) has the capital letter "
                f"{capital.group()!r}, which IPA does not use"
            )
    n = marked = 0
    found: list[tuple[int, int, str]] = []  # (score, item, pattern)
    for i in range(0, len(items), max(1, len(items) // _SPELLING_SAMPLE)):
        item = items[i]
        if len(_LETTER.findall(item)) < 2:
            continue
        n += 1
        if _IPA_MARK.search(item):
            marked += 1
            continue
        digraphs = _DIGRAPHS.findall(item)
        others = [m.group() for m in _SPELLING.finditer(_DIGRAPHS.sub(" ", item))]
        if digraphs or others:
            found.append((2 * len(digraphs) + len(others), i, (digraphs + others)[0]))
    if not found or marked > n / 2 or len(found) < _SPELLING_SHARE * n:
        return None
    score, i, pattern = max(found, key=lambda f: (f[0], -f[1]))
    if n < 3 and score < 2:
        return None
    return (
        f"{len(found)} of {n} items have no IPA symbol and spelling patterns, e.g. "
        f"{pattern!r} in item {i} ({describe_item(items[i])})"
    )


def _spelling_message(reason: str) -> str:
    return (
        f"The input looks like spelling, not IPA: {reason}. PhonemeEmbedder and "
        f"PronunciationEncoder read IPA: {G2P_FIRST}, or pass check_spelling='off' if it "
        "really is IPA."
    )


class PhonemeEmbedder(ParamsMixin, TransformerMixin, BaseEstimator):
    """Turn IPA strings into phoneme feature sequences.

    The input is mapped (Unicode NFD and ``ipaclip/data/ipa_symbol_map.csv``, which
    maps espeak symbols PanPhon lacks, such as ɚ and ᵻ, to PanPhon's spelling) and segmented
    with PanPhon's segment table. Every character becomes a segment, a channel, or an unknown
    that ``unknown`` decides about; nothing is dropped without being counted.

    Parameters
    ----------
    embedding : {"ipa", "onehot"}, default="ipa"
        ``"ipa"``: PanPhon's 24 articulatory features per segment (the paper's IPA-based
        embedding). ``"onehot"``: one-hot over the segments seen in ``fit`` (the baseline);
        segments first met in ``transform`` become ``<unk>`` (counted in the log).
    unknown : {"raise", "ignore", "unk"}, default="raise"
        What to do with a symbol that is not in the inventory: raise an error naming the
        symbol, the item and its index; drop it; or map it to the ``<unk>`` token. Dropped and
        mapped symbols are counted in ``unknown_counts_`` (by ``fit``) and logged.
    word_boundary : {"token", "feature", "none"}, default="token"
        Keep word boundaries as a ``<wb>`` token between words, as the ``word_start``
        channel on each word's first segment, or not at all.
    stress : bool, default=True
        Keep the stress channels (from ˈ and ˌ). When False the stress marks are ignored.
    add_special_tokens : bool, default=True
        Put ``<bos>`` and ``<eos>`` around every item (the pronunciation encoder pools at
        ``<eos>``).
    max_length : int, default=None
        Largest number of tokens an item may have (special tokens included), for example the
        encoder's context length. What happens to a longer item is ``truncation``'s choice.
    truncation : {"warn", "raise", "ignore"}, default="warn"
        Past ``max_length``, as open_clip's tokenizer and the teachers do: ``"warn"`` cuts the
        item to its first ``max_length - 1`` tokens and its ``<eos>`` and warns once per call
        (the count and the first long item); ``"raise"`` is an error naming the first long
        item, its length and the limit; ``"ignore"`` cuts silently. Every other item is
        featurised whatever the policy; ``n_truncated_`` counts the cut items.
    pooling : {None, "mean", "sum", "max"}, default=None
        ``None`` returns :class:`PhonemeSequences`. Otherwise ``transform`` returns the pooled
        2-D array ``(n_items, n_features)`` for classic scikit-learn models, with names from
        ``get_feature_names_out``; only then can ``set_output(transform="pandas")`` make a
        DataFrame of it (without ``pooling`` it is an error that says so).
    check_spelling : {"raise", "warn", "off"}, default="raise"
        What ``fit`` does when its input looks like ordinary spelling instead of IPA
        (:func:`looks_like_spelling`: capital letters, or English spelling patterns such as
        "th", "ck", "qu" in items without IPA symbols): raise an error that names an example
        and says to put an :class:`~ipaclip.IPATransformer` first, log a warning, or not
        check (for IPA that really is written so).

    Attributes
    ----------
    vocabulary_ : tuple of str
        Segments seen in ``fit`` (NFD), in the order of the one-hot columns.
    feature_names_ : tuple of str
        Names of the feature columns of each token.
    unknown_counts_ : collections.Counter
        Unknown symbols met in ``fit`` and how often (with ``unknown`` other than "raise").
    symbol_counts_ : collections.Counter
        How often each symbol-map rule rewrote a symbol in ``fit``.
    n_features_out_ : int
    n_truncated_ : int
        Items cut to ``max_length`` by the last ``transform`` (0 when none was too long).
    truncated_items_ : list of int
        Their indices.
    layout_ : SequenceLayout
        What the feature rows mean (embedding, feature names, stress, word boundaries,
        special tokens), as set by ``fit``; each batch of sequences carries its own
        ``layout``, so batches featurised with other settings can be told apart.

    Examples
    --------
    >>> emb = PhonemeEmbedder().fit(["pˈæt", "bˈæt"])
    >>> seqs = emb.transform(["pˈæt", "bˈæt"])
    >>> seqs.tokens(0)
    ['<bos>', 'p', 'æ', 't', '<eos>']
    >>> p, b = seqs[0][1, :24], seqs[1][1, :24]   # /p/ and /b/ differ in voicing only
    >>> [emb.feature_names_[j] for j in np.flatnonzero(p != b)]
    ['voi']
    """

    _parameter_constraints = {
        "embedding": [StrOptions({"ipa", "onehot"})],
        "unknown": [StrOptions({"raise", "ignore", "unk"})],
        "word_boundary": [StrOptions({"token", "feature", "none"})],
        "stress": ["boolean"],
        "add_special_tokens": ["boolean"],
        "max_length": [Interval(Integral, 3, None, closed="left"), None],
        "truncation": [StrOptions(set(TRUNCATION_OPTIONS))],
        "pooling": [StrOptions({"mean", "sum", "max"}), None],
        "check_spelling": [StrOptions({"raise", "warn", "off"})],
    }

    def __init__(
        self,
        embedding: str = "ipa",
        *,
        unknown: str = "raise",
        word_boundary: str = "token",
        stress: bool = True,
        add_special_tokens: bool = True,
        max_length: int | None = None,
        truncation: str = "warn",
        pooling: str | None = None,
        check_spelling: str = "raise",
    ) -> None:
        self.embedding = embedding
        self.unknown = unknown
        self.word_boundary = word_boundary
        self.stress = stress
        self.add_special_tokens = add_special_tokens
        self.max_length = max_length
        self.truncation = truncation
        self.pooling = pooling
        self.check_spelling = check_spelling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # -- sklearn API -----------------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the phoneme vocabulary and count what was mapped or not recognised."""
        self._validate_params()
        items = check_string_items(X, what="IPA string")
        if self.check_spelling != "off":
            reason = looks_like_spelling(items)
            if reason is not None and self.check_spelling == "raise":
                raise ValueError(_spelling_message(reason))
            if reason is not None:
                logger.warning(_spelling_message(reason))
        unknown_counts: Counter = Counter()
        symbol_counts: Counter = Counter()
        codes, flat = self._tokenize(items, unknown_counts, symbol_counts)
        inv = get_inventory()
        seen = np.unique(flat["base"][flat["base"] >= N_SPECIAL]) - N_SPECIAL
        self.vocabulary_ = tuple(sorted(inv.segments[s] for s in seen))
        self.unknown_counts_ = unknown_counts
        self.symbol_counts_ = symbol_counts
        self.feature_names_ = self._feature_names(self.vocabulary_)
        self.n_features_out_ = len(self.feature_names_)
        self._vocab_index = {s: i for i, s in enumerate(self.vocabulary_)}
        self.layout_ = self._layout()
        return self

    def transform(self, X) -> PhonemeSequences | np.ndarray:
        """Featurise IPA strings: :class:`PhonemeSequences`, or a 2-D array with ``pooling``."""
        check_is_fitted(self, "vocabulary_")
        self._validate_params()
        if self.pooling is None and self._output_is_a_frame():
            raise ValueError(
                "PhonemeEmbedder(pooling=None) returns PhonemeSequences, one sequence of "
                "tokens per item, which a DataFrame cannot hold: set_output(transform='pandas') "
                "needs pooling='mean', 'sum' or 'max' (one row per item). In a Pipeline "
                "ending in a PronunciationEncoder, leave the PhonemeEmbedder out (the encoder "
                "featurises IPA itself) or call set_output on the last step only."
            )
        items = check_string_items(X, what="IPA string")
        unknown_counts: Counter = Counter()
        _, flat = self._tokenize(items, unknown_counts, Counter())
        if unknown_counts:
            logger.info("Unknown IPA symbols (policy %r): %s", self.unknown, dict(unknown_counts))
        seqs, cut = apply_truncation(
            self._build(items, flat), self.max_length, self.truncation, items
        )
        self.n_truncated_, self.truncated_items_ = len(cut), cut.tolist()
        if self.pooling is None:
            return seqs
        return seqs.pooled(self.pooling)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Column names of the pooled output (``pooling`` set) or of the token features."""
        check_is_fitted(self, "vocabulary_")
        names = self.feature_names_
        if self.pooling is not None:
            names = tuple(f"{self.pooling}_{n}" for n in names)
        return np.asarray(names, dtype=object)

    def _output_is_a_frame(self) -> bool:
        """Whether ``set_output`` (here or globally) asked for pandas or polars output.

        scikit-learn keeps the setting of ``set_output`` in ``_sklearn_output_config`` and has
        no public getter; the global one is ``sklearn.get_config()["transform_output"]``.
        """
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        return (config or get_config()["transform_output"]) != "default"

    def _layout(self) -> SequenceLayout:
        return SequenceLayout(
            embedding=self.embedding,
            feature_names=self.feature_names_,
            stress=bool(self.stress),
            word_boundary=self.word_boundary,
            add_special_tokens=bool(self.add_special_tokens),
        )

    def __setstate__(self, state):
        state.setdefault("truncation", "raise")  # pickled before it existed: they refused
        super().__setstate__(state)
        if "vocabulary_" in self.__dict__:
            self._vocab_index = {s: i for i, s in enumerate(self.vocabulary_)}

    # -- internals -------------------------------------------------------------------------
    def _feature_names(self, vocabulary: Sequence[str]) -> tuple[str, ...]:
        if self.embedding == "ipa":
            head = FEATURE_NAMES
        else:
            head = tuple(f"phoneme={s}" for s in vocabulary)
        return tuple(head) + CHANNEL_NAMES

    def _tokenize(self, items: list[str], unknown_counts: Counter, symbol_counts: Counter):
        """Codes of a batch, reduced to token positions with their channels.

        Returns the raw codes and a dict of equal-length arrays over the kept tokens:
        ``item``, ``base`` (special/tone/segment base code), ``stress``, ``syllable``,
        ``word_start``.
        """
        inv = get_inventory()
        codes, norm = inv.encode(items)
        symbol_counts.update(norm)
        is_item = codes == ITEM
        item_of = np.cumsum(is_item) - is_item
        is_seg = codes >= 0
        is_tone = (codes <= TONE_BASE - 1) & (codes >= TONE_BASE - N_TONES)
        is_unk = codes <= UNKNOWN_BASE

        if is_unk.any():
            unk_pos = np.flatnonzero(is_unk)
            if self.unknown == "raise":
                inv.check_known(
                    codes,
                    items,
                    "pass unknown='ignore' to drop it or unknown='unk' to map it to <unk> (both "
                    "counted), or add it to ipaclip/data/ipa_symbol_map.csv.",
                )
            unknown_counts.update(inv.symbol(int(c)) for c in codes[unk_pos])
            if self.unknown == "ignore":
                is_unk = np.zeros_like(is_unk)

        is_token = is_seg | is_tone | is_unk
        tok_pos = np.flatnonzero(is_token)
        stress = np.zeros(len(codes), dtype=np.int8)
        syllable = np.zeros(len(codes), dtype=bool)

        def attach(mark_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Token position following each mark in the same item (marks with none: dropped)."""
            marks = np.flatnonzero(mark_mask)
            nxt = np.searchsorted(tok_pos, marks, side="right")
            ok = nxt < len(tok_pos)
            marks, target = marks[ok], tok_pos[nxt[ok]]
            same = item_of[target] == item_of[marks]
            return marks[same], target[same]

        if self.stress:
            for code, level in ((PRIMARY, 1), (SECONDARY, 2)):
                marks, target = attach(codes == code)
                stress[target] = level
        marks, target = attach(codes == SYLLABLE)
        syllable[target] = True

        # Word boundaries: whitespace between two tokens of the same item.
        word_start = np.zeros(len(codes), dtype=bool)
        wb_keep = np.zeros(len(codes), dtype=bool)
        word_pos = np.flatnonzero(codes == WORD)
        if word_pos.size:
            nxt = np.searchsorted(tok_pos, word_pos, side="right")
            prv = nxt - 1
            ok = (nxt < len(tok_pos)) & (prv >= 0)
            w, nxt, prv = word_pos[ok], nxt[ok], prv[ok]
            inside = (item_of[tok_pos[nxt]] == item_of[w]) & (item_of[tok_pos[prv]] == item_of[w])
            w, nxt = w[inside], nxt[inside]
            # Several whitespace runs between the same two tokens (an ignored unknown symbol
            # between spaces) are one boundary.
            _, first = np.unique(nxt, return_index=True)
            w, nxt = w[first], nxt[first]
            if self.word_boundary == "token":
                wb_keep[w] = True
            elif self.word_boundary == "feature":
                word_start[tok_pos[nxt]] = True
        if self.word_boundary == "feature" and tok_pos.size:
            first_of_item = np.ones(len(tok_pos), dtype=bool)
            first_of_item[1:] = item_of[tok_pos[1:]] != item_of[tok_pos[:-1]]
            word_start[tok_pos[first_of_item]] = True

        keep = is_token | wb_keep
        base = np.zeros(len(codes), dtype=np.int64)
        base[is_seg] = codes[is_seg].astype(np.int64) + N_SPECIAL
        base[is_tone] = TONE0 + (TONE_BASE - codes[is_tone])
        base[is_unk] = UNK
        base[wb_keep] = WB
        flat = {
            "item": item_of[keep],
            "base": base[keep],
            "stress": stress[keep],
            "syllable": syllable[keep],
            "word_start": word_start[keep],
        }
        return codes, flat

    def _build(self, items: list[str], flat: dict) -> PhonemeSequences:
        n = len(items)
        counts = np.bincount(flat["item"], minlength=n)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            i = int(empty[0])
            raise ValueError(
                f"Item {i} ({describe_item(items[i])}) has no phonemes once marks and "
                "unknown symbols are set aside."
            )
        extra = 2 if self.add_special_tokens else 0
        lengths = counts + extra
        offsets = offsets_of(lengths)
        total = int(offsets[-1])
        base = np.full(total, PAD, dtype=np.int64)
        stress = np.zeros(total, dtype=np.int64)
        syllable = np.zeros(total, dtype=np.int64)
        word_start = np.zeros(total, dtype=np.int64)
        item = flat["item"]
        starts = offsets_of(counts)
        rank = np.arange(len(item)) - starts[item]
        pos = offsets[item] + rank + (1 if self.add_special_tokens else 0)
        base[pos] = flat["base"]
        stress[pos] = flat["stress"]
        syllable[pos] = flat["syllable"]
        word_start[pos] = flat["word_start"]
        if self.add_special_tokens:
            base[offsets[:-1]] = BOS
            base[offsets[1:] - 1] = EOS

        if self.embedding == "onehot":
            # Segments not seen in fit become <unk> (they have no one-hot column).
            seg = base >= N_SPECIAL
            if seg.any():
                inv = get_inventory()
                uniq = np.unique(base[seg])
                oov = [b for b in uniq if inv.segments[b - N_SPECIAL] not in self._vocab_index]
                if oov:
                    is_oov = np.isin(base, oov)
                    logger.info(
                        "%d token(s) of %d segment(s) unseen in fit mapped to <unk>: %s",
                        int(is_oov.sum()),
                        len(oov),
                        [inv.segments[b - N_SPECIAL] for b in oov][:20],
                    )
                    base[is_oov] = UNK

        key = ((base * 3 + stress) * 2 + syllable) * 2 + word_start
        uniq, ids = np.unique(np.concatenate([[0], key]), return_inverse=True)
        ids = ids[1:].astype(np.int32)  # key 0 (padding) is row 0
        table, symbols = self._table(uniq)
        return PhonemeSequences(
            ids=ids,
            offsets=offsets,
            table=table,
            symbols=symbols,
            feature_names=self.feature_names_,
            embedding=self.embedding,
            layout=self._layout(),
        )

    def _table(self, keys: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        inv = get_inventory()
        word_start = keys % 2
        syllable = (keys // 2) % 2
        stress = (keys // 4) % 3
        base = keys // 12
        n_head = N_ARTICULATORY if self.embedding == "ipa" else len(self.vocabulary_)
        table = np.zeros((len(keys), n_head + len(CHANNEL_NAMES)), dtype=np.float32)
        ch = {name: n_head + j for j, name in enumerate(CHANNEL_NAMES)}
        symbols = []
        for r, b in enumerate(base):
            b = int(b)
            if b >= N_SPECIAL:
                seg = b - N_SPECIAL
                symbols.append(inv.segments[seg])
                if self.embedding == "ipa":
                    table[r, :N_ARTICULATORY] = inv.features[seg]
                else:
                    table[r, self._vocab_index[inv.segments[seg]]] = 1.0
            elif b > TONE0:
                symbols.append(f"<tone{b - TONE0}>")
                table[r, ch[f"tone_{b - TONE0}"]] = 1.0
            else:
                symbols.append(SPECIAL_TOKENS[b])
                if b in _BASE_CHANNEL:
                    table[r, ch[_BASE_CHANNEL[b]]] = 1.0
        table[:, ch["stress_primary"]] = stress == 1
        table[:, ch["stress_secondary"]] = stress == 2
        table[:, ch["syllable_start"]] = syllable
        table[:, ch["word_start"]] = word_start
        return table, tuple(symbols)
