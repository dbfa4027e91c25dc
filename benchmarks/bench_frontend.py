"""Front end: IPATransformer vs a raw phonemizer call, PhonemeEmbedder vs PanPhon.

* G2P: ``IPATransformer(cache=False).transform(words)`` against
  ``phonemizer.phonemize(words, backend="espeak", ...)`` with the same espeak settings as
  ipaclip (stress, ties, words separated by spaces, no phone separator). Both read the same
  CMUdict words; neither caches. Target: ipaclip keeps at least 0.8x the raw throughput.
* Features: ``PhonemeEmbedder.transform`` (fitted on the same IPA) against PanPhon's
  ``FeatureTable().word_to_vector_list(ipa, numeric=True)`` word by word. Target: >= 5x.
"""

from __future__ import annotations

from benchmarks._common import cmudict_words, interleaved, log, median, record

NAME = "frontend"


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    from phonemizer import phonemize
    from phonemizer.separator import Separator

    from ipaclip import IPATransformer, PhonemeEmbedder
    from ipaclip.g2p import _espeak_ready

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
    return out


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r)
