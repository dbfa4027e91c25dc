"""ipaclip/evaluation/rhyme.py: rhyme classes, rhyme pairs and the rhyme classifier."""

import numpy as np
from sklearn.linear_model import LogisticRegression

from ipaclip.evaluation.rhyme import build_rhyme_pairs, cmudict_lexicon, evaluate_rhyme, rhyme_part


def test_rhyme_part_starts_at_the_last_primary_stress():
    assert rhyme_part(["P", "L", "AE1", "N", "T"]) == ("AE1", "N", "T")
    assert rhyme_part(["AH0", "B", "AW1", "T", "IH0", "NG"]) == ("AW1", "T", "IH0", "NG")


def test_rhyme_classifier_on_rhyme_class_embedding():
    pairs = build_rhyme_pairs(150, random_state=0)
    assert len(pairs) == 300 and sum(p[2] for p in pairs) == 150
    pron = dict(cmudict_lexicon())
    for w1, w2, rhymes in pairs:
        assert (rhyme_part(pron[w1]) == rhyme_part(pron[w2])) == rhymes
    classes = sorted({rhyme_part(pron[w]) for p in pairs for w in p[:2]})
    index = {c: i for i, c in enumerate(classes)}

    # One random unit vector per rhyme class: rhyming pairs have |e1 - e2| = 0 exactly.
    class_vectors = np.random.default_rng(0).normal(size=(len(classes), 32))

    def embed(words):
        return class_vectors[[index[rhyme_part(pron[w])] for w in words]]

    res = evaluate_rhyme(
        embed,
        pairs=pairs,
        test_size=100,
        classifier=LogisticRegression(C=10.0),
        pair_features="product",
    )
    assert res["accuracy"] == 1.0 and res["n_test"] == 100 and res["n_train"] == 200
    noise = evaluate_rhyme(
        lambda ws: np.random.default_rng(0).normal(size=(len(ws), 8)),
        pairs=pairs,
        test_size=100,
        classifier=LogisticRegression(),
        pair_features="product",
    )
    assert noise["accuracy"] < 0.75
