"""Tests for ipaclip.teachers: frozen CLIP and sentence-transformers teachers.

Expected embeddings are computed independently of the teachers: open_clip's own
``tokenize`` / ``image_transform`` and the model's ``encode_text`` / ``encode_image``,
L2-normalised by hand.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from ipaclip import _hub
from ipaclip.teachers import (
    RANDOM_WEIGHTS_SEED,
    CLIPImageEncoder,
    CLIPTextEncoder,
    SentenceTransformerEncoder,
    load_clip,
    resolve_teacher,
)
from ipaclip.teachers import clip as clip_teachers
from tests.fixtures import (
    TINY_CONTEXT_LENGTH,
    TINY_IMAGE_SIZE,
    register_tiny_clip_config,
    save_tiny_clip_checkpoint,
    tiny_clip,
    tiny_clip_image_encoder,
    tiny_clip_text_encoder,
    write_tiny_clip_dir,
)

TEXTS = ["a dog", "A PHOTO of a cat!", "the quick brown fox", "zebra", "ŋ ʃ ə unicode", "x"]


# --------------------------------------------------------------------------------------
# Helpers and fixtures
# --------------------------------------------------------------------------------------


def _unit(t: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(t.float(), dim=-1).detach().numpy()


def _expected_text(model: torch.nn.Module, texts: list[str], normalize: bool = True) -> np.ndarray:
    with torch.no_grad():
        out = model.encode_text(open_clip.tokenize(texts, context_length=TINY_CONTEXT_LENGTH))
    return _unit(out) if normalize else out.numpy()


def _expected_image(model: torch.nn.Module, images: list[Image.Image], **norm) -> np.ndarray:
    transform = open_clip.image_transform(TINY_IMAGE_SIZE, is_train=False, **norm)
    with torch.no_grad():
        out = model.encode_image(torch.stack([transform(im.convert("RGB")) for im in images]))
    return _unit(out)


def _arrays(n: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(40, 50, 3), (32, 32, 3), (64, 20, 3), (33, 47, 3), (48, 48, 3)]
    return [rng.integers(0, 256, shapes[i % len(shapes)], dtype=np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory) -> str:
    """The tiny CLIP config registered with open_clip (so names/checkpoints load)."""
    return register_tiny_clip_config(tmp_path_factory.mktemp("configs"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_clip_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    return write_tiny_clip_dir(tmp_path_factory.mktemp("localdir") / "tiny-clip")


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder().fit()


# --------------------------------------------------------------------------------------
# CLIPTextEncoder
# --------------------------------------------------------------------------------------


def test_text_encoder_matches_open_clip_tokenizer_and_encode_text():
    model = tiny_clip()
    X = CLIPTextEncoder(model, pretrained=None).transform(TEXTS)
    assert X.dtype == np.float32 and X.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(X, _expected_text(model, TEXTS), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    # Distinct texts get distinct embeddings (CLIP's tokenizer lower-cases, so no collision
    # between these).
    assert len({tuple(np.round(row, 5)) for row in X}) == len(TEXTS)


def test_text_encoder_is_case_insensitive_like_clip_tokenizer():
    X = tiny_clip_text_encoder().transform(["A Dog", "a dog"])
    np.testing.assert_allclose(X[0], X[1], atol=1e-6)


@pytest.mark.filterwarnings("ignore:1 of 2 texts is longer than:UserWarning")
def test_text_encoder_truncates_long_texts_to_context_length():
    long_text = " ".join(["word"] * 200)
    enc = tiny_clip_text_encoder().fit()
    assert enc.context_length_ == TINY_CONTEXT_LENGTH
    X = enc.transform([long_text, "word " * (TINY_CONTEXT_LENGTH - 2)])
    np.testing.assert_allclose(X, _expected_text(tiny_clip(), [long_text, "word " * 30]), atol=1e-6)
    # Both fill the context with "word" tokens, so truncation makes them identical.
    np.testing.assert_allclose(X[0], X[1], atol=1e-6)


def test_text_encoder_normalize_false_returns_raw_embeddings():
    model = tiny_clip()
    X = CLIPTextEncoder(model, pretrained=None, normalize=False).transform(TEXTS[:3])
    expected = _expected_text(model, TEXTS[:3], normalize=False)
    np.testing.assert_allclose(X, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.linalg.norm(X, axis=1), 1.0)


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_text_encoder_batch_size_does_not_change_results(batch_size):
    big = tiny_clip_text_encoder(batch_size=1024).transform(TEXTS)
    small = tiny_clip_text_encoder(batch_size=batch_size).transform(TEXTS)
    np.testing.assert_allclose(small, big, atol=1e-6)


def test_text_encoder_is_deterministic_and_accepts_any_iterable():
    enc = tiny_clip_text_encoder()
    first = enc.transform(TEXTS)
    np.testing.assert_array_equal(enc.transform(TEXTS), first)
    np.testing.assert_array_equal(enc.transform(tuple(TEXTS)), first)
    np.testing.assert_array_equal(enc.transform(t for t in TEXTS), first)
    np.testing.assert_array_equal(enc.transform(np.array(TEXTS)), first)


def test_empty_input_gives_empty_array_of_right_width():
    out = tiny_clip_text_encoder().transform([])
    assert out.shape == (0, 32) and out.dtype == np.float32


def test_transform_without_fit_loads_and_fit_returns_self():
    enc = tiny_clip_text_encoder()
    assert not hasattr(enc, "model_")
    assert enc.fit() is enc
    assert enc.embedding_dim_ == 32
    assert not enc.model_.training


def test_embedding_dim_follows_the_model():
    enc = tiny_clip_text_encoder(embed_dim=24).fit()
    assert enc.embedding_dim_ == 24
    assert enc.transform(["a"]).shape == (1, 24)


# --------------------------------------------------------------------------------------
# CLIPImageEncoder
# --------------------------------------------------------------------------------------


def test_image_encoder_matches_model_preprocessing_and_encode_image():
    model = tiny_clip()
    arrays = _arrays()
    X = CLIPImageEncoder(model, pretrained=None).transform(arrays)
    expected = _expected_image(model, [Image.fromarray(a) for a in arrays])
    assert X.dtype == np.float32 and X.shape == (len(arrays), 32)
    np.testing.assert_allclose(X, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)


def test_image_encoder_paths_pil_and_arrays_agree(tmp_path):
    arrays = _arrays(3)
    paths = []
    for i, a in enumerate(arrays):
        paths.append(tmp_path / f"im{i}.png")
        Image.fromarray(a).save(paths[-1])
    enc = tiny_clip_image_encoder()
    from_arrays = enc.transform(arrays)
    np.testing.assert_allclose(enc.transform(paths), from_arrays, atol=1e-6)
    np.testing.assert_allclose(enc.transform([str(p) for p in paths]), from_arrays, atol=1e-6)
    np.testing.assert_allclose(
        enc.transform([Image.fromarray(a) for a in arrays]), from_arrays, atol=1e-6
    )
    # floats in [0, 1] that are exactly uint8 / 255 give the same pixels
    floats = [a.astype(np.float64) / 255.0 for a in arrays]
    np.testing.assert_allclose(enc.transform(floats), from_arrays, atol=1e-6)
    # a 4-D stack is a list of images
    same = [arrays[1], arrays[1]]
    np.testing.assert_allclose(enc.transform(np.stack(same)), enc.transform(same), atol=1e-6)


def test_image_encoder_grayscale_and_rgba_are_converted_to_rgb():
    gray = _arrays(1)[0][..., 0]
    enc = tiny_clip_image_encoder()
    X = enc.transform([gray, gray[..., None], np.repeat(gray[..., None], 3, axis=-1)])
    np.testing.assert_allclose(X[0], X[2], atol=1e-6)
    np.testing.assert_allclose(X[1], X[2], atol=1e-6)
    rgb = _arrays(1, seed=3)[0]
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    np.testing.assert_allclose(enc.transform([rgba]), enc.transform([rgb]), atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_image_encoder_batch_size_does_not_change_results(batch_size):
    arrays = _arrays()
    big = tiny_clip_image_encoder(batch_size=512).transform(arrays)
    np.testing.assert_allclose(
        tiny_clip_image_encoder(batch_size=batch_size).transform(arrays), big, atol=1e-6
    )


# --------------------------------------------------------------------------------------
# Loading by name: checkpoint files, local-dir:, random weights, offline failure
# --------------------------------------------------------------------------------------


def test_checkpoint_file_with_registered_arch_equals_original_model(tiny_arch, checkpoint):
    model = tiny_clip()
    text = CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint))
    np.testing.assert_allclose(text.transform(TEXTS), _expected_text(model, TEXTS), atol=1e-6)
    images = [Image.fromarray(a) for a in _arrays(3)]
    image = CLIPImageEncoder(tiny_arch, pretrained=checkpoint)  # a Path works too
    np.testing.assert_allclose(image.transform(images), _expected_image(model, images), atol=1e-6)


def test_checkpoint_of_another_seed_gives_other_embeddings(tiny_arch, tmp_path):
    other = save_tiny_clip_checkpoint(tmp_path / "seed1.pt", seed=1)
    X = CLIPTextEncoder(tiny_arch, pretrained=str(other)).transform(TEXTS[:2])
    np.testing.assert_allclose(X, _expected_text(tiny_clip(seed=1), TEXTS[:2]), atol=1e-6)
    assert not np.allclose(X, _expected_text(tiny_clip(seed=0), TEXTS[:2]), atol=1e-3)


def test_local_dir_equals_original_and_uses_its_own_preprocessing(local_dir):
    model = tiny_clip()
    spec = f"local-dir:{local_dir}"
    X = CLIPTextEncoder(spec, pretrained=None).transform(TEXTS)
    np.testing.assert_allclose(X, _expected_text(model, TEXTS), atol=1e-6)
    # write_tiny_clip_dir stores mean = std = 0.5, unlike the OpenAI defaults of the object
    images = [Image.fromarray(a) for a in _arrays(3)]
    got = CLIPImageEncoder(spec, pretrained=None).transform(images)
    half = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    np.testing.assert_allclose(got, _expected_image(model, images, **half), atol=1e-6)
    assert not np.allclose(got, _expected_image(model, images), atol=1e-3)


def test_local_dir_errors(local_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="open_clip_config.json"):
        CLIPTextEncoder(f"local-dir:{tmp_path}", pretrained=None).fit()
    with pytest.raises(ValueError, match="cannot be combined with model='local-dir:"):
        load_clip(f"local-dir:{local_dir}", pretrained="openai")
    # The encoders' default pretrained="openai" is documented as ignored for a folder,
    # which carries its own weights.
    default = CLIPTextEncoder(f"local-dir:{local_dir}").transform(TEXTS[:2])
    np.testing.assert_allclose(default, _expected_text(tiny_clip(), TEXTS[:2]), atol=1e-6)


def test_random_weights_are_seeded_and_reproducible(tiny_arch, caplog):
    clip_teachers._load_clip_shared.cache_clear()
    with caplog.at_level("WARNING", logger="ipaclip.teachers"):
        first = CLIPTextEncoder(tiny_arch, pretrained=None).transform(TEXTS)
    assert "random weights" in caplog.text
    clip_teachers._load_clip_shared.cache_clear()
    second = CLIPTextEncoder(tiny_arch, pretrained=None).transform(TEXTS)
    np.testing.assert_array_equal(first, second)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        reference = open_clip.create_model(tiny_arch, pretrained=None).eval()
    np.testing.assert_allclose(first, _expected_text(reference, TEXTS), atol=1e-6)


def test_missing_checkpoint_and_unknown_names_fail_clearly(tiny_arch, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        CLIPTextEncoder(tiny_arch, pretrained=str(tmp_path / "missing.pt")).fit()
    with pytest.raises(ValueError, match=r"Unknown open_clip architecture 'ViT-B-23'.*ViT-B-32"):
        CLIPTextEncoder("ViT-B-23", pretrained=None).fit()
    with pytest.raises(ValueError, match=r"Unknown pretrained tag 'opnai'.*'openai'"):
        CLIPTextEncoder("ViT-B-32", pretrained="opnai").fit()


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    """An empty download cache, and the hub's offline switches unset."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "empty-cache"


