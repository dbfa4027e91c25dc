"""Tests for ipaclip.evaluation.respell: candidates, IPA-preserving respellings, retrieval."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ipaclip import IPATransformer
from ipaclip.datasets import load_cmudict_words
from ipaclip.evaluation.respell import (
    fuse_embeddings,
    generate_respellings,
    respelling_candidates,
    respelling_retrieval,
)


def unit(deg: float) -> list[float]:
    rad = np.deg2rad(deg)
    return [float(np.cos(rad)), float(np.sin(rad))]


def table_embed(table: dict[str, list[float]], calls: list | None = None):
    def embed(xs):
        if calls is not None:
            calls.append(list(xs))
        return np.array([table[x] for x in xs])

    return embed


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------
def test_candidates_breadth_first_with_hand_computed_result():
    rules = [("ph", "f")]
    # One edit: faph, phaf; two edits: faf.
    assert respelling_candidates("phaph", rules=rules) == ["faph", "phaf", "faf"]
    assert respelling_candidates("phaph", rules=rules, max_edits=1) == ["faph", "phaf"]
    assert respelling_candidates("phaph", rules=rules, max_candidates=2) == ["faph", "phaf"]
    assert respelling_candidates("PhaPh", rules=rules, max_edits=1) == ["faph", "phaf"]
    # Regex groups in replacements: doubled consonants become single.
    assert respelling_candidates("bell", rules=[(r"([lt])\1", r"\1")]) == ["bel"]


def test_default_rules_reach_classic_respellings():
    assert "fotograf" in respelling_candidates("photograph")
    assert "nite" in respelling_candidates("knight", max_edits=3, max_candidates=5000)
    assert "photograph" not in respelling_candidates("photograph")


def test_bad_rule_is_named():
    with pytest.raises(ValueError, match="Rule 1"):
        respelling_candidates("cat", rules=[("c", "k"), ("(", "x")])


# --------------------------------------------------------------------------------------------
# generation with a fake G2P: which candidates survive
# --------------------------------------------------------------------------------------------
def fake_g2p(xs):
    """'Pronounce' ph as f; a word starting with 'ph' gets a stress mark."""
    return [("ˈ" if x.startswith("ph") else "") + x.replace("ph", "f") for x in xs]


def test_survivors_need_equal_ipa_and_not_a_real_word():
    rules = [("ph", "f"), ("a", "o")]
    out = generate_respellings(["zaphph", "phat"], fake_g2p, rules=rules, random_state=0)
    assert "fat" in load_cmudict_words()
    # zaphph -> {zafph, zaphf, zaff} (same sound), plus o-variants (different sound).
    assert out[0]["alternatives"] == ["zaff", "zafph", "zaphf"]
    assert out[0]["respelling"] in out[0]["alternatives"]
    assert out[0]["ipa"] == "zaff"
    # phat -> fat sounds the same but stress differs, and it is a real word anyway.
    assert out[1]["respelling"] is None and out[1]["alternatives"] == []
    json.dumps(out)


def test_ignore_stress():
    rules = [("ph", "f")]
    strict = generate_respellings(["phuzzix"], fake_g2p, rules=rules)
    loose = generate_respellings(["phuzzix"], fake_g2p, rules=rules, ignore_stress=True)
    assert strict[0]["alternatives"] == []
    assert loose[0]["alternatives"] == ["fuzzix"]


def test_seeded_choice_is_deterministic_and_uses_the_seed():
    rules = [("ph", "f")]
    word = ["zaphaphaphaph"]  # 2**4 - 1 = 15 same-sounding candidates
    runs = [
        generate_respellings(word, fake_g2p, rules=rules, max_edits=4, random_state=s)[0]
        for s in range(8)
    ]
    assert len(runs[0]["alternatives"]) == 15
    again = generate_respellings(word, fake_g2p, rules=rules, max_edits=4, random_state=3)[0]
    assert again["respelling"] == runs[3]["respelling"]
    assert len({r["respelling"] for r in runs}) > 1


def test_g2p_errors_are_clear():
    with pytest.raises(ValueError, match="returned 1 transcriptions"):
        generate_respellings(["phat"], lambda xs: ["x"])
    with pytest.raises(TypeError, match="callable"):
        generate_respellings(["phat"], "espeak")
    with pytest.raises(ValueError, match="max_edits"):
        generate_respellings(["phat"], fake_g2p, max_edits=0)


def test_real_espeak_respellings_keep_the_exact_ipa():
    g2p = IPATransformer()
    words = ["knight", "photograph", "cheese", "make"]
    out = generate_respellings(words, g2p.fit_transform, random_state=0)
    lexicon = load_cmudict_words()
    assert sum(r["respelling"] is not None for r in out) >= 3
    for r in out:
        assert r["ipa"] == g2p.fit_transform([r["word"]])[0]
        if r["alternatives"]:
            ipas = g2p.fit_transform(r["alternatives"])
            assert set(ipas) == {r["ipa"]}, (r["word"], r["alternatives"], ipas)
            assert not any(a in lexicon or a == r["word"] for a in r["alternatives"])


# --------------------------------------------------------------------------------------------
# fusion and retrieval
# --------------------------------------------------------------------------------------------
def test_fuse_embeddings_hand_values():
    text, pron = [[1.0, 0.0]], [[0.0, 3.0]]
    np.testing.assert_allclose(fuse_embeddings(text, pron, 0.0), [[1.0, 0.0]])
    np.testing.assert_allclose(fuse_embeddings(text, pron, 1.0), [[0.0, 1.0]])
    # 0.75 * (1, 0) + 0.25 * (0, 1), normalised: (3, 1) / sqrt(10)
    np.testing.assert_allclose(fuse_embeddings(text, pron, 0.25), [[3 / 10**0.5, 1 / 10**0.5]])
    with pytest.raises(ValueError, match="weight"):
        fuse_embeddings(text, pron, 1.5)
    with pytest.raises(ValueError, match="must match"):
        fuse_embeddings(text, [[1.0, 0.0, 0.0]])


GALLERY = {"cat": unit(0), "dog": unit(90), "cow": unit(180), "pig": unit(270)}
# Queries (angles): text kat 100°, dawg 80°; pron kat 10°, dawg 200°.
TEXT = {"kat": unit(100), "dawg": unit(80)}
PRON = {"K": unit(10), "D": unit(200)}


def ipa_of(xs):
    return [{"kat": "K", "dawg": "D"}[x] for x in xs]


def test_retrieval_hand_computed_ranks():
    calls: list = []
    out = respelling_retrieval(
        [("cat", "kat"), ("dog", "dawg")],
        list(GALLERY),
        embed_gallery=table_embed(GALLERY),
        embed_text=table_embed(TEXT),
        embed_pronunciation=table_embed(PRON, calls),
        g2p=ipa_of,
        ks=(1, 2),
    )
    assert calls == [["K", "D"]]  # the pronunciation encoder reads the respellings' IPA
    # text: kat@100° ranks dog, cow, cat (cat 3rd); dawg@80° ranks dog 1st.
    assert out["text"] == pytest.approx({"recall@1": 0.5, "recall@2": 0.5, "mrr": (1 / 3 + 1) / 2})
    # pron: K@10° ranks cat 1st; D@200° ranks cow, pig, dog (dog 3rd).
    assert out["pronunciation"] == pytest.approx(
        {"recall@1": 0.5, "recall@2": 0.5, "mrr": (1 + 1 / 3) / 2}
    )
    # fused (0.5): kat@55° ranks dog, cat (2nd); dawg@140° ranks cow, dog (2nd).
    assert out["fused"] == pytest.approx({"recall@1": 0.0, "recall@2": 1.0, "mrr": 0.5})
    assert out["n_pairs"] == 2 and out["n_gallery"] == 4 and out["fuse_weight"] == 0.5
    json.dumps(out)


def test_retrieval_fuse_weight_extremes_and_single_query_types():
    args = ([("cat", "kat"), ("dog", "dawg")], list(GALLERY))
    both = dict(
        embed_gallery=table_embed(GALLERY),
        embed_text=table_embed(TEXT),
        embed_pronunciation=table_embed(PRON),
        g2p=ipa_of,
    )
    w0 = respelling_retrieval(*args, **both, fuse_weight=0)
    assert w0["fused"] == w0["text"]
    w1 = respelling_retrieval(*args, **both, fuse_weight=1)
    assert w1["fused"] == w1["pronunciation"]
    text_only = respelling_retrieval(
        *args, embed_gallery=table_embed(GALLERY), embed_text=table_embed(TEXT)
    )
    assert set(text_only) == {"n_pairs", "n_gallery", "fuse_weight", "text"}


def test_retrieval_duplicate_gallery_entries_are_all_positives():
    gallery = {"Cat": unit(100), "dog": unit(90), "cat": unit(0)}
    out = respelling_retrieval(
        [("cat", "kat")],
        ["Cat", "dog", "cat"],
        embed_gallery=table_embed(gallery),
        embed_text=table_embed(TEXT),
    )
    assert out["text"]["recall@1"] == 1.0  # "Cat" at 100° is the nearest, and it counts


def test_retrieval_errors():
    gallery = list(GALLERY)
    text = dict(embed_gallery=table_embed(GALLERY), embed_text=table_embed(TEXT))
    with pytest.raises(ValueError, match="'horse' of pair 0 is not in gallery_words"):
        respelling_retrieval([("horse", "kat")], gallery, **text)
    with pytest.raises(ValueError, match="Pair 1"):
        respelling_retrieval([("cat", "kat"), ("dog", None)], gallery, **text)
    with pytest.raises(ValueError, match="pass g2p="):
        respelling_retrieval(
            [("cat", "kat")], gallery, **text, embed_pronunciation=table_embed(PRON)
        )
    with pytest.raises(ValueError, match="at least one"):
        respelling_retrieval([("cat", "kat")], gallery, embed_gallery=table_embed(GALLERY))
    with pytest.raises(ValueError, match="gallery's"):
        respelling_retrieval(
            [("cat", "kat")],
            gallery,
            embed_gallery=table_embed(GALLERY),
            embed_text=lambda xs: np.ones((1, 3)),
        )
    with pytest.raises(TypeError, match="positional"):  # one calling convention: keywords
        respelling_retrieval([("cat", "kat")], gallery, table_embed(GALLERY), table_embed(TEXT))
