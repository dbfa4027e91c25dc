"""Command line: ``ipaclip fit``, ``ipaclip evaluate``, ``ipaclip g2p`` and ``ipaclip embed``.

::

    ipaclip fit TEXTS|- --out DIR [--teacher minilm] [--language en-us] [--epochs N] ...
    ipaclip evaluate MODEL_DIR [--tasks fidelity,human] [--teacher SPEC] [--out results.json]
                     [--format text|markdown|latex|json] [--seeds N] [--card] [--n-words N]
                     [--fuse-weight W] [--random-state S] [--plot-dir DIR] [--summary] [--quiet]
    ipaclip g2p [--language en-us] TEXT... | -
    ipaclip embed MODEL_DIR [--out emb.npy|emb.npz] [--language L] TEXT... | -

``fit`` is also the ``torchrun`` entry point (``torchrun --nproc_per_node=2 -m ipaclip fit
...``). ``-`` reads the texts from standard input, one per line (UTF-8; not under ``torchrun``,
which gives standard input to one process only). Every line is one item (one output row, one
row of ``--targets-file``): a blank line is refused with its number, never dropped. Errors
the user can fix (a missing model folder, an unknown task, a bad number, a bad device, a
teacher that cannot be resolved or loaded (offline, say), an input file that is not UTF-8 or
not a numeric ``.npy``, a disk that is full) print one line to stderr and exit with status 2,
without a traceback; each command checks everything it can before any work (G2P, the teacher,
training, evaluation).

``fit --out DIR`` refuses a ``DIR`` that is the current folder or one above it, that holds
one of the command's input files, or that exists and is not an ipaclip model folder (a file,
or a non-empty folder holding anything but a model's files), unless ``--overwrite`` is given:
it never deletes files the user did not ask to replace. ``evaluate --out`` and ``embed --out``
name a file; its folder is created. ``g2p`` and ``embed`` print one line per text, so they
refuse a text holding a line break (naming its index).

``fit``'s estimator options and ``evaluate``'s settings are generated from the estimator's
parameters (and their numpydoc descriptions) and from the evaluator registry, through the
table stored by :mod:`ipaclip._cli_options`, so that ``--help`` imports neither torch nor
sklearn.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ipaclip._cli_inputs import (
    UsageError,
    check_cache_folder,
    describe_item,
    load,
    load_teacher,
    model_folder,
    output_file,
    read_lines,
    read_targets,
    read_texts,
    write_failed,
)
from ipaclip._cli_options import load_options

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


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


def _option_value(option: str):
    """:func:`_literal` for ``option``; JSON nested too deeply is a usage error naming it.

    argparse lets the :class:`UsageError` through (it catches only ``ValueError`` and
    ``TypeError``); :func:`main` reports it in one line.
    """

    def parse(text: str):
        try:
            return _literal(text)
        except RecursionError:  # json's decoder recurses once per level of nesting
            raise UsageError(
                f"{option} holds JSON nested too deeply ({describe_item(text)}); give a flat "
                "object such as '{\"substitute\": 0.2}'."
            ) from None

    return parse


#: ``fit`` options that become callbacks: ``--early-stopping N``, ``--checkpoint-dir DIR``.
_CALLBACK_OPTIONS = {
    "early_stopping": ("EarlyStopping", "patience in epochs (needs --validation-fraction)"),
    "checkpoint_dir": ("Checkpoint", "save a checkpoint after every epoch; resume from it"),
}


def _fit_options() -> dict[str, object]:
    """``fit``'s estimator options and their defaults: ``get_params(deep=True)`` minus objects.

    Read from the stored option table (:mod:`ipaclip._cli_options`), so that ``--help`` does
    not import torch. The recipe's settings keep their names (``--loss``, ``--ngrams``;
    ``--recipe-loss`` too).
    """
    return {o["name"]: o["default"] for o in load_options()["fit"]}


def _help(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def _add_fit_parser(sub) -> None:
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
    fit.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even when it exists and is not an ipaclip model folder",
    )
    fit.add_argument("--language", default="en-us", help="espeak language (default en-us)")
    fit.add_argument("--ipa-file", help="one IPA string per line instead of running G2P")
    fit.add_argument("--targets-file", help="precomputed teacher embeddings, an (n, d) .npy array")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    params = fit.add_argument_group("estimator parameters (see PronunciationEncoder, Recipe)")
    for option in load_options()["fit"]:
        name, default = option["name"], option["default"]
        flags = ["--" + name.removeprefix("recipe__").replace("_", "-")]
        if name.startswith("recipe__"):
            flags.append("--" + name.replace("__", "-").replace("_", "-"))
        kind: dict = {"type": _option_value(flags[0]), "metavar": "VALUE"}
        if isinstance(default, bool):  # --causal / --no-causal
            kind = {"action": argparse.BooleanOptionalAction}
        params.add_argument(
            *flags,
            dest=name,
            default=argparse.SUPPRESS,
            help=_help(f"{option['help']} (default: {default!r})"),
            **kind,
        )
    for name, (callback, text) in _CALLBACK_OPTIONS.items():
        option = "--" + name.replace("_", "-")
        params.add_argument(
            option,
            dest=name,
            type=_option_value(option),
            default=None,
            metavar="N" if name == "early_stopping" else "DIR",
            help=f"{text} (a {callback} callback)",
        )


_FORMATS = ("text", "markdown", "latex", "json")
_TRUNCATION = ("warn", "raise", "ignore")
_TRUNCATION_HELP = (
    "what an item longer than the model's context_length does: warn and truncate, raise, or "
    "truncate silently (default: the model's setting)"
)


def _positive_int(option: str):
    def parse(text: str) -> int:
        value = _literal(text)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{option} must be a whole number >= 1; got {text!r}.")
        return value

    return parse


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
        help=f"comma-separated tasks ({', '.join(load_options()['evaluate']['tasks'])}) or "
        "'all' (default: every task of the default suite)",
    )
    ev.add_argument(
        "--teacher",
        metavar="SPEC",
        help="the text tower for the text and fused queries, as fit --teacher takes it "
        "(minilm, sentence-transformers:NAME, open_clip:ARCH@TAG); default: the model's own",
    )
    ev.add_argument(
        "--out", help="write the full results as JSON to this file (its folder is created)"
    )
    ev.add_argument(
        "--format",
        choices=_FORMATS,
        default="text",
        help="the printed table: aligned text, or markdown, latex (booktabs) or json to paste "
        "into a paper (default text)",
    )
    ev.add_argument(
        "--seeds",
        type=_positive_int("--seeds"),
        default=None,
        metavar="N",
        help="run the suite with random_state 0 .. N-1 and print mean ± sd (not with "
        "--random-state)",
    )
    ev.add_argument(
        "--card",
        action="store_true",
        help="write the figures into the model folder's card (README.md)",
    )
    ev.add_argument("--truncation", choices=_TRUNCATION, help=_TRUNCATION_HELP)
    ev.add_argument(
        "--fuse-weight", type=float, default=0.5, help="pronunciation share of fused queries"
    )
    ev.add_argument("--plot-dir", help="draw the pictures here (needs matplotlib)")
    ev.add_argument(
        "--summary", action="store_true", help="print only the summary rows of the table"
    )
    ev.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    settings = ev.add_argument_group("evaluator settings (for every task that takes them)")
    for option in load_options()["evaluate"]["settings"]:
        settings.add_argument(
            "--" + option["name"].replace("_", "-"),
            dest=option["name"],
            type=_literal,
            default=argparse.SUPPRESS,
            metavar="N",
            help=_help(f"{option['help']} (default {option['default']})"),
        )

    g2p = sub.add_parser("g2p", help="print the IPA of each text, one per line")
    g2p.add_argument("texts", nargs="+", metavar="TEXT", help="texts, or - to read stdin")
    g2p.add_argument("--language", default="en-us", help="espeak language (default en-us)")

    emb = sub.add_parser("embed", help="embed the pronunciation of each text with a saved model")
    emb.add_argument("model_dir", help="folder written by PronunciationEncoder.save")
    emb.add_argument("texts", nargs="+", metavar="TEXT", help="texts, or - to read stdin")
    emb.add_argument(
        "--out",
        help="save instead of printing: NAME.npy holds the (n, d) embeddings; NAME.npz holds "
        "them as 'embeddings' with the texts as 'texts' (its folder is created)",
    )
    emb.add_argument("--language", help="espeak language of the texts (default: the model's G2P's)")
    emb.add_argument("--truncation", choices=_TRUNCATION, help=_TRUNCATION_HELP)
    return parser


# ----------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------
def _fit(args: argparse.Namespace) -> int:
    from ipaclip import distributed
    from ipaclip.estimator import PronunciationEncoder
    from ipaclip.g2p import IPATransformer
    from ipaclip.recipe import Recipe
    from ipaclip.training import Checkpoint, EarlyStopping

    options = {"command", "texts", "out", "overwrite", "language", "ipa_file", "targets_file"}
    options |= {"quiet", *_CALLBACK_OPTIONS}
    params = {k: v for k, v in vars(args).items() if k not in options}
    if args.quiet:
        params["verbose"] = 0
    elif "verbose" not in params:
        params["verbose"] = 1
    callbacks = []
    if args.early_stopping is not None:
        callbacks.append(EarlyStopping(args.early_stopping))
    if args.checkpoint_dir is not None:
        check_cache_folder(args.checkpoint_dir, "--checkpoint-dir")
        callbacks.append(Checkpoint(args.checkpoint_dir))
    recipe = {k.removeprefix("recipe__"): params.pop(k) for k in list(params) if "__" in k}
    encoder = PronunciationEncoder(
        **params, recipe=Recipe(**recipe) if recipe else None, callbacks=callbacks or None
    )
    g2p = IPATransformer(language=args.language)
    try:  # every parameter (the device too) is checked before any work is done
        encoder.check_params()
        g2p.fit()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    check_cache_folder(encoder.target_cache_dir, "--target-cache-dir")
    inputs = (args.texts, args.ipa_file, args.targets_file)
    out = model_folder(args.out, args.overwrite, inputs)
    if args.texts is None and not (args.ipa_file and args.targets_file):
        raise UsageError(
            "give TEXTS (a file, or - for stdin), or both --ipa-file and --targets-file."
        )
    if args.texts is not None and args.ipa_file and args.targets_file:
        raise UsageError(
            f"TEXTS {args.texts!r} would be unused: --ipa-file gives the IPA and --targets-file "
            "the teacher embeddings. Drop TEXTS, or drop one of the two files."
        )
    texts = read_lines(args.texts, "TEXTS") if args.texts is not None else None
    if args.targets_file is not None:
        y, y_name = read_targets(args.targets_file), args.targets_file
    else:
        y, y_name = texts, args.texts
    if args.ipa_file is not None:
        X, x_name = read_lines(args.ipa_file, "--ipa-file"), args.ipa_file
    else:
        X, x_name = texts, args.texts  # G2P gives one IPA string per text
    if len(X) != len(y):
        raise UsageError(
            f"{x_name} has {len(X)} items but {y_name} has {len(y)}; they must correspond one "
            "to one."
        )
    if args.targets_file is None:
        # the teacher loads (or fails: a missing folder, no weights, offline) before G2P;
        # the encoder keeps the loaded one for fit
        load_teacher(encoder.teacher, resolve=lambda spec: encoder.get_teacher())
    if args.ipa_file is None:
        try:
            X = g2p.fit_transform(texts)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    created = distributed.init_distributed(device=str(encoder.device))
    try:
        try:
            encoder.fit(X, y)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        if distributed.get_rank() == 0:
            try:
                encoder.save(out, g2p=None if args.ipa_file else g2p, overwrite=args.overwrite)
            except FileExistsError as exc:
                raise UsageError(str(exc)) from exc
            except OSError as exc:
                raise write_failed("the model", out, exc) from exc
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
        evaluate_seeds,
        evaluator_settings,
        format_results,
        summary_rows,
    )

    settings = {k: v for k, v in vars(args).items() if k in evaluator_settings()}
    if args.seeds is not None and "random_state" in settings:
        raise UsageError(
            "--seeds N runs random_state 0 .. N-1; drop --random-state, or drop --seeds."
        )
    if args.card and not Path(args.model_dir).is_dir():
        raise UsageError(
            f"--card writes into the model folder, but {args.model_dir!r} is not a local "
            "folder; download the model first, or drop --card."
        )
    out = output_file(args.out, "--out")  # its folder is created, as fit and embed do
    if args.plot_dir is not None and Path(args.plot_dir).exists():
        if not Path(args.plot_dir).is_dir():
            raise UsageError(f"--plot-dir {args.plot_dir!r} is a file; it must name a folder.")
    teacher = load_teacher(args.teacher) if args.teacher is not None else None
    encoder = load(args.model_dir)
    _set_truncation(encoder, args.truncation)
    kwargs = dict(
        teacher=teacher,
        fuse_weight=args.fuse_weight,
        verbose=0 if args.quiet else 1,
        plot_dir=args.plot_dir,
        model_name=Path(args.model_dir).resolve().name,
        **settings,
    )
    try:
        if args.seeds is None:
            results = evaluate_model(encoder, args.tasks, **kwargs)
        else:
            results = evaluate_seeds(encoder, n_seeds=args.seeds, evaluators=args.tasks, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from exc
    results["config"]["model_dir"] = str(args.model_dir)
    if teacher is not None:  # its weights' name, not the class the suite records
        from ipaclip._targets import teacher_id

        results["config"]["teacher"] = teacher_id(teacher)
    if args.card:
        from ipaclip.model_card import write_model_card

        try:
            card = write_model_card(args.model_dir, results)
        except (FileExistsError, ValueError) as exc:
            raise UsageError(f"--card: {exc}") from exc
        except OSError as exc:
            raise write_failed("the model card", args.model_dir, exc) from exc
    if out is not None:
        from ipaclip._io import write_atomic

        try:
            write_atomic(out, json.dumps(results, indent=2, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            raise write_failed("the results", out, exc) from exc
    rows = summary_rows() if args.summary else None
    print(format_results(results, rows, format=args.format))
    notes = sys.stderr if args.format != "text" else sys.stdout  # stdout: only the table
    if out is not None and not args.quiet:
        print(f"results written to {out}", file=notes)
    if args.card and not args.quiet:
        print(f"model card written to {card}", file=notes)
    for name, path in results.get("plots", {}).items():
        print(f"{name} picture written to {path}", file=notes)
    return 0


def _g2p(args: argparse.Namespace) -> int:
    from ipaclip.g2p import IPATransformer

    try:
        ipas = IPATransformer(language=args.language).fit_transform(read_texts(args.texts))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for ipa in ipas:
        print(ipa)
    return 0


def _set_truncation(encoder, truncation: str | None) -> None:
    """``--truncation``: the loaded encoder's ``truncation`` parameter, when given."""
    if truncation is None:
        return
    if "truncation" not in encoder.get_params(deep=False):
        raise UsageError(
            "--truncation: this version of PronunciationEncoder has no truncation parameter; "
            "upgrade ipaclip, or drop --truncation."
        )
    encoder.set_params(truncation=truncation)


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    out = output_file(args.out, "--out")
    if out is not None and out.suffix.lower() not in (".npy", ".npz"):
        raise UsageError(
            f"--out {args.out!r} must end in .npy (the embeddings) or .npz (the embeddings and "
            "the texts)."
        )
    texts = read_texts(args.texts)
    encoder = load(args.model_dir)
    _set_truncation(encoder, args.truncation)
    language = {} if args.language is None else {"language": args.language}
    try:
        emb = encoder.encode(texts, show_progress_bar=False, **language)
    except TypeError as exc:
        if language and "language" in str(exc):
            raise UsageError(
                "--language: this version of PronunciationEncoder.encode takes no language; "
                "upgrade ipaclip, or drop --language."
            ) from exc
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if out is not None:
        from ipaclip._io import atomic_file

        try:
            with atomic_file(out) as tmp, open(tmp, "wb") as f:
                if out.suffix.lower() == ".npz":  # texts as unicode, never pickled objects
                    np.savez(f, texts=np.array(texts, dtype=str), embeddings=emb)
                else:
                    np.save(f, emb)
        except OSError as exc:
            raise write_failed("the embeddings", out, exc) from exc
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
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or an argparse error
        return int(exc.code or 0)
    except UsageError as exc:  # raised by an option's type (_option_value)
        command = next((a for a in argv if a in ("fit", "evaluate", "g2p", "embed")), None)
        prog = "ipaclip" if command is None else f"ipaclip {command}"
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    commands = {"fit": _fit, "evaluate": _evaluate, "g2p": _g2p, "embed": _embed}
    try:
        return commands[args.command](args)
    except UsageError as exc:
        print(f"ipaclip {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
