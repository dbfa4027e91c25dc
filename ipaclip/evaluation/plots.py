"""Pictures of training and evaluation: each function writes one picture and returns its path.

The format follows the file's suffix: ``.pdf`` and ``.svg`` are vector graphics (for a
paper), ``.png`` pixels at ``dpi`` dots per inch (default 120).

* :func:`plot_training_curve`: loss, and train and validation cosine, per epoch (from
  ``PronunciationEncoder.history_``), in two panels;
* :func:`plot_summary`: the summary of :func:`~ipaclip.evaluation.suite.evaluate_model` as
  grouped bars (text / pronunciation / fused for each summary metric);
* :func:`plot_fuse_sweep`: metrics against the fused query's weight;
* :func:`plot_phoneme_map`: the learned phoneme vectors in 2-D (PCA or classical MDS), with
  the explained variance or the stress on the axes, Spearman's rho against articulatory
  distance in the title, consonants (affricates included) and vowels coloured, and labels
  moved apart so that they do not overlap.

matplotlib is optional (``pip install 'ipaclip[plot]'``) and imported only when a picture is
drawn. Figures are drawn on matplotlib's Agg canvas (no display, no pyplot state) and written
atomically: to a temporary file in the target folder, then renamed, so a failed drawing
leaves nothing behind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from ipaclip._io import atomic_file
from ipaclip._validation import StrOptions, check_params
from ipaclip.evaluation._common import QUERY_TYPES
from ipaclip.evaluation.chart import (
    articulatory_distance_matrix,
    condensed,
    cosine_distance_matrix,
    phoneme_kind,
    vector_table,
)

__all__ = [
    "check_picture_path",
    "plot_fuse_sweep",
    "plot_phoneme_map",
    "plot_summary",
    "plot_training_curve",
    "require_matplotlib",
]

_INSTALL_HINT = "pip install 'ipaclip[plot]'"
QUERY_COLOURS = {"text": "tab:blue", "pronunciation": "tab:orange", "fused": "tab:green"}
KIND_COLOURS = {"consonant": "tab:blue", "vowel": "tab:red", "other": "tab:gray"}
#: Area of a phoneme's marker on the map, in points squared (matplotlib's ``s``).
MARKER_SIZE = 18


def require_matplotlib() -> None:
    """Raise an ImportError with the install hint if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"Drawing pictures needs matplotlib, which is not installed: {_INSTALL_HINT}."
        ) from err


def _figure(figsize: tuple[float, float]) -> Any:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


#: Picture formats by file suffix: vectors for PDF and SVG, pixels for PNG.
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
DPI = 120


def check_picture_path(path: str | os.PathLike, dpi: float = DPI) -> Path:
    """``path`` as a Path whose suffix names a picture format, and a positive ``dpi``.

    Raises ``ValueError`` naming the path and the formats otherwise (before any drawing).
    """
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(
            f"Cannot tell the picture format of {str(out)!r} from its suffix "
            f"{out.suffix or '(none)'!r}; end the name with one of {sorted(FORMATS)} "
            "(.pdf and .svg are vector graphics)."
        )
    if isinstance(dpi, bool) or not isinstance(dpi, Real) or not dpi > 0:
        raise ValueError(f"dpi must be a positive number (dots per inch), got {dpi!r}.")
    return out


