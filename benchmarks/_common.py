"""Shared helpers of the benchmark suite: machine description, interleaved timing, records.

Every benchmark reports its figure as a *ratio* against a baseline measured in the same run,
because absolute timings on shared machines drift by tens of percent from one minute to the
next. Candidate and baseline are timed in alternating order, a few times each, and the median
is kept.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Where ``python -m benchmarks`` writes its JSON by default (ignored by git).
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux), or ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, library versions, torch threads and accelerator of this machine."""
    import torch

    import ipaclip

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        usable = os.cpu_count()
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gib = None
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "ipaclip": ipaclip.__version__,
        "git_commit": _git_commit(),
        "cuda": None,
    }
    if torch.cuda.is_available():
        info["cuda"] = {
            "device": torch.cuda.get_device_name(0),
            "count": torch.cuda.device_count(),
            "version": torch.version.cuda,
        }
    return info


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def cmudict_words(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct lower-case alphabetic CMUdict words, drawn with ``seed`` (deterministic)."""
    from ipaclip.datasets import sample_words

    return sample_words(n, seed, min_length=1, max_length=None)


def captions(words: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """``n`` CLIP-style captions ("a photo of a X and a Y") built from ``words``."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, len(words), size=(n, 2))
    return [f"a photo of a {words[a]} and a {words[b]}" for a, b in pairs]


def sentences(n_words: int, n: int, seed: int = 0) -> list[str]:
    """``n`` texts of exactly ``n_words`` words: CLIP's ImageNet zero-shot prompts
    (``open_clip.zero_shot_metadata``: 80 templates x 1,000 class names, real prompts) strung
    together at random and cut at ``n_words`` words (deterministic)."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words: list[str] = []
        while len(words) < n_words:
            template = OPENAI_IMAGENET_TEMPLATES[rng.integers(len(OPENAI_IMAGENET_TEMPLATES))]
            words += template(IMAGENET_CLASSNAMES[rng.integers(len(IMAGENET_CLASSNAMES))]).split()
        out.append(" ".join(words[:n_words]))
    return out


def to_ipa(texts: Sequence[str]) -> list[str]:
    """IPA of ``texts`` with the default :class:`~ipaclip.IPATransformer` (cached)."""
    from ipaclip import IPATransformer

    return IPATransformer().fit_transform(list(texts))


def random_targets(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Precomputed ``(n, dim)`` float32 "teacher embeddings" (Gaussian), so fits need no teacher."""
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int = 3, warmup: bool = True
) -> dict[str, list[float]]:
    """Wall-clock seconds of each function, ``repeats`` times, in alternating order.

    Repeat ``r`` runs the functions in the given order when ``r`` is even and in reverse
    when odd, so a drift of the machine's speed hits candidate and baseline alike. With
    ``warmup`` each function first runs once untimed (imports, thread pools, caches of the
    library under test are *not* cleared by this: pass functions that do their own work).
    """
    names = list(fns)
    if warmup:
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def current_rss_mib() -> float:
    """Resident memory of this process now, in MiB (Linux; falls back to the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------
def record(
    benchmark: str,
    name: str,
    *,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float | None,
    ratio: float,
    target: float | None = None,
    better: str = "higher",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result: the figure, its baseline, their ratio and whether the ratio meets ``target``.

    ``better="higher"`` means the ratio passes when ``ratio >= target`` (throughput ratios);
    ``"lower"`` when ``ratio <= target`` (overheads, memory growth, scaling slopes).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better={better!r}; expected 'higher' or 'lower'.")
    passed = None
    if target is not None:
        passed = bool(ratio >= target) if better == "higher" else bool(ratio <= target)
    return {
        "benchmark": benchmark,
        "name": name,
        "value": float(value),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": None if baseline_value is None else float(baseline_value),
        "ratio": float(ratio),
        "target": None if target is None else float(target),
        "better": better,
        "passed": passed,
        "details": details or {},
    }


RECORD_KEYS = (
    "benchmark",
    "name",
    "value",
    "unit",
    "baseline",
    "baseline_value",
    "ratio",
    "target",
    "better",
    "passed",
    "details",
)


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or 0.01 <= abs(x) < 1e5:
        return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return f"{x:.3g}"


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the records (one row each)."""
    header = ["benchmark", "figure", "value", "baseline", "ratio", "target", "ok"]
    rows = []
    for r in records:
        sign = ">=" if r["better"] == "higher" else "<="
        target = "-" if r["target"] is None else f"{sign} {r['target']:g}"
        ok = {True: "yes", False: "NO", None: "-"}[r["passed"]]
        base = r["baseline"]
        if r["baseline_value"] is not None:
            base = f"{base}: {_fmt(r['baseline_value'])}"
        rows.append(
            [
                r["benchmark"],
                r["name"],
                f"{_fmt(r['value'])} {r['unit']}".strip(),
                base,
                f"{r['ratio']:.2f}",
                target,
                ok,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def write_results(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def log(message: str) -> None:
    """Progress line on stderr (the table and the JSON path go to stdout)."""
    print(message, file=sys.stderr, flush=True)
