"""Batched phonetic similarity (:mod:`ipaclip._edit_distance`) against the feature edit distance."""

from __future__ import annotations

import numpy as np

from ipaclip._edit_distance import BatchPhoneticSimilarity
from ipaclip.evaluation.distance import paired_feature_edit_distance
from ipaclip.phonemes import PhonemeEmbedder
from tests.fixtures import ANIMALS_IPA, padded_batch


def test_batch_similarity_matches_the_feature_edit_distance():
    seqs = PhonemeEmbedder().fit(ANIMALS_IPA).transform(ANIMALS_IPA)
    ids, lengths = padded_batch(seqs, len(ANIMALS_IPA))
    sim = BatchPhoneticSimilarity(seqs.symbols)(ids, lengths)
    ii, jj = np.triu_indices(len(ANIMALS_IPA), 1)
    ref = 1 - paired_feature_edit_distance(
        [ANIMALS_IPA[i] for i in ii], [ANIMALS_IPA[j] for j in jj]
    )
    np.testing.assert_allclose(sim, ref, atol=1e-6)
