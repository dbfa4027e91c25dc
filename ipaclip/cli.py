"""Command line: ``ipaclip fit``, ``ipaclip evaluate``, ``ipaclip g2p`` and ``ipaclip embed``.

::

    ipaclip fit TEXTS|- --out DIR [--teacher minilm] [--language en-us] [--epochs N] ...
    ipaclip evaluate MODEL_DIR [--tasks fidelity,human] [--out results.json] [--n-words N]
                     [--fuse-weight W] [--random-state S] [--plot-dir DIR] [--summary] [--quiet]
    ipaclip g2p [--language en-us] TEXT... | -
    ipaclip embed MODEL_DIR [--out emb.npy] TEXT... | -

``fit`` is also the ``torchrun`` entry point (``torchrun --nproc_per_node=2 -m ipaclip fit
...``). ``-`` reads the texts from standard input, one per line. Errors the user can fix (a
missing model folder, an unknown task, a bad number) print one line to stderr and exit with
status 2, without a traceback.
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


def _literal(text: str):
    """A command-line value as None, bool, int, float, a JSON object or list, or str.

    Examples
    --------
    >>> [_literal(v) for v in ("none", "True", "3", "2e-3", "cosine+mse")]
    [None, True, 3, 0.002, 'cosine+mse']
    >>> _literal('{"substitute": 0.2}')  # e.g. --augment
    {'substitute': 0.2}
    """
    low = text.strip().lower()
    if low[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _add_fit_parser(sub) -> None:
    from ipaclip.estimator import PronunciationEncoder

    fit = sub.add_parser(
        "fit",
        help="distil a pronunciation encoder from texts and save it",
        description="Transcribe texts to IPA, distil the teacher's embeddings of them into a "
        "PronunciationEncoder and save it (with its G2P) to --out. Runs in parallel under "
        "torchrun (one process per GPU or CPU share); every process reads the same inputs.",
    )
    fit.add_argument(
        "texts", nargs="?", metavar="TEXTS", help="file with one text per line, or - for stdin"
    )
    fit.add_argument("--out", required=True, help="folder to save the model in (created)")
    fit.add_argument("--language", default="en-us", help="espeak language (default en-us)")
    fit.add_argument("--ipa-file", help="one IPA string per line instead of running G2P")
    fit.add_argument("--targets-file", help="precomputed teacher embeddings, an (n, d) .npy array")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    params = fit.add_argument_group("estimator parameters (see PronunciationEncoder)")
    for name, default in PronunciationEncoder().get_params(deep=False).items():
        params.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_literal,
            default=argparse.SUPPRESS,
            metavar="VALUE",
            help=f"default: {default!r}",
        )


def build_parser() -> argparse.ArgumentParser:
    """The ``ipaclip`` argument parser (sub-commands ``fit``, ``evaluate``, ``g2p``, ``embed``).

    Examples
    --------
    >>> args = build_parser().parse_args(["evaluate", "model", "--tasks", "human"])
    >>> args.command, args.model_dir, args.tasks
    ('evaluate', 'model', 'human')
    """
    from ipaclip._version import __version__

    parser = argparse.ArgumentParser(
        prog="ipaclip",
        description="IPA-CLIP pronunciation encoders: fit, evaluate, transcribe, embed.",
    )
    parser.add_argument("--version", action="version", version=f"ipaclip {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fit_parser(sub)

    from ipaclip.evaluation.evaluator import registry
    from ipaclip.evaluation.suite import evaluator_settings

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
        help=f"comma-separated tasks ({', '.join(registry())}) or 'all' (default: every "
        "task of the default suite)",
    )
    ev.add_argument("--out", help="write the full results as JSON to this file")
    ev.add_argument(
        "--fuse-weight", type=float, default=0.5, help="pronunciation share of fused queries"
    )
    ev.add_argument("--plot-dir", help="draw the pictures here (needs matplotlib)")
    ev.add_argument(
        "--summary", action="store_true", help="print only the summary rows of the table"
    )
    ev.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    settings = ev.add_argument_group("evaluator settings (for every task that takes them)")
    for name, (default, text) in evaluator_settings().items():
        settings.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_literal,
            default=argparse.SUPPRESS,
            metavar="N",
            help=f"{text} (default {default})",
        )

    g2p = sub.add_parser("g2p", help="print the IPA of each text, one per line")
    g2p.add_argument("texts", nargs="+", metavar="TEXT", help="texts, or - to read stdin")
    g2p.add_argument("--language", default="en-us", help="espeak language (default en-us)")

    emb = sub.add_parser("embed", help="embed the pronunciation of each text with a saved model")
    emb.add_argument("model_dir", help="folder written by PronunciationEncoder.save")
    emb.add_argument("texts", nargs="+", metavar="TEXT", help="texts, or - to read stdin")
    emb.add_argument("--out", help="save the (n, d) embeddings as .npy instead of printing")
    return parser


# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------
def _read_texts(values: Sequence[str]) -> list[str]:
    """Texts from the arguments, or one per line from standard input for ``-``."""
    if list(values) == ["-"]:
        return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    return list(values)


def _read_lines(path: str, what: str) -> list[str]:
    if path == "-":
        return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    p = Path(path)
    if not p.is_file():
        raise _UsageError(f"{what} {str(p)!r} does not exist or is not a file.")
    return [line for line in p.read_text("utf-8").splitlines() if line.strip()]


def _output_file(path: str | None, option: str) -> Path | None:
    """``--out`` as a file path whose folder exists (created); checked before any work."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise _UsageError(f"{option} {path!r} is a folder; give a file name.")
    return _with_parent(path, option)


