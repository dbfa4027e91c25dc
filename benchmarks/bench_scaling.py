"""Scaling: fit time vs corpus size and vs sequence length, as log-log slopes.

Corpus size: one epoch on n CMUdict words for three sizes doubling each time; the slope of
log(seconds) against log(n) is 1 for linear cost (target <= 1.15). Sequence length: the
same number of phrases of 1, 2 and 4 words; the slope of log(seconds) against log(mean
tokens) is reported (attention is quadratic in length, the rest linear; padding is kept low
by length bucketing). A small student (width 64, 2 layers) keeps the run short; the
estimator's per-item work does not depend on the model size.
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import (
    cmudict_words,
    interleaved,
    log,
    median,
    random_targets,
    record,
    to_ipa,
)

NAME = "scaling"


def _fit_seconds(est, cases: list, repeats: int) -> list[float]:
    """Median fit seconds of each ``(X, y)`` case, timed round-robin (after one warm-up)."""
    fns = {i: (lambda X=X, y=y: est.fit(X, y)) for i, (X, y) in enumerate(cases)}
    times = interleaved(fns, repeats)
    return [median(times[i]) for i in range(len(cases))]


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    from ipaclip import PhonemeEmbedder
    from ipaclip.estimator import PronunciationEncoder

    sizes = (64, 128, 256) if quick else (2000, 4000, 8000)
    n_len = 64 if quick else 2000
    est = PronunciationEncoder(
        width=32 if quick else 64,
        layers=1 if quick else 2,
        heads=2,
        epochs=1,
        batch_size=32 if quick else 128,
        random_state=0,
        device="cpu",
    )
    words = cmudict_words(sizes[-1], seed=6)
    ipa = to_ipa(words)
    embedder = PhonemeEmbedder(max_length=est.context_length).fit(ipa)
    seqs = embedder.transform(ipa)
    y = random_targets(sizes[-1], 64, seed=6)
    est.fit(seqs[:32], y[:32])  # warm-up
    size_times = _fit_seconds(est, [(seqs[:n], y[:n]) for n in sizes], repeats)
    slope_n = _slope(sizes, size_times)
    log(f"  size slope {slope_n:.2f}: {dict(zip(sizes, np.round(size_times, 2).tolist()))}")

    # Phrases of k words from the same pool, same count.
    rng = np.random.default_rng(7)
    mean_tokens, cases = [], []
    for k in (1, 2, 4):
        picks = rng.integers(0, len(ipa), size=(n_len, k))
        phrases = [" ".join(ipa[i] for i in row) for row in picks]
        s = PhonemeEmbedder(max_length=est.context_length).fit(phrases).transform(phrases)
        mean_tokens.append(float(s.lengths.mean()))
        cases.append((s, y[:n_len]))
    len_times = _fit_seconds(est, cases, repeats)
    slope_l = _slope(mean_tokens, len_times)
    log(f"  length slope {slope_l:.2f}: tokens {np.round(mean_tokens, 1).tolist()}")
    common = {"width": est.width, "layers": est.layers, "epochs": 1, "repeats": repeats}
    return [
        record(
            NAME,
            "fit time vs corpus size (log-log slope)",
            value=size_times[-1],
            unit=f"s at n={sizes[-1]}",
            baseline=f"linear from n={sizes[0]}",
            baseline_value=size_times[0] * sizes[-1] / sizes[0],
            ratio=slope_n,
            target=1.15,
            better="lower",
            details={"sizes": list(sizes), "seconds": size_times, **common},
        ),
        record(
            NAME,
            "fit time vs sequence length (log-log slope)",
            value=len_times[-1],
            unit=f"s at {mean_tokens[-1]:.0f} tokens",
            baseline=f"linear from {mean_tokens[0]:.0f} tokens",
            baseline_value=len_times[0] * mean_tokens[-1] / mean_tokens[0],
            ratio=slope_l,
            target=None,
            better="lower",
            details={
                "n": n_len,
                "words_per_phrase": [1, 2, 4],
                "mean_tokens": mean_tokens,
                "seconds": len_times,
                **common,
            },
        ),
    ]
