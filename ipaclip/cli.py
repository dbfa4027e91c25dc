"""Command line: ``ipaclip fit``, ``ipaclip evaluate``, ``ipaclip g2p`` and ``ipaclip embed``.

::

    ipaclip fit TEXTS|- --out DIR [--teacher minilm] [--language en-us] [--epochs N] ...
    ipaclip evaluate MODEL_DIR [--tasks fidelity,human] [--out results.json] [--n-words N]
                     [--fuse-weight W] [--random-state S] [--plot-dir DIR] [--summary] [--quiet]
    ipaclip g2p [--language en-us] TEXT... | -
    ipaclip embed MODEL_DIR [--out emb.npy] TEXT... | -

``fit`` is also the ``torchrun`` entry point (``torchrun --nproc_per_node=2 -m ipaclip fit
...``). ``-`` reads the texts from standard input, one per line (UTF-8; not under ``torchrun``,
which gives standard input to one process only). Errors the user can fix (a missing model
folder, an unknown task, a bad number, a bad device, an input file that is not UTF-8 or not
a numeric ``.npy``, a disk that is full) print one line to stderr and exit with status 2,
without a traceback; ``fit`` checks everything it can before any work (G2P, the teacher,
training).

``fit --out DIR`` refuses a ``DIR`` that is the current folder or one above it, that holds
one of the command's input files, or that exists and is not an ipaclip model folder (a file,
or a non-empty folder holding anything but a model's files), unless ``--overwrite`` is given:
it never deletes files the user did not ask to replace. ``g2p`` and ``embed`` print one line
per text, so they refuse a text holding a line break (naming its index).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ipaclip._validation import describe_item

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


def _option_value(option: str):
    """:func:`_literal` for ``option``; JSON nested too deeply is a usage error naming it.

    argparse lets the :class:`_UsageError` through (it catches only ``ValueError`` and
    ``TypeError``); :func:`main` reports it in one line.
    """

    def parse(text: str):
        try:
            return _literal(text)
        except RecursionError:  # json's decoder recurses once per level of nesting
            raise _UsageError(
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

    The recipe's settings keep their names (``--loss``, ``--ngrams``; ``--recipe-loss`` too).
    """
    from ipaclip.estimator import PronunciationEncoder
    from ipaclip.recipe import Recipe

    params = PronunciationEncoder(recipe=Recipe()).get_params(deep=True)
    return {k: v for k, v in params.items() if k not in ("recipe", "callbacks")}


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
    for name, default in _fit_options().items():
        flags = ["--" + name.removeprefix("recipe__").replace("_", "-")]
        if name.startswith("recipe__"):
            flags.append("--" + name.replace("__", "-").replace("_", "-"))
        params.add_argument(
            *flags,
            dest=name,
            type=_option_value(flags[0]),
            default=argparse.SUPPRESS,
            metavar="VALUE",
            help=f"default: {default!r}",
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
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")  # str.splitlines's


def _world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset or not a number)."""
    value = os.environ.get("WORLD_SIZE", "1")
    return int(value) if value.isdigit() else 1


def _stdin_bytes() -> bytes | str:
    """All of standard input, as bytes when it has a binary buffer."""
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read()


def _split_lines(data: bytes | str, what: str) -> list[str]:
    """The non-blank lines of ``data`` (split at ``\\n`` only; a final ``\\r`` dropped).

    Bytes must be UTF-8; the message names the first line that is not.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise _UsageError(
                f"{what} is not UTF-8 text: line {line} holds the byte "
                f"{data[exc.start : exc.start + 1]!r}; convert it to UTF-8 (iconv -t utf-8)."
            ) from None
    lines = [line.removesuffix("\r") for line in data.split("\n")]
    return [line for line in lines if line.strip()]


def _read_texts(values: Sequence[str]) -> list[str]:
    """Texts from the arguments, or one per line from standard input for ``-``.

    Each becomes one output line, so a text holding a line break is refused.
    """
    if list(values) == ["-"]:
        texts = _split_lines(_stdin_bytes(), "standard input")
        if not texts:
            raise _UsageError("standard input has no text: give one text per line.")
    else:
        texts = list(values)
    for i, text in enumerate(texts):
        if _LINE_BREAKS.intersection(text):
            raise _UsageError(
                f"text {i} ({describe_item(text)}) holds a line break, but the output has one "
                "line per text; pass each text as its own argument or line."
            )
    return texts


