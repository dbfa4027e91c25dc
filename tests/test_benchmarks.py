"""Smoke test of the benchmark suite: every benchmark at toy size yields well-formed records."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import _common
from benchmarks.__main__ import BENCHMARKS, main, parse_args


def test_record_pass_rule_follows_direction():
    up = _common.record(
        "b", "x", value=2, unit="u", baseline="base", baseline_value=1, ratio=2.0, target=1.5
    )
    down = _common.record(
        "b",
        "y",
        value=2,
        unit="u",
        baseline="base",
        baseline_value=1,
        ratio=2.0,
        target=1.5,
        better="lower",
    )
    assert up["passed"] is True and down["passed"] is False
    assert set(up) == set(_common.RECORD_KEYS)
    table = _common.format_table([up, down])
    assert "| yes " in table and "| NO " in table and ">= 1.5" in table and "<= 1.5" in table


def test_interleaved_alternates_order():
    calls = []
    times = _common.interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=False
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [len(v) for v in times.values()] == [3, 3]


def test_only_rejects_unknown_names():
    assert parse_args(["--only", "memory,frontend"]).names == ["memory", "frontend"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "nope"])


@pytest.mark.slow
def test_quick_suite_writes_well_formed_records(tmp_path, capsys):
    out = tmp_path / "quick.json"
    assert main(["--quick", "--output", str(out)]) == 0
    payload = json.loads(out.read_text("utf-8"))
    assert payload["errors"] == {}
    assert payload["quick"] is True
    machine = payload["machine"]
    for key in ("cpu", "usable_cores", "torch", "torch_threads"):
        assert machine[key]
    records = payload["records"]
    assert {r["benchmark"] for r in records} == set(BENCHMARKS)
    for r in records:
        assert set(r) == set(_common.RECORD_KEYS)
        assert math.isfinite(r["ratio"]) and math.isfinite(r["value"])
        assert r["better"] in ("higher", "lower")
        if r["target"] is None:
            assert r["passed"] is None
        else:
            ok = r["ratio"] >= r["target"] if r["better"] == "higher" else r["ratio"] <= r["target"]
            assert r["passed"] is ok
    names = {r["name"] for r in records}
    assert "G2P IPATransformer (words/s)" in names
    assert "fit samples/s [cpu]" in names
    teacher = next(r for r in records if r["name"].startswith("epoch 1"))
    # The teacher is called once per fit, never per epoch, and not at all on a refit.
    assert teacher["details"]["teacher_calls_first_fit"] == 1
    assert teacher["details"]["teacher_calls_after_refit"] == 1
    assert len(teacher["details"]["epoch_seconds"]) == teacher["details"]["epochs"]
    table = capsys.readouterr().out
    assert table.count("\n|") == len(records) + 1  # header rule + one row per record


def test_encoding_reports_captions_per_second_at_three_lengths_against_open_clip():
    from benchmarks import bench_encoding

    records = bench_encoding.run(quick=True, repeats=1)
    by_name = {r["name"]: r for r in records}
    for k in bench_encoding.SENTENCE_WORDS:
        r = by_name[f"encode {k}-word captions end to end [cpu]"]
        assert r["unit"] == "captions/s" and r["target"] == 1.0
        assert r["baseline"] == "open_clip text tower"
        assert math.isclose(r["ratio"], r["value"] / r["baseline_value"], rel_tol=1e-9)


def test_sentences_have_exactly_the_asked_number_of_words():
    texts = _common.sentences(30, 5, seed=1)
    assert [len(t.split()) for t in texts] == [30] * 5
    assert texts == _common.sentences(30, 5, seed=1) and texts != _common.sentences(30, 5, seed=2)
