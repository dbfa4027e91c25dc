"""ipaclip/evaluation/queries.py: Queries, built once from an encoder or an IPACLIP."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip import IPACLIP
from ipaclip.evaluation import Queries
from tests.fixtures import letter_counts as _letters


class LetterEncoder:
    teacher = "letters"
    teacher_id_ = "letters"

    def embed_targets(self, words):
        return _letters(words)

    def transform(self, ipas):
        return _letters([w[::-1] for w in ipas])


class Teacher:
    def transform(self, words):
        return 2.0 * _letters(words)


def test_the_three_queries_g2p_and_embed_ipa():
    q = Queries.from_model(LetterEncoder(), g2p=lambda ws: [w + "a" for w in ws], fuse_weight=0.3)
    words = ["cab", "dog"]
    np.testing.assert_allclose(q.text(words), _letters(words), rtol=1e-6)
    np.testing.assert_allclose(q.embed_ipa(["ab"]), _letters(["ba"]), rtol=1e-6)
    np.testing.assert_allclose(q.pronunciation(words), _letters(["abac", "agod"]), rtol=1e-6)
    fused = 0.7 * q.text(words) + 0.3 * q.pronunciation(words)
    np.testing.assert_allclose(q.fused(words), fused / np.linalg.norm(fused, axis=1, keepdims=True))
    assert list(q.functions) == ["text", "pronunciation", "fused"]
    assert q.name == "LetterEncoder"


def test_from_an_ipaclip_reads_its_teacher_and_g2p():
    model = IPACLIP(LetterEncoder(), teacher=Teacher(), g2p=lambda ws: list(ws))
    q = Queries.from_model(model)
    np.testing.assert_allclose(q.text(["cab"]), _letters(["cab"]), rtol=1e-6)  # unit rows
    np.testing.assert_allclose(q.pronunciation(["cab"]), _letters(["bac"]), rtol=1e-6)
    # teacher= and g2p= given win over the model's
    q = Queries.from_model(model, teacher=Teacher(), g2p=lambda ws: ["x" for _ in ws])
    np.testing.assert_allclose(q.pronunciation(["cab"]), _letters(["x"]), rtol=1e-6)


def test_an_unknown_teacher_refuses_the_text_query_only():
    enc = LetterEncoder()
    enc.teacher_id_ = None  # fitted on precomputed targets
    q = Queries.from_model(enc, g2p=list)
    assert not q.teacher_known
    with pytest.raises(ValueError, match="precomputed target embeddings.*Pass teacher="):
        q.text(["cab"])
    assert q.embed_ipa(["ab"]).shape == (1, 26)
    assert Queries.from_model(enc, teacher=Teacher(), g2p=list).teacher_known


def test_memo_and_sample_compute_once():
    q = Queries.from_model(LetterEncoder(), g2p=list)
    calls = []
    assert q.memo("k", lambda: calls.append(1) or 5) == 5
    assert q.memo("k", lambda: calls.append(1) or 6) == 5
    assert calls == [1]
    assert q.sample(5, 0) is q.sample(5, 0) and len(q.sample(5, 0)) == 5
    assert q.sample(5, 1) != q.sample(5, 0)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="g2p must be"):
        Queries.from_model(LetterEncoder(), g2p=42)
    with pytest.raises(TypeError, match="teacher must have a transform"):
        Queries.from_model(LetterEncoder(), teacher="clip")
    with pytest.raises(ValueError, match="fuse_weight"):
        Queries.from_model(LetterEncoder(), g2p=list, fuse_weight=2)
    with pytest.raises(TypeError, match="embed_ipa must be callable"):
        Queries(text=_letters, g2p=list, embed_ipa=None)
