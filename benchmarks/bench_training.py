"""Training throughput: ``PronunciationEncoder.fit`` vs a bare torch loop, and teacher calls.

Overhead: ``fit(X, y)`` on phoneme sequences with precomputed targets, against a bare loop
that trains a freshly initialised module of the same :class:`~ipaclip.nn.EncoderConfig` (the
default n-gram bag included) with the same AdamW settings, learning-rate schedule, gradient
clipping, loss, batch size and the very same length-bucketed batches, pre-padded into tensors
before the clock starts. The ratio is fit's seconds over the loop's (target <= 1.15: the
estimator adds at most 15%). Both use the teacher terms of the default loss
(``cosine+contrastive``): the triplet and prior terms are work of the recipe, not overhead
of the estimator (the recipe study times the whole recipe).

Teacher: a fit whose ``y`` holds texts, with a teacher that counts its calls. The teacher must
be called once per fit (not per epoch), so epoch 1 costs no more than later epochs (ratio of
epoch 1's seconds to the median of the others, target <= 1.15), and a refit on the same texts
calls it not at all (targets are memoised).
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from benchmarks._common import (
    cmudict_words,
    cuda_available,
    interleaved,
    log,
    median,
    random_targets,
    record,
    to_ipa,
)

NAME = "training"
TARGET_DIM = 384
TEACHER_TERMS = "cosine+contrastive"  # the default loss's terms that a bare loop can compute


class CountingTeacher:
    """Wrap a teacher; count calls, texts and seconds spent in ``transform``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        inner_id = getattr(inner, "teacher_id", type(inner).__name__)
        # A fresh id per instance so that ipaclip's in-process target memo starts empty.
        self.teacher_id = f"bench-counting:{inner_id}:{uuid.uuid4().hex[:8]}"
        self.calls = 0
        self.texts = 0
        self.seconds = 0.0

    def transform(self, texts):
        t0 = time.perf_counter()
        out = self.inner.transform(texts)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.texts += len(texts)
        return out


class HashTeacher:
    """A model-free stand-in teacher for ``--quick``: a fixed random vector per text."""

    teacher_id = "bench-hash"

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim

    def transform(self, texts):
        import zlib

        return np.stack(
            [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim) for t in texts]
        ).astype(np.float32)


def _bare_loop_factory(est, seqs, targets, device):
    """A function training a fresh module like ``est.fit`` does, on pre-padded batches."""
    import torch
    import torch.nn.functional as F

    from ipaclip._batches import length_bucketed_batches
    from ipaclip.losses import distillation_loss, parse_loss
    from ipaclip.nn import PronunciationTransformer, cosine_schedule

    config = est.config_
    vocab_index = {s: i + 1 for i, s in enumerate(est.vocabulary_)}
    table = torch.from_numpy(np.ascontiguousarray(seqs.table)).to(device)
    row_vocab = torch.tensor([vocab_index.get(s, 0) for s in seqs.symbols], device=device)
    target_t = F.normalize(torch.from_numpy(targets), dim=-1).to(device)
    weights = parse_loss(est.recipe.loss)
    lengths = seqs.lengths
    seed = est.random_state
    # The same batches as fit (same rng streams), padded into tensors in advance.
    epochs = []
    for epoch in range(est.epochs):
        rng = np.random.default_rng([seed, epoch])
        batches = []
        for index in length_bucketed_batches(lengths, est.batch_size, rng):
            ids, _ = seqs.take(index).padded()
            batches.append(
                (
                    torch.from_numpy(ids).to(device),
                    torch.from_numpy(lengths[index].astype(np.int64)).to(device),
                    target_t[torch.from_numpy(index).to(device)],
                )
            )
        epochs.append(batches)
    total = sum(len(b) for b in epochs)
    warmup = int(round(float(est.warmup) * total))

    def train():
        torch.manual_seed(seed)
        module = PronunciationTransformer(config).to(device).train()
        if config.ngram_max:  # the n-grams fit found (buffers, not trained)
            module.ngram_codes.copy_(est.module_.ngram_codes)
            if config.ngram_class_count:
                module.class_codes.copy_(est.module_.class_codes)
        opt = torch.optim.AdamW(
            module.parameters(), lr=float(est.lr), weight_decay=float(est.weight_decay)
        )
        step = 0
        for batches in epochs:
            for ids, lens, tgt in batches:
                for group in opt.param_groups:
                    group["lr"] = float(est.lr) * cosine_schedule(step, total, warmup)
                z = module(table, row_vocab, ids, lens)
                loss, _ = distillation_loss(z, tgt, weights, float(est.recipe.temperature))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if est.grad_clip:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), float(est.grad_clip))
                opt.step()
                step += 1
        if device != "cpu":
            torch.cuda.synchronize()
        return module

    return train