def _save(fig: Any, path: str | os.PathLike, dpi: float = DPI) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (see
    :data:`FORMATS`); nothing is left behind on failure. ``dpi`` sets a PNG's pixels (and
    the resolution of any raster part of a PDF or SVG)."""
    out = check_picture_path(path, dpi)
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = FORMATS[out.suffix.lower()]
    # No creation date in vector files: the same figure gives the same bytes.
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt)
    with atomic_file(out) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(float(value)):
        return None
    return float(value)


# --------------------------------------------------------------------------------------------
# Training curve
# --------------------------------------------------------------------------------------------
def plot_training_curve(
    history: Sequence[Mapping[str, Any]] | Any,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    dpi: float = DPI,
) -> Path:
    """Loss (left panel) and train and validation cosine (right panel) per epoch.

    Parameters
    ----------
    history : list of dict, or a fitted PronunciationEncoder
        ``PronunciationEncoder.history_``: per epoch ``loss``, ``train_cosine`` and, with
        ``validation_fraction > 0``, ``val_cosine`` (``epoch`` is used when present).
    path : str or path-like
        Where to write the picture; its suffix names the format (``.png``, ``.pdf``,
        ``.svg``).
    title : str, optional
    dpi : float, default=120
        Dots per inch of a PNG.

    Returns
    -------
    pathlib.Path
    """
    check_picture_path(path, dpi)
    records = list(getattr(history, "history_", history))
    if not records:
        raise ValueError(
            "history is empty: fit the encoder first (history_ has one dict per epoch)."
        )
    for i, record in enumerate(records):
        if not isinstance(record, Mapping) or _number(record.get("loss")) is None:
            raise ValueError(
                f"history entry {i} has no numeric 'loss'; expected PronunciationEncoder.history_ "
                "(one dict per epoch with loss, train_cosine and maybe val_cosine)."
            )
    epochs = [record.get("epoch", i + 1) for i, record in enumerate(records)]
    fig = _figure((10, 4))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [r["loss"] for r in records], marker="o", color="tab:purple")
    left.set(xlabel="epoch", ylabel="distillation loss", title="loss")
    for key, label, colour in (
        ("train_cosine", "train", "tab:blue"),
        ("val_cosine", "validation", "tab:orange"),
    ):
        values = [_number(r.get(key)) for r in records]
        if any(v is not None for v in values):
            y = [np.nan if v is None else v for v in values]
            right.plot(epochs, y, marker="o", color=colour, label=f"{label} cosine")
    if any(_number(r.get("val_cosine")) is not None for r in records):
        val = np.array([_number(r.get("val_cosine")) or np.nan for r in records], dtype=float)
        best = int(np.nanargmax(val))
        right.scatter([epochs[best]], [val[best]], s=80, facecolors="none", edgecolors="black",
                      zorder=3, label=f"best validation (epoch {epochs[best]})")  # fmt: skip
    right.set(xlabel="epoch", ylabel="cosine to the teacher", title="cosine")
    if right.get_legend_handles_labels()[0]:
        right.legend()
    fig.suptitle(title or "Distillation")
    return _save(fig, path, dpi)


# --------------------------------------------------------------------------------------------
# Evaluation summary and fuse-weight sweep
# --------------------------------------------------------------------------------------------
def plot_summary(
    results: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    dpi: float = DPI,
) -> Path:
    """The evaluation summary as grouped bars: one group per metric, one bar per query type.

    Parameters
    ----------
    results : dict
        :func:`~ipaclip.evaluation.suite.evaluate_model`'s result (or the same loaded from
        JSON); its ``"summary"`` table (``{metric: {query type: value}}``) is drawn.
    path : str or path-like
        Where to write the picture (``.png``, ``.pdf`` or ``.svg``).
    metrics : sequence of str, optional
        Rows of the summary to draw (default: all of them, in order).
    title : str, optional
        Default: the model's name from ``results["config"]``.
    dpi : float, default=120
        Dots per inch of a PNG.

    Returns
    -------
    pathlib.Path
    """
    check_picture_path(path, dpi)
    table = results.get("summary") if isinstance(results, Mapping) else None
    if not isinstance(table, Mapping):
        raise ValueError(
            "results has no 'summary' table; pass the dict evaluate_model returned (or its JSON)."
        )
    labels = list(table) if metrics is None else list(metrics)
    unknown = [m for m in labels if m not in table]
    if unknown:
        raise ValueError(f"Metric(s) {unknown} are not in the summary; choose from {list(table)}.")
    if not labels:
        raise ValueError("The summary is empty: no task with summary rows ran.")
    fig = _figure((max(6.0, 1.6 * len(labels) + 2), 4.5))
    ax = fig.subplots()
    width = 0.8 / len(QUERY_TYPES)
    x = np.arange(len(labels))
    for qi, query in enumerate(QUERY_TYPES):
        values = [_number(table[m].get(query)) for m in labels]
        shown = [i for i, v in enumerate(values) if v is not None]
        if not shown:
            continue
        xs = x[shown] + (qi - (len(QUERY_TYPES) - 1) / 2) * width
        ys = [values[i] for i in shown]
        bars = ax.bar(xs, ys, width, label=query, color=QUERY_COLOURS[query])
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in ys], fontsize=7, padding=2)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(x, [m.replace(": ", ":\n", 1) for m in labels], fontsize=8)
    ax.set_ylabel("score (higher is better)")
    # Beside the axes, never over a bar (tight saving widens the picture to hold it).
    ax.legend(title="query", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0)  # fmt: skip
    name = (results.get("config") or {}).get("model_name")
    ax.set_title(title or (f"{name}: evaluation summary" if name else "Evaluation summary"))
    return _save(fig, path, dpi)


def plot_fuse_sweep(
    sweep: Mapping[float, Mapping[str, Any]],
    path: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    default: float | None = 0.5,
    title: str | None = None,
    dpi: float = DPI,
) -> Path:
    """Metrics of the fused query against its weight (the pronunciation's share).

    Parameters
    ----------
    sweep : mapping of float to dict
        ``{weight: scores}``: for each weight in [0, 1] either ``evaluate_model``'s result
        at that ``fuse_weight`` (its summary's ``"fused"`` column is read) or a plain
        ``{metric: value}``.
    path : str or path-like
        Where to write the picture (``.png``, ``.pdf`` or ``.svg``).
    metrics : sequence of str, optional
        Default: every metric with a value at some weight.
    default : float or None, default=0.5
        Marks the default weight with a dashed line (None: no line).
    title : str, optional
    dpi : float, default=120
        Dots per inch of a PNG.

    Returns
    -------
    pathlib.Path
    """
    check_picture_path(path, dpi)
    if not isinstance(sweep, Mapping) or len(sweep) < 2:
        raise ValueError("sweep must map at least two weights in [0, 1] to their scores.")
    scores: dict[float, dict[str, float | None]] = {}
    for weight, entry in sweep.items():
        w = _number(weight)
        if w is None or not 0.0 <= w <= 1.0 or not isinstance(entry, Mapping):
            raise ValueError(f"sweep entry {weight!r}: expected a weight in [0, 1] -> scores.")
        if isinstance(entry.get("summary"), Mapping):
            scores[w] = {m: _number(row.get("fused")) for m, row in entry["summary"].items()}
        else:
            scores[w] = {m: _number(v) for m, v in entry.items()}
    if metrics is None:
        metrics = list(
            dict.fromkeys(m for s in scores.values() for m, v in s.items() if v is not None)
        )
    if not metrics:
        raise ValueError("sweep holds no numeric score to draw.")
    weights = sorted(scores)
    fig = _figure((7, 4.5))
    ax = fig.subplots()
    for metric in metrics:
        ys = [scores[w].get(metric) for w in weights]
        ax.plot(weights, [np.nan if y is None else y for y in ys], marker="o", label=metric)
    if default is not None:
        ax.axvline(default, color="gray", linestyle="--", linewidth=1, label=f"default ({default})")
    ax.set(
        xlabel="fuse_weight (the pronunciation's share of the fused query)",
        ylabel="score",
        xlim=(-0.03, 1.03),
        title=title or "Fused query: text (0) to pronunciation (1)",
    )
    ax.legend(fontsize=8)
    return _save(fig, path, dpi)


# --------------------------------------------------------------------------------------------
# Phoneme map
# --------------------------------------------------------------------------------------------
def _place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    *,
    rings: int = 80,
    marker: Sequence[float] | None = None,
) -> np.ndarray:
    """Centres for label boxes near their anchors such that no two boxes overlap, and no box
    covers another label's point.

    Written here (not a dependency such as adjustText) because a simple search suffices:
    labels are placed one after another; each takes the first free spot among candidate
    centres at growing distance from its anchor (first just up and right of it, then rings
    of 16 directions, a quarter of a line height apart), inside the unit square. A spot
    is free when its box overlaps no placed box and no other anchor's marker box. If every
    candidate collides (a very crowded map), the one with the least overlap is taken.

    Parameters
    ----------
    anchors : ndarray of shape (n, 2)
        Points in the unit square.
    sizes : ndarray of shape (n, 2)
        Width and height of each label box, in the same units.
    rings : int, default=80
        Candidate rings per label.
    marker : (width, height), optional
        Size of the box drawn around each anchor's marker, in the same units; a label may
        cover its own marker, no other. Default: markers are not obstacles.

    Returns
    -------
    ndarray of shape (n, 2)
        The box centres. Deterministic.
    """
    A = np.asarray(anchors, dtype=float)
    half = np.asarray(sizes, dtype=float) / 2
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    placed = np.zeros((0, 2))
    placed_half = np.zeros((0, 2))
    mark = None if marker is None else np.asarray(marker, dtype=float) / 2
    for i in range(len(A)):
        radii = np.arange(1, rings + 1)[:, None, None] * (0.25 * 2 * half[i, 1])
        ring = A[i] + (radii * unit).reshape(-1, 2) * [max(1.0, half[i, 0] / half[i, 1]), 1.0]
        candidates = np.vstack([A[i] + half[i] + 0.004, A[i] + half[i] * [1, -1], ring])
        candidates = np.clip(candidates, half[i], 1 - half[i])
        area = np.zeros(len(candidates))
        if len(placed):
            gap = half[i] + placed_half - np.abs(candidates[:, None, :] - placed[None, :, :])
            area += (np.clip(gap, 0, None).prod(axis=-1)).sum(axis=1)
        if mark is not None and len(A) > 1:
            others = np.delete(A, i, axis=0)
            gap = half[i] + mark - np.abs(candidates[:, None, :] - others[None, :, :])
            area += (np.clip(gap, 0, None).prod(axis=-1)).sum(axis=1)
        free = area <= 1e-12
        best = int(np.argmax(free)) if free.any() else int(np.argmin(area))
        placed = np.vstack([placed, candidates[best]])
        placed_half = np.vstack([placed_half, half[i]])
    return placed


def _stress(D: np.ndarray, Y: np.ndarray) -> float:
    """Kruskal's stress-1 of the 2-D configuration ``Y`` against the dissimilarities ``D``."""
    d, fitted = condensed(D), pdist(Y)
    return float(np.sqrt(((d - fitted) ** 2).sum() / max((d**2).sum(), 1e-300)))


def _project(U: np.ndarray, method: str) -> tuple[np.ndarray, tuple[str, str]]:
    """2-D coordinates of the unit rows ``U`` and the two axis labels."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import ClassicalMDS

    k = min(2, *U.shape)
    if method == "pca":
        pca = PCA(n_components=k).fit(U)
        Y = pca.transform(U)
        share = list(pca.explained_variance_ratio_) + [0.0] * (2 - k)
        axes = tuple(f"PC{i + 1} ({share[i]:.1%} of the variance)" for i in range(2))
    else:
        D = cosine_distance_matrix(U)
        Y = ClassicalMDS(k, metric="precomputed").fit_transform(D)
        stress = _stress(D, np.pad(Y, ((0, 0), (0, 2 - k))))
        axes = (f"MDS 1 (Kruskal stress-1 of the map: {stress:.3f})", "MDS 2")
    return np.pad(Y, ((0, 0), (0, 2 - Y.shape[1]))), axes  # type: ignore[return-value]


def _articulatory_rho(symbols: list[str], X: np.ndarray) -> float | None:
    """Spearman's rho of cosine against articulatory distance over all pairs, if defined."""
    if len(symbols) < 3:
        return None
    try:
        art = condensed(articulatory_distance_matrix(symbols))
    except ValueError:  # a symbol that is not one inventory segment
        return None
    cos = condensed(cosine_distance_matrix(X))
    if np.ptp(art) == 0 or np.ptp(cos) == 0:
        return None
    return float(spearmanr(cos, art)[0])


def plot_phoneme_map(
    vectors: Mapping[str, object],
    path: str | os.PathLike,
    *,
    method: str = "pca",
    title: str | None = None,
    name: str | None = None,
    dpi: float = DPI,
) -> Path:
    """Draw the phoneme vectors in 2-D (PCA or MDS), consonants and vowels coloured, labelled.

    Vectors are L2-normalized first, so the picture reflects cosine geometry. The axes say
    how much of the variance each principal component keeps (PCA) or how faithful the map
    is (Kruskal's stress-1 of the classical MDS map against the cosine distances); the
    title gives Spearman's rho between cosine and articulatory distance over all pairs
    (``evaluate_phoneme_geometry``'s ``all/articulatory/spearman``). Consonants
    (affricates included) and vowels are coloured by
    :func:`~ipaclip.evaluation.chart.phoneme_kind`, and labels are moved apart until none
    overlap, with a thin line to their point when moved far. Needs matplotlib
    (``pip install 'ipaclip[plot]'``).

    Parameters
    ----------
    vectors : mapping of str to array-like
        ``{segment: vector}``, e.g. ``PronunciationEncoder.phoneme_vectors()``.
    path : str or path-like
        Where to write the picture (``.png``, ``.pdf`` or ``.svg``).
    method : {"pca", "mds"}, default="pca"
        PCA of the normalized vectors, or classical (Torgerson) MDS of their cosine
        distances.
    title : str, optional
        Replaces the whole title.
    name : str, optional
        The model's name, put at the head of the title.
    dpi : float, default=120
        Dots per inch of a PNG.

    Returns
    -------
    pathlib.Path
    """
    check_params({"method": [StrOptions({"pca", "mds"})]}, {"method": method}, "plot_phoneme_map")
    check_picture_path(path, dpi)
    symbols, X = vector_table(vectors)
    if len(symbols) < 2:
        raise ValueError("plot_phoneme_map needs at least 2 phonemes.")
    U = X / np.linalg.norm(X, axis=1)[:, None]
    Y, (xlabel, ylabel) = _project(U, method)
    rho = _articulatory_rho(symbols, X)
    fig = _figure((8, 8))
    ax = fig.subplots()
    kinds = [phoneme_kind(s) for s in symbols]
    for kind, label in (("consonant", "consonants"), ("vowel", "vowels"), ("other", "other")):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        if idx:
            ax.scatter(Y[idx, 0], Y[idx, 1], c=KIND_COLOURS[kind], s=MARKER_SIZE,
                       label=f"{label} ({len(idx)})")  # fmt: skip
    # Fix the frame, then place the labels in it (box sizes from the font size in inches).
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - 0.08 * span, hi + 0.12 * span
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel=xlabel, ylabel=ylabel)
    # Label boxes measured as drawn (in axes fractions), with a little margin.
    fontsize = 11
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    texts = [
        ax.text(0, 0, s, ha="center", va="center", fontsize=fontsize, color=KIND_COLOURS[k])
        for s, k in zip(symbols, kinds, strict=True)
    ]
    pad = 2.0 * fig.dpi / 72  # points to pixels
    sizes = np.array(
        [[(e.width + pad) / box.width, (e.height + pad) / box.height]
         for e in (t.get_window_extent(renderer) for t in texts)]
    )  # fmt: skip
    for t in texts:
        t.remove()
    marker_px = (np.sqrt(MARKER_SIZE) + 2.0) * fig.dpi / 72  # the marker's diameter, and a gap
    anchors = (Y - lo) / (hi - lo)
    centres = _place_labels(anchors, sizes, marker=(marker_px / box.width, marker_px / box.height))
    moved = np.linalg.norm((centres - anchors - sizes / 2) / sizes, axis=1) > 1.0
    for i, s in enumerate(symbols):
        xy = lo + centres[i] * (hi - lo)
        arrow = dict(arrowstyle="-", color=KIND_COLOURS[kinds[i]], lw=0.5, alpha=0.6)
        ax.annotate(s, Y[i], xytext=xy, textcoords="data", ha="center", va="center",
                    fontsize=fontsize, color=KIND_COLOURS[kinds[i]],
                    arrowprops=arrow if moved[i] else None)  # fmt: skip
    ax.legend(loc="best", fontsize=9)
    if title is None:
        title = f"{name}: phoneme vectors" if name else "Phoneme vectors"
        title += f" ({method.upper()})"
        if rho is not None:
            title += f"\nSpearman ρ = {rho:.3f} between cosine and articulatory distance"
    ax.set_title(title)
    return _save(fig, path, dpi)
