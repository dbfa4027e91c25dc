"""Teacher specs: which ones name a file or folder on this machine."""

from __future__ import annotations

import pytest

from ipaclip.teachers._spec import names_local_path


@pytest.mark.parametrize(
    "spec, local",
    [
        (None, False),
        ("minilm", False),
        ("sentence-transformers:all-MiniLM-L6-v2", False),
        ("sentence-transformers:org/model", False),
        ("open_clip:ViT-B-32", False),
        ("open_clip:ViT-B-32@openai", False),
        ("open_clip:ViT-B-32:laion2b_s34b_b79k", False),
        ("open_clip:hf-hub:org/repo", False),
        ("sentence-transformers:/models/st", True),
        ("sentence-transformers: /models/st", True),
        ("sentence-transformers:./st", True),
        ("sentence-transformers:~/st", True),
        ("sentence-transformers:a/b/c", True),
        ("SENTENCE_TRANSFORMERS:/models/st", True),
        ("open_clip:ViT-B-32@/ckpt/model.pt", True),
        ("open_clip:ViT-B-32@model.safetensors", True),
        ("open_clip:ViT-B-32:/ckpt/model.pt", True),
        ("openclip:local-dir:/models/clip", True),
        ("/models/st", True),
    ],
)
def test_names_local_path_reads_the_spec_only(spec, local):
    assert names_local_path(spec) is local


def test_a_hub_style_name_that_exists_here_is_a_path(tmp_path, monkeypatch):
    # SentenceTransformer reads a local folder before the hub, and open_clip a local file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "model").mkdir(parents=True)
    (tmp_path / "openai").write_text("weights")
    assert names_local_path("sentence-transformers:org/model")
    assert names_local_path("open_clip:ViT-B-32@openai")
    assert not names_local_path("sentence-transformers:org/other")
