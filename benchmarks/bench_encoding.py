"""Encoding throughput: text → IPA → features → embedding vs an open_clip text tower.

ipaclip: ``Pipeline([IPATransformer(cache=False), PronunciationEncoder])``, ``transform`` only,
on an encoder fitted for one epoch on precomputed random targets. Baseline: open_clip's text
encoder (``open_clip.create_model`` with a ``text_cfg`` of the same width, layers and heads,
random weights, CLIP's context length of 77) with its own tokenizer, on the same texts and the
same batch size. Target: ipaclip's words/s at least the baseline's (ratio >= 1.0). Captions
("a photo of a X and a Y") are reported without a target.

Sentences (issue #19): captions/s at 10, 30 and 60 words (ImageNet prompts strung together,
:func:`benchmarks._common.sentences`; 60 words is about CLIP's 77 BPE tokens and 270 phoneme
tokens), end to end (G2P included) against the same open_clip tower, which always pads to 77.
Target >= 1.0 at every length. ipaclip batches by its token budget
(``ipaclip._batches.INFERENCE_MAX_TOKENS``), open_clip by ``BASELINE_BATCH`` items.
"""

from __future__ import annotations

from benchmarks._common import (
    captions,
    cmudict_words,
    cuda_available,
    interleaved,
    log,
    median,
    random_targets,
    record,
    sentences,
    to_ipa,
)

NAME = "encoding"
EMBED_DIM = 512  # CLIP ViT-B/32's embedding size
BASELINE_BATCH = 1024  # open_clip's texts per batch (each padded to 77 tokens)
SENTENCE_WORDS = (10, 30, 60)


def _fitted_encoder(texts: list[str], quick: bool):
    from ipaclip.estimator import PronunciationEncoder

    est = PronunciationEncoder(epochs=1, random_state=0, device="cpu", verbose=0)
    if quick:
        est.set_params(width=32, layers=1, heads=2)
    ipa = to_ipa(texts)
    return est.fit(ipa, random_targets(len(ipa), EMBED_DIM))


def _open_clip_text(est, device: str):
    import open_clip
    import torch

    text_cfg = {
        "context_length": 77,
        "vocab_size": 49408,
        "width": est.width,
        "heads": est.heads,
        "layers": est.layers,
    }
    vision_cfg = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = open_clip.create_model(
            "ViT-B-32",
            pretrained=None,
            embed_dim=EMBED_DIM,
            text_cfg=text_cfg,
            vision_cfg=vision_cfg,
            device=device,
        )
    return model.eval(), open_clip.get_tokenizer("ViT-B-32")


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    import logging

    # open_clip warns "no pretrained weights" on the root logger; quiet it for this run only.
    root = logging.getLogger()
    saved_level = root.level
    root.setLevel(logging.ERROR)
    try:
        return _run(quick, repeats)
    finally:
        root.setLevel(saved_level)


def _run(quick: bool, repeats: int) -> list[dict]:
    import torch
    import torch.nn.functional as F
    from sklearn.pipeline import Pipeline

    from ipaclip import IPATransformer

    n_words, n_captions = (40, 20) if quick else (1000, 300)
    words = cmudict_words(n_words, seed=1)
    caps = captions(cmudict_words(500, seed=2), n_captions, seed=2)
    n_sentences = 8 if quick else 200
    by_length = {k: sentences(k, n_sentences, seed=k) for k in SENTENCE_WORDS}
    fit_texts = words[:200] + caps[:100] + sentences(30, 10 if quick else 100, seed=0)
    est = _fitted_encoder(fit_texts, quick)
    log(
        f"  encoder width={est.width} layers={est.layers} heads={est.heads}; "
        f"{n_words} words, {n_captions} captions"
    )
    out = []
    devices = ["cpu"] + (["cuda"] if cuda_available() else [])
    for device in devices:
        est.set_params(device=device)
        pipe = Pipeline([("ipa", IPATransformer(cache=False)), ("enc", est)])
        model, tokenizer = _open_clip_text(est, device)
        batch = BASELINE_BATCH

        def baseline(texts, model=model, tokenizer=tokenizer, batch=batch, device=device):
            parts = []
            with torch.inference_mode():
                for i in range(0, len(texts), batch):
                    tokens = tokenizer(texts[i : i + batch]).to(device)
                    parts.append(F.normalize(model.encode_text(tokens), dim=-1).cpu())
            return torch.cat(parts).numpy()

        tasks = [("words", words, 1.0, "encode words"), ("captions", caps, None, "encode captions")]
        tasks += [
            ("captions", by_length[k], 1.0, f"encode {k}-word captions") for k in SENTENCE_WORDS
        ]
        for kind, texts, target, label in tasks:
            times = interleaved(
                {
                    "ipaclip": lambda t=texts, p=pipe: p.transform(t),
                    "open_clip": lambda t=texts: baseline(t),
                },
                repeats,
            )
            t_ours, t_base = median(times["ipaclip"]), median(times["open_clip"])
            n = len(texts)
            out.append(
                record(
                    NAME,
                    f"{label} end to end [{device}]",
                    value=n / t_ours,
                    unit=f"{kind}/s",
                    baseline="open_clip text tower",
                    baseline_value=n / t_base,
                    ratio=t_base / t_ours,
                    target=target if device == "cpu" else None,
                    details={
                        "n_texts": n,
                        "device": device,
                        "width": est.width,
                        "layers": est.layers,
                        "heads": est.heads,
                        "open_clip_context_length": 77,
                        "batch_size": batch,
                        "seconds": times,
                    },
                )
            )
    est.set_params(device="cpu")
    return out
