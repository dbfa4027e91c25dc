"""The sentence study (issue #19): one recipe for words *and* sentences, measured at both levels.

The successor of ``examples/recipe_study.py`` for sentences: it trains on a mix of the study's
common words and sentences, and scores every model on the word protocol of the recipe study
(:func:`recipe_study.evaluate`: training and held-out word R@1, minimal-pair triplets, nonword
and V&W correlations) and on two sentence tasks:

prompts
    CLIP's ImageNet prompts under templates training never saw, pronounced and ranked among
    the teacher's embeddings of all 1,000 class prompts of the same template (the protocol
    of :class:`ipaclip.evaluation.ZeroShotPromptEvaluator`): ``prompt_seen_r1`` for the
    classes trained on (under other templates), ``prompt_unseen_r1`` for the others.
captions
    ``caption_r1``: 1,000 held-out composed captions among themselves
    (:class:`ipaclip.evaluation.CaptionRetrievalEvaluator`'s protocol).

The teacher is MiniLM (all-MiniLM-L6-v2, offline). Splits: the **dev** split (recipe choices)
draws the prompt split with seed 1 and the word dev split; the **test** split (the figures
reported) draws the prompt split with seed 0, the library evaluator's default, and the word
test split. The held-out captions are the same for both (the grammar's fixed held-out side);
the dev runs score 500 of them, the test runs the 1,000 the evaluator scores.

The training mix (``--prompts``, ``--word-prompts``, ``--captions``) is drawn per split:
``prompts`` seen classes under training templates, ``word-prompts`` training *words* each
under one random training template (so a template is learned around many words, not only
class names), ``captions`` composed captions of the training side. Every run appends one
JSON line to ``--out`` (default: a new file in the temporary folder).

    python examples/sentence_study.py --list
    # screening (dev split, 128 x 2, 8 epochs, 1 thread):
    python examples/sentence_study.py --recipe sentences --recipe words-recipe
    # the default, confirmed on the test split (256 x 4, 8 epochs, 2 threads):
    python examples/sentence_study.py --recipe sentences --split test --width 256 --layers 4 \\
        --threads 2 --out examples/recipe_study/sentence_results.jsonl
    python examples/sentence_study.py --table --out examples/recipe_study/sentence_results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipe_study as words_study  # noqa: E402

CACHE = words_study.CACHE
PROMPT_SEEDS = {"dev": 1, "test": 0}
MIX_SEED = 19
N_DEV_CAPTIONS, N_TEST_CAPTIONS = 500, 1000
#: The default mix (:func:`ipaclip.datasets.sentence_mix`'s): what the demo trains on.
MIX = {"prompts": 4000, "word_prompts": 2000, "captions": 500}

#: Recipes: PronunciationEncoder/Recipe parameters on top of the library's defaults, each
#: spelled out in full (the defaults changed during the study: ``pooling`` was ``"eos"``).
RECIPES: dict[str, dict] = {
    # the library default since issue #19: word-edge n-grams, phonetic terms on words only,
    # mean pooling
    "sentences": {"pooling": "mean", "ngram_boundaries": "word", "phonetic_scope": "word"},
    # the word recipe of issue #10 as it read sentences before issue #19
    "words-recipe": {"pooling": "eos", "ngram_boundaries": "drop", "phonetic_scope": "item"},
    # one change at a time, from the screening's first candidate (eos pooling)
    "eos-pooling": {"pooling": "eos", "ngram_boundaries": "word", "phonetic_scope": "word"},
    "drop-boundaries": {"pooling": "eos", "ngram_boundaries": "drop", "phonetic_scope": "word"},
    "across-boundaries": {
        "pooling": "eos", "ngram_boundaries": "across", "phonetic_scope": "word",
    },
    "phonetic-every-item": {
        "pooling": "eos", "ngram_boundaries": "word", "phonetic_scope": "item",
    },
}  # fmt: skip


def recipe_params(name: str, overrides: dict | None = None) -> dict:
    return {**RECIPES[name], **(overrides or {})}


# --------------------------------------------------------------------------------------------
# data (IPA and MiniLM targets, cached)
# --------------------------------------------------------------------------------------------
def encoded(name: str, texts: list[str]) -> dict:
    """``texts`` with their IPA and unit MiniLM embeddings, cached under ``name``."""
    path = CACHE / f"sentences_{name}.npz"
    if path.is_file():
        d = np.load(path)
        if list(d["texts"]) == list(texts):
            return {"texts": list(d["texts"]), "ipa": list(d["ipa"]), "T": d["T"]}
    from ipaclip import IPATransformer
    from ipaclip.teachers import resolve_teacher

    ipa = IPATransformer().fit_transform(texts)
    T = np.asarray(resolve_teacher("minilm").transform(texts), dtype=np.float32)
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, texts=np.array(texts), ipa=np.array(ipa), T=T)
    return {"texts": list(texts), "ipa": list(ipa), "T": T}


def sentence_data(split: str, mix: dict, words: dict, word_idx: np.ndarray) -> dict:
    """The training sentences of ``mix`` (:func:`ipaclip.datasets.sentence_mix`, seeded with
    :data:`MIX_SEED`) and the evaluation sentences of ``split``."""
    from ipaclip.datasets import (
        composed_captions,
        imagenet_classnames,
        prompt_split,
        sentence_mix,
    )

    prompt = prompt_split(PROMPT_SEEDS[split])
    train = sentence_mix(
        [words["words"][i] for i in word_idx],
        prompt,
        n_prompts=mix["prompts"],
        n_word_prompts=mix["word_prompts"],
        n_captions=mix["captions"],
        random_state=MIX_SEED,
    )
    names = imagenet_classnames()
    heldout = [t.format(n) for t in prompt.heldout_templates for n in names]
    n_captions = N_DEV_CAPTIONS if split == "dev" else N_TEST_CAPTIONS
    return {
        "train": encoded(f"train_{split}_{_mix_key(mix)}", train),
        "prompts": encoded(f"prompts_{split}", heldout),
        "seen": set(prompt.seen_classes),
        "captions": encoded(
            f"captions_{n_captions}", composed_captions(n_captions, 0, split="heldout")
        ),
    }


def _mix_key(mix: dict) -> str:
    return "-".join(f"{mix[k]}" for k in ("prompts", "word_prompts", "captions"))


# --------------------------------------------------------------------------------------------
# sentence metrics
# --------------------------------------------------------------------------------------------
def sentence_metrics(embed, sent: dict, split: str) -> dict:
    """Prompt R@1 (seen / unseen classes) and caption R@1, scored by the library's evaluators
    (:class:`ipaclip.evaluation.ZeroShotPromptEvaluator`, :class:`ipaclip.evaluation.
    CaptionRetrievalEvaluator`) on the cached IPA and teacher rows of their texts."""
    from ipaclip.evaluation.captions import CaptionRetrievalEvaluator
    from ipaclip.evaluation.prompts import ZeroShotPromptEvaluator
    from ipaclip.evaluation.queries import Queries

    cached = {"ipa": {}, "T": {}}
    for part in (sent["prompts"], sent["captions"]):
        cached["ipa"].update(zip(part["texts"], part["ipa"]))
        cached["T"].update(zip(part["texts"], part["T"]))
    queries = Queries(
        text=lambda texts: np.stack([cached["T"][t] for t in texts]),
        g2p=lambda texts: [cached["ipa"][t] for t in texts],
        embed_ipa=embed,
    )
    prompts = ZeroShotPromptEvaluator(random_state=PROMPT_SEEDS[split])(queries)
    captions = CaptionRetrievalEvaluator(n_captions=len(sent["captions"]["texts"]))(queries)
    return {
        "prompt_seen_r1": prompts["pronunciation/seen/recall@1"],
        "prompt_unseen_r1": prompts["pronunciation/unseen/recall@1"],
        "caption_r1": captions["pronunciation/recall@1"],
        "n_templates": len(sent["prompts"]["texts"]) // 1000,
        "n_captions": len(sent["captions"]["texts"]),
    }


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
def run(name: str, params: dict, args, words: dict, idx: dict, probe: dict, sent: dict) -> dict:
    import torch

    from ipaclip import PronunciationEncoder, Recipe

    torch.set_num_threads(args.threads)
    sizes = {
        "width": args.width, "layers": args.layers, "epochs": args.epochs,
        "batch_size": args.batch_size, "random_state": args.random_state,
    }  # fmt: skip
    params = {**sizes, **params}
    recipe = Recipe(**{k: v for k, v in params.items() if k in Recipe._get_param_names()})
    rest = {k: v for k, v in params.items() if k not in Recipe._get_param_names()}
    enc = PronunciationEncoder(device="cpu", recipe=recipe, **rest)
    train_words = idx["train"]
    X = [words["ipa"][i] for i in train_words] + sent["train"]["ipa"]
    T = np.concatenate([words["T"][train_words], sent["train"]["T"]])
    t0, c0 = time.perf_counter(), time.process_time()
    enc.fit(X, T)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    metrics = words_study.evaluate(enc.transform, words, idx, args.split, probe)
    metrics.update(sentence_metrics(enc.transform, sent, args.split))
    return {
        "recipe": name,
        "split": args.split,
        "n_words": int(len(train_words)),
        "mix": dict(args.mix),
        "threads": args.threads,
        "tag": args.tag,
        "params": params,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "n_truncated": int(getattr(enc, "n_truncated_", 0)),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
        "history": [
            {k: round(h[k], 4) for k in ("epoch", "loss", "train_cosine", "seconds") if k in h}
            for h in enc.history_
        ],
        "commit": words_study._commit(),
        "host": platform.node(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


COLUMNS = (
    ("prompt_seen_r1", "prompts seen"), ("prompt_unseen_r1", "prompts unseen"),
    ("caption_r1", "captions"), ("train_r1", "train words"), ("heldout_r1", "held-out words"),
    ("triplet_native", "triplets en"), ("triplet_foreign", "triplets foreign"),
    ("nonword_spearman", "nonword ρ"), ("vw_pearson", "V&W r"), ("seconds", "fit s"),
)  # fmt: skip


def table(path: Path, split: str | None = None) -> str:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    if split:
        rows = [r for r in rows if r["split"] == split]
    head = "| recipe | split | size | mix (prompts / word prompts / captions) | "
    lines = [head + " | ".join(c[1] for c in COLUMNS) + " |", "|" + "---|" * (4 + len(COLUMNS))]
    for r in rows:
        p, m = r["params"], r["mix"]
        cells = [r["recipe"], r["split"], f"{p['width']}x{p['layers']}"]
        cells.append(f"{m['prompts']} / {m['word_prompts']} / {m['captions']}")
        cells.extend(words_study.cell(r.get(key)) for key, _ in COLUMNS)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", help="recipe name (repeatable)")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--random-state", type=int, default=0)
    for key, value in MIX.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=value)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name in RECIPES:
            print(f"{name:<22} {json.dumps(recipe_params(name))}")
        return 0
    if args.table:
        if args.out is None:
            parser.error("--table reads the file --out names")
        print(table(args.out))
        return 0
    unknown = [r for r in args.recipe or [] if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; --list shows them")
    overrides = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    args.mix = {key: getattr(args, key) for key in MIX}
    words = words_study.corpus()
    idx = words_study.splits(len(words["words"]), None)
    probe = words_study.probes(
        args.split, words_study.corpus_vocabulary([words["ipa"][i] for i in idx["train"]])
    )
    sent = sentence_data(args.split, args.mix, words, idx["train"])
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        args.out = Path(tempfile.gettempdir()) / f"ipaclip-sentence-study-{stamp}.jsonl"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    suffix = "" if not overrides else f" {json.dumps(overrides)}"
    for name in args.recipe or ["sentences"]:
        row = run(name + suffix, recipe_params(name, overrides), args, words, idx, probe, sent)
        print(json.dumps({k: v for k, v in row.items() if k != "history"}), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"results appended to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
