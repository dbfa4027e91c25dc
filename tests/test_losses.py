"""The loss specification (:func:`ipaclip.losses.parse_loss`): weights that can train."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipaclip import PronunciationEncoder, Recipe
from ipaclip._validation import InvalidParameterError
from ipaclip.losses import gallery_infonce, parse_loss, phonetic_prior_loss, triplet_margin_loss

IPA = ["kˈæt", "hˈæt", "bˈæt", "mˈæt", "dˈɑːɡ", "fˈɑːɡ"]


@pytest.mark.parametrize(
    "loss",
    ["0*cosine", "0*cosine+0.0*mse", " 0 * contrastive ", {"cosine": 0}, {"cosine": 0.0, "mse": 0}],
)
def test_all_zero_weights_are_refused_naming_loss(loss):
    with pytest.raises(InvalidParameterError, match=r"^loss=.*every weight is 0.*weight > 0"):
        parse_loss(loss)


@pytest.mark.parametrize(
    "loss", ["-1*cosine", "cosine+-0.5*mse", {"cosine": -0.5}, {"cosine": 1, "mse": -1e-9}]
)
def test_negative_weights_are_refused_naming_loss(loss):
    with pytest.raises(InvalidParameterError, match=r"^loss=.*weights must be finite and >= 0"):
        parse_loss(loss)


def test_a_zero_term_beside_a_positive_one_is_kept():
    assert parse_loss("cosine+0*triplet") == {"cosine": 1.0, "triplet": 0.0}
    assert parse_loss({"cosine": 0, "mse": 2}) == {"cosine": 0.0, "mse": 2.0}


class _CountingTeacher:
    teacher_id = "counting"
    calls = 0

    def transform(self, texts):
        type(self).calls += 1
        return np.ones((len(texts), 4), dtype=np.float32)


@pytest.mark.parametrize("loss", ["0*cosine", {"contrastive": -2}])
def test_the_estimator_refuses_them_before_any_work(loss):
    enc = PronunciationEncoder(
        _CountingTeacher(), recipe=Recipe(loss=loss), width=32, layers=1, heads=2
    )
    with pytest.raises(InvalidParameterError, match="^loss="):
        enc.check_params()
    _CountingTeacher.calls = 0
    with pytest.raises(InvalidParameterError, match="^loss="):
        enc.fit(IPA, IPA)
    assert _CountingTeacher.calls == 0 and not hasattr(enc, "module_")


def test_loss_terms_and_their_names():
    assert parse_loss("cosine+contrastive+3*triplet+0.5*prior") == {
        "cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 0.5,
    }  # fmt: skip
    for bad, message in [
        ("cosine+3*bogus", r"unknown term\(s\) \['bogus'\]"),
        ("cosine+x*triplet", "'x\\*triplet' is not a term or 'weight\\*term'"),
        ({"cosine": -1}, "weights must be finite and >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_loss(bad)
    g = torch.nn.functional.normalize(torch.randn(50, 8), dim=-1)
    s = torch.randn(4, 8, requires_grad=True)
    full = gallery_infonce(s, g, torch.tensor([[0, -1], [1, 2], [3, -1], [4, -1]]), 10.0)
    full.backward()
    assert torch.isfinite(full) and s.grad is not None
    z = torch.randn(6, 8)
    zn = torch.nn.functional.normalize(z, dim=-1)
    cos = (zn @ zn.T)[tuple(torch.triu_indices(6, 6, 1))]
    for per_row in (False, True):
        assert 0.0 <= float(phonetic_prior_loss(z, torch.rand(15), per_row=per_row)) <= 2.0
        # scale-free: any increasing affine function of the cosines is a perfect match
        assert float(phonetic_prior_loss(3 * z, 0.5 * cos + 2, per_row=per_row)) < 1e-5
        assert float(phonetic_prior_loss(z, -cos, per_row=per_row)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="similarity has 3 pairs; 6 items have 15"):
        phonetic_prior_loss(z, torch.rand(3))
    a = torch.tensor([[1.0, 0.0]])
    assert float(triplet_margin_loss(a, a, -a, 0.1)) == 0.0
    assert float(triplet_margin_loss(a, -a, a, 0.1)) == pytest.approx(2.1)
