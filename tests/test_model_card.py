"""ipaclip.model_card: the card is filled from the saved config, follows sentence-transformers'
layout, and write_model_card touches README.md only (issue #20 point 10)."""

from __future__ import annotations

import hashlib
import json

import pytest

from ipaclip import IPATransformer, PronunciationEncoder, Recipe
from ipaclip.model_card import base_model, render_model_card, write_model_card
from tests.fixtures import tiny_clip_text_encoder

yaml = pytest.importorskip("yaml")

WORDS = ["cat", "hat", "bat", "dog", "fog", "fish", "ship", "shop", "sun", "tree", "sea", "rain"]
SECTIONS = [
    "## Model Details",
    "### Model Description",
    "### Recipe",
    "### Architecture",
    "## Usage",
    "## Evaluation",
    "## Training Details",
    "## Intended Use and Limitations",
    "## Citation",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    g2p = IPATransformer()
    enc = PronunciationEncoder(
        teacher=tiny_clip_text_encoder(), width=32, layers=1, heads=2, epochs=3, batch_size=8,
        validation_fraction=0.25, random_state=0, verbose=0, recipe=Recipe(ngrams=3),
    ).fit(g2p.fit_transform(WORDS), WORDS)  # fmt: skip
    folder = tmp_path_factory.mktemp("models") / "tiny-model"
    enc.save(folder, g2p=g2p)
    return enc, folder


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_card_is_filled_from_what_the_model_knows(saved):
    enc, folder = saved
    config = json.loads((folder / "config.json").read_text())
    card = render_model_card(config)
    meta = front_matter(card)
    assert meta["library_name"] == "ipaclip" and "pronunciation" in meta["tags"]
    assert "base_model" not in meta  # a random open_clip teacher is no hub model
    assert meta["license"] == "other" and meta["language"] == "en"
    body = card.split("---\n", 2)[2]
    assert [line for line in body.splitlines() if line in SECTIONS] == SECTIONS
    assert f"`{enc.teacher_id_}`" in card
    assert f"**Output dimensionality:** {enc.embedding_dim_} dimensions" in card
    assert f"**Phoneme vocabulary:** {len(enc.vocabulary_)} segments" in card
    assert f"**Training:** {enc.n_epochs_} epochs" in card
    assert f"- `loss`: `{enc.recipe.loss}`" in card and f"- `ngrams`: {enc.recipe.ngrams}" in card
    assert f"- n-gram bag, known n-grams: {enc.config_.ngram_vocab_size}" in card
    assert "**Training data:** not recorded" in card  # never guessed
    assert "Not evaluated yet" in card
    # The history: first, best validation and last epoch, with their numbers.
    best = max(enc.history_, key=lambda h: h["val_cosine"])
    for h in {1: enc.history_[0], best["epoch"]: best, 3: enc.history_[-1]}.values():
        assert f"| {h['epoch']} | {h['loss']:.4f} | {h['train_cosine']:.4f} |" in card
    assert "arXiv:2303.03144" in card and "espeak" in card and "text-only proxy" in card


def test_recorded_training_data_and_a_hub_teacher_fill_the_front_matter():
    config = {
        "teacher": {"id": "sentence-transformers:all-MiniLM-L6-v2", "dim": 384},
        "n_train_items": 19287,
        "training_data": "cmudict",
        "estimator_params": {"recipe": {"loss": "cosine+contrastive", "ngrams": 4}},
    }
    card = render_model_card(config, model_id="org/ipa-minilm")
    meta = front_matter(card)
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["cmudict"]
    assert "**Training data:** 19,287 items of cmudict" in card
    assert "- `loss`: `cosine+contrastive`" in card and "- `ngrams`: 4" in card
    assert 'from_pretrained("org/ipa-minilm")' in card
    assert front_matter(render_model_card(config, license="mit"))["license"] == "mit"
    assert base_model("open_clip:hf-hub:org/clip") == "org/clip"
    assert base_model("sentence-transformers:folder@sha256-abc") is None


RESULTS = {
    "config": {"tasks": ["human"], "teacher": "t", "fuse_weight": 0.5, "model_name": "tiny"},
    "human": {"text": {"pearson": 0.25}, "pronunciation": {"pearson": 0.5}},
    "summary": {"human: Pearson r": {"text": 0.25, "pronunciation": 0.5, "fused": None}},
}


def test_write_model_card_adds_the_figures_and_touches_nothing_else(saved):
    enc, folder = saved
    before = digests(folder)
    path = write_model_card(folder, RESULTS)
    assert path == folder / "README.md"
    after = digests(folder)
    assert {k: v for k, v in after.items() if k != "README.md"} == {
        k: v for k, v in before.items() if k != "README.md"
    }
    assert sorted(after) == sorted({*before, "README.md"})  # no temporaries, nothing else new
    card = path.read_text()
    assert "# tiny" in card
    assert "| human: Pearson r | 0.250 | 0.500 | - |" in card
    assert 'from_pretrained("tiny-model")' in card
    loaded = PronunciationEncoder.load(folder)  # the checksum still holds
    assert loaded.n_epochs_ == enc.n_epochs_
    # Mean ± sd of several seeds.
    seeds = dict(RESULTS, seeds={"n_seeds": 3, "sd": {"human": {"text": {"pearson": 0.01}}}})
    card = write_model_card(folder, seeds).read_text()
    assert "| human: Pearson r | 0.250 ± 0.010 |" in card and "over 3 seeds" in card


def test_a_readme_that_is_not_ipaclips_is_kept_unless_overwrite(saved, tmp_path):
    _, folder = saved
    mine = tmp_path / "copy"
    mine.mkdir()
    (mine / "config.json").write_bytes((folder / "config.json").read_bytes())
    (mine / "README.md").write_text("# my notes\n")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_model_card(mine)
    assert (mine / "README.md").read_text() == "# my notes\n"
    write_model_card(mine, overwrite=True)
    assert "library_name: ipaclip" in (mine / "README.md").read_text()
    write_model_card(mine)  # ipaclip's own card is replaced without asking


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        write_model_card(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="ipaclip format"):
        write_model_card(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