def _assert_says_how_to_provide_weights(message: str) -> None:
    assert "not cached" in message
    assert "pretrained='/path/to/" in message
    assert "local-dir:" in message
    assert "model object" in message


@pytest.mark.parametrize("tag", ["openai", "laion2b_s34b_b79k"])
def test_offline_pretrained_tag_fails_fast_with_instructions(no_cache, monkeypatch, tag):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        CLIPTextEncoder("ViT-B-32", pretrained=tag, cache_dir=no_cache).fit()
    assert time.perf_counter() - start < 10.0
    message = str(info.value)
    assert "'ViT-B-32'" in message and tag in message and "HF_HUB_OFFLINE" in message
    _assert_says_how_to_provide_weights(message)


@pytest.mark.slow
def test_hanging_network_is_abandoned_within_seconds(no_cache, monkeypatch):
    """A connection that never answers (the 60 s retry case) is given up after the probe."""
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(60)
        raise OSError("released")

    monkeypatch.setattr(_hub.socket, "create_connection", hang)
    start = time.perf_counter()
    try:
        with pytest.raises(RuntimeError) as info:
            load_clip("ViT-B-32", pretrained="openai", cache_dir=no_cache)
    finally:
        release.set()
    assert time.perf_counter() - start < 10.0
    assert "no connection" in str(info.value)
    _assert_says_how_to_provide_weights(str(info.value))


