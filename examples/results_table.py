"""The README's results table: the evaluation suite on `ipa` and `onehot` students.

Trains two pronunciation encoders from the offline teacher (all-MiniLM-L6-v2) on the demo's
training data (about 19,000 common CMUdict words and the default
:func:`~ipaclip.datasets.sentence_mix`), with the demo's settings (the default recipe, 8
epochs) and only the phoneme embedding changed, then runs
:func:`ipaclip.evaluation.suite.evaluate_model` on each, with the demo's 1,000 held-out
words as the fidelity words. Writes ``results/results.json`` and
``results/results.md`` and prints the table.

    python examples/results_table.py                          # trains both (~20 min)
    python examples/results_table.py --models ipa=demo_model  # reuse a trained ipa model
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo import demo_words  # noqa: E402

COLUMNS = [
    ("text (teacher on spelling)", "ipa", "text"),
    ("pronunciation, ipa", "ipa", "pronunciation"),
    ("fused, ipa", "ipa", "fused"),
    ("pronunciation, onehot", "onehot", "pronunciation"),
    ("fused, onehot", "onehot", "fused"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=None, help="default: all (the demo's)")
    parser.add_argument("--n-test", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=None, help="default: the estimator's (8)")
    parser.add_argument("--models", nargs="*", default=[], help="EMBEDDING=FOLDER to reuse")
    parser.add_argument("--out", default="results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from ipaclip import IPATransformer, PronunciationEncoder
    from ipaclip.datasets import sentence_mix
    from ipaclip.evaluation.suite import RESULT_ROWS, SUMMARY_METRICS, evaluate_model, lookup_result

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test, train = demo_words(args.n_test, args.n_train, args.seed)
    train = train + sentence_mix(train, random_state=args.seed)  # the demo's training texts
    g2p = IPATransformer()
    given = dict(m.split("=", 1) for m in args.models)
    results, timings = {}, {}
    for embedding in ("ipa", "onehot"):
        t0 = time.perf_counter()
        if embedding in given:
            encoder = PronunciationEncoder.load(given[embedding])
        else:
            epochs = {} if args.epochs is None else {"epochs": args.epochs}
            encoder = PronunciationEncoder(
                embedding=embedding, random_state=args.seed, verbose=1, **epochs
            )
            encoder.fit(g2p.fit_transform(train), train)
            encoder.save(out / f"model_{embedding}", g2p=g2p)
        timings[f"train_{embedding}"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        results[embedding] = evaluate_model(
            encoder, g2p=g2p, words=test, random_state=args.seed, plot_dir=out / embedding
        )
        timings[f"evaluate_{embedding}"] = round(time.perf_counter() - t0, 1)
    timings["total"] = round(time.perf_counter() - t_start, 1)

    header = "| metric | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [header, "|---" * (len(COLUMNS) + 1) + "|"]
    ran = [m for m in SUMMARY_METRICS if m in results["ipa"]["summary"]]  # not "multimodal"
    for label in [*ran, "fidelity: R@1"]:  # geometry is in the summary now
        task, keys = RESULT_ROWS[label]
        cells = []
        for _, embedding, query in COLUMNS:
            v = lookup_result(results[embedding], task, query, keys)
            cells.append("–" if v is None or v != v else f"{v:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (out / "results.json").write_text(
        json.dumps({"results": results, "seconds": timings}, indent=1)
    )
    (out / "results.md").write_text(table + "\n")
    print(table)
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
