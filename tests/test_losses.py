"""The loss specification (:func:`ipaclip.losses.parse_loss`): weights that can train."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip import PronunciationEncoder, Recipe
from ipaclip._validation import InvalidParameterError
from ipaclip.losses import parse_loss

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
