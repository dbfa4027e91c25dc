"""The fused query's weight: the README's sweep, on any saved model.

Runs :func:`ipaclip.evaluation.evaluate_model` (respelling retrieval and human similarity)
at each ``fuse_weight`` (the pronunciation's share of the fused query; 0 is the teacher
reading the spelling, 1 the pronunciation alone), prints the table and draws
``fuse_sweep.png`` with :func:`ipaclip.evaluation.plots.plot_fuse_sweep`, in the folder
``--out`` names, or else in a new temporary folder (printed). The model folder is only read,
and a ``fuse_sweep.png`` already in ``--out`` is replaced only with ``--overwrite``.

    python examples/fuse_sweep.py demo_model                 # after make demo, ~1 min
    python examples/fuse_sweep.py demo_model --weights 0 0.5 1 --out pictures
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROWS = ("respell: R@1", "respell: MRR", "human: Pearson r")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="a folder written by PronunciationEncoder.save")
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 0.25, 0.5, 0.75, 1])
    parser.add_argument(
        "--out", default=None, help="folder for fuse_sweep.png (default: a new temporary one)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace its fuse_sweep.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out is not None:
        picture = Path(args.out) / "fuse_sweep.png"
        if picture.exists() and not args.overwrite:
            parser.error(f"{picture} exists; pass --overwrite to replace it, or another --out.")

    from ipaclip import PronunciationEncoder
    from ipaclip.evaluation import evaluate_model
    from ipaclip.evaluation.plots import plot_fuse_sweep
    from ipaclip.evaluation.suite import RESULT_ROWS, lookup_result

    encoder = PronunciationEncoder.load(args.model_dir)
    sweep, table = {}, {}
    for weight in args.weights:
        res = evaluate_model(
            encoder, "respell,human", fuse_weight=weight, random_state=args.seed, verbose=0
        )
        sweep[weight] = res
        table[weight] = [
            lookup_result(res, RESULT_ROWS[r][0], "fused", RESULT_ROWS[r][1]) for r in ROWS
        ]
    labels = [f"{w:g}" + (" (text)" if w == 0 else " (pronunciation)" if w == 1 else "")
              for w in args.weights]  # fmt: skip
    print("| weight | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for i, row in enumerate(ROWS):
        print(f"| {row} | " + " | ".join(f"{table[w][i]:.3f}" for w in args.weights) + " |")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ipaclip-fuse-sweep-"))
    try:
        path = plot_fuse_sweep(sweep, out / "fuse_sweep.png", title="fused query weight")
    except ImportError:
        print("\npicture skipped (pip install 'ipaclip[plot]')")
        if not args.out:
            out.rmdir()
        return 0
    where = "" if args.out else " (a temporary folder: pass --out to choose one)"
    print(f"\nwrote {path}{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
