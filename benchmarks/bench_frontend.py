"""Front end: IPATransformer vs a raw phonemizer call, PhonemeEmbedder vs PanPhon.

* G2P: ``IPATransformer(cache=False).transform(words)`` against
  ``phonemizer.phonemize(words, backend="espeak", ...)`` with the same espeak settings as
  ipaclip (stress, ties, words separated by spaces, no phone separator). Both read the same
  CMUdict words; neither caches. Target: ipaclip keeps at least 0.8x the raw throughput.
* Features: ``PhonemeEmbedder.transform`` (fitted on the same IPA) against PanPhon's
  ``FeatureTable().word_to_vector_list(ipa, numeric=True)`` word by word. Target: >= 5x.
* Spelling detector (``ipaclip.phonemes.looks_like_spelling``): false positives on the IPA
  of the same words (with and without stress; each word alone and in batches of ten, target:
  none) and the spellings it catches (alone, and in batches of ten: target >= 99%).
* Parallel G2P crossover: ``IPATransformer(n_jobs=2)`` through joblib's default process pool
  (loky), made to run in parallel at every size, against serial reading, at several sizes.
  "cold" starts the workers (as the first parallel call of a process does), "warm" reuses
  them. Where parallel starts to pay on this machine is what
  ``ipaclip._g2p_engines.PARALLEL_MIN_TEXTS`` is set from. ``--quick`` runs one small size
  on joblib's threading backend, which checks the code path only.
"""

from __future__ import annotations

import time

from benchmarks._common import cmudict_words, interleaved, log, median, record

NAME = "frontend"


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    from phonemizer import phonemize
    from phonemizer.separator import Separator

    from ipaclip import IPATransformer, PhonemeEmbedder
    from ipaclip._g2p_engines import _espeak_ready

    n = 200 if quick else 20_000
    words = cmudict_words(n)
    log(f"  {n} CMUdict words")

    _espeak_ready()  # point phonemizer at the bundled espeak-ng, as ipaclip does
    g2p = IPATransformer(cache=False).fit()
    separator = Separator(word=" ", phone="")

    def raw():
        return phonemize(
            words,
            language="en-us",
            backend="espeak",
            separator=separator,
            strip=True,
            with_stress=True,
            tie=True,
            language_switch="keep-flags",
        )

    def ours():
        return g2p.transform(words)

    # Same output, or the comparison means nothing.
    ours_out, raw_out = ours(), raw()
    differ = sum(a != b for a, b in zip(ours_out, raw_out))
    times = interleaved({"ipaclip": ours, "phonemizer": raw}, repeats)
    t_ours, t_raw = median(times["ipaclip"]), median(times["phonemizer"])
    out = [
        record(
            NAME,
            "G2P IPATransformer (words/s)",
            value=n / t_ours,
            unit="words/s",
            baseline="phonemizer.phonemize",
            baseline_value=n / t_raw,
            ratio=t_raw / t_ours,
            target=0.8,
            details={
                "n_words": n,
                "seconds": times,
                "outputs_differing": differ,
                "note": "ratio = ipaclip throughput / raw phonemizer throughput",
            },
        )
    ]

    import panphon

    ipa = ours_out
    table = panphon.FeatureTable()
    embedder = PhonemeEmbedder(unknown="unk").fit(ipa)

    def panphon_words():
        return [table.word_to_vector_list(w, numeric=True) for w in ipa]

    def ipaclip_words():
        return embedder.transform(ipa)

    times = interleaved({"ipaclip": ipaclip_words, "panphon": panphon_words}, repeats)
    t_ours, t_pp = median(times["ipaclip"]), median(times["panphon"])
    out.append(
        record(
            NAME,
            "features PhonemeEmbedder (words/s)",
            value=n / t_ours,
            unit="words/s",
            baseline="panphon word_to_vector_list",
            baseline_value=n / t_pp,
            ratio=t_pp / t_ours,
            target=5.0,
            details={"n_words": n, "seconds": times},
        )
    )
    out += spelling_detector(words, ipa)
    out += parallel_crossover(quick, repeats)
    return out


