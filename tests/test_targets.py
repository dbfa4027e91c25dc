"""Teacher targets (:mod:`ipaclip._targets`): the on-disk cache, its shards, arrays of rows."""

from __future__ import annotations

import json
import logging
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import ipaclip._targets as targets_module
from ipaclip import PronunciationEncoder
from ipaclip._targets import (
    DiskStore,
    TargetMemory,
    check_target_array,
    embed_texts,
    is_embeddings,
)
from tests.fixtures import RHYMES_IPA, random_targets, small_encoder, tiny_clip_text_encoder

TEXTS = ["a cat", "a dog", "a fish", "a bird", "a frog", "a tree"]
LONG = ["word " * 40, "word " * 50 + "end"]  # past the tiny CLIP's 32 tokens


class FixedTeacher:
    """A teacher that knows its dimension (4) and counts the texts it embeds."""

    teacher_id = "fixed-4"
    embedding_dim_ = 4

    def __init__(self) -> None:
        self.seen: list[str] = []

    def transform(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, t.count("a"), 2.0] for t in texts], dtype=np.float32)


def _expected(texts) -> np.ndarray:
    rows = FixedTeacher().transform(texts)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _shard(cache: Path) -> tuple[Path, Path]:
    """The ``.json`` and ``.npy`` of the only shard under ``cache``."""
    (texts_path,) = cache.glob("*/part-*.json")
    return texts_path, texts_path.with_suffix(".npy")


def _edit_header(texts_path: Path, **changes) -> None:
    head = json.loads(texts_path.read_text("utf-8"))
    head.update(changes)
    texts_path.write_text(json.dumps(head), "utf-8")


def _nan_row(texts_path, rows_path):
    rows = np.load(rows_path)
    rows[2, 1] = np.nan
    np.save(rows_path, rows)


def _zero_row(texts_path, rows_path):
    rows = np.load(rows_path)
    rows[4] = 0
    np.save(rows_path, rows)


def _ten_d_rows(texts_path, rows_path):  # rows and header agree with each other, not the teacher
    np.save(rows_path, np.ones((len(TEXTS), 10), dtype=np.float32) / np.sqrt(10))
    _edit_header(texts_path, dim=10)


def _ten_d_rows_header_says_4(texts_path, rows_path):
    np.save(rows_path, np.ones((len(TEXTS), 10), dtype=np.float32))


def _more_texts_than_rows(texts_path, rows_path):
    _edit_header(texts_path, texts=[*TEXTS, "an extra text"])


def _float64_rows(texts_path, rows_path):
    np.save(rows_path, np.load(rows_path).astype(np.float64))


def _object_rows(texts_path, rows_path):
    np.save(rows_path, np.array([object()] * len(TEXTS)), allow_pickle=True)


def _other_teacher(texts_path, rows_path):
    _edit_header(texts_path, teacher="minilm-but-not-really")


def _legacy_list(texts_path, rows_path):  # the earlier format: the texts only
    texts_path.write_text(json.dumps(TEXTS), "utf-8")


def _not_json(texts_path, rows_path):
    texts_path.write_bytes(b"\xff\xfe not json")


def _truncated_out_of_range(texts_path, rows_path):
    _edit_header(texts_path, truncated=[99])


BAD_SHARDS = {
    "10-d rows under a 4-d teacher": (_ten_d_rows, "dimension 10, not 4"),
    "10-d rows, header says 4": (_ten_d_rows_header_says_4, r"shape \(6, 10\)"),
    "a NaN row": (_nan_row, "'a fish' is NaN, infinite or all zeros"),
    "an all-zero row": (_zero_row, "'a frog' is NaN, infinite or all zeros"),
    "more texts than rows": (_more_texts_than_rows, r"shape \(6, 4\), but its .json lists 7"),
    "float64 rows": (_float64_rows, "float64 rows"),
    "pickled object rows": (_object_rows, "not a readable .npy"),
    "another teacher": (_other_teacher, "names teacher 'minilm-but-not-really'"),
    "a legacy text list": (_legacy_list, "not written by this version"),
    "not JSON": (_not_json, "not readable JSON"),
    "a truncated row out of range": (_truncated_out_of_range, "'truncated' is not a list"),
}


