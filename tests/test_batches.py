"""Token-budget batches for inference (issue #19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipaclip import PhonemeEmbedder
from ipaclip._batches import SequenceData, embed_rows, token_budget_batches


@pytest.mark.parametrize("budget, cap", [(1, None), (50, None), (400, None), (800, 3), (10**6, 7)])
def test_batches_cover_every_item_once_within_the_budget(budget, cap):
    lengths = np.random.default_rng(0).choice([3, 5, 17, 400], size=200)
    batches = token_budget_batches(lengths, budget, cap)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(200))
    for b in batches:
        padded = len(b) * lengths[b].max()
        assert len(b) == 1 or padded <= budget
        assert cap is None or len(b) <= cap
    # Greedy over sorted lengths: no batch could have taken the next item.
    for b, nxt in zip(batches, batches[1:]):
        assert (len(b) + 1) * lengths[nxt[0]] > budget or (cap is not None and len(b) == cap)


def test_a_batch_of_long_items_holds_few_and_one_of_short_items_many():
    lengths = np.array([3] * 100 + [400] * 10)
    sizes = [(int(lengths[b].max()), len(b)) for b in token_budget_batches(lengths, 1200)]
    assert sizes == [(3, 100), (400, 3), (400, 3), (400, 3), (400, 1)]


def test_outputs_do_not_depend_on_the_budget():
    torch.manual_seed(0)
    ipa = ["kˈæt", "dˈɑːɡ ænd kˈæt " * 12, "ʃˈɪp", "tɹˈiː " * 40, "ə"]
    seqs = PhonemeEmbedder().fit(ipa).transform(ipa)
    vocabulary = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
    data = SequenceData(seqs, vocabulary, torch.device("cpu"))
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0)
    proj = torch.nn.Linear(seqs.n_features, 16)

    class Mean(torch.nn.Module):  # a padding-aware stand-in for the encoder
        def forward(self, table, row_vocab, ids, lengths):
            mask = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
            h = layer(proj(table[ids]), src_key_padding_mask=mask)
            return h.masked_fill(mask[..., None], 0).sum(1) / lengths[:, None]

    rows = np.arange(len(seqs))

    def run(**kw):
        out = np.zeros((len(seqs), 16), np.float32)
        for index, z in embed_rows(Mean(), data, rows, precision="fp32", **kw):
            out[index] = z.numpy()
        return out

    full = run(batch_size=None, max_tokens=10**6)
    for kw in ({"batch_size": 1}, {"batch_size": None, "max_tokens": 50}, {"batch_size": 2}):
        np.testing.assert_allclose(run(**kw), full, atol=1e-6)
