"""ipaclip.evaluation.plots: files written atomically as valid PNGs, and what the pictures say."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ipaclip.evaluation import plots
from ipaclip.evaluation.chart import phoneme_kind
from ipaclip.evaluation.geometry import evaluate_phoneme_geometry
from ipaclip.evaluation.plots import (
    _place_labels,
    plot_fuse_sweep,
    plot_phoneme_map,
    plot_summary,
    plot_training_curve,
)
from ipaclip.inventory import get_inventory

pytest.importorskip("matplotlib")
INV = get_inventory()
SYMBOLS = ["p", "b", "t", "d", "k", "ɡ", "m", "n", "s", "z", "t͡ʃ", "d͡ʒ", "i", "a", "u", "ə"]


def onehot(symbol):
    return np.eye(3)[INV.features[INV.segment_index[symbol]] + 1].ravel()


def assert_png(path: Path) -> None:
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def figures(monkeypatch):
    """Keep each figure drawn (and still write it), to read titles and labels off it."""
    kept = []
    save = plots._save

    def keep(fig, path, *args, **kwargs):
        kept.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


# --------------------------------------------------------------------------------------------
# Phoneme map
# --------------------------------------------------------------------------------------------
def test_affricates_are_consonants():
    assert [phoneme_kind(s) for s in ["t͡ʃ", "d͡ʒ", "t͜s", "p", "iː", "a͡ɪ"]] == [
        "consonant", "consonant", "consonant", "consonant", "vowel", "vowel",
    ]  # fmt: skip
    assert phoneme_kind("☃") == "other"


def test_place_labels_never_overlap_even_when_crowded():
    rng = np.random.default_rng(0)
    for anchors in (np.full((30, 2), 0.5), 0.5 + 0.01 * rng.normal(size=(40, 2)),
                    np.full((20, 2), 0.99)):  # fmt: skip
        sizes = np.tile([0.04, 0.025], (len(anchors), 1)) * [
            [1 + i % 3, 1] for i in range(len(anchors))
        ]
        centres = _place_labels(anchors, sizes)
        half = sizes / 2
        gap = half[:, None] + half[None] - np.abs(centres[:, None] - centres[None])
        hit = (gap > 1e-9).all(axis=-1)
        np.fill_diagonal(hit, False)
        assert not hit.any()
        assert ((centres - half >= -1e-12) & (centres + half <= 1 + 1e-12)).all()
        np.testing.assert_array_equal(centres, _place_labels(anchors, sizes))  # deterministic


def test_phoneme_map_axes_title_colours_and_labels(tmp_path, figures):
    vectors = {s: onehot(s) + 0.05 * np.random.default_rng(len(s)).normal(size=72) for s in SYMBOLS}
    out = plot_phoneme_map(vectors, tmp_path / "map.png", name="tiny-ipa")
    assert_png(out)
    ax = figures[-1].axes[0]
    rho = evaluate_phoneme_geometry(vectors, n_permutations=9)["all"]["articulatory"]["spearman"]
    assert ax.get_title().startswith("tiny-ipa: phoneme vectors (PCA)")
    assert f"ρ = {rho:.3f}" in ax.get_title()
    assert "% of the variance" in ax.get_xlabel() and "% of the variance" in ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["consonants (12)", "vowels (4)"]  # t͡ʃ and d͡ʒ are consonants
    # No two drawn labels overlap (in pixels, as rendered).
    renderer = figures[-1].canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert sorted(t.get_text() for t in ax.texts) == sorted(SYMBOLS)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b.shrunk(0.98, 0.98)), (a, b)

    out = plot_phoneme_map(vectors, tmp_path / "mds.png", method="mds")
    assert_png(out)
    ax = figures[-1].axes[0]
    assert "stress-1" in ax.get_xlabel() and ax.get_title().startswith("Phoneme vectors (MDS)")


def test_phoneme_map_projections_match_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    X = np.stack([onehot(s) for s in SYMBOLS])
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    Y, labels = plots._project(U, "pca")
    reference = PCA(2).fit_transform(U)
    np.testing.assert_allclose(np.abs(Y), np.abs(reference), atol=1e-9)
    share = PCA(2).fit(U).explained_variance_ratio_
    assert labels[0].startswith(f"PC1 ({share[0]:.1%}")
    # Classical MDS of cosine distances is PCA of the unit rows (1 - cos = |u - v|^2 / 2).
    Y_mds, _ = plots._project(U, "mds")
    assert Y_mds.shape == (len(SYMBOLS), 2)


# --------------------------------------------------------------------------------------------
# Training curve, summary, sweep
# --------------------------------------------------------------------------------------------
HISTORY = [
    {"epoch": 1, "loss": 2.0, "train_cosine": 0.2, "val_cosine": 0.15},
    {"epoch": 2, "loss": 1.2, "train_cosine": 0.5, "val_cosine": 0.40},
    {"epoch": 3, "loss": 0.9, "train_cosine": 0.6, "val_cosine": 0.38},
]


def test_training_curve_two_panels(tmp_path, figures):
    assert_png(plot_training_curve(HISTORY, tmp_path / "curve.png"))
    left, right = figures[-1].axes
    assert left.get_ylabel() == "distillation loss"
    assert [line.get_label() for line in right.get_lines()] == ["train cosine", "validation cosine"]
    assert "best validation (epoch 2)" in [t.get_text() for t in right.get_legend().get_texts()]

    class Fitted:
        history_ = [{k: v for k, v in h.items() if k != "val_cosine"} for h in HISTORY]

    assert_png(plot_training_curve(Fitted(), tmp_path / "no_val.png"))
    assert [line.get_label() for line in figures[-1].axes[1].get_lines()] == ["train cosine"]
    with pytest.raises(ValueError, match="history is empty"):
        plot_training_curve([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="entry 1 has no numeric 'loss'"):
        plot_training_curve([HISTORY[0], {"epoch": 2}], tmp_path / "x.png")


SUMMARY = {
    "fidelity: mean cosine": {"text": None, "pronunciation": 0.8, "fused": None},
    "human: Pearson r": {"text": 0.1, "pronunciation": 0.5, "fused": 0.45},
}


def test_summary_bars(tmp_path, figures):
    out = plot_summary({"summary": SUMMARY, "config": {"model_name": "m1"}}, tmp_path / "s.png")
    assert_png(out)
    ax = figures[-1].axes[0]
    heights = {c.get_label(): [round(p.get_height(), 3) for p in c] for c in ax.containers}
    assert heights == {"text": [0.1], "pronunciation": [0.8, 0.5], "fused": [0.45]}
    assert ax.get_title() == "m1: evaluation summary"
    with pytest.raises(ValueError, match="no 'summary'"):
        plot_summary({"human": {}}, tmp_path / "s2.png")
    with pytest.raises(ValueError, match="not in the summary"):
        plot_summary({"summary": SUMMARY}, tmp_path / "s2.png", metrics=["respell: R@1"])


def test_fuse_sweep_lines(tmp_path, figures):
    sweep = {w: {"respell: R@1": 0.5 + w / 4 - w * w / 2, "human: Pearson r": w / 2} for w in
             (0.0, 0.25, 0.5, 0.75, 1.0)}  # fmt: skip
    assert_png(plot_fuse_sweep(sweep, tmp_path / "sweep.png"))
    lines = figures[-1].axes[0].get_lines()
    assert [line.get_label() for line in lines[:2]] == ["respell: R@1", "human: Pearson r"]
    np.testing.assert_allclose(lines[1].get_ydata(), [0, 0.125, 0.25, 0.375, 0.5])
    # evaluate_model results at each weight: the summary's fused column is read.
    results = {w: {"summary": {"human: Pearson r": {"fused": w, "text": 9.0}}} for w in (0, 1)}
    assert_png(plot_fuse_sweep(results, tmp_path / "sweep2.png", default=None))
    np.testing.assert_allclose(figures[-1].axes[0].get_lines()[0].get_ydata(), [0, 1])
    with pytest.raises(ValueError, match="at least two weights"):
        plot_fuse_sweep({0.5: {"a": 1.0}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="weight in \\[0, 1\\]"):
        plot_fuse_sweep({0.5: {"a": 1.0}, 2.0: {"a": 1.0}}, tmp_path / "x.png")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def test_failed_drawing_leaves_nothing_behind(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "summary.png"
    target.write_bytes(b"old picture")

    def broken(self, fh, **kwargs):
        fh.write(b"\x89PNG half a picture")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_summary({"summary": SUMMARY}, target)
    assert target.read_bytes() == b"old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.png"]


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'ipaclip\[plot\]'"):
        plot_training_curve(HISTORY, tmp_path / "curve.png")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# Paper-ready pictures (issue #20 point 9)
# --------------------------------------------------------------------------------------------
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg", ".PDF"])
def test_format_follows_the_suffix(tmp_path, suffix):
    out = plot_summary({"summary": SUMMARY}, tmp_path / f"summary{suffix}")
    data = out.read_bytes()
    if suffix.lower() == ".svg":
        assert b"<svg" in data[:1000] and b"<image" not in data  # vectors, no embedded raster
    else:
        assert data.startswith(MAGIC[suffix.lower()])
    if suffix.lower() == ".pdf":  # the same figure gives the same bytes (no creation date)
        again = plot_summary({"summary": SUMMARY}, tmp_path / f"again{suffix}")
        assert again.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir())[-1].startswith(("again", "summary"))


def test_unknown_suffix_and_bad_dpi_are_refused_before_drawing(tmp_path):
    for name in ("summary.jpeg", "summary"):
        with pytest.raises(ValueError, match=r"suffix .*\.pdf.*\.png.*\.svg"):
            plot_summary({"summary": SUMMARY}, tmp_path / name)
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        plot_training_curve(HISTORY, tmp_path / "curve.png", dpi=0)
    assert not list(tmp_path.iterdir())


def test_dpi_sets_the_pixels_of_a_png(tmp_path):
    from PIL import Image

    sizes = []
    for dpi in (60, 180):
        out = plot_fuse_sweep({0.0: {"a": 0.1}, 1.0: {"a": 0.9}}, tmp_path / f"{dpi}.png", dpi=dpi)
        with Image.open(out) as image:
            sizes.append(np.array(image.size))
    np.testing.assert_allclose(sizes[1] / sizes[0], 3.0, rtol=0.03)  # tight crop: not exact


def test_summary_legend_covers_no_bar(tmp_path, figures):
    summary = {
        f"task {i}: metric": {"text": 0.9, "pronunciation": 0.95, "fused": 0.99} for i in range(4)
    }  # fmt: skip  (tall bars everywhere: no free corner inside)
    plot_summary({"summary": summary}, tmp_path / "s.png")
    fig = figures[-1]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for c in ax.containers for patch in c]
    assert len(bars) == 12
    assert not [b for b in bars if legend.overlaps(b)]
    assert not legend.overlaps(ax.get_window_extent(renderer).shrunk(0.999, 0.999))


def test_phoneme_map_labels_sit_on_no_other_point(tmp_path, figures):
    from matplotlib.text import Text

    symbols = list(INV.segment_index)[:60]  # crowded: 60 phonemes
    rng = np.random.default_rng(0)
    vectors = {s: onehot(s) + 0.3 * rng.normal(size=72) for s in symbols}
    plot_phoneme_map(vectors, tmp_path / "map.pdf")
    fig = figures[-1]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    points = np.vstack([c.get_offsets() for c in ax.collections])
    labels = {t.get_text(): t for t in ax.texts}
    assert len(points) == len(labels) == len(symbols)
    xy = ax.transData.transform(points)  # display coordinates (pixels)
    own = {s: ax.transData.transform(labels[s].xy) for s in symbols}  # each label's point
    radius = np.sqrt(plots.MARKER_SIZE) / 2 * fig.dpi / 72
    for s, text in labels.items():
        box = Text.get_window_extent(text, renderer)  # the label alone, not its leader line
        others = xy[np.linalg.norm(xy - own[s], axis=1) > 1e-6]
        # The marker (a disc of this radius) touches the box when its centre is within
        # radius of it on both axes.
        x, y = others[:, 0], others[:, 1]
        inside = (x > box.x0 - radius) & (x < box.x1 + radius)
        inside &= (y > box.y0 - radius) & (y < box.y1 + radius)
        assert not inside.any(), (s, others[inside])