def _overhead(quick: bool, repeats: int, device: str) -> dict:
    from ipaclip import PhonemeEmbedder
    from ipaclip.estimator import PronunciationEncoder
    from ipaclip.recipe import Recipe

    n, epochs = (64, 1) if quick else (512, 2)
    if device == "cuda":
        n = 8192
    ipa = to_ipa(cmudict_words(n, seed=3))
    seqs = PhonemeEmbedder().fit(ipa).transform(ipa)
    targets = random_targets(n, TARGET_DIM, seed=3)
    est = PronunciationEncoder(
        epochs=epochs,
        recipe=Recipe(loss=TEACHER_TERMS),
        random_state=0,
        device=device,
        verbose=0,
    )
    if quick:
        est.set_params(width=32, layers=1, heads=2, batch_size=16)
    est.fit(seqs[:32], targets[:32])  # warm-up (and config_, vocabulary_ for the loop)
    est.fit(seqs, targets)
    bare = _bare_loop_factory(est, seqs, targets, device)
    bare()
    times = interleaved({"fit": lambda: est.fit(seqs, targets), "bare": bare}, repeats, False)
    t_fit, t_bare = median(times["fit"]), median(times["bare"])
    samples = n * epochs
    return record(
        NAME,
        f"fit samples/s [{device}]",
        value=samples / t_fit,
        unit="samples/s",
        baseline="bare torch loop",
        baseline_value=samples / t_bare,
        ratio=t_fit / t_bare,
        target=1.15 if device == "cpu" else None,
        better="lower",
        details={
            "n": n,
            "epochs": epochs,
            "batch_size": est.batch_size,
            "width": est.width,
            "layers": est.layers,
            "heads": est.heads,
            "target_dim": TARGET_DIM,
            "device": device,
            "seconds": times,
            "note": "ratio = fit seconds / bare-loop seconds (overhead factor)",
        },
    )


def _teacher_calls(quick: bool) -> dict:
    from ipaclip.estimator import PronunciationEncoder

    n, epochs = (48, 3) if quick else (2000, 4)
    words = cmudict_words(n, seed=4)
    ipa = to_ipa(words)
    if quick:
        inner = HashTeacher()
    else:
        from ipaclip.teachers import resolve_teacher

        inner = resolve_teacher("minilm")
        inner.transform(["warm up"])  # load the model outside the measurement
    teacher = CountingTeacher(inner)
    est = PronunciationEncoder(
        teacher=teacher, width=64, layers=2, heads=2, epochs=epochs, random_state=0, device="cpu"
    )
    if quick:
        est.set_params(width=32, layers=1, heads=2, batch_size=16)
    est.fit(ipa[:32], np.zeros((32, 8), np.float32) + 1)  # warm-up, no teacher
    t0 = time.perf_counter()
    est.fit(ipa, words)
    wall = time.perf_counter() - t0
    epoch_seconds = [h["seconds"] for h in est.history_]
    calls_first, texts_first = teacher.calls, teacher.texts
    est.fit(ipa, words)  # refit: the targets come from the memo
    later = median(epoch_seconds[1:])
    return record(
        NAME,
        "epoch 1 / later epochs (teacher)",
        value=epoch_seconds[0],
        unit="s",
        baseline="median later epoch",
        baseline_value=later,
        ratio=epoch_seconds[0] / later,
        target=1.15,
        better="lower",
        details={
            "n": n,
            "epochs": epochs,
            "teacher": teacher.teacher_id,
            "teacher_calls_first_fit": calls_first,
            "texts_embedded_first_fit": texts_first,
            "teacher_calls_after_refit": teacher.calls,
            "teacher_seconds": teacher.seconds,
            "fit_wall_seconds": wall,
            "epoch_seconds": epoch_seconds,
            "note": "the teacher runs once, before epoch 1; epochs cost only the student",
        },
    )


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    out = [_overhead(quick, repeats, "cpu")]
    log(f"  fit overhead x{out[-1]['ratio']:.2f}")
    if cuda_available():
        out.append(_overhead(quick, repeats, "cuda"))
    out.append(_teacher_calls(quick))
    d = out[-1]["details"]
    log(
        f"  teacher: {d['teacher_calls_first_fit']} call(s) for {d['epochs']} epochs, "
        f"{d['teacher_calls_after_refit']} after a refit"
    )
    return out