def test_offline_uncached_sentence_transformer_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="not in the Hugging Face cache") as info:
        SentenceTransformerEncoder("ipaclip-test-org/not-a-real-model").fit()
    assert time.perf_counter() - start < 10.0
    assert "model='/path/to/folder'" in str(info.value)


def test_load_clip_returns_model_preprocess_tokenizer(tiny_arch, checkpoint):
    model, preprocess, tokenizer = load_clip(tiny_arch, pretrained=str(checkpoint))
    assert not model.training
    tokens = tokenizer(["a dog"])
    assert tuple(tokens.shape) == (1, TINY_CONTEXT_LENGTH)
    torch.testing.assert_close(tokens, open_clip.tokenize(["a dog"], TINY_CONTEXT_LENGTH))
    image = Image.fromarray(_arrays(1)[0])
    assert tuple(preprocess(image).shape) == (3, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE)
    with pytest.raises(ValueError, match="cannot be combined with a model object"):
        load_clip(tiny_clip(), pretrained="openai")
    with pytest.raises(TypeError, match="neither encode_text nor encode_image"):
        load_clip(torch.nn.Linear(2, 2))


# --------------------------------------------------------------------------------------
# SentenceTransformerEncoder (bundled all-MiniLM-L6-v2)
# --------------------------------------------------------------------------------------


def test_minilm_embeds_normalised_deterministic(minilm):
    texts = ["a dog", "a puppy", "a spreadsheet", "tax forms"]
    X = minilm.transform(texts)
    assert X.shape == (4, 384) and X.dtype == np.float32 and minilm.embedding_dim_ == 384
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(minilm.transform(texts), X)
    one_by_one = clone(minilm).set_params(batch_size=1).transform(texts)
    np.testing.assert_allclose(one_by_one, X, atol=1e-5)
    sims = X @ X.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 1]


def test_minilm_normalize_false_and_name_alias(minilm):
    # all-MiniLM-L6-v2 ends in its own Normalize module, so normalize=False changes nothing.
    raw = SentenceTransformerEncoder(normalize=False).transform(["a dog", "the sea"])
    np.testing.assert_allclose(raw, minilm.transform(["a dog", "the sea"]), atol=1e-5)
    by_name = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    assert by_name.teacher_id == minilm.teacher_id
    np.testing.assert_allclose(by_name.transform(["a dog"]), minilm.transform(["a dog"]), atol=1e-6)


