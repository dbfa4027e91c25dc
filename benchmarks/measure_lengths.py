"""Measurements behind issue #19's defaults (run by hand; not part of ``make bench``).

``python -m benchmarks.measure_lengths context``: phoneme tokens (``<bos>``/``<eos>``
included) of 400 texts of exactly 77 CLIP BPE tokens (open_clip's ViT-B-32 tokenizer), made
of CLIP's ImageNet zero-shot prompts (``open_clip.zero_shot_metadata``) strung together, after
the default English ``IPATransformer`` and ``PhonemeEmbedder``: median, p95, p99, max. The
default ``context_length`` (320) is the p99 rounded up to a multiple of 32.

``python -m benchmarks.measure_lengths batches {items,tokens}``: peak memory growth and time
per batch of ``transform``'s batching on 4,000 three-token and 64 four-hundred-token items
(width 256 x 4): ``items`` is the old batching (1,024 items per batch), ``tokens`` the token
budget (``ipaclip._batches.INFERENCE_MAX_TOKENS``). Run each in its own process.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from benchmarks._common import cmudict_words, current_rss_mib, to_ipa
from benchmarks.bench_memory import _phase_peak_mib, _reset_peak


def texts_of_77_clip_tokens(n: int, seed: int = 0) -> list[str]:
    """``n`` texts of exactly 77 BPE tokens (start and end of text included)."""
    import open_clip
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES

    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        words: list[str] = []
        count = 0
        while count < 77:
            template = OPENAI_IMAGENET_TEMPLATES[rng.integers(len(OPENAI_IMAGENET_TEMPLATES))]
            for word in template(IMAGENET_CLASSNAMES[rng.integers(1000)]).split():
                count = int((tokenizer([" ".join(words + [word])])[0] != 0).sum())
                if count > 77:
                    break
                words.append(word)
                if count == 77:
                    break
        if count == 77:
            out.append(" ".join(words))
    return out


def context() -> dict:
    from ipaclip import PhonemeEmbedder

    texts = texts_of_77_clip_tokens(400)
    ipa = to_ipa(texts)
    lengths = PhonemeEmbedder(unknown="unk").fit(ipa).transform(ipa).lengths
    return {
        "n_texts": len(texts),
        "median_words": float(np.median([len(t.split()) for t in texts])),
        **{f"p{q}": float(np.percentile(lengths, q)) for q in (50, 95, 99)},
        "max": int(lengths.max()),
    }


def batches(mode: str) -> dict:
    import torch

    from ipaclip import PronunciationEncoder
    from ipaclip._batches import SequenceData, embed_rows

    words = to_ipa(cmudict_words(3000, seed=0))
    long, i = [], 0
    while len(long) < 64:
        text = ""
        while len(text.replace("ˈ", "").replace("ˌ", "")) < 520:
            text, i = text + words[i % len(words)] + " ", i + 1
        long.append(text.strip())
    X = ["ə", "ɪ", "æ", "ʊ"] * 1000 + long
    enc = PronunciationEncoder(context_length=400, epochs=1, random_state=0, device="cpu")
    enc.set_params(truncation="ignore")
    targets = np.random.default_rng(0).normal(size=(300, 512)).astype(np.float32)
    enc.fit(words[:300], targets)
    seqs = enc.phoneme_embedder_.set_params(truncation="ignore").transform(X)
    data = SequenceData(seqs, enc.vocabulary_, torch.device("cpu"))
    rows = np.arange(len(seqs))
    kwargs = {"max_tokens": 10**12} if mode == "items" else {}
    size = 1024 if mode == "items" else None
    _reset_peak()
    base = current_rss_mib()
    times, start = [], time.perf_counter()
    for _ in embed_rows(enc.module_, data, rows, size, "fp32", **kwargs):
        now = time.perf_counter()
        times.append(now - start)
        start = now
    return {
        "mode": mode,
        "batches": len(times),
        "max_batch_s": max(times),
        "total_s": sum(times),
        "peak_growth_mib": _phase_peak_mib() - base,
    }


if __name__ == "__main__":
    what = sys.argv[1]
    result = context() if what == "context" else batches(sys.argv[2])
    sys.stdout.write(json.dumps(result) + "\n")