@pytest.mark.parametrize("case", list(BAD_SHARDS))
def test_an_invalid_shard_is_ignored_with_a_warning_and_recomputed(case, tmp_path, caplog):
    edit, reason = BAD_SHARDS[case]
    embed_texts(FixedTeacher(), TEXTS, cache_dir=tmp_path, memory=TargetMemory(100))
    texts_path, rows_path = _shard(tmp_path)
    edit(texts_path, rows_path)
    teacher = FixedTeacher()
    with caplog.at_level(logging.WARNING, logger="ipaclip._targets"):
        out = embed_texts(teacher, TEXTS, cache_dir=tmp_path, memory=TargetMemory(100))
    assert out.shape == (len(TEXTS), 4)
    np.testing.assert_allclose(out, _expected(TEXTS), rtol=1e-6)
    assert sorted(teacher.seen) == sorted(TEXTS)  # recomputed, not taken from the shard
    (record,) = [r for r in caplog.records if "Ignoring the target-cache shard" in r.message]
    assert texts_path.stem in record.message and "delete it" in record.message
    assert re.search(reason, record.message), record.message
    # The recomputed rows went to a new, valid shard: the next reader needs no teacher.
    again = FixedTeacher()
    out2 = embed_texts(again, TEXTS, cache_dir=tmp_path, memory=TargetMemory(100))
    assert again.seen == [] and np.array_equal(out2, out)


@pytest.mark.slow
def test_a_ten_d_shard_does_not_make_a_ten_d_model(tmp_path):
    params = dict(width=32, layers=1, heads=2, epochs=1, batch_size=4, random_state=0)
    ipa = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "fɹˈɑːɡ", "tɹˈiː"]
    cache = tmp_path / "cache"
    embed_texts(FixedTeacher(), TEXTS, cache_dir=cache, memory=TargetMemory(100))
    _ten_d_rows(*_shard(cache))
    targets_module.MEMORY.clear()
    enc = PronunciationEncoder(FixedTeacher(), target_cache_dir=str(cache), **params)
    enc.fit(ipa, TEXTS)
    assert enc.embedding_dim_ == 4 and enc.transform(ipa).shape == (len(ipa), 4)


def test_a_teacher_without_a_known_dimension_gets_one_dimension(tmp_path, caplog):
    class Unsized:
        teacher_id = "unsized"

        def __init__(self, dim: int) -> None:
            self.dim, self.calls = dim, 0

        def transform(self, texts):
            self.calls += 1
            return np.ones((len(texts), self.dim), dtype=np.float32)

    embed_texts(Unsized(4), TEXTS[:3], cache_dir=tmp_path, memory=TargetMemory(100))
    embed_texts(Unsized(6), TEXTS[3:], cache_dir=tmp_path, memory=TargetMemory(100))
    # Two shards of different dimensions: the first valid one read fixes the dimension.
    with caplog.at_level(logging.WARNING, logger="ipaclip._targets"):
        got = DiskStore(tmp_path, "unsized").get(TEXTS)
    assert len({len(v) for v in got.values()}) == 1 and "dimension" in caplog.text
    # One shard of 6-d rows, and a teacher that now returns 4-d ones: the cache is refused.
    other = tmp_path / "other"
    embed_texts(Unsized(6), TEXTS, cache_dir=other, memory=TargetMemory(100))
    with pytest.raises(ValueError, match=r"returns 4-d embeddings but the target cache .* 6-d"):
        embed_texts(Unsized(4), [*TEXTS, "new"], cache_dir=other, memory=TargetMemory(100))


