"""ipaclip/evaluation/pwesuite.py: PWESuite tasks on tiny hand-built inputs where the right
answer is known exactly, and PWESuiteEvaluator."""

import numpy as np
import pytest

from ipaclip.evaluation.distance import segments
from ipaclip.evaluation.pwesuite import (
    PWESUITE_PUBLISHED,
    arpabet_to_ipa,
    build_sound_analogies,
    cmudict_lexicon,
    evaluate_articulatory_correlation,
    evaluate_pwesuite,
    evaluate_retrieval,
    evaluate_sound_analogies,
    format_table,
    sample_words,
)
from ipaclip.inventory import get_inventory

INV = get_inventory()
ONSETS = ["p", "b", "t", "d", "k", "ɡ", "m", "n", "s", "z", "f", "v", "l", "h", "w"]


def _features(seg):
    return INV.features[INV.segment_index[seg]]


def _onehot(seg):
    """One-hot of each of the 24 ternary features: cosine = 1 - Hamming/24."""
    return np.eye(3)[_features(seg) + 1].ravel()


def embed_by_position(ipas, length=3):
    """Concatenated per-segment feature one-hots: a linear function of the features."""
    rows = []
    for ipa in ipas:
        segs = segments(ipa)
        assert len(segs) == length
        rows.append(np.concatenate([_onehot(s) for s in segs]))
    return np.array(rows)


def test_cmudict_helpers():
    assert arpabet_to_ipa(["K", "AE1", "T"]) == "kæt"
    assert arpabet_to_ipa(["AH0", "B", "AH1", "V"]) == "əbʌv"
    with pytest.raises(ValueError, match="'QQ1'"):
        arpabet_to_ipa(["QQ1"])
    words = sample_words(50, random_state=1)
    assert len(set(words)) == 50 and words == sample_words(50, random_state=1)
    assert words != sample_words(50, random_state=2)
    lex = dict(cmudict_lexicon())
    assert all(w.isalpha() and 3 <= len(w) <= 8 for w in words) and all(w in lex for w in words)


def test_articulatory_correlation_exactly_one():
    # Words differ only in the onset: feature edit distance = Hamming(onsets)/24 exactly
    # (a substitution never costs more than 1 < an insertion plus a deletion), and the
    # embedding's cosine similarity = 1 - Hamming/24: a perfect linear relation.
    words = [f"{c}æt" for c in ONSETS]
    embed = lambda ipas: np.array([_onehot(segments(s)[0]) for s in ipas])  # noqa: E731
    res = evaluate_articulatory_correlation(embed, words=words, g2p=list, embed_input="ipa")
    assert res["pearson"] == pytest.approx(1.0)
    assert res["spearman"] == pytest.approx(1.0)
    assert res["pooled_pearson"] == pytest.approx(1.0)
    assert res["n_words"] == len(ONSETS) and res["n_words_undefined"] == 0
    # The same embedding fed the words' text (identical strings here) gives the same answer.
    assert evaluate_articulatory_correlation(embed, words=words, g2p=list)["pearson"] == (
        pytest.approx(1.0)
    )
    # Orthogonal vectors for all words: every similarity is 0, no correlation is defined.
    ortho = lambda ipas: np.eye(len(ipas))  # noqa: E731
    with pytest.raises(ValueError, match="constant"):
        evaluate_articulatory_correlation(ortho, words=words, g2p=list)


def test_retrieval_by_hand():
    words = [f"{c}æt" for c in ONSETS]
    embed = lambda ipas: np.array([_onehot(segments(s)[0]) for s in ipas])  # noqa: E731
    res = evaluate_retrieval(embed, words=words, g2p=list, ks=(1, 3))
    assert res["hit@1"] == 1.0 and res["hit@3"] == 1.0
    # Rank score: the feature-nearest word ties in similarity with every other word at the
    # same Hamming distance; ties count against the model, so r = (#tied at minimum) - 1.
    n = len(ONSETS)
    F = np.array([_features(c) for c in ONSETS])
    H = (F[:, None] != F[None]).sum(-1)
    expected = []
    for i in range(n):
        h = np.delete(H[i], i)
        expected.append((n - (h == h.min()).sum()) / n)
    assert res["rank_score"] == pytest.approx(np.mean(expected))
    # An embedding that ignores the sound: all n - 1 other words tie, so r = n - 2 and the
    # score is PWESuite's minimum (n - (n - 1)) / n = 1 / n.
    flat = evaluate_retrieval(lambda w: np.ones((len(w), 2)), words=words, g2p=list, ks=(1,))
    assert flat["rank_score"] == pytest.approx(1 / n)
    with pytest.raises(ValueError, match="Each k"):
        evaluate_retrieval(embed, words=words, g2p=list, ks=(n,))


