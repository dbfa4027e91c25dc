"""Command line: ``ipaclip evaluate``, ``ipaclip g2p`` and ``ipaclip embed``.

::

    ipaclip evaluate MODEL_DIR [--tasks fidelity,human] [--out results.json] [--n-words N]
                     [--fuse-weight W] [--seed S] [--plot-dir DIR] [--quiet]
    ipaclip g2p [--language en-us] TEXT...
    ipaclip embed MODEL_DIR [--out emb.npy] TEXT...

Errors the user can fix (a missing model folder, an unknown task, a bad number) print one
line to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


class _UsageError(Exception):
    """A problem with the command's input, reported in one line with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The ``ipaclip`` argument parser (sub-commands ``evaluate``, ``g2p``, ``embed``).

    Examples
    --------
    >>> args = build_parser().parse_args(["evaluate", "model", "--tasks", "human"])
    >>> args.command, args.model_dir, args.tasks
    ('evaluate', 'model', 'human')
    """
    from ipaclip._version import __version__

    parser = argparse.ArgumentParser(
        prog="ipaclip", description="IPA-CLIP pronunciation encoders: evaluate, transcribe, embed."
    )
    parser.add_argument("--version", action="version", version=f"ipaclip {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser(
        "evaluate",
        help="run the evaluation suite on a saved model",
        description="Run ipaclip.evaluation.evaluate_model on a folder written by "
        "PronunciationEncoder.save, print the table and optionally write JSON.",
    )
    ev.add_argument("model_dir", help="folder written by PronunciationEncoder.save")
    ev.add_argument(
        "--tasks",
        default="all",
        help="comma-separated tasks (fidelity, geometry, human, nonwords, respell, pwesuite) "
        "or 'all' (default)",
    )
    ev.add_argument("--out", help="write the full results as JSON to this file")
    ev.add_argument("--n-words", type=int, default=1000, help="CMUdict words (default 1000)")
    ev.add_argument("--n-nonwords", type=int, default=200, help="nonwords (default 200)")
    ev.add_argument("--n-respell", type=int, default=200, help="words to respell (default 200)")
    ev.add_argument(
        "--fuse-weight", type=float, default=0.5, help="pronunciation share of fused queries"
    )
    ev.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ev.add_argument("--plot-dir", help="draw the phoneme map here (needs matplotlib)")
    ev.add_argument(
        "--summary", action="store_true", help="print only the summary rows of the table"
    )
    ev.add_argument("--quiet", action="store_true", help="no progress bar or log lines")

    g2p = sub.add_parser("g2p", help="print the IPA of each text, one per line")
    g2p.add_argument("texts", nargs="+", metavar="TEXT")
    g2p.add_argument("--language", default="en-us", help="espeak language (default en-us)")

    emb = sub.add_parser("embed", help="embed the pronunciation of each text with a saved model")
    emb.add_argument("model_dir", help="folder written by PronunciationEncoder.save")
    emb.add_argument("texts", nargs="+", metavar="TEXT")
    emb.add_argument("--out", help="save the (n, d) embeddings as .npy instead of printing")
    return parser


def _load(model_dir: str):
    folder = Path(model_dir)
    if not folder.is_dir():
        raise _UsageError(f"model folder {str(folder)!r} does not exist or is not a folder.")
    from ipaclip.estimator import PronunciationEncoder

    try:
        return PronunciationEncoder.load(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise _UsageError(f"cannot load a model from {str(folder)!r}: {exc}") from exc


def _g2p_for(encoder):
    g2p = getattr(encoder, "g2p_", None)
    if g2p is None:
        from ipaclip.g2p import IPATransformer

        g2p = IPATransformer()
    return g2p


def _evaluate(args: argparse.Namespace) -> int:
    from ipaclip.evaluation.suite import SUMMARY_METRICS, TASKS, evaluate_model, format_results

    tasks = TASKS if args.tasks.strip() == "all" else args.tasks
    if args.out is not None and not Path(args.out).resolve().parent.is_dir():
        raise _UsageError(f"the folder of --out {args.out!r} does not exist.")
    encoder = _load(args.model_dir)
    try:
        results = evaluate_model(
            encoder,
            tasks=tasks,
            n_words=args.n_words,
            n_nonwords=args.n_nonwords,
            n_respell=args.n_respell,
            fuse_weight=args.fuse_weight,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
            plot_dir=args.plot_dir,
        )
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from exc
    results["config"]["model_dir"] = str(args.model_dir)
    if args.out is not None:
        Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False), "utf-8")
    print(format_results(results, SUMMARY_METRICS if args.summary else None))
    if args.out is not None and not args.quiet:
        print(f"results written to {args.out}")
    return 0


def _g2p(args: argparse.Namespace) -> int:
    from ipaclip.g2p import IPATransformer

    try:
        ipas = IPATransformer(language=args.language).fit_transform(args.texts)
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    for ipa in ipas:
        print(ipa)
    return 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    encoder = _load(args.model_dir)
    try:
        emb = encoder.transform(_g2p_for(encoder).fit_transform(args.texts))
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    if args.out is not None:
        np.save(args.out, emb)
        return 0
    for text, row in zip(args.texts, emb):
        print(text + "\t" + " ".join(f"{v:.6f}" for v in row))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ipaclip`` command; returns the exit status (0 success, 2 usage error).

    Examples
    --------
    >>> main(["evaluate", "/no/such/model"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version or an argparse error
        return int(exc.code or 0)
    if getattr(args, "quiet", True) is False:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    commands = {"evaluate": _evaluate, "g2p": _g2p, "embed": _embed}
    try:
        return commands[args.command](args)
    except _UsageError as exc:
        print(f"ipaclip {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
