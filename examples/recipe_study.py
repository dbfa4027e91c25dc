"""The recipe study (issue #10): which training recipe is faithful to the teacher *and* phonetic?

Distils the offline MiniLM teacher (all-MiniLM-L6-v2) on the common CMUdict words (whole
entries of MiniLM's WordPiece vocabulary, :func:`ipaclip.datasets.sample_words`) with each
recipe, and scores every model on the same protocol:

fidelity
    ``train_r1``: R@1 of 2,000 training words' pronunciations among their 2,000 teacher
    embeddings (sound-preserving respellings have the training word's IPA, so their
    pronunciation query *is* this query). ``heldout_r1``: R@1 of 1,000 held-out words'
    pronunciations among 2,000 teacher embeddings (those 1,000 and 1,000 training words).
    Mean cosines beside them.
phonetics
    ``triplet_native`` / ``triplet_foreign``: minimal-pair triplet accuracy on generated
    nonwords (:mod:`ipaclip.evaluation.triplets`; near swap inside / outside the English
    inventory; the foreign candidates exclude every phoneme of the training data).
    ``nonword_spearman``: Spearman between the student's cosine and 1 - feature edit distance
    over all pairs of 300 generated nonwords; ``word_spearman`` the same on 300 held-out words.
human
    ``vw_pearson``: Vitz & Winkler (1973), PWESuite's protocol. Reported, never tuned on.

Splits are fixed: a **dev** split (1,000 held-out words, nonword and triplet seeds for
tuning) and a **test** split (another 1,000 words, other seeds), disjoint; training uses the
rest (18,287 words) or its first ``--n-train``. Every run appends one JSON line (recipe, all
settings, seconds, every metric) to the file ``--out`` names, by default a new file in the
temporary folder (printed at the end): the evidence files are written only when asked
(``--out examples/recipe_study/results_main.jsonl``, as the README's reruns were).
``examples/recipe_study/results.jsonl`` holds the study's own 72 runs (made on the
``recipe-study`` branch; see ``examples/recipe_study/README.md``).

Recipes are PronunciationEncoder parameters on top of :data:`BEFORE_10`, the library's
defaults before issue #10, so every recipe trains as it did in the study; ``before`` is
that recipe (the study's files call it ``default``, which it was then), ``recommended``
is the library's default now (``--list`` checks it).

    python examples/recipe_study.py --quick                       # smoke test, ~20 s
    python examples/recipe_study.py --list                        # the named recipes
    # screening (dev split, 128 x 2, 8 epochs, 1 thread, ~45-110 s a recipe):
    python examples/recipe_study.py --recipe before --recipe recommended --tag ablation
    python examples/recipe_study.py --recipe before --set ngrams=4    # any parameter override
    # small data: --n-train 1000 --epochs 146, --n-train 5000 --epochs 29 (about 580 steps)
    # final confirmation (test split, 256 x 4, 8 epochs, 2 threads, ~2-4 min a recipe):
    python examples/recipe_study.py --tag final --split test --threads 2 --width 256 \\
        --layers 4 --epochs 8 --embedding ipa --recipe before --recipe recommended
    # a larger corpus at the same budget: all of CMUdict (~115k words) for 1 epoch
    python examples/recipe_study.py --recipe recommended --corpus all --epochs 1 --tag corpus
    # any run of the study (# of examples/recipe_study/ALL_RUNS.md), with its settings:
    python examples/recipe_study.py --rerun 65 --tag rerun
    python examples/recipe_study.py --reference --split test     # teacher-on-spelling values
    python examples/recipe_study.py --table [--tag final]         # markdown table
    python examples/recipe_study.py --plot                        # recipe_study/recipes.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "recipe_study"
CACHE = STUDY / "cache"
STUDY_RESULTS = STUDY / "results.jsonl"  # the recipe-study branch's runs (evidence)
MAIN_RESULTS = STUDY / "results_main.jsonl"  # runs made with this script on main
SPLIT_SEED = 10
SEEDS = {"dev": {"nonwords": 101, "triplets": 11}, "test": {"nonwords": 202, "triplets": 22}}
N_WORDS = 20_287  # every common CMUdict word, in a seeded order
N_HELDOUT, N_TRAIN_EVAL, N_SEEN = 1000, 2000, 1000
N_NONWORDS, N_TRIPLET_BASES = 300, 1000

#: PronunciationEncoder's defaults before issue #10: every recipe starts from these.
BEFORE_10 = {
    "loss": "cosine+contrastive", "ngrams": 0, "ngram_classes": False, "ngram_lr_scale": 1.0,
    "learn_temperature": False, "augment": None, "triplet_items": 64, "triplet_margin": 0.1,
    "prior_items": None, "prior_per_row": False,
    # The word study ran with <eos> pooling, the default until issue #19 chose mean pooling
    # for sentences (examples/sentence_study.py): kept so its runs reproduce.
    "pooling": "eos",
}  # fmt: skip
#: Settings of the word study that the library's defaults no longer share (issue #19).
WORD_STUDY_ONLY = ("pooling",)
AUG = {"substitute": 0.15, "delete": 0.1, "insert": 0.1, "unstress": 0.2, "k": 3, "max_distance": 3}
RECOMMENDED = {
    "loss": {"cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 3.0},
    "ngrams": 4, "ngram_classes": True, "ngram_lr_scale": 5.0,
    "triplet_items": 64, "triplet_margin": 0.1, "prior_items": 256, "prior_per_row": True,
}  # fmt: skip
#: Recipes: PronunciationEncoder keyword arguments on top of BEFORE_10 and the run's sizes.
RECIPES: dict[str, dict] = {
    # the library default before issue #10 ("default" in the study's files)
    "before": {},
    "cosine": {"loss": "cosine"},
    # idea 3: learnable temperature
    "before+learnT": {"learn_temperature": True, "temperature": 0.07},
    # idea 4: contrastive against the whole training set's targets
    "gallery": {"loss": {"cosine": 1.0, "gallery": 1.0}},
    "gallery-only": {"loss": "gallery"},
    "gallery+learnT": {
        "loss": {"cosine": 1.0, "gallery": 1.0}, "learn_temperature": True, "temperature": 0.07,
    },
    "gallery+contrastive": {"loss": {"cosine": 1.0, "gallery": 1.0, "contrastive": 1.0}},
    # idea 1: phonetic perturbations as positives
    "before+aug": {"augment": AUG},
    "gallery+aug": {"loss": {"cosine": 1.0, "gallery": 1.0}, "augment": AUG},
    "gallery+aug-replace": {
        "loss": {"cosine": 1.0, "gallery": 1.0}, "augment": {**AUG, "mode": "replace"},
    },
    # idea 2: phonetic prior
    "before+prior": {"loss": {"cosine": 1.0, "contrastive": 1.0, "prior": 1.0}},
    "gallery+prior": {"loss": {"cosine": 1.0, "gallery": 1.0, "prior": 1.0}},
    "gallery+aug+prior": {"loss": {"cosine": 1.0, "gallery": 1.0, "prior": 1.0}, "augment": AUG},
    # found during the study: a phoneme n-gram bag with a fast learning rate memorises the
    # teacher's word targets in two epochs; the triplet and prior terms keep it phonetic.
    "ngram": {"ngrams": 4, "ngram_classes": True},
    "ngram-fast": {"ngrams": 4, "ngram_classes": True, "ngram_lr_scale": 5.0},
    "ngram-fast+triplet": {
        "loss": {"cosine": 1.0, "contrastive": 1.0, "triplet": 3.0},
        "ngrams": 4, "ngram_classes": True, "ngram_lr_scale": 5.0,
    },
    # the library default since issue #10
    "recommended": RECOMMENDED,
    # the recommended recipe without each of its parts
    "recommended-no-classes": {**RECOMMENDED, "ngram_classes": False},
    "recommended-no-ngrams": {**RECOMMENDED, "ngrams": 0, "ngram_classes": False},
    "recommended-no-prior": {
        **RECOMMENDED, "loss": {"cosine": 1.0, "contrastive": 1.0, "triplet": 3.0},
    },
    "recommended-no-triplet": {
        **RECOMMENDED, "loss": {"cosine": 1.0, "contrastive": 1.0, "prior": 3.0},
    },
    # and with each opt-in on top
    "recommended+gallery": {
        **RECOMMENDED,
        "loss": {"cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 3.0, "gallery": 1.0},
    },
    "recommended+aug": {**RECOMMENDED, "augment": AUG},
    "recommended+learnT": {**RECOMMENDED, "learn_temperature": True, "temperature": 0.07},
}  # fmt: skip


def recipe_params(name: str, overrides: dict | None = None) -> dict:
    """A recipe's PronunciationEncoder parameters (without the run's sizes)."""
    return {**BEFORE_10, **RECIPES[name], **(overrides or {})}


def check_recommended_is_default() -> list[str]:
    """Parameters where ``recommended`` differs from PronunciationEncoder's defaults."""
    from ipaclip import PronunciationEncoder, Recipe
    from ipaclip.losses import parse_loss

    defaults = {**PronunciationEncoder().get_params(), **Recipe().get_params()}
    diff = []
    for key, value in recipe_params("recommended").items():
        if key in WORD_STUDY_ONLY:
            continue
        default = defaults[key]
        if key == "loss":
            value, default = parse_loss(value), parse_loss(default)
        if key == "ngram_classes" and default == "auto":
            default = True  # "auto" is True for embedding="ipa"
        if value != default:
            diff.append(f"{key}: recipe {value!r}, default {default!r}")
    return diff


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def corpus(kind: str = "common") -> dict:
    """Common CMUdict words, their IPA (espeak-ng en-us) and MiniLM embeddings (cached).

    ``kind="all"`` appends every other CMUdict word of 3 to 12 letters (rare words and
    names, about 96,000 more), after the common ones: the held-out splits stay the same.
    """
    path = CACHE / "corpus.npz"
    if not path.is_file():
        from ipaclip.datasets import sample_words

        words = sample_words(N_WORDS, 0, max_length=12, common=True)
        _save_corpus(path, words)
    d = np.load(path)
    data = {"words": list(d["words"]), "ipa": list(d["ipa"]), "T": d["T"]}
    if kind == "all":
        path = CACHE / "corpus_rare.npz"
        if not path.is_file():
            from ipaclip.datasets import load_cmudict

            common = set(data["words"])
            rare = [w for w in load_cmudict(3, 12) if w.isalpha() and w not in common]
            _save_corpus(path, rare)
        d = np.load(path)
        data = {
            "words": data["words"] + list(d["words"]),
            "ipa": data["ipa"] + list(d["ipa"]),
            "T": np.concatenate([data["T"], d["T"]]),
        }
    return data