@pytest.mark.slow
def test_truncation_is_stored_with_the_shard_and_reported_to_a_second_reader(tmp_path):
    texts = ["a cat", LONG[0], "a dog", LONG[1], "a fish"]
    first = tiny_clip_text_encoder()
    with pytest.warns(UserWarning, match="2 of 5 texts are longer than the 32-token limit"):
        out = embed_texts(first, texts, cache_dir=tmp_path, memory=TargetMemory(100))
    assert first.n_truncated_ == 2
    (texts_path,) = tmp_path.glob("*/part-*.json")
    assert json.loads(texts_path.read_text("utf-8"))["truncated"] == [1, 3]

    # A second process: its own memory and teacher; everything comes from the disk.
    second = tiny_clip_text_encoder()
    second.transform = None  # never called
    with pytest.warns(UserWarning, match=r"2 of 5 texts read from the target cache .* were "):
        got = embed_texts(second, texts, cache_dir=tmp_path, memory=TargetMemory(100))
    np.testing.assert_array_equal(got, out)
    assert second.n_truncated_ == 2
    # Part from the disk, part fresh: the count covers both.
    third = tiny_clip_text_encoder()
    with pytest.warns(UserWarning, match="1 of 2 texts read from the target cache"):
        embed_texts(third, [LONG[0], "a cat", "a bee"], cache_dir=tmp_path, memory=TargetMemory(9))
    assert third.n_truncated_ == 1
    # The teacher's policy holds for cached texts too.
    with pytest.raises(ValueError, match="truncated by .* when they were embedded"):
        embed_texts(
            tiny_clip_text_encoder(truncation="raise"),
            texts,
            cache_dir=tmp_path,
            memory=TargetMemory(100),
        )
    quiet = tiny_clip_text_encoder(truncation="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embed_texts(quiet, texts, cache_dir=tmp_path, memory=TargetMemory(100))


def test_shards_are_written_atomically(tmp_path, monkeypatch):
    store = DiskStore(tmp_path, "fixed-4", 4)
    rows = dict(zip(TEXTS, _expected(TEXTS)))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:  # the rows fail: nothing is left
        m.setattr(np, "save", disk_full)
        with pytest.raises(OSError, match="No space"):
            store.put(rows)
    assert sorted(p.name for p in store.folder.iterdir()) == ["teacher.txt"]
    with monkeypatch.context() as m:  # the texts fail: rows without texts are never read
        m.setattr(targets_module, "write_atomic", disk_full)
        with pytest.raises(OSError, match="No space"):
            store.put(rows)
    names = sorted(p.name for p in store.folder.iterdir())
    assert len(names) == 2 and names[0].endswith(".npy") and not any("tmp" in n for n in names)
    assert store.get(TEXTS) == {}
    store.put(rows)
    assert set(store.get(TEXTS)) == set(TEXTS)


# -- y given as rows ---------------------------------------------------------------------------
def test_array_likes_of_numbers_are_embeddings_and_texts_are_not():
    pd = pytest.importorskip("pandas")
    Y = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    for y in [
        Y,
        Y.tolist(),
        torch.from_numpy(Y),
        torch.from_numpy(Y).requires_grad_(),
        torch.from_numpy(Y).to(torch.bfloat16),
        pd.DataFrame(Y),
        np.asfortranarray(Y.astype(np.float64)),
    ]:
        assert is_embeddings(y), type(y)
        arr = check_target_array(y)
        assert arr.dtype == np.float32 and arr.flags.c_contiguous and arr.shape == (3, 4)
        assert not np.shares_memory(arr, Y)
        np.testing.assert_allclose(arr, Y, rtol=1e-2 if "bfloat16" in str(y) else 0)
    for texts in [
        ["a", "b"],
        np.array(["a", "b"]),
        pd.Series(["a", "b"]),
        pd.DataFrame({"t": ["a"]}),
    ]:
        assert not is_embeddings(texts), type(texts)
    with pytest.raises(ValueError, match="y row 1 has NaN"):
        check_target_array(pd.DataFrame([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="complex"):
        check_target_array(torch.ones(2, 2, dtype=torch.complex64))


def test_bad_target_arrays_are_named():
    y = random_targets(len(RHYMES_IPA))
    zero = y.copy()
    zero[3] = 0
    with pytest.raises(ValueError, match="y row 3 is all zeros"):
        small_encoder().fit(RHYMES_IPA, zero)
    with pytest.raises(ValueError, match="complex"):
        small_encoder().fit(RHYMES_IPA, y + 1j)
    ragged = [list(row) for row in y]
    ragged[5] = ragged[5][:4]
    with pytest.raises(ValueError, match="row 5 has 4"):
        small_encoder().fit(RHYMES_IPA, ragged)


def test_target_memory_is_a_bounded_lru_that_answers_oversized_calls():
    memory = TargetMemory(max_entries=5)

    class Teacher:
        teacher_id = "t"
        calls = 0

        def transform(self, texts):
            type(self).calls += 1
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    texts = [f"w{i}" * (i + 1) for i in range(12)]
    out = embed_texts(Teacher(), texts, memory=memory)  # more texts than the bound
    expected = np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert len(memory) == 5
    assert set(memory.lookup("t", texts)) == set(texts[-5:])  # the most recent stay

    errors = []

    def worker(k: int) -> None:
        try:
            for r in range(30):
                chunk = [f"x{k}-{(r * 7 + j) % 40}" for j in range(6)]
                got = embed_texts(Teacher(), chunk, memory=memory)
                want = np.array([[len(t), 1.0] for t in chunk], dtype=np.float32)
                want /= np.linalg.norm(want, axis=1, keepdims=True)
                np.testing.assert_allclose(got, want, rtol=1e-6)
        except Exception as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(memory) <= 5


def test_disk_store_writes_one_shard_per_call_not_a_file_per_text(tmp_path):
    store = DiskStore(tmp_path, "teacher-x")
    rows = {f"text {i}": np.full(4, i, dtype=np.float32) for i in range(2000)}
    store.put(rows)
    files = sorted(p.name for p in store.folder.iterdir())
    assert len(files) == 3 and files[-1] == "teacher.txt"  # part-*.json, part-*.npy
    got = DiskStore(tmp_path, "teacher-x").get(["text 7", "text 1999", "missing"])
    assert set(got) == {"text 7", "text 1999"}
    np.testing.assert_array_equal(got["text 1999"], np.full(4, 1999, dtype=np.float32))
    # A shard whose text list was never written (killed mid-put) is ignored.
    (store.folder / "part-deadbeef.npy").write_bytes(b"partial")
    assert set(DiskStore(tmp_path, "teacher-x").get(["text 7"])) == {"text 7"}