def test_minilm_rejects_bad_text_input(minilm):
    with pytest.raises(ValueError, match="str object received"):
        minilm.transform("a dog")
    with pytest.raises(ValueError, match=r"Item 1 is '': an empty or whitespace-only text"):
        minilm.transform(["a", ""])


# --------------------------------------------------------------------------------------
# resolve_teacher and teacher_id
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [None, "minilm", " MiniLM ", "sentence-transformers:minilm"])
def test_resolve_minilm(spec):
    teacher = resolve_teacher(spec)
    assert isinstance(teacher, SentenceTransformerEncoder)
    assert teacher.teacher_id == "sentence-transformers:all-MiniLM-L6-v2"


def test_resolve_open_clip_forms(tiny_arch, checkpoint, local_dir):
    t = resolve_teacher(f"open_clip:{tiny_arch}")
    assert isinstance(t, CLIPTextEncoder)
    assert (t.model, t.pretrained) == (tiny_arch, None)
    with_tag = resolve_teacher("open_clip:ViT-B-32@openai")
    assert (with_tag.model, with_tag.pretrained) == ("ViT-B-32", "openai")
    id_form = resolve_teacher("open_clip:ViT-B-32:laion2b_s34b_b79k")
    assert (id_form.model, id_form.pretrained) == ("ViT-B-32", "laion2b_s34b_b79k")
    from_ckpt = resolve_teacher(f"open_clip:{tiny_arch}@{checkpoint}")
    np.testing.assert_allclose(
        from_ckpt.transform(TEXTS), _expected_text(tiny_clip(), TEXTS), atol=1e-6
    )
    from_dir = resolve_teacher(f"open_clip:local-dir:{local_dir}")
    assert (from_dir.model, from_dir.pretrained) == (f"local-dir:{local_dir}", None)


def test_resolve_round_trips_teacher_ids(tiny_arch):
    for teacher in [CLIPTextEncoder(tiny_arch, pretrained=None), CLIPTextEncoder("ViT-B-32")]:
        again = resolve_teacher(teacher.teacher_id)
        assert again.teacher_id == teacher.teacher_id
        assert again.get_params() == teacher.get_params()


def test_resolve_model_object_is_returned_as_is():
    enc = tiny_clip_text_encoder()
    assert resolve_teacher(enc) is enc


@pytest.mark.parametrize(
    ("spec", "error", "pattern"),
    [
        ("minlm", ValueError, r"Unknown teacher spec 'minlm'\. Did you mean 'minilm'"),
        ("clip:ViT-B-32", ValueError, r"Did you mean 'open_clip:ViT-B-32'"),
        ("ViT-B-32", ValueError, r"Did you mean 'open_clip:ViT-B-32'"),
        ("open_clip:", ValueError, r"Unknown teacher spec 'open_clip:'\. Accepted"),
        ("open_clip:ViT-B-23", ValueError, r"architecture 'ViT-B-23'.*'ViT-B-32'"),
        ("open_clip:ViT-B-32@opnai", ValueError, r"tag 'opnai'.*'openai'"),
        ("open_clip:ViT-B-32@/no/such/file.pt", FileNotFoundError, "no such file"),
        ("open_clip:ViT-B-32:random-seed7", ValueError, "another seed"),
        ("open_clip:CLIP@sha256-0123456789abcdef", ValueError, "hash of their bytes"),
        (3, TypeError, "of type int is not accepted"),
        (CLIPTextEncoder, TypeError, "is a class; pass an instance"),
    ],
)
def test_resolve_bad_specs(spec, error, pattern):
    with pytest.raises(error, match=pattern):
        resolve_teacher(spec)


def test_teacher_id_stable_and_distinct(tiny_arch, checkpoint, local_dir, minilm):
    a, b = tiny_clip_text_encoder(), tiny_clip_text_encoder()
    assert a.teacher_id == b.teacher_id  # same weights, separately built
    assert a.teacher_id.startswith("open_clip:CLIP@sha256-")
    assert tiny_clip_image_encoder().teacher_id == a.teacher_id  # ids name weights
    assert tiny_clip_text_encoder(seed=1).teacher_id != a.teacher_id
    assert clone(a).teacher_id == a.teacher_id
    assert pickle.loads(pickle.dumps(a)).teacher_id == a.teacher_id

    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    from_file = CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint))
    assert from_file.teacher_id == f"open_clip:{tiny_arch}:file-sha256-{digest}"
    from_dir = CLIPTextEncoder(f"local-dir:{local_dir}", pretrained=None).teacher_id
    assert from_dir.startswith(f"open_clip:local-dir:{local_dir.name}@sha256-")

    assert CLIPTextEncoder("ViT-B-32", pretrained="openai").teacher_id == (
        "open_clip:ViT-B-32:openai"
    )
    assert CLIPTextEncoder("ViT-B-32", pretrained="laion2b-s34b-b79k").teacher_id == (
        "open_clip:ViT-B-32:laion2b_s34b_b79k"
    )
    assert CLIPTextEncoder("ViT-B-32", pretrained=None).teacher_id == (
        f"open_clip:ViT-B-32:random-seed{RANDOM_WEIGHTS_SEED}"
    )
    ids = [
        a.teacher_id,
        from_file.teacher_id,
        from_dir,
        CLIPTextEncoder("ViT-B-32").teacher_id,
        CLIPTextEncoder("ViT-B-32", pretrained="laion2b_s34b_b79k").teacher_id,
        minilm.teacher_id,
    ]
    assert len(set(ids)) == len(ids)


