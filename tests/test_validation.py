"""The one validation mechanism (:mod:`ipaclip._validation`)."""

from __future__ import annotations

import numpy as np

from ipaclip._validation import check_string_items, consume_once


def test_consume_once_lists_an_iterator_and_leaves_collections_alone():
    gen = (t for t in ["a", "b"])
    items = consume_once(gen)
    assert items == ["a", "b"] and list(gen) == []  # read once, kept
    assert check_string_items(items) == ["a", "b"]  # a second reader still sees them
    for collection in (["a"], ("a",), np.array(["a"]), {"a": 1}.keys()):
        assert consume_once(collection) is collection
    assert consume_once(iter([])) == []
