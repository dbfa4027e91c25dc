"""Memory: peak resident memory of fitting 500k phrases vs 50k, each in a fresh subprocess.

The phrases are IPA strings made by joining two CMUdict words' IPA (so no G2P runs in the
measured process); ``y`` is precomputed random float32 targets of dimension 64 (at CLIP's
512 the targets alone would be 1 GB for 500k rows: they are an input, not the estimator's
doing, and are counted as such). The student is tiny (width 32, one layer) because the model
is not what is measured.

Each worker records its RSS after imports, after building ``X`` and ``y`` (the unavoidable
inputs), and its peak (``ru_maxrss``) after ``fit``. The figure is the growth of the fit's
memory between the two sizes over the growth of the inputs: it stays a small constant when
the estimator keeps O(tokens) integer ids and gathers features per batch, and it would be
far larger if a padded ``(N, L, F)`` float tensor of the corpus were built (its size is
reported beside). ``ipaclip._batches.SequenceData`` keeps ``ids``/``offsets`` and pads one batch of
row ids at a time; the features are gathered from the small token table inside the module.

To keep the run short, the single epoch is cut to its first batches (every O(N) structure
is built before the first batch; training memory is per batch).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import cmudict_words, log, record, to_ipa

NAME = "memory"
DIM = 64
MAX_BATCHES = 20


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _phase_peak_mib() -> float:
    """Peak RSS since the last :func:`_reset_peak` (``VmHWM``), else ``ru_maxrss``."""
    from benchmarks._common import peak_rss_mib

    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def _worker(n: int, ipa_file: Path, out_file: Path, max_batches: int) -> None:
    """Build ``n`` phrases and targets, featurise, fit, and write the RSS figures as JSON."""
    import ipaclip.training as training_module
    from benchmarks._common import current_rss_mib, peak_rss_mib
    from ipaclip import PhonemeEmbedder
    from ipaclip.estimator import PronunciationEncoder

    base = current_rss_mib()
    words = json.loads(ipa_file.read_text("utf-8"))
    rng = np.random.default_rng(n)
    pairs = rng.integers(0, len(words), size=(n, 2))
    X = [f"{words[a]} {words[b]}" for a, b in pairs]
    y = rng.standard_normal((n, DIM), dtype=np.float32)
    inputs = current_rss_mib()

    can_reset = _reset_peak()
    seqs = PhonemeEmbedder(max_length=64).fit(X).transform(X)
    featurise_peak = _phase_peak_mib()
    with_seqs = current_rss_mib()

    original = training_module.length_bucketed_batches

    def first_batches(lengths, batch_size, rng, *args, **kwargs):
        batches = original(lengths, batch_size, rng, *args, **kwargs)
        return batches if rng is None else batches[:max_batches]

    if max_batches > 0:
        training_module.length_bucketed_batches = first_batches
    est = PronunciationEncoder(
        width=32, layers=1, heads=2, epochs=1, batch_size=256, random_state=0, device="cpu"
    )
    _reset_peak()
    est.fit(seqs, y)
    fit_peak = _phase_peak_mib()
    result = {
        "n": n,
        "phase_peaks": can_reset,
        "rss_base_mib": base,
        "rss_inputs_mib": inputs,
        "featurise_peak_mib": featurise_peak,
        "rss_with_sequences_mib": with_seqs,
        "fit_peak_mib": fit_peak,
        "process_peak_mib": peak_rss_mib(),
        "x_strings_mib": (sum(sys.getsizeof(s) for s in X) + sys.getsizeof(X)) / 2**20,
        "y_mib": y.nbytes / 2**20,
        "sequences_mib": (seqs.ids.nbytes + seqs.offsets.nbytes + seqs.table.nbytes) / 2**20,
        "mean_tokens": float(seqs.lengths.mean()),
        "max_tokens": int(seqs.lengths.max()),
        "n_features": int(seqs.n_features),
    }
    out_file.write_text(json.dumps(result), "utf-8")


def _measure(n: int, ipa_file: Path, max_batches: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.bench_memory",
            "--worker",
            str(n),
            str(ipa_file),
            str(out),
            str(max_batches),
        ]
        root = Path(__file__).resolve().parent.parent
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"memory worker for n={n} failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text("utf-8"))


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    small, large = (500, 5000) if quick else (50_000, 500_000)
    ipa = to_ipa(cmudict_words(200 if quick else 2000, seed=5))
    with tempfile.TemporaryDirectory() as tmp:
        ipa_file = Path(tmp) / "ipa.json"
        ipa_file.write_text(json.dumps(ipa, ensure_ascii=False), "utf-8")
        runs = []
        for n in (small, large):
            runs.append(_measure(n, ipa_file, 2 if quick else MAX_BATCHES))
            r = runs[-1]
            log(
                f"  n={n}: featurise peak {r['featurise_peak_mib']:.0f} MiB, "
                f"fit peak {r['fit_peak_mib']:.0f} MiB"
            )
    a, b = runs
    # Training path: fit on sequences. Inputs = X (as sequences) and y.
    fit_extra = [r["fit_peak_mib"] - r["rss_with_sequences_mib"] for r in runs]
    fit_inputs = [r["sequences_mib"] + r["y_mib"] for r in runs]
    # Featurising IPA strings (what fit does first when X holds strings).
    feat_extra = [r["featurise_peak_mib"] - r["rss_inputs_mib"] for r in runs]
    str_inputs = [r["rss_inputs_mib"] - r["rss_base_mib"] for r in runs]
    padded_mib = b["n"] * b["max_tokens"] * b["n_features"] * 4 / 2**20
    growth = fit_extra[1] - fit_extra[0]
    return [
        record(
            NAME,
            f"fit peak growth {small:,} -> {large:,}",
            value=growth,
            unit="MiB",
            baseline="X+y growth",
            baseline_value=fit_inputs[1] - fit_inputs[0],
            ratio=growth / (fit_inputs[1] - fit_inputs[0]),
            target=3.0,
            better="lower",
            details={
                "runs": runs,
                "dim": DIM,
                "max_batches": MAX_BATCHES,
                "note": "X as PhonemeSequences; ratio = growth of fit's extra peak memory "
                "(beyond X and y) / growth of X and y",
            },
        ),
        record(
            NAME,
            f"fit peak growth vs padded (N, L, F) [{large:,}]",
            value=growth,
            unit="MiB",
            baseline="padded float32 corpus",
            baseline_value=padded_mib,
            ratio=growth / padded_mib,
            target=0.25,
            better="lower",
            details={"note": "a padded corpus tensor alone would be baseline_value MiB"},
        ),
        record(
            NAME,
            f"featurise IPA strings growth {small:,} -> {large:,}",
            value=feat_extra[1] - feat_extra[0],
            unit="MiB",
            baseline="strings+y growth",
            baseline_value=str_inputs[1] - str_inputs[0],
            ratio=(feat_extra[1] - feat_extra[0]) / (str_inputs[1] - str_inputs[0]),
            target=None,
            better="lower",
            details={
                "note": "PhonemeEmbedder fit+transform peak beyond the strings and y; this is "
                "the peak of fit(X=IPA strings), transient"
            },
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=4, metavar=("N", "IPA_JSON", "OUT_JSON", "MAX_BATCHES"))
    args = parser.parse_args()
    if args.worker:
        n, ipa_json, out_json, max_batches = args.worker
        _worker(int(n), Path(ipa_json), Path(out_json), int(max_batches))
    else:  # pragma: no cover
        for r in run():
            print(r)