def _read_lines(path: str, what: str) -> list[str]:
    """The non-blank lines of the UTF-8 file ``path`` (``-``: standard input)."""
    if path == "-":
        if _world_size() > 1:
            raise _UsageError(
                f"{what} - reads standard input, which torchrun gives to one process only; "
                "write the texts to a file and pass its path."
            )
        data, name = _stdin_bytes(), f"{what} - (standard input)"
    else:
        p, name = Path(path), f"{what} {path!r}"
        if not p.is_file():
            raise _UsageError(f"{name} does not exist or is not a file.")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise _UsageError(f"cannot read {name}: {exc.strerror or exc}.") from exc
    lines = _split_lines(data, name)
    if not lines:
        raise _UsageError(
            f"{name} has no text: it is empty or holds only blank lines; give one per line."
        )
    return lines


def _read_targets(path: str):
    """``--targets-file``: an ``(n, d)`` array of numbers in a ``.npy`` file, never unpickled."""
    import numpy as np

    p, name = Path(path), f"--targets-file {path!r}"
    if not p.is_file():
        raise _UsageError(f"{name} does not exist or is not a file.")
    if p.suffix.lower() != ".npy":
        raise _UsageError(
            f"{name} is not a .npy file; save the (n, d) teacher embeddings with numpy.save."
        )
    with open(p, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise _UsageError(
                f"{name} has no .npy header (a pickle, or another format; never unpickled); "
                "save the (n, d) teacher embeddings with numpy.save."
            )
    try:  # memory-mapped: the header is checked before the rows are read into memory
        y = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # an object array, a bad or cut header
        raise _UsageError(f"{name} is not a readable .npy array of numbers: {exc}") from exc
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "fiu" or y.ndim != 2:
        raise _UsageError(
            f"{name} holds a {getattr(y, 'ndim', '?')}-d array of dtype "
            f"{getattr(y, 'dtype', type(y).__name__)}; it must be an (n, d) array of numbers "
            "(the teacher's embeddings; give texts as TEXTS)."
        )
    return np.array(y)


def _output_file(path: str | None, option: str) -> Path | None:
    """``--out`` as a file path whose folder exists (created); checked before any work."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise _UsageError(f"{option} {path!r} is a folder; give a file name.")
    return _with_parent(path, option)


def _with_parent(path: str, option: str) -> Path:
    """``path`` once its parent folder exists (created if need be) and is writable."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"cannot create the folder of {option} {path!r}: {exc}") from exc
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise _UsageError(
            f"cannot write in the folder of {option} {path!r} ({str(out.parent)!r}): permission "
            "denied; choose another folder."
        )
    return out


def _is_model_folder(folder: Path) -> bool:
    """True when ``folder`` holds only a saved model's files, with an ipaclip config."""
    from ipaclip.persistence import CONFIG_NAME, FORMAT, MODEL_FILES

    entries = list(folder.iterdir())
    if any(e.name not in MODEL_FILES or not e.is_file() or e.is_symlink() for e in entries):
        return False
    config = folder / CONFIG_NAME
    if not config.is_file() or config.stat().st_size > 64 * 2**20:
        return False
    try:
        data = json.loads(config.read_bytes())
    except (ValueError, RecursionError, OSError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _model_folder(path: str, overwrite: bool, inputs: Sequence[str | None]) -> Path:
    """``fit --out``: a folder ``save`` may write, checked before any work.

    Never the current folder or one above it, nor a folder holding one of ``inputs``; an
    existing file or a non-empty folder that is not a model folder only with ``overwrite``.
    """
    out = Path(path)
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents:
        raise _UsageError(
            f"--out {path!r} is the current folder or one above it; saving would replace it. "
            "Name a new folder, such as --out model."
        )
    for name in inputs:
        if name is not None and name != "-" and target in Path(name).resolve().parents:
            raise _UsageError(
                f"--out {path!r} holds the input file {name!r}; saving would delete it. Name "
                "another folder."
            )
    if out.exists() and not overwrite:
        if not out.is_dir():
            raise _UsageError(
                f"--out {path!r} exists and is not a folder; pass --overwrite to replace it."
            )
        if any(out.iterdir()) and not _is_model_folder(out):
            raise _UsageError(
                f"--out {path!r} holds files that are not an ipaclip model; saving would delete "
                "them. Name a new folder, or pass --overwrite to replace it."
            )
    return _with_parent(path, "--out")


def _check_cache_folder(value, option: str) -> None:
    if value is not None and Path(value).exists() and not Path(value).is_dir():
        raise _UsageError(f"{option} {str(value)!r} is a file; it must name a folder.")


def _load(model_dir: str):
    """The model saved in ``model_dir`` (a save killed between its renames is finished)."""
    from ipaclip._hub import HUB_PREFIX
    from ipaclip.estimator import PronunciationEncoder

    try:
        return PronunciationEncoder.load(model_dir)
    except (FileNotFoundError, ValueError) as exc:
        if not Path(model_dir).exists() and not str(model_dir).startswith(HUB_PREFIX):
            message = f"model folder {model_dir!r} does not exist or is not a folder."
        else:
            message = f"cannot load a model from {model_dir!r}: {exc}"
        raise _UsageError(message) from exc


def _write_failed(what: str, path, exc: OSError) -> _UsageError:
    """A failed write (a full disk, a read-only folder) as a one-line usage error."""
    return _UsageError(f"cannot write {what} to {str(path)!r}: {exc.strerror or exc}.")


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
        _check_cache_folder(args.checkpoint_dir, "--checkpoint-dir")
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
        raise _UsageError(str(exc)) from exc
    _check_cache_folder(encoder.target_cache_dir, "--target-cache-dir")
    inputs = (args.texts, args.ipa_file, args.targets_file)
    out = _model_folder(args.out, args.overwrite, inputs)
    if args.texts is None and not (args.ipa_file and args.targets_file):
        raise _UsageError(
            "give TEXTS (a file, or - for stdin), or both --ipa-file and --targets-file."
        )
    texts = _read_lines(args.texts, "TEXTS") if args.texts is not None else None
    if args.targets_file is not None:
        y, y_name = _read_targets(args.targets_file), args.targets_file
    else:
        y, y_name = texts, args.texts
    if args.ipa_file is not None:
        X, x_name = _read_lines(args.ipa_file, "--ipa-file"), args.ipa_file
    else:
        X, x_name = texts, args.texts  # G2P gives one IPA string per text
    if len(X) != len(y):
        raise _UsageError(
            f"{x_name} has {len(X)} items but {y_name} has {len(y)}; they must correspond one "
            "to one."
        )
    if args.targets_file is None:
        try:  # the teacher loads (or fails: a missing folder, no weights) before G2P
            encoder.get_teacher().fit()
        except (ValueError, OSError) as exc:
            raise _UsageError(f"--teacher {encoder.teacher!r}: {exc}") from exc
    if args.ipa_file is None:
        try:
            X = g2p.fit_transform(texts)
        except ValueError as exc:
            raise _UsageError(str(exc)) from exc
    created = distributed.init_distributed(device=str(encoder.device))
    try:
        try:
            encoder.fit(X, y)
        except ValueError as exc:
            raise _UsageError(str(exc)) from exc
        if distributed.get_rank() == 0:
            try:
                encoder.save(out, g2p=None if args.ipa_file else g2p, overwrite=args.overwrite)
            except FileExistsError as exc:
                raise _UsageError(str(exc)) from exc
            except OSError as exc:
                raise _write_failed("the model", out, exc) from exc
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
    if args.plot_dir is not None and Path(args.plot_dir).exists():
        if not Path(args.plot_dir).is_dir():
            raise _UsageError(f"--plot-dir {args.plot_dir!r} is a file; it must name a folder.")
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

        try:
            write_atomic(out, json.dumps(results, indent=2, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            raise _write_failed("the results", out, exc) from exc
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
    texts = _read_texts(args.texts)
    encoder = _load(args.model_dir)
    try:
        g2p = resolve_g2p(saved=getattr(encoder, "g2p_", None))
        emb = encoder.transform(g2p.fit_transform(texts))
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    if out is not None:
        from ipaclip._io import atomic_file

        try:
            with atomic_file(out) as tmp, open(tmp, "wb") as f:
                np.save(f, emb)
        except OSError as exc:
            raise _write_failed("the embeddings", out, exc) from exc
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
    except _UsageError as exc:  # raised by an option's type (_option_value)
        command = next((a for a in argv if a in ("fit", "evaluate", "g2p", "embed")), None)
        prog = "ipaclip" if command is None else f"ipaclip {command}"
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    commands = {"fit": _fit, "evaluate": _evaluate, "g2p": _g2p, "embed": _embed}
    try:
        return commands[args.command](args)
    except _UsageError as exc:
        print(f"ipaclip {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
