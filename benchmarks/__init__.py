"""The ipaclip benchmark suite: ``python -m benchmarks`` (or ``make bench``).

Each benchmark measures ipaclip against a baseline *in the same run* and reports the ratio
(machines are noisy; candidate and baseline are timed alternately and the median of a few
repeats is kept). The run prints a table and writes every figure, the raw timings and a
description of the machine to ``benchmarks/results/latest.json`` (ignored by git; pass
``--output`` to keep a copy elsewhere).

Benchmarks (``--only NAME``):

``frontend``  IPATransformer vs a raw ``phonemizer.phonemize`` call; PhonemeEmbedder vs
              PanPhon's ``word_to_vector_list``, on 20k CMUdict words.
``encoding``  End-to-end words/s and captions/s (text → IPA → features → embedding) vs an
              open_clip text tower of the same width and depth.
``training``  ``PronunciationEncoder.fit`` samples/s vs a bare torch loop over the same
              module, batches and loss; teacher calls and epoch times with a teacher.
``memory``    Peak RSS of fitting 500k phrases vs 50k (in subprocesses).
``scaling``   Fit time vs corpus size and vs sequence length (log-log slopes).

``--quick`` runs every benchmark at toy sizes (the smoke test in tests/test_benchmarks.py).
"""