def test_teacher_id_changes_when_object_weights_change():
    model = tiny_clip()
    enc = CLIPTextEncoder(model, pretrained=None)
    before = enc.teacher_id
    enc.set_params(model=tiny_clip(seed=2))
    assert enc.teacher_id != before


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "error", "pattern"),
    [
        ("a dog", ValueError, "Iterable over raw text documents expected, str object"),
        (b"a dog", ValueError, "bytes object received"),
        (None, TypeError, "None received"),
        (5, TypeError, "Expected an iterable of texts, got int"),
        (["a", None], TypeError, r"Item 1 is None \(NoneType\), not a string"),
        (["a", "b", ""], ValueError, r"Item 2 is '': an empty or whitespace-only text"),
        (["a", "  \t"], ValueError, r"Item 1 is '  \\t': an empty or whitespace-only"),
        (["a", b"b"], TypeError, r"Item 1 .*bytes.*decode"),
        (["a", 3.5], TypeError, r"Item 1 is 3\.5 \(float\), not a string"),
        (np.array([["a", "b"]]), ValueError, r"1-D array of texts, got an array of shape \(1, 2\)"),
    ],
)
def test_text_bad_input_names_the_item(X, error, pattern):
    with pytest.raises(error, match=pattern):
        tiny_clip_text_encoder().transform(X)


def test_text_input_goes_through_the_shared_validation(minilm):
    from ipaclip._validation import InputError

    for encoder in (tiny_clip_text_encoder(), minilm):
        with pytest.raises(InputError, match=r"Wrap a single text in a list: \['a dog'\]") as info:
            encoder.transform("a dog")
        assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    pd = pytest.importorskip("pandas")
    enc = tiny_clip_text_encoder()
    frame = pd.DataFrame({"text": TEXTS[:3]})
    np.testing.assert_array_equal(enc.transform(frame), enc.transform(TEXTS[:3]))


def test_image_bad_input_names_the_item(tmp_path):
    good = _arrays(1)[0]
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image")
    missing = tmp_path / "missing.png"
    enc = tiny_clip_image_encoder()
    cases = [
        (str(missing), ValueError, "Iterable over images expected, str object"),
        (missing, ValueError, "Iterable over images expected, PosixPath"),
        (None, TypeError, "None received"),
        (Image.fromarray(good), TypeError, "single PIL image"),
        (good, ValueError, r"one array of shape \(40, 50, 3\)"),
        ([good, None], TypeError, "Image item 1 is NoneType"),
        ([good, missing], FileNotFoundError, f"Image item 1: file '{missing}' does not exist"),
        ([not_an_image], ValueError, f"Image item 0: cannot read '{not_an_image}'"),
        ([good, np.zeros((4, 4, 2), np.uint8)], ValueError, r"Image item 1 .*shape \(4, 4, 2\)"),
        ([np.zeros((2, 4, 4, 3), np.uint8)], ValueError, r"Image item 0 .*shape \(2, 4, 4, 3\)"),
        ([np.zeros((0, 4, 3), np.uint8)], ValueError, r"Image item 0 .*shape \(0, 4, 3\)"),
        ([good, np.full((4, 4, 3), 2.0)], ValueError, r"Image item 1 .*outside \[0, 1\]"),
        ([np.full((4, 4, 3), np.nan)], ValueError, r"Image item 0 .*NaN or infinite"),
        ([np.full((4, 4, 3), 300, np.int64)], ValueError, "Image item 0 .*outside 0..255"),
        ([np.zeros((4, 4, 3), complex)], TypeError, "Image item 0 .*dtype complex"),
        ([tmp_path, 42], FileNotFoundError, "Image item 0: file .* does not exist"),
    ]
    for X, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            enc.transform(X)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "8"])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tiny_clip_text_encoder(batch_size=batch_size).transform(["a"])


def test_bad_device_and_model_type():
    with pytest.raises(ValueError, match="not a valid torch device"):
        tiny_clip_text_encoder(device="nonsense").fit()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            tiny_clip_text_encoder(device="cuda").fit()
    with pytest.raises(TypeError, match="model must be"):
        CLIPTextEncoder(model=42).fit()
    with pytest.raises(TypeError, match="model must be"):
        SentenceTransformerEncoder(model=42).fit()


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"normalize": "yes"}, r"normalize must be .*bool.*; got 'yes'"),
        ({"batch_size": 8.0}, r"batch_size must be a positive integer; got 8\.0"),
        ({"device": 0}, r"device must be .*'str'.*; got 0"),
    ],
)
def test_bad_parameters_name_the_parameter_and_estimator(params, pattern):
    with pytest.raises(ValueError, match=pattern + r" \(parameter of CLIPTextEncoder\)"):
        tiny_clip_text_encoder(**params).transform(["a"])
    with pytest.raises(ValueError, match=pattern + r" \(parameter of CLIPImageEncoder\)"):
        tiny_clip_image_encoder(**params).fit()
    if "device" not in params:
        with pytest.raises(ValueError, match=pattern + r" \(parameter of SentenceTransformer"):
            SentenceTransformerEncoder(**params).transform(["a"])


