"""Writing systems: the script of a text's letters, the scripts a G2P voice reads, the
voice that reads a script another voice cannot, and the plain form of a letter or digit
(``plain_form``: ``ｃ`` and ``𝐜`` are ``c``, ``٦`` is ``6``).

An espeak-ng voice given letters of a script its language does not use either switches to a
voice that reads them (and marks the switch with a language flag, which ipaclip counts) or
spells them out one by one with invented letter names, unmarked: the English voice reads
"Здравствуйте" as /zˈɛː dˈɛː ˈɛɹ .../ and "世界" as "chinese letter" twice.
:class:`~ipaclip.IPATransformer` uses this module to see that coming (``script_mismatch``).

Scripts are Unicode script names (``"Latin"``, ``"Cyrillic"``, ``"Han"``...), read with the
``regex`` package. Which scripts each espeak voice bundled with ipaclip reads is in
``ipaclip/data/voice_scripts.csv``, measured with :func:`probe_voice_scripts` and checked by
hand; a voice missing from it (from another espeak-ng installation) is probed once per
process. epitran codes name their script (``"rus-Cyrl"``).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import unicodedata
from importlib import resources

import regex

from ipaclip._g2p_engines import _g2p_chunk
from ipaclip._validation import describe_item

__all__ = [
    "foreign_letters",
    "foreign_letters_message",
    "letter_script",
    "plain_form",
    "probe_voice_scripts",
    "refused_route",
    "route_voice",
    "voice_scripts",
    "voices_writing",
]

logger = logging.getLogger(__name__)

#: Scripts told apart by name (a letter of another script is named after its Unicode name).
KNOWN_SCRIPTS = (
    "Latin", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana", "Hangul", "Arabic", "Hebrew",
    "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada",
    "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Khmer", "Georgian",
    "Armenian", "Ethiopic", "Cherokee", "Shavian", "Mongolian", "Thaana", "Syriac", "Tifinagh",
)  # fmt: skip
_SCRIPT_RE = regex.compile(
    r"(?P<_neutral>[\p{Script=Common}\p{Script=Inherited}])|"
    + "|".join(rf"(?P<{name}>\p{{Script={name}}})" for name in KNOWN_SCRIPTS)
)

# ISO 15924 codes in epitran language codes ("rus-Cyrl").
_ISO15924 = {
    "Latn": ("Latin",), "Cyrl": ("Cyrillic",), "Grek": ("Greek",), "Hans": ("Han",),
    "Hant": ("Han",), "Hani": ("Han",), "Jpan": ("Han", "Hiragana", "Katakana"),
    "Hira": ("Hiragana",), "Kana": ("Katakana",), "Hang": ("Hangul",), "Kore": ("Hangul",),
    "Arab": ("Arabic",), "Hebr": ("Hebrew",), "Deva": ("Devanagari",), "Beng": ("Bengali",),
    "Guru": ("Gurmukhi",), "Gujr": ("Gujarati",), "Orya": ("Oriya",), "Taml": ("Tamil",),
    "Telu": ("Telugu",), "Knda": ("Kannada",), "Mlym": ("Malayalam",), "Sinh": ("Sinhala",),
    "Thai": ("Thai",), "Laoo": ("Lao",), "Tibt": ("Tibetan",), "Mymr": ("Myanmar",),
    "Khmr": ("Khmer",), "Geor": ("Georgian",), "Armn": ("Armenian",), "Ethi": ("Ethiopic",),
    "Syrc": ("Syriac",), "Thaa": ("Thaana",), "Mong": ("Mongolian",), "Tfng": ("Tifinagh",),
}  # fmt: skip

# One short word per script, for probing a voice: a voice reads a script when it reads the
# word without a language switch and not much longer than the script's own voice does.
_PROBES = {
    "Latin": "mama", "Cyrillic": "молоко", "Greek": "θάλασσα", "Han": "中华人民共和国",
    "Hiragana": "さくら", "Katakana": "カメラ", "Hangul": "사랑해", "Arabic": "كتاب",
    "Hebrew": "שלום", "Devanagari": "नमस्ते", "Bengali": "মামা", "Gurmukhi": "ਮਾਮਾ",
    "Gujarati": "મામા", "Oriya": "ମାମା", "Tamil": "அம்மா", "Telugu": "అమ్మ",
    "Kannada": "ಅಮ್ಮ", "Malayalam": "അമ്മ", "Sinhala": "අම්මා", "Thai": "ปลา",
    "Georgian": "მამა", "Armenian": "մամա", "Ethiopic": "ሰላም", "Myanmar": "မေမေ",
    "Shavian": "𐑥𐑭𐑥𐑭",
}  # fmt: skip


@functools.lru_cache(maxsize=8192)
def letter_script(ch: str) -> str | None:
    """The script of a letter, or None for what belongs to no script (digits, marks,
    punctuation, spaces, stress and length marks).

    Examples
    --------
    >>> [letter_script(c) for c in "aЖ中か1ˈ"]
    ['Latin', 'Cyrillic', 'Han', 'Hiragana', None, None]
    """
    if not unicodedata.category(ch).startswith("L"):
        return None
    match = _SCRIPT_RE.match(ch)
    if match is None:  # a script not in KNOWN_SCRIPTS: named after the letter ("KHUDAWADI")
        return unicodedata.name(ch, "unknown").split()[0].title()
    return None if match.lastgroup == "_neutral" else match.lastgroup


@functools.lru_cache(maxsize=8192)
def plain_form(ch: str) -> str | None:
    """The plain form of a letter or number, or None when it has none (or is one).

    :class:`~ipaclip.IPATransformer` reads every letter and number in its plain form.

    A decimal digit of any script is its ASCII digit; another character whose NFKC form is
    made of letters, digits and marks only is that form (``ｃ`` → ``c``, ``𝐜`` → ``c``,
    ``ﬁ`` → ``fi``, ``①`` → ``1``). ``½`` (NFKC ``1⁄2``, with a fraction slash) keeps its
    form, and so does the rest of Latin-1, which espeak reads as it is (``µ`` as "micro", not
    as the Greek letter NFKC makes of it; ``²`` as "two").

    Examples
    --------
    >>> [plain_form(c) for c in "٦६６𝐜ｃ①½µa™"]
    ['6', '6', '6', 'c', 'c', '1', None, None, None, None]
    """
    if ord(ch) < 0x100 or unicodedata.category(ch)[0] not in "LN":
        return None
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    plain = unicodedata.normalize("NFKC", ch)
    if plain == ch or not plain:
        return None
    if not all(unicodedata.category(c)[0] in "LMN" for c in plain):
        return None
    return "".join(str(unicodedata.decimal(c, "")) or c for c in plain)


# Scripts a language writes that its espeak voice cannot read: the voice spells them out
# ("chinese letter"), and routing them to a voice that reads the script would read them in
# another language (Japanese kanji as Mandarin). From ISO 15924's composite codes: Japanese
# (Jpan) is Han + Hiragana + Katakana, Korean (Kore) Hangul + Han; the voices read kana and
# Hangul only (voice_scripts.csv).
_OWN_UNREAD = {"ja": ("Han", "kanji", "kana"), "ko": ("Han", "hanja", "Hangul")}


@functools.cache
def _voice_table() -> tuple[dict[str, frozenset[str]], dict[str, str], dict[str, frozenset[str]]]:
    """(voice → scripts it reads, script → voice that reads it for others, voice → Latin
    letters beyond a-z its language writes) from the CSV."""
    text = resources.files("ipaclip").joinpath("data/voice_scripts.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    reads: dict[str, frozenset[str]] = {}
    routes: dict[str, str] = {}
    letters: dict[str, frozenset[str]] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        reads[row["voice"]] = frozenset(row["scripts"].split())
        for script in row["routes"].split():
            routes[script] = row["voice"]
        if row["letters"]:
            letters[row["voice"]] = frozenset(row["letters"].strip("-"))
    return reads, routes, letters


def foreign_letters(language: str, word: str) -> str:
    """The Latin letters of ``word`` that the language of espeak voice ``language`` does not
    write (``voice_scripts.csv``, column ``letters``), in order, once each; ``""`` when there
    are none or the voice's letters are not listed.

    The voice reads such a word as if it were its own language (the English voice reads
    "Straße" as /stɹˈeɪs/), with no language switch.

    Examples
    --------
    >>> foreign_letters("en-us", "Straße"), foreign_letters("en-us", "café")
    ('ß', '')
    >>> foreign_letters("de", "Straße"), foreign_letters("en-us", "Łódź")
    ('', 'łóź')
    """
    own = _voice_table()[2].get(language)
    if own is None or word.isascii():
        return ""
    odd = [
        ch
        for ch in word.lower()
        if not ch.isascii()
        and unicodedata.category(ch) == "Ll"
        and letter_script(ch) == "Latin"
        and ch not in own
    ]
    return "".join(dict.fromkeys(odd))


def voices_writing(letters: str) -> list[str]:
    """The listed espeak voices whose language writes every one of ``letters``.

    Examples
    --------
    >>> voices_writing("ß"), voices_writing("łó")
    (['de'], ['pl'])
    """
    table = _voice_table()[2]
    return sorted(voice for voice, own in table.items() if set(letters) <= own)


def foreign_letters_message(index: int, text: str, word: str, letters: str, voice: str) -> str:
    """What to say of item ``index``'s ``word``, whose ``letters`` ``voice``'s language does
    not write: where it is, what happens, and the voices that write them."""
    others = voices_writing(letters) or voices_writing(letters[0])
    hint = "language=..."
    if others:
        hint = f"language={others[0]!r} (voices writing {letters!r}: {', '.join(others[:4])})"
    return (
        f"Item {index} ({describe_item(text)}): the word {word!r} has {letters!r}, which the "
        f"language of the {voice!r} voice does not write; it is read as {voice!r} all the "
        f"same. Pass the text's own {hint}, or a lexicon entry"
    )


def refused_route(language: str, script: str) -> str | None:
    """Why ``script`` must not be routed away from espeak voice ``language`` (None: it may).

    A script the voice's own language writes but the voice cannot read (Japanese kanji for
    ``ja``: espeak's Japanese voice spells each one as "chinese letter") would be read by
    the routed voice in another language (Mandarin for ``cmn``).

    Examples
    --------
    >>> refused_route("en-us", "Han") is None, refused_route("ja", "Cyrillic") is None
    (True, True)
    >>> print(refused_route("ja", "Han"))  # doctest: +ELLIPSIS
    Japanese writes Han (kanji) but the voice spells it out, and the 'cmn' voice would ...
    """
    entry = _OWN_UNREAD.get(language.split("-")[0])
    if entry is None or entry[0] != script:
        return None
    name = {"ja": "Japanese", "ko": "Korean"}[language.split("-")[0]]
    route = route_voice(script)
    return (
        f"{name} writes {script} ({entry[1]}) but the voice spells it out, and the {route!r} "
        f"voice would read it as another language; write it in {entry[2]}, or pass "
        f"language={route!r} if the text is Chinese"
    )


def route_voice(script: str) -> str | None:
    """The espeak voice that reads ``script`` for voices that cannot (None: there is none).

    Examples
    --------
    >>> route_voice("Cyrillic"), route_voice("Han"), route_voice("Cherokee")
    ('ru', 'cmn', None)
    """
    return _voice_table()[1].get(script)


def voice_scripts(backend: str, language: str) -> frozenset[str] | None:
    """The scripts a voice reads, or None when that cannot be told.

    Parameters
    ----------
    backend : {"espeak", "epitran"}
    language : str
        An espeak voice (looked up in ``ipaclip/data/voice_scripts.csv``, else probed once
        per process) or an epitran code (its script suffix, ``"rus-Cyrl"``).

    Examples
    --------
    >>> sorted(voice_scripts("espeak", "en-us")), sorted(voice_scripts("espeak", "sr"))
    (['Latin', 'Shavian'], ['Cyrillic', 'Latin'])
    >>> sorted(voice_scripts("epitran", "rus-Cyrl"))
    ['Cyrillic']
    """
    if backend == "epitran":
        tail = language.split("-")
        scripts = _ISO15924.get(tail[1]) if len(tail) > 1 else None
        return frozenset(scripts) if scripts else None
    if backend != "espeak":
        return None
    table = _voice_table()[0]
    if language in table:
        return table[language]
    return probe_voice_scripts(language)


@functools.cache
def probe_voice_scripts(language: str) -> frozenset[str]:
    """Ask espeak which scripts a voice reads (how ``voice_scripts.csv`` was made).

    The voice reads one probe word per script. It reads a script when its reading has no
    language switch, is not one repeated letter name ("chinese letter chinese letter"), and
    is at most half as long again as the reading of the script's own voice (letter names are
    several times longer than a reading).
    """
    scripts = [s for s in _PROBES if route_voice(s) is not None]
    words = [_PROBES[s] for s in scripts]
    got = _g2p_chunk(("espeak", language, False, True), words)
    reads = set()
    for script, out in zip(scripts, got):
        (home,) = _g2p_chunk(("espeak", route_voice(script), False, True), [_PROBES[script]])
        parts = out.split()
        spelled = len(parts) > 1 and len(set(parts)) == 1
        if out and "(" not in out and not spelled and len(out) <= 1.5 * len(home) + 2:
            reads.add(script)
    if language not in _voice_table()[0]:
        logger.info("Probed the scripts espeak voice %r reads: %s", language, sorted(reads))
    return frozenset(reads)
