"""User lexicons for :class:`~ipaclip.IPATransformer`: word → IPA pronunciations consulted
before the G2P backend, from a dict or a JSON, TSV or CSV file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["load_lexicon"]


def load_lexicon(lexicon) -> dict[str, str]:
    """A lexicon (dict, or a JSON/TSV/CSV file of word, IPA) as ``{lower-case word: IPA}``.

    Entries are checked: single words, non-empty pronunciations; errors name the entry (and
    the file and line for files).
    """
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