def test_numpy_integer_batch_size_is_accepted():
    # GridSearchCV hands out numpy integers.
    X = tiny_clip_text_encoder(batch_size=np.int64(2)).transform(TEXTS)
    np.testing.assert_allclose(X, tiny_clip_text_encoder().transform(TEXTS), atol=1e-6)


def test_constructors_are_keyword_only_after_the_model():
    assert CLIPTextEncoder("ViT-B-32", pretrained=None).pretrained is None
    for cls in (CLIPTextEncoder, CLIPImageEncoder):
        with pytest.raises(TypeError, match="positional argument"):
            cls("ViT-B-32", "openai")
    with pytest.raises(TypeError, match="positional argument"):
        SentenceTransformerEncoder(None, "cpu")


# --------------------------------------------------------------------------------------
# scikit-learn contract
# --------------------------------------------------------------------------------------


def test_get_params_set_params_and_clone():
    enc = tiny_clip_text_encoder(batch_size=3)
    params = enc.get_params()
    assert set(params) == {
        "model",
        "pretrained",
        "device",
        "batch_size",
        "normalize",
        "cache_dir",
        "truncation",
        "verbose",
    }
    assert params["batch_size"] == 3 and params["pretrained"] is None
    enc.fit()
    copy = clone(enc)
    assert not hasattr(copy, "model_")
    assert copy.get_params()["batch_size"] == 3
    assert copy.model is not enc.model  # clone deep-copies the model object parameter
    np.testing.assert_allclose(copy.transform(TEXTS), enc.transform(TEXTS), atol=1e-6)
    assert enc.set_params(normalize=False) is enc and enc.normalize is False
    assert not np.allclose(np.linalg.norm(enc.transform(TEXTS), axis=1), 1.0)
    assert set(SentenceTransformerEncoder().get_params()) == {
        "model",
        "device",
        "batch_size",
        "normalize",
        "truncation",
        "verbose",
    }


def test_set_params_reloads_when_model_changes(tiny_arch, checkpoint, tmp_path):
    enc = CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint))
    first = enc.transform(TEXTS[:2])
    other = save_tiny_clip_checkpoint(tmp_path / "seed3.pt", seed=3)
    second = enc.set_params(pretrained=str(other)).transform(TEXTS[:2])
    np.testing.assert_allclose(second, _expected_text(tiny_clip(seed=3), TEXTS[:2]), atol=1e-6)
    assert not np.allclose(first, second, atol=1e-3)


def test_pickle_named_encoder_drops_weights_and_reloads(tiny_arch, checkpoint):
    enc = CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint)).fit()
    state = enc.__getstate__()
    assert not {"model_", "tokenizer_", "preprocess_", "_loaded_key"} & set(state)
    blob = pickle.dumps(enc)
    assert len(blob) < checkpoint.stat().st_size / 100  # weights are not in the pickle
    restored = pickle.loads(blob)
    assert not hasattr(restored, "model_")
    np.testing.assert_allclose(restored.transform(TEXTS), enc.transform(TEXTS), atol=1e-6)

    image = CLIPImageEncoder(tiny_arch, pretrained=str(checkpoint)).fit()
    assert "preprocess_" not in image.__getstate__()
    arrays = _arrays(2)
    restored_image = pickle.loads(pickle.dumps(image))
    np.testing.assert_allclose(restored_image.transform(arrays), image.transform(arrays), atol=1e-6)


def test_pickle_model_object_encoder_keeps_the_parameter(tmp_path):
    enc = tiny_clip_text_encoder().fit()
    assert "model_" not in enc.__getstate__() and "model" in enc.__getstate__()
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(restored.transform(TEXTS), enc.transform(TEXTS), atol=1e-6)
    assert restored.teacher_id == enc.teacher_id


def test_pickle_sentence_transformer_drops_model(minilm):
    blob = pickle.dumps(minilm)
    assert len(blob) < 10_000
    restored = pickle.loads(blob)
    assert not hasattr(restored, "model_")
    np.testing.assert_allclose(restored.transform(["a dog"]), minilm.transform(["a dog"]), 1e-6)


