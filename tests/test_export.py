"""ONNX export of a fitted encoder: onnxruntime reproduces transform (issue #20 point 11)."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder, Recipe
from ipaclip.export import ONNX_INPUTS, export_onnx, onnx_inputs
from tests.fixtures import tiny_clip_text_encoder

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

WORDS = [
    "cat", "hat", "bat", "dog", "fog", "fish", "ship", "shop", "sun", "tree", "sea", "night",
    "light", "rain", "train", "cake",
]  # fmt: skip


@pytest.fixture(scope="module")
def ipa() -> list[str]:
    return IPATransformer().fit_transform(WORDS)


def fitted(ipa, **params) -> PronunciationEncoder:
    base = dict(width=32, layers=1, heads=2, epochs=2, batch_size=8, random_state=0, verbose=0)
    base.update(params)
    return PronunciationEncoder(teacher=tiny_clip_text_encoder(), **base).fit(ipa, WORDS)


@pytest.mark.parametrize(
    "params",
    [
        dict(
            recipe=Recipe(ngrams=3)
        ),  # the n-gram bag with sound classes (two searchsorted lookups)
        dict(recipe=Recipe(ngrams=4), embedding="onehot"),
        dict(pooling="mean"),
    ],
    ids=["ngrams-ipa", "ngrams-onehot", "mean-pooling"],
)
def test_onnxruntime_reproduces_transform(ipa, tmp_path, params):
    enc = fitted(ipa, **params)
    path = export_onnx(enc, tmp_path / "encoder.onnx")
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == list(ONNX_INPUTS)
    # Other batch sizes and lengths than the traced example, and an item shorter than the
    # longest n-gram window.
    for X in (ipa, ipa[:1], ["ə"], ["ab", "kwɪk", "ə"]):
        got = session.run(None, onnx_inputs(enc, X))[0]
        np.testing.assert_allclose(got, enc.transform(X), atol=1e-5, rtol=0)


def test_export_leaves_the_encoder_unchanged_and_refuses_to_replace(ipa, tmp_path):
    enc = fitted(ipa, recipe=Recipe(ngrams=3))
    before = enc.transform(ipa)
    path = export_onnx(enc, tmp_path / "sub" / "encoder.onnx")
    np.testing.assert_array_equal(enc.transform(ipa), before)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx(enc, path)
    assert export_onnx(enc, path, overwrite=True) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["encoder.onnx"]  # no temporaries


def test_onnx_inputs_names_an_item_past_context_length(ipa):
    enc = fitted(ipa, context_length=8)
    with pytest.raises(ValueError, match=r"Item 1 .*context"):
        onnx_inputs(enc, ["kat", "kætəstɹɑfɪkəli"])


def test_export_needs_a_fitted_encoder(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        export_onnx(PronunciationEncoder(), tmp_path / "e.onnx")
    assert not (tmp_path / "e.onnx").exists()


def test_the_unrolled_binary_search_is_searchsorted():
    import torch

    from ipaclip.export import _binary_search

    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 3, 7, 8, 9, 1000, 4096):
        known = torch.unique(torch.randint(-50, 10 * n, (n,), generator=g))
        values = torch.randint(-100, 10 * n + 100, (5, 40), generator=g)
        values[0, : min(len(known), 40)] = known[:40]  # exact hits, the first one included
        values[1, 0], values[1, 1] = known[-1], known[-1] + 1  # the last one, and past it
        assert torch.equal(_binary_search(known, values), torch.searchsorted(known, values))
