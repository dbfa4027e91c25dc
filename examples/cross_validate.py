"""K-fold cross-validation of a pronunciation encoder on CMUdict words.

Each fold fits ``Pipeline([("ipa", IPATransformer()), ("enc", PronunciationEncoder(...))])``
on the training words (X = spellings, y = the same spellings for the teacher) and scores the
held-out words with ipaclip's scorers:

* ``fidelity``: mean cosine between the encoder's embedding of a held-out word's IPA and the
  teacher's embedding of its spelling;
* ``recall@1``: how often that embedding retrieves the word's own teacher embedding among the
  teacher embeddings of all the fold's held-out words (about n_words / folds of them).

Both phoneme embeddings are compared: PanPhon articulatory features (``"ipa"``, the paper's)
and one-hot phonemes (``"onehot"``). Run::

    python examples/cross_validate.py                       # 3000 words, 5 folds, 10 epochs
    python examples/cross_validate.py --n-words 600 --epochs 3 --folds 3   # quick check
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.evaluation import sample_words
from ipaclip.metrics import get_scorer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-words", type=int, default=3000, help="CMUdict words (default 3000)")
    parser.add_argument("--folds", type=int, default=5, help="K of K-fold (default 5)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per fit (default 10)")
    parser.add_argument("--width", type=int, default=128, help="Transformer width (default 128)")
    parser.add_argument("--layers", type=int, default=2, help="Transformer layers (default 2)")
    parser.add_argument("--teacher", default="minilm", help="teacher spec (default minilm)")
    parser.add_argument(
        "--embeddings", default="ipa,onehot", help="phoneme embeddings to compare (ipa,onehot)"
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed for words, folds and weights"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    words = sample_words(args.n_words, random_state=args.random_state)
    cv = KFold(args.folds, shuffle=True, random_state=args.random_state)
    scoring = {"fidelity": get_scorer("fidelity"), "recall@1": get_scorer("recall@1")}
    print(
        f"{args.n_words} CMUdict words, {args.folds}-fold CV, {args.epochs} epochs, "
        f"width {args.width} x {args.layers} layers, teacher {args.teacher!r}; "
        f"~{args.n_words // args.folds} held-out words per fold"
    )
    # The teacher embeds the words once per process (its targets are memoised), so it is
    # timed here, once, and every row below times the same thing: G2P, fits and scoring.
    start = time.perf_counter()
    PronunciationEncoder(teacher=args.teacher).embed_targets(words)
    print(f"teacher: {len(words)} words embedded in {time.perf_counter() - start:.0f} s")
    print(f"{'embedding':<10} {'fidelity (cosine)':>20} {'R@1':>17} {'seconds':>8}")
    for embedding in args.embeddings.split(","):
        pipe = Pipeline(
            [
                ("ipa", IPATransformer()),
                (
                    "enc",
                    PronunciationEncoder(
                        teacher=args.teacher,
                        embedding=embedding,
                        width=args.width,
                        layers=args.layers,
                        heads=4,
                        epochs=args.epochs,
                        batch_size=128,
                        random_state=args.random_state,
                    ),
                ),
            ]
        )
        start = time.perf_counter()
        # cross_validate is cross_val_score with several scorers on the same fitted folds.
        scores = cross_validate(pipe, words, words, cv=cv, scoring=scoring)
        seconds = time.perf_counter() - start
        fid, r1 = scores["test_fidelity"], scores["test_recall@1"]
        print(
            f"{embedding:<10} {np.mean(fid):>12.3f} ± {np.std(fid):.3f}"
            f" {np.mean(r1):>9.3f} ± {np.std(r1):.3f} {seconds:>8.0f}"
        )


if __name__ == "__main__":
    main()