def test_pipeline_and_cross_val_score():
    texts = [f"{kind} number {i}" for kind in ("dog", "cat") for i in range(6)]
    y = np.array([0] * 6 + [1] * 6)
    enc = tiny_clip_text_encoder()
    pipe = Pipeline([("teacher", enc), ("pca", PCA(n_components=2, random_state=0))])
    Z = pipe.fit_transform(texts)
    expected = PCA(n_components=2, random_state=0).fit_transform(_expected_text(tiny_clip(), texts))
    np.testing.assert_allclose(np.abs(Z), np.abs(expected), atol=1e-5)
    clf = Pipeline([("teacher", enc), ("clf", LogisticRegression(max_iter=500))])
    scores = cross_val_score(clf, texts, y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_set_output_pandas_uses_feature_names():
    pd = pytest.importorskip("pandas")
    enc = tiny_clip_text_encoder().set_output(transform="pandas")
    df = enc.transform(["a", "b"])
    assert isinstance(df, pd.DataFrame) and df.shape == (2, 32)
    assert list(df.columns) == [f"cliptextencoder{i}" for i in range(32)]


def test_sklearn_tags():
    tags = tiny_clip_text_encoder().__sklearn_tags__()
    assert tags.requires_fit is False
    assert tags.input_tags.string is True and tags.input_tags.two_d_array is False
    assert SentenceTransformerEncoder().__sklearn_tags__().input_tags.string is True


# --------------------------------------------------------------------------------------
# Package layout
# --------------------------------------------------------------------------------------


def test_bundled_minilm_path_is_public_and_old_private_name_warns():
    from ipaclip import teachers
    from ipaclip.teachers import bundled_minilm_path

    assert (bundled_minilm_path() / "vocab.txt").is_file()
    with pytest.warns(FutureWarning, match="use ipaclip.teachers.bundled_minilm_path"):
        old = teachers._bundled_minilm_path
    assert old is bundled_minilm_path
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        teachers.no_such_name  # noqa: B018


# --------------------------------------------------------------------------------------
# Truncation of long texts
# --------------------------------------------------------------------------------------

# The tiny CLIP's context is 32 tokens, start and end included: "a " * 30 fills it exactly.
FITS = "a " * (TINY_CONTEXT_LENGTH - 2)
TOO_LONG = "a " * (TINY_CONTEXT_LENGTH - 1)  # 33 tokens


def test_clip_truncation_warns_with_count_and_first_item():
    enc = tiny_clip_text_encoder()
    texts = ["short", FITS, TOO_LONG, TOO_LONG + "b c d", "x"]
    with pytest.warns(UserWarning) as record:
        X = enc.transform(texts)
    assert len(record) == 1
    message = str(record[0].message)
    assert "2 of 5 texts are longer than the 32-token limit of CLIPTextEncoder" in message
    assert "First: item 2 ('a a a" in message and "33 tokens" in message
    assert "truncation='ignore'" in message and "truncation='raise'" in message
    assert record[0].filename == __file__  # points at the caller of transform
    assert enc.n_truncated_ == 2
    # What the warning is about: two texts that differ after the limit, one embedding.
    np.testing.assert_allclose(X[2], X[3], atol=1e-6)
    np.testing.assert_allclose(X, _expected_text(tiny_clip(), texts), atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_clip_truncation_count_does_not_depend_on_batches(batch_size):
    texts = [TOO_LONG, "a", FITS, TOO_LONG, "b", TOO_LONG]
    enc = tiny_clip_text_encoder(batch_size=batch_size)
    with pytest.warns(UserWarning, match=r"3 of 6 texts are longer.*First: item 0 "):
        enc.transform(texts)
    assert enc.n_truncated_ == 3


def test_clip_truncation_raise_names_item_tokens_and_limit_before_embedding(monkeypatch):
    enc = tiny_clip_text_encoder(truncation="raise").fit()
    calls = []
    monkeypatch.setattr(enc.model_, "encode_text", lambda tokens: calls.append(tokens))
    pattern = (
        r"Text item 1 \('a a a .*'\) has 37 tokens, more than the 32-token limit of "
        r"CLIPTextEncoder \(special tokens included\)\. \(1 more text is too long\.\) "
        r"Shorten or split it, or pass truncation='warn' or 'ignore'"
    )
    with pytest.raises(ValueError, match=pattern):
        enc.transform(["fine", TOO_LONG + "b c d e", FITS, TOO_LONG])
    assert calls == []  # nothing was embedded


def test_clip_truncation_ignore_and_short_texts_are_silent(recwarn):
    enc = tiny_clip_text_encoder(truncation="ignore")
    enc.transform([TOO_LONG, "a"])
    assert enc.n_truncated_ is None
    enc.set_params(truncation="warn").transform([FITS, "a dog"])
    assert enc.n_truncated_ == 0
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    with pytest.raises(ValueError, match="truncation must be one of 'ignore', 'raise', 'warn'"):
        enc.set_params(truncation="cut").transform(["a"])


@pytest.mark.slow
def test_minilm_truncation_counts_word_pieces(minilm):
    limit = minilm.context_length_
    assert limit == 256
    fits, too_long = "word " * (limit - 2), "word " * (limit - 1)  # + [CLS] and [SEP]
    enc = clone(minilm)
    with pytest.warns(UserWarning) as record:
        X = enc.transform(["a dog", fits, too_long, too_long + "cat"])
    assert len(record) == 1
    assert str(record[0].message).startswith(
        "2 of 4 texts are longer than the 256-token limit of SentenceTransformerEncoder"
    )
    assert "First: item 2 ('word word" in str(record[0].message)
    assert "257 tokens" in str(record[0].message)
    assert enc.n_truncated_ == 2
    np.testing.assert_allclose(X[2], X[3], atol=1e-6)
    with pytest.raises(ValueError, match=r"Text item 1 .* has 301 tokens, more than the 256-tok"):
        enc.set_params(truncation="raise").transform(["a dog", "word " * 299])
    enc.set_params(truncation="ignore").transform([too_long])
    assert enc.n_truncated_ is None


# --------------------------------------------------------------------------------------
# verbose: quiet by default, a progress bar on request
# --------------------------------------------------------------------------------------


def _third_party_output_state() -> tuple:
    import logging

    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as transformers_logging

    root = logging.getLogger()
    names = ("transformers", "sentence_transformers", "huggingface_hub", "open_clip")
    return (
        transformers_logging.is_progress_bar_enabled(),
        are_progress_bars_disabled(),
        tuple(logging.getLogger(n).level for n in names),
        tuple(root.handlers),
        tuple(root.filters),
    )


def test_minilm_verbose_0_prints_nothing_while_loading_and_embedding(capfd):
    from ipaclip.teachers import sentence_transformers as st_teachers

    before = _third_party_output_state()
    st_teachers._load_sentence_transformer.cache_clear()  # load for real, with its bars
    capfd.readouterr()
    X = SentenceTransformerEncoder(verbose=0).fit().transform(["a dog", "a cat"])
    out, err = capfd.readouterr()
    assert X.shape == (2, 384)
    assert (out, err) == ("", "")
    assert _third_party_output_state() == before  # settings restored afterwards

    SentenceTransformerEncoder(verbose=1).transform(["a dog", "a cat"])
    out, err = capfd.readouterr()
    assert "Batches" in err and "100%" in err


def test_clip_verbose_0_prints_nothing_and_verbose_1_shows_a_bar(
    tiny_arch, checkpoint, capfd, monkeypatch
):
    import ipaclip._progress

    monkeypatch.setattr(ipaclip._progress, "DELAY_S", 0.0)  # show bars for tiny steps too
    clip_teachers._load_clip_shared.cache_clear()
    capfd.readouterr()
    CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint)).fit().transform(TEXTS)
    CLIPImageEncoder(tiny_arch, pretrained=str(checkpoint)).transform(_arrays(2))
    assert capfd.readouterr() == ("", "")

    CLIPTextEncoder(tiny_arch, pretrained=str(checkpoint), verbose=1, batch_size=2).transform(TEXTS)
    err = capfd.readouterr().err
    assert "CLIPTextEncoder: 100%" in err and f"{len(TEXTS)}/{len(TEXTS)}" in err
    CLIPImageEncoder(tiny_arch, pretrained=str(checkpoint), verbose=True).transform(_arrays(3))
    assert "CLIPImageEncoder: 100%" in capfd.readouterr().err