LEXICON = [
    ("pat", ["P", "AE1", "T"]),
    ("bat", ["B", "AE1", "T"]),
    ("tin", ["T", "IH1", "N"]),
    ("din", ["D", "IH1", "N"]),
    ("sip", ["S", "IH1", "P"]),
    ("mat", ["M", "AE1", "T"]),
]


def test_build_sound_analogies_by_hand():
    # Voicing minimal pairs: pat/bat (P->B), tin/din (T->D). sip has no partner; mat/bat
    # differ in more than one feature. Analogies: 2 orders x 2 directions = 4.
    found = build_sound_analogies(4, words=LEXICON, random_state=0)
    quads = {(x["a"], x["b"], x["c"], x["d"]) for x in found}
    assert quads == {
        ("pat", "bat", "tin", "din"),
        ("tin", "din", "pat", "bat"),
        ("bat", "pat", "din", "tin"),
        ("din", "tin", "bat", "pat"),
    }
    assert {x["feature"] for x in found} == {"voi"}
    first = next(x for x in found if x["a"] == "pat")
    assert first["ipa"] == ["pæt", "bæt", "tɪn", "dɪn"] and first["pair_ab"] == "P->B"
    with pytest.raises(ValueError, match="only 4"):
        build_sound_analogies(5, words=LEXICON)


def test_linear_embedding_solves_analogies_exactly():
    lex = LEXICON + [
        ("kit", ["K", "IH1", "T"]),
        ("git", ["G", "IH1", "T"]),
        ("sue", ["S", "UW1", "Z"]),
        ("zoo", ["Z", "UW1", "Z"]),
        ("fan", ["F", "AE1", "N"]),
        ("van", ["V", "AE1", "N"]),
    ]
    analogies = build_sound_analogies(20, words=lex, random_state=0)
    res = evaluate_sound_analogies(embed_by_position, analogies=analogies, embed_input="ipa")
    assert res["accuracy"] == 1.0 and res["pwesuite_top2"] == 1.0
    assert res["n_analogies"] == 20 and res["n_gallery"] == 10  # sip and mat are in no analogy
    # Text input: a lookup table from the words to the same vectors.
    table = {w: embed_by_position([arpabet_to_ipa(p)])[0] for w, p in lex}
    res_text = evaluate_sound_analogies(
        lambda ws: np.array([table[w] for w in ws]), analogies=analogies
    )
    assert res_text["accuracy"] == 1.0

    # Unrelated random vectors per word: the parallelogram rarely lands on d.
    rng = np.random.default_rng(0)
    random_table = {w: rng.normal(size=16) for w, _ in lex}
    res_random = evaluate_sound_analogies(
        lambda ws: np.array([random_table[w] for w in ws]), analogies=analogies
    )
    assert res_random["accuracy"] < 0.5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_evaluate_pwesuite_end_to_end_and_table():
    def letters(words):
        X = np.zeros((len(words), 27))
        for i, w in enumerate(words):
            for ch in w:
                X[i, ord(ch) - 97 if ch.isalpha() and ch.isascii() else 26] += 1
        return X + 0.01

    res = evaluate_pwesuite(letters, n_words=60, n_analogies=20, n_classes=100, rhyme_test_size=50)
    summary = res["summary"]
    assert set(summary) == {
        "human_similarity",
        "articulatory_distance",
        "retrieval",
        "analogies",
        "rhyme",
    }
    assert all(-1 <= v <= 1 for v in summary.values())
    assert res["retrieval"]["n_words"] == 60 and res["analogies"]["n_analogies"] == 20
    table = format_table(res, name="letters")
    assert table.splitlines()[1].startswith("letters")
    assert len(table.splitlines()) == 2 + len(PWESUITE_PUBLISHED) + 1
    assert "differ" in table.splitlines()[-1]
    assert PWESUITE_PUBLISHED["Metric Learning Panphon"]["retrieval"] == 0.98


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pwesuite_evaluator_is_evaluate_pwesuite_per_query_type():
    from ipaclip.evaluation import PWESuiteEvaluator, Queries
    from ipaclip.evaluation.evaluator import split_result

    def letters(words):
        X = np.zeros((len(words), 27))
        for i, w in enumerate(words):
            for ch in w:
                X[i, ord(ch) - 97 if ch.isalpha() and ch.isascii() else 26] += 1
        return X + 0.01

    sizes = dict(n_words=40, n_analogies=10, rhyme_test_size=30, random_state=2)
    evaluator = PWESuiteEvaluator(n_rhyme_classes=60, **sizes)
    scores = evaluator(Queries(text=letters, g2p=list, embed_ipa=letters))
    direct = evaluate_pwesuite(letters, n_classes=60, **sizes)
    expected, info = split_result({"text": direct})
    assert {k: v for k, v in scores.items() if k.startswith("text/")} == expected
    assert evaluator.info_["text"] == info["text"]
    assert scores[evaluator.primary_metric] == scores["pronunciation/summary/articulatory_distance"]