def spelling_detector(words: list[str], ipa: list[str]) -> list[dict]:
    """False positives of ``looks_like_spelling`` on G2P output, true positives on spelling."""
    from ipaclip import IPATransformer
    from ipaclip.phonemes import looks_like_spelling

    def flagged(items: list[str], size: int) -> tuple[int, int]:
        batches = [items[i : i + size] for i in range(0, len(items) - size + 1, size)]
        return sum(looks_like_spelling(b) is not None for b in batches), len(batches)

    unstressed = IPATransformer(with_stress=False, cache=False).fit_transform(words)
    fp = {
        f"{name}, batches of {size}": flagged(x, size)
        for name, x in (("stress", ipa), ("no stress", unstressed))
        for size in (1, 10)
    }
    tp = {f"batches of {size}": flagged(words, size) for size in (1, 3, 10)}
    n_fp = sum(hit for hit, _ in fp.values())
    caught, batches = tp["batches of 10"]
    log(f"  spelling detector: false positives {fp}; spellings caught {tp}")
    return [
        record(
            NAME,
            "spelling detector: G2P output flagged (false positives)",
            value=n_fp,
            unit="flags",
            baseline="IPATransformer output of the words",
            baseline_value=sum(total for _, total in fp.values()),
            ratio=n_fp / sum(total for _, total in fp.values()),
            target=0.0,
            better="lower",
            details={"flagged_of": fp},
        ),
        record(
            NAME,
            "spelling detector: spellings caught in batches of 10 (share)",
            value=caught / batches,
            unit="",
            baseline="the same words, spelled",
            baseline_value=batches,
            ratio=caught / batches,
            target=0.99,
            details={"caught_of": tp},
        ),
    ]


def parallel_crossover(quick: bool, repeats: int) -> list[dict]:
    """Serial vs ``n_jobs=2`` words/s at a few sizes, and where parallel starts to pay."""
    import joblib
    from joblib.externals.loky import get_reusable_executor

    from ipaclip import IPATransformer, _g2p_engines

    sizes = [200] if quick else [1_000, 3_000, 10_000, 30_000, 100_000]
    backend = "threading" if quick else "loky"
    words = cmudict_words(max(sizes), seed=1)
    serial = IPATransformer(cache=False).fit()
    parallel = IPATransformer(cache=False, n_jobs=2).fit()
    saved = _g2p_engines.PARALLEL_MIN_TEXTS
    _g2p_engines.PARALLEL_MIN_TEXTS = 0  # parallel at every size, to measure it
    rows = []
    try:
        for n in sizes:
            batch = words[:n]
            with joblib.parallel_config(backend=backend):
                if backend == "loky":
                    get_reusable_executor().shutdown(wait=True)  # cold: workers must start
                t0 = time.perf_counter()
                cold_out = parallel.transform(batch)
                cold = time.perf_counter() - t0
                times = interleaved(
                    {
                        "serial": lambda b=batch: serial.transform(b),
                        "warm": lambda b=batch: parallel.transform(b),
                    },
                    repeats,
                    warmup=False,
                )
            if cold_out != serial.transform(batch):
                raise AssertionError(f"parallel G2P differs from serial at {n} words")
            row = {
                "n_words": n,
                "serial_words_s": n / median(times["serial"]),
                "parallel_cold_words_s": n / cold,
                "parallel_warm_words_s": n / median(times["warm"]),
            }
            rows.append(row)
            log(
                f"  G2P {n:>7,} words: serial {row['serial_words_s']:,.0f}/s, n_jobs=2 cold "
                f"{row['parallel_cold_words_s']:,.0f}/s, warm "
                f"{row['parallel_warm_words_s']:,.0f}/s ({backend})"
            )
    finally:
        _g2p_engines.PARALLEL_MIN_TEXTS = saved
    # Cold parallel time ~ start + n * per_word (a line through the smallest and largest
    # size), serial time ~ n * serial_per_word: they meet at start / (serial_per_word -
    # per_word) words, if parallel reads faster per word at all.
    first, last = rows[0], rows[-1]
    t_first = first["n_words"] / first["parallel_cold_words_s"]
    t_last = last["n_words"] / last["parallel_cold_words_s"]
    per_word = (t_last - t_first) / max(last["n_words"] - first["n_words"], 1)
    start = t_first - per_word * first["n_words"]
    serial_per_word = 1 / last["serial_words_s"]
    crossover = None
    if len(rows) > 1 and per_word < serial_per_word:
        crossover = start / (serial_per_word - per_word)
    if len(rows) > 1:
        log(
            f"  workers start in {start:.1f} s; n_jobs=2 pays from about {crossover:,.0f} words"
            if crossover
            else f"  workers start in {start:.1f} s; n_jobs=2 does not pay at these sizes"
        )
    return [
        record(
            NAME,
            f"G2P n_jobs=2 ({backend}, cold) at {r['n_words']:,} words (words/s)",
            value=r["parallel_cold_words_s"],
            unit="words/s",
            baseline="serial",
            baseline_value=r["serial_words_s"],
            ratio=r["parallel_cold_words_s"] / r["serial_words_s"],
            details={
                **r,
                "backend": backend,
                "worker_start_s": start,
                "estimated_crossover_words": crossover,
                "PARALLEL_MIN_TEXTS": saved,
            },
        )
        for r in rows
    ]


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r)