def _output_folder(path: str, option: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise _UsageError(f"{option} {path!r} exists and is not a folder.")
    return _with_parent(path, option)


def _with_parent(path: str, option: str) -> Path:
    """``path`` once its parent folder exists (created if need be)."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"cannot create the folder of {option} {path!r}: {exc}") from exc
    return out


def _load(model_dir: str):
    folder = Path(model_dir)
    if not folder.is_dir():
        raise _UsageError(f"model folder {str(folder)!r} does not exist or is not a folder.")
    from ipaclip.estimator import PronunciationEncoder

    try:
        return PronunciationEncoder.load(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise _UsageError(f"cannot load a model from {str(folder)!r}: {exc}") from exc


# ----------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------
def _fit(args: argparse.Namespace) -> int:
    import numpy as np

    from ipaclip import distributed
    from ipaclip.estimator import PronunciationEncoder
    from ipaclip.g2p import IPATransformer

    options = {"command", "texts", "out", "language", "ipa_file", "targets_file", "quiet"}
    params = {k: v for k, v in vars(args).items() if k not in options}
    if args.quiet:
        params["verbose"] = 0
    elif "verbose" not in params:
        params["verbose"] = 1
    encoder = PronunciationEncoder(**params)
    g2p = IPATransformer(language=args.language)
    try:  # every parameter is checked before any work is done
        encoder.check_params()
        g2p.fit()
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    out = _output_folder(args.out, "--out")
    if args.texts is None and not (args.ipa_file and args.targets_file):
        raise _UsageError(
            "give TEXTS (a file, or - for stdin), or both --ipa-file and --targets-file."
        )
    texts = _read_lines(args.texts, "TEXTS") if args.texts is not None else None
    if args.targets_file is not None:
        if not Path(args.targets_file).is_file():
            raise _UsageError(f"--targets-file {args.targets_file!r} does not exist.")
        y, y_name = np.load(args.targets_file), args.targets_file
    else:
        y, y_name = texts, args.texts
    if args.ipa_file is not None:
        X, x_name = _read_lines(args.ipa_file, "--ipa-file"), args.ipa_file
    else:
        try:
            X, x_name = g2p.fit_transform(texts), args.texts
        except ValueError as exc:
            raise _UsageError(str(exc)) from exc
    if len(X) != len(y):
        raise _UsageError(
            f"{x_name} has {len(X)} items but {y_name} has {len(y)}; they must correspond one "
            "to one."
        )
    created = distributed.init_distributed(device=str(encoder.device))
    try:
        try:
            encoder.fit(X, y)
        except ValueError as exc:
            raise _UsageError(str(exc)) from exc
        if distributed.get_rank() == 0:
            encoder.save(out, g2p=None if args.ipa_file else g2p)
            if not args.quiet:
                print(f"saved to {out}", file=sys.stderr)
        if distributed.is_distributed():
            import torch.distributed as dist

            dist.barrier()
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ipaclip.evaluation.suite import (
        evaluate_model,
        evaluator_settings,
        format_results,
        summary_rows,
    )

    if args.out is not None and not Path(args.out).resolve().parent.is_dir():
        raise _UsageError(f"the folder of --out {args.out!r} does not exist.")
    out = _output_file(args.out, "--out")
    encoder = _load(args.model_dir)
    settings = {k: v for k, v in vars(args).items() if k in evaluator_settings()}
    try:
        results = evaluate_model(
            encoder,
            args.tasks,
            fuse_weight=args.fuse_weight,
            verbose=0 if args.quiet else 1,
            plot_dir=args.plot_dir,
            model_name=Path(args.model_dir).resolve().name,
            **settings,
        )
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from exc
    results["config"]["model_dir"] = str(args.model_dir)
    if out is not None:
        from ipaclip._io import write_atomic

        write_atomic(out, json.dumps(results, indent=2, ensure_ascii=False).encode("utf-8"))
    print(format_results(results, summary_rows() if args.summary else None))
    if out is not None and not args.quiet:
        print(f"results written to {out}")
    for name, path in results.get("plots", {}).items():
        print(f"{name} picture written to {path}")
    return 0


def _g2p(args: argparse.Namespace) -> int:
    from ipaclip.g2p import IPATransformer

    try:
        ipas = IPATransformer(language=args.language).fit_transform(_read_texts(args.texts))
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    for ipa in ipas:
        print(ipa)
    return 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    from ipaclip.g2p import resolve_g2p

    out = _output_file(args.out, "--out")
    encoder = _load(args.model_dir)
    texts = _read_texts(args.texts)
    try:
        g2p = resolve_g2p(saved=getattr(encoder, "g2p_", None))
        emb = encoder.transform(g2p.fit_transform(texts))
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    if out is not None:
        from ipaclip._io import atomic_file

        with atomic_file(out) as tmp, open(tmp, "wb") as f:
            np.save(f, emb)
        return 0
    for text, row in zip(texts, emb):
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
    commands = {"fit": _fit, "evaluate": _evaluate, "g2p": _g2p, "embed": _embed}
    try:
        return commands[args.command](args)
    except _UsageError as exc:
        print(f"ipaclip {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
