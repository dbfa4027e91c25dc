"""Every ```python block of README.md runs, in order, each in a fresh namespace.

A block that cannot run here says so in its first line, with the reason:
``# readme-test: skip (needs the network: ...)``; the test then reports that reason as its
skip, so no block is skipped silently. Blocks that train an encoder run with tiny defaults
(``TINY``: one narrow layer, two epochs), substituted for ``PronunciationEncoder``'s own
defaults by monkeypatching; arguments a block passes explicitly are kept. Each block runs in
its own temporary working directory, so files it saves ("my-encoder") land there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipaclip import PronunciationEncoder

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = re.compile(r"^# readme-test: skip \((?P<reason>[^)]+)\)\s*$")
TINY = {"width": 16, "layers": 1, "heads": 2, "epochs": 2, "random_state": 0}


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, source)`` of each ```python block, in order."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if current is None and line.strip() == "```python":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"README.md: the ```python block at line {start} is not closed"
    return blocks


BLOCKS = python_blocks(README.read_text("utf-8"))


def test_readme_has_python_blocks_and_skips_name_a_reason():
    assert len(BLOCKS) >= 7
    for line, source in BLOCKS:
        first = source.splitlines()[0] if source.strip() else ""
        if "readme-test" in first:
            assert SKIP.match(first), f"README.md line {line}: malformed marker {first!r}"


@pytest.mark.slow
@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_readme_block_runs(line, source, tmp_path, monkeypatch):
    marker = SKIP.match(source.splitlines()[0])
    if marker:
        pytest.skip(f"README.md line {line}: {marker['reason']}")
    defaults = dict(PronunciationEncoder.__init__.__kwdefaults__)
    defaults.update(TINY)
    monkeypatch.setattr(PronunciationEncoder.__init__, "__kwdefaults__", defaults)
    monkeypatch.chdir(tmp_path)
    # A block may define an evaluator, which registers itself: keep it out of later tests.
    from ipaclip.evaluation import evaluator as evaluator_module

    monkeypatch.setattr(evaluator_module, "_REGISTRY", dict(evaluator_module._REGISTRY))
    code = compile(source, f"README.md (block at line {line})", "exec")
    exec(code, {"__name__": "__readme__"})