def test_verbose_0_drops_open_clip_root_logger_chatter_but_keeps_ours(tiny_arch, caplog):
    caplog.set_level("INFO")
    clip_teachers._load_clip_shared.cache_clear()
    CLIPTextEncoder(tiny_arch, pretrained=None).fit()
    assert "random weights" in caplog.text  # ipaclip's own warning stays
    assert not [r for r in caplog.records if r.name == "root"]
    caplog.clear()
    clip_teachers._load_clip_shared.cache_clear()
    CLIPTextEncoder(tiny_arch, pretrained=None, verbose=1).fit()
    assert [r for r in caplog.records if r.name == "root"]  # open_clip's, let through


def test_verbose_0_leaves_an_unconfigured_root_logger_unconfigured(tiny_arch, capsys):
    # open_clip logs with logging.info(...), which would call logging.basicConfig() and
    # leave a stderr handler on the root logger for the rest of the process.
    import logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)  # as in a fresh process (other tests may change it)
    try:
        clip_teachers._load_clip_shared.cache_clear()
        CLIPTextEncoder(tiny_arch, pretrained=None).fit()
        assert root.handlers == [] and root.filters == []
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err  # Python's last-resort handler still prints our warning
    assert "random weights" in err and "No pretrained weights loaded" not in err


@pytest.mark.parametrize("verbose", [-1, 1.5, "yes"])
def test_bad_verbose_names_the_parameter(verbose):
    with pytest.raises(ValueError, match=r"verbose must be an integer >= 0 or a bool; got"):
        tiny_clip_text_encoder(verbose=verbose).transform(["a"])


# --------------------------------------------------------------------------------------
# Other checks: broken weights, devices, sentence-transformers folders
# --------------------------------------------------------------------------------------


def test_nan_embeddings_are_refused_naming_the_item():
    model = tiny_clip()
    with torch.no_grad():
        model.text_projection[0, 0] = float("nan")
        model.visual.proj[0, 0] = float("nan")
    pattern = (
        r"CLIPTextEncoder produced a NaN or infinite embedding for item 0 \('a dog'\) "
        r"\(2 of 2 items in all\).*Check the checkpoint"
    )
    with pytest.raises(ValueError, match=pattern):
        CLIPTextEncoder(model, pretrained=None).transform(["a dog", "a cat"])
    with pytest.raises(ValueError, match=r"CLIPImageEncoder .* item 0 \(a ndarray\)"):
        CLIPImageEncoder(model, pretrained=None).transform(_arrays(2))


def test_cuda_device_index_beyond_the_visible_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    pattern = r"device='cuda:3' .* only 1 CUDA device is visible here \(cuda:0 to cuda:0\)"
    with pytest.raises(ValueError, match=pattern):
        tiny_clip_text_encoder(device="cuda:3").fit()
    with pytest.raises(ValueError, match=pattern):
        SentenceTransformerEncoder(device="cuda:3").fit()


def test_sentence_transformer_folders_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no sentence-transformers model"):
        SentenceTransformerEncoder(str(tmp_path)).fit()
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"is a file; pass the folder"):
        SentenceTransformerEncoder(str(tmp_path / "weights.bin")).fit()
    # A spec naming a missing folder fails where it is written, not at fit.
    with pytest.raises(FileNotFoundError, match=r"no such folder"):
        resolve_teacher(f"sentence-transformers:{tmp_path / 'missing'}")