def _save_corpus(path: Path, words: list[str]) -> None:
    from ipaclip import IPATransformer
    from ipaclip.teachers import resolve_teacher

    ipa = IPATransformer().fit_transform(words)
    T = np.asarray(resolve_teacher("minilm").transform(words), dtype=np.float32)
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, words=np.array(words), ipa=np.array(ipa), T=T)


def splits(n_total: int, n_train: int | None) -> dict[str, np.ndarray]:
    """Held-out splits of the common words; training: the other common words, then (with
    ``--corpus all``) the rare ones, shuffled in. ``eval_pool``: the common training words
    (training R@1 is scored on them whatever the corpus)."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(N_WORDS)
    common_train = perm[2 * N_HELDOUT :]
    train = common_train
    if n_total > N_WORDS:
        rare = np.arange(N_WORDS, n_total)
        train = np.random.default_rng(SPLIT_SEED + 2).permutation(np.concatenate([train, rare]))
    if n_train is not None:
        train = train[:n_train]
    return {
        "dev": perm[:N_HELDOUT],
        "test": perm[N_HELDOUT : 2 * N_HELDOUT],
        "train": train,
        "eval_pool": common_train if n_total > N_WORDS else train,
    }


def probes(split: str, train_vocab: set[str]) -> dict:
    """Nonwords (spelling, IPA) and triplets of a split, cached per split."""
    from ipaclip import IPATransformer
    from ipaclip.evaluation.nonwords import generate_nonwords
    from ipaclip.evaluation.triplets import FOREIGN_PHONEMES, minimal_pair_triplets

    path = CACHE / f"probes_{split}.json"
    if path.is_file():
        return json.loads(path.read_text("utf-8"))
    g2p = IPATransformer()
    seeds = SEEDS[split]
    nonwords = generate_nonwords(N_NONWORDS, random_state=seeds["nonwords"])
    bases = generate_nonwords(N_TRIPLET_BASES, random_state=seeds["triplets"])
    base_ipa = g2p.fit_transform(bases)
    foreign = [p for p in FOREIGN_PHONEMES if p not in train_vocab]
    out = {
        "nonwords": nonwords,
        "nonword_ipa": g2p.fit_transform(nonwords),
        "foreign_candidates": foreign,
    }
    for cond in ("native", "foreign"):
        out[f"triplets_{cond}"] = minimal_pair_triplets(
            base_ipa, condition=cond, random_state=seeds["triplets"], foreign=foreign
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False), "utf-8")
    return out


def corpus_vocabulary(ipas) -> set[str]:
    from ipaclip.evaluation.distance import segment_codes
    from ipaclip.inventory import get_inventory

    inv = get_inventory()
    return {inv.segments[c] for s in segment_codes(ipas) for c in s}


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def r_at_1(Q: np.ndarray, G: np.ndarray) -> float:
    return float(((Q @ G.T).argmax(1) == np.arange(len(Q))).mean())


def evaluate(embed, data: dict, idx: dict, split: str, probe: dict) -> dict:
    """Every metric of the protocol for an IPA -> embedding function on ``split``."""
    from ipaclip import IPATransformer
    from ipaclip.evaluation.human import evaluate_human_similarity
    from ipaclip.evaluation.nonwords import nonword_phonetic_correlation
    from ipaclip.evaluation.triplets import triplet_accuracy

    ipa, T = data["ipa"], data["T"]
    rng = np.random.default_rng(SPLIT_SEED + 1)
    pool = idx["eval_pool"]
    train_eval = rng.choice(pool, size=min(N_TRAIN_EVAL, len(pool)), replace=False)
    seen = rng.choice(pool, size=min(N_SEEN, len(pool)), replace=False)
    held = idx[split]
    Zt = embed([ipa[i] for i in train_eval])
    Zh = embed([ipa[i] for i in held])
    gallery = np.concatenate([T[held], T[seen]])
    out = {
        "train_r1": r_at_1(Zt, T[train_eval]),
        "train_cos": float((Zt * T[train_eval]).sum(1).mean()),
        "heldout_r1": r_at_1(Zh, gallery),
        "heldout_cos": float((Zh * T[held]).sum(1).mean()),
    }
    for cond in ("native", "foreign"):
        res = triplet_accuracy(embed, probe[f"triplets_{cond}"])
        out[f"triplet_{cond}"] = res["accuracy"]
        out[f"triplet_{cond}_margin"] = res["mean_margin"]
        out[f"n_triplets_{cond}"] = res["n_triplets"]
    # Real-word proxy of the human task (held-out words, all pairs of the first 300).
    wc = nonword_phonetic_correlation(
        [data["words"][i] for i in held[:300]], embed, ipas=[ipa[i] for i in held[:300]],
        embed_input="ipa",
    )  # fmt: skip
    out["word_spearman"] = wc["spearman"]
    nw = nonword_phonetic_correlation(
        probe["nonwords"], embed, ipas=probe["nonword_ipa"], embed_input="ipa"
    )
    out["nonword_spearman"] = nw["spearman"]
    out["nonword_pearson"] = nw["pearson"]
    vw = evaluate_human_similarity(embed, g2p=IPATransformer().fit_transform, embed_input="ipa")
    out["vw_pearson"] = vw["pearson"]
    out["vw_spearman"] = vw["spearman"]
    return out


def reference(data: dict, idx: dict, split: str, probe: dict) -> dict:
    """The teacher reading spellings (nonwords, V&W): the values to beat."""
    from ipaclip.evaluation.human import evaluate_human_similarity
    from ipaclip.evaluation.nonwords import nonword_phonetic_correlation
    from ipaclip.teachers import resolve_teacher

    teacher = resolve_teacher("minilm")
    nw = nonword_phonetic_correlation(
        probe["nonwords"], teacher.transform, ipas=probe["nonword_ipa"]
    )
    held = idx[split][:300]
    wc = nonword_phonetic_correlation(
        [data["words"][i] for i in held], teacher.transform, ipas=[data["ipa"][i] for i in held]
    )
    vw = evaluate_human_similarity(teacher.transform)
    return {"nonword_spearman": nw["spearman"], "nonword_pearson": nw["pearson"],
            "word_spearman": wc["spearman"],
            "vw_pearson": vw["pearson"], "vw_spearman": vw["spearman"]}  # fmt: skip


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
def run(name: str, params: dict, args, data: dict, idx: dict, probe: dict) -> dict:
    import torch

    from ipaclip import PronunciationEncoder, Recipe

    torch.set_num_threads(args.threads)
    settings = {
        "embedding": args.embedding, "width": args.width, "layers": args.layers,
        "heads": args.heads, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "random_state": args.random_state,
    }  # fmt: skip
    params = {**settings, **params}
    if args.embedding == "onehot" and params.get("ngram_classes"):
        params["ngram_classes"] = False  # sound classes come from features: "ipa" only
    recipe = Recipe(**{k: v for k, v in params.items() if k in Recipe._get_param_names()})
    rest = {k: v for k, v in params.items() if k not in Recipe._get_param_names()}
    enc = PronunciationEncoder(device="cpu", recipe=recipe, **rest)
    train = idx["train"]
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    enc.fit([data["ipa"][i] for i in train], data["T"][train])
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    metrics = evaluate(enc.transform, data, idx, args.split, probe)
    hist = enc.history_
    row = {
        "recipe": name,
        "split": args.split,
        "n_train": int(len(train)),
        "corpus": args.corpus,
        "threads": args.threads,
        "tag": args.tag,
        "source": "main",
        "params": params,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "samples_per_s": round(float(np.mean([h["samples_per_second"] for h in hist])), 1),
        "final_train_cosine": round(hist[-1]["train_cosine"], 4),
        "final_logit_scale": round(hist[-1].get("logit_scale", 1.0 / enc.recipe.temperature), 2),
        "n_parameters": sum(p.numel() for p in enc.module_.parameters()),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
        "history": [
            {k: round(h[k], 4) for k in ("epoch", "loss", "train_cosine", "seconds") if k in h}
            for h in hist
        ],
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "commit": _commit(),
        "host": platform.node(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if args.save_model:
        folder = enc.save(CACHE.parent / "models" / f"{name}-{args.embedding}-{args.split}")
        row["model_mb"] = round((folder / "model.safetensors").stat().st_size / 2**20, 1)
    return row


SIZES = ("embedding", "width", "layers", "heads", "epochs", "batch_size", "lr", "random_state")
#: Parameters of the study branch that served diagnosis only and were not ported to main.
STUDY_ONLY = ("head_hidden", "positional_std", "ngram_unknown_buckets", "ngram_min_count",
              "gallery_negatives")  # fmt: skip


def study_run(number: int) -> dict:
    """Run ``number`` of ALL_RUNS.md (1-based, the study's runs in results.jsonl order)."""
    rows = read_rows([STUDY_RESULTS])
    if not 1 <= number <= len(rows):
        raise SystemExit(f"--rerun {number}: the study has runs 1 to {len(rows)}.")
    row = rows[number - 1]
    extra = sorted(set(row["params"]) & set(STUDY_ONLY))
    if extra:
        raise SystemExit(
            f"--rerun {number} ({row['recipe']}) uses {extra}, diagnosis options of the "
            "recipe-study branch that main does not have; run it there (git checkout "
            "recipe-study; python examples/recipe_study.py ...)."
        )
    return row


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# table and picture
# --------------------------------------------------------------------------------------------
#: The study's files name the recipe before issue #10 "default" (it was then); shown as "before".
LEGACY_NAMES = {"default": "before"}


def _display_name(recipe: str) -> str:
    """A recorded recipe name as the script names it now ("default+aug" -> "before+aug")."""
    head, sep, rest = recipe.partition("+")
    base, space, note = head.partition(" ")
    return LEGACY_NAMES.get(base, base) + space + note + sep + rest


def _result_files(args) -> list[Path]:
    """The study's runs, the reruns on main, and the file ``--out`` names (if any)."""
    return [STUDY_RESULTS, MAIN_RESULTS] + ([args.out] if args.out is not None else [])


def read_rows(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        if path.is_file():
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    row.setdefault("source", "recipe-study branch")
                    row["recipe"] = _display_name(row.get("recipe", ""))
                    rows.append(row)
    return [r for r in rows if r.get("recipe") != "reference"]


def plot(paths: list[Path], out: Path) -> None:
    """Fidelity (held-out R@1) against a phonetic score for each run, ipa vs onehot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_rows(paths) if "heldout_r1" in r]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, key, label, target in (
        (axes[0], "triplet_native", "minimal-pair triplets (English)", 0.95),
        (axes[1], "nonword_spearman", "nonword Spearman (teacher on spelling: 0.108)", 0.108),
    ):
        labelled = set()
        for r in rows:
            emb = r["params"]["embedding"]
            marker = "o" if emb == "ipa" else "s"
            color = "tab:blue" if r["split"] == "test" else "tab:gray"
            if r["source"] == "main":
                color = "tab:orange"
            ax.scatter(r["heldout_r1"], r[key], marker=marker, c=color, alpha=0.7)
            name = (r["recipe"].split(" (")[0], emb)
            if r["split"] == "test" and name not in labelled:
                labelled.add(name)  # one label per recipe and embedding, ipa above onehot
                offset = (6, 6) if emb == "ipa" else (6, -12)
                ax.annotate(
                    f"{name[0]} ({emb})", (r["heldout_r1"], r[key]), xytext=offset,
                    textcoords="offset points", fontsize=8,
                )  # fmt: skip
        ax.axhline(target, color="tab:red", lw=0.8, ls="--")
        ax.axvline(0.25, color="tab:red", lw=0.8, ls="--")  # the held-out target of #10
        ax.set_xlabel("held-out R@1 among 2,000 (target 0.25)")
        ax.set_ylabel(label)
    fig.suptitle(
        "circles ipa, squares onehot; blue test split, grey dev screening, orange rerun on main;"
        " red: targets",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


COLUMNS = (
    ("train_r1", "train R@1"), ("heldout_r1", "held-out R@1"), ("heldout_cos", "held-out cos"),
    ("triplet_native", "triplets en"), ("triplet_foreign", "triplets foreign"),
    ("nonword_spearman", "nonword ρ"), ("word_spearman", "word ρ"), ("vw_pearson", "V&W r"),
    ("seconds", "s"), ("cpu_seconds", "cpu s"),
)  # fmt: skip


def table(paths: list[Path], split: str | None = None, tag: str | None = None) -> str:
    """A markdown table of the runs (optionally one split / one tag)."""
    rows = read_rows(paths)
    if split:
        rows = [r for r in rows if r["split"] == split]
    if tag is not None:
        rows = [r for r in rows if r.get("tag") == tag]
    head = "| source | recipe | split | emb | n | size | ep | " + " | ".join(c[1] for c in COLUMNS)
    lines = [head + " |", "|" + "---|" * (7 + len(COLUMNS))]
    for r in rows:
        p = r["params"]
        size = f"{p['width']}x{p['layers']}"
        cells = [r["source"], r["recipe"], r["split"], p["embedding"], str(r["n_train"]), size]
        cells.append(str(p["epochs"]))
        cells.extend(cell(r.get(key)) for key, _ in COLUMNS)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell(value) -> str:
    """A metric as a table cell: 3 decimals for scores, as is for counts and seconds."""
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) and value < 10 else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", help="recipe name (repeatable)")
    parser.add_argument("--embedding", choices=["ipa", "onehot"], default="ipa")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--n-train", type=int, default=None, help="first n training words")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument(
        "--corpus", choices=["common", "all"], default="common",
        help="train on the common words, or on all of CMUdict (3-12 letters) but the held-out",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--tag", default="")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a recipe parameter, e.g. --set temperature=0.1")  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None,
        help="results file to append to (default: a new file in the temporary folder)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="1,000 words, width 64, 2 epochs")
    parser.add_argument("--reference", action="store_true", help="teacher-on-spelling values")
    parser.add_argument(
        "--plot", action="store_true", help="draw examples/recipe_study/recipes.png"
    )
    parser.add_argument("--save-model", action="store_true")
    parser.add_argument("--rerun", type=int, action="append", default=[], metavar="N",
                        help="repeat run N of ALL_RUNS.md, its settings (repeatable)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the recipes")
    parser.add_argument("--table", action="store_true", help="print results as markdown")
    args = parser.parse_args(argv)
    if args.list:
        for name in RECIPES:
            print(f"{name:<26} {json.dumps(recipe_params(name))}")
        diff = check_recommended_is_default()
        print("recommended == PronunciationEncoder defaults:", "yes" if not diff else diff)
        return 0
    if args.table:
        print(table(_result_files(args), None, args.tag or None))
        return 0
    if args.plot:
        plot(_result_files(args), STUDY / "recipes.png")
        return 0
    if args.quick:
        args.n_train, args.width, args.layers, args.epochs = 1000, 64, 1, 2
        args.out = CACHE / "quick.jsonl"
    if args.rerun:
        for number in args.rerun:
            row = study_run(number)  # refuses study-only options before any work
        for number in args.rerun:
            row = study_run(number)
            p = row["params"]
            args.split, args.threads, args.embedding = row["split"], row["threads"], p["embedding"]
            args.n_train = None if row["n_train"] == N_WORDS - 2 * N_HELDOUT else row["n_train"]
            args.width, args.layers, args.heads = p["width"], p["layers"], p["heads"]
            args.epochs, args.batch_size, args.lr, args.random_state = (
                p["epochs"], p["batch_size"], p["lr"], p["random_state"],
            )  # fmt: skip
            args.recipe, args.set = None, []
            params = {**BEFORE_10, **{k: v for k, v in p.items() if k not in SIZES}}
            _run_all([(f"{row['recipe']} (run {number})", params)], args)
        return 0
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    unknown = [r for r in args.recipe or [] if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; --list shows them")
    names = args.recipe or (["before", "recommended"] if args.quick else list(RECIPES))
    suffix = "" if not overrides else f" {json.dumps(overrides)}"
    _run_all([(name + suffix, recipe_params(name, overrides)) for name in names], args)
    return 0


def _run_all(runs: list[tuple[str, dict]], args) -> None:
    data = corpus(args.corpus)
    idx = splits(len(data["words"]), args.n_train)
    full_train = splits(N_WORDS, None)["train"]  # the probes' vocabulary: common words
    probe = probes(args.split, corpus_vocabulary([data["ipa"][i] for i in full_train]))
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        args.out = Path(tempfile.gettempdir()) / f"ipaclip-recipe-study-{stamp}.jsonl"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.reference:
        values = reference(data, idx, args.split, probe)
        row = {"recipe": "reference", "split": args.split, "source": "main"}
        row.update({k: round(v, 4) for k, v in values.items()})
        print(json.dumps(row))
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    for label, params in runs:
        row = run(label, params, args, data, idx, probe)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"results appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
