"""Multimodal evaluation: pronunciations as CLIP queries for images.

A pronunciation encoder distilled from CLIP's text tower lives in CLIP's joint space, so its
embedding of a caption's IPA can retrieve images, and its embedding of a class name's IPA can
classify them zero-shot. This module compares three query types against CLIP image
embeddings:

* ``"text"``: the CLIP text encoder on the caption or prompt;
* ``"pronunciation"``: the pronunciation encoder on its IPA (``embed_pronunciation(g2p(texts))``);
* ``"fused"``: their weighted sum, renormalized (:func:`ipaclip.fuse`).

:func:`multimodal_retrieval` scores caption→image and image→caption retrieval with
:func:`ipaclip.metrics.retrieval_report`; :func:`zero_shot_classify` scores zero-shot
classification of an image folder. Both need real CLIP weights to mean anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from ipaclip._progress import iterate
from ipaclip._validation import (
    HasMethods,
    Interval,
    check_string_items,
    describe_item,
    unit_rows,
)
from ipaclip.datasets import prompt_split
from ipaclip.evaluation._common import (
    EmbedFn,
    G2PFn,
    query_embeddings,
)
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries
from ipaclip.metrics import recall_at_k, retrieval_report

__all__ = [
    "IMAGE_EXTENSIONS",
    "MultimodalEvaluator",
    "load_image_folder",
    "multimodal_retrieval",
    "zero_shot_classify",
]

logger = logging.getLogger(__name__)

#: File name endings read as images by :func:`load_image_folder` (case-insensitive).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def _check_dims(queries: dict[str, np.ndarray], images: np.ndarray) -> None:
    for name, Q in queries.items():
        if Q.shape[1] != images.shape[1]:
            raise ValueError(
                f"The {name} queries have dimension {Q.shape[1]} but the image embeddings "
                f"{images.shape[1]}; both must be in the same CLIP space."
            )


def multimodal_retrieval(
    image_emb: Any,
    captions: Sequence[str | Sequence[str]],
    *,
    embed_text: EmbedFn | None = None,
    embed_pronunciation: EmbedFn | None = None,
    g2p: G2PFn | None = None,
    fuse_weight: float = 0.5,
    ks: Sequence[int] = (1, 5, 10),
    verbose: int = 0,
) -> dict[str, Any]:
    """Caption↔image retrieval with text, pronunciation and fused caption embeddings.

    Every caption is a query whose positive is its image; in the reverse direction every
    image is a query whose positives are all its captions (a hit at ``k`` if any of them is
    in the top ``k``). Scores come from :func:`ipaclip.metrics.retrieval_report` (cosine
    similarity, ties ranked pessimistically).

    Parameters
    ----------
    image_emb : array-like of shape (n_images, d)
        Image embeddings (e.g. ``CLIPImageEncoder().transform(paths)``).
    captions : sequence
        Item ``i`` holds the caption(s) of image ``i``: one string or a sequence of strings
        (at least one).
    embed_text : callable, optional
        Text encoder on captions (the CLIP text tower); ``None`` skips ``"text"`` and
        ``"fused"``.
    embed_pronunciation : callable, optional
        Pronunciation encoder on IPA; ``None`` skips ``"pronunciation"`` and ``"fused"``.
    g2p : callable, optional
        Transcribes captions; required with ``embed_pronunciation``.
    fuse_weight : float in [0, 1], default=0.5
        Share of the pronunciation embedding in the fused query.
    ks : sequence of int, default=(1, 5, 10)
        Recall cut-offs.
    verbose : int, default=0
        Progress bar over query types when positive.

    Returns
    -------
    dict
        ``{"n_images", "n_captions", "fuse_weight", "text": {...}, "pronunciation": {...},
        "fused": {...}}``; each query type holds ``"to_image_recall@k"``,
        ``"to_image_mrr"``, ``"to_image_map"`` (caption→image) and the same with prefix
        ``"to_caption_"`` (image→caption).

    Examples
    --------
    >>> import numpy as np
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> table = {"a cat": [1.0, 0.1], "a dog": [0.2, 1.0], "a puppy": [1.0, 0.2]}
    >>> embed = lambda xs: np.array([table[x] for x in xs])
    >>> out = multimodal_retrieval(images, ["a cat", ["a dog", "a puppy"]], embed_text=embed,
    ...                            ks=(1,))
    >>> # "a puppy" finds the cat image; each image finds one of its own captions first
    >>> round(out["text"]["to_image_recall@1"], 4), out["text"]["to_caption_recall@1"]
    (0.6667, 1.0)
    """
    images = unit_rows(image_emb, "image_emb", dtype=np.float64)
    if not isinstance(captions, Sequence) or isinstance(captions, str):
        raise TypeError("captions must be a sequence with the caption(s) of each image.")
    if len(captions) != images.shape[0]:
        raise ValueError(
            f"captions has {len(captions)} items but image_emb {images.shape[0]} rows; give "
            "the caption(s) of every image, in order."
        )
    texts: list[str] = []
    owner: list[int] = []
    for i, item in enumerate(captions):
        group = [item] if isinstance(item, str) else item
        try:
            group = check_string_items(group, what="caption")
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Captions of image {i}: {exc}") from exc
        if not group:
            raise ValueError(f"Image {i} has no caption; every image needs at least one.")
        texts.extend(group)
        owner.extend([i] * len(group))
    queries = query_embeddings(texts, embed_text, embed_pronunciation, g2p, fuse_weight, "captions")
    _check_dims(queries, images)
    result: dict[str, Any] = dict(
        n_images=int(images.shape[0]), n_captions=len(texts), fuse_weight=float(fuse_weight)
    )
    positives = np.asarray(owner, dtype=np.int64)
    for name in iterate(list(queries), "multimodal retrieval", verbose):
        report = retrieval_report(queries[name], images, positives, ks)
        result[name] = {
            key.replace("q2g_", "to_image_").replace("g2q_", "to_caption_"): value
            for key, value in report.items()
            if not key.endswith("n_queries")
        }
    return result


def load_image_folder(
    root: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS
) -> tuple[list[str], list[int], list[str]]:
    """Image paths and labels of an ImageFolder layout (one subfolder per class).

    Parameters
    ----------
    root : str or path-like
        Folder whose subfolders are the classes (sorted by name); images are the files in
        each subfolder (not recursive) whose names end with one of ``extensions``.
    extensions : sequence of str, default=IMAGE_EXTENSIONS
        Accepted file endings, case-insensitive. Other files are skipped and counted in a
        logged warning.

    Returns
    -------
    paths : list of str
        Image paths, class by class, sorted by name within a class.
    labels : list of int
        Class index of each path.
    classes : list of str
        Subfolder names, sorted; ``labels`` index into it.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If it has no subfolders, or no images at all.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"Image folder {str(folder)!r} does not exist or is not a folder.")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(
            f"Image folder {str(folder)!r} has no subfolders; expected one subfolder per class."
        )
    ends = tuple(e.lower() for e in extensions)
    paths: list[str] = []
    labels: list[int] = []
    skipped: list[str] = []
    for c, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.is_file())
        images = [p for p in files if p.name.lower().endswith(ends)]
        skipped.extend(str(p) for p in files if not p.name.lower().endswith(ends))
        if not images:
            logger.warning("Class folder %r has no images; it stays a class to choose.", name)
        paths.extend(str(p) for p in images)
        labels.extend([c] * len(images))
    if skipped:
        logger.warning(
            "Skipped %d files that are not images (extension not in %s), e.g. %s.",
            len(skipped),
            ", ".join(ends),
            skipped[0],
        )
    if not paths:
        raise ValueError(f"Image folder {str(folder)!r} holds no image files ({', '.join(ends)}).")
    return paths, labels, classes


def _encode_images(image_encoder: Any, items: list[Any]) -> np.ndarray:
    fn: Callable[[list[Any]], Any]
    if hasattr(image_encoder, "transform"):
        fn = image_encoder.transform
    elif callable(image_encoder):
        fn = image_encoder
    else:
        raise TypeError(
            "image_encoder must be a callable on a list of images or an object with transform "
            f"(e.g. CLIPImageEncoder); got {type(image_encoder).__name__}."
        )
    out = unit_rows(fn(items), "the output of image_encoder", dtype=np.float64)
    if out.shape[0] != len(items):
        raise ValueError(f"image_encoder returned {out.shape[0]} embeddings for {len(items)}.")
    return out


def _check_templates(template: Any) -> list[str]:
    templates = [template] if isinstance(template, str) else template
    try:
        templates = check_string_items(templates, what="template")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"template must be a string or a sequence of strings: {exc}") from exc
    if not templates:
        raise ValueError("template is empty; give at least one prompt template.")
    for i, t in enumerate(templates):
        if "{}" not in t:
            where = "" if isinstance(template, str) else f" (item {i})"
            raise ValueError(f"template must contain '{{}}' for the class name; got {t!r}{where}.")
    return templates


def zero_shot_classify(
    images: str | os.PathLike | Sequence[Any],
    image_encoder: Any,
    *,
    embed_text: EmbedFn | None = None,
    embed_pronunciation: EmbedFn | None = None,
    g2p: G2PFn | None = None,
    class_names: Sequence[str] | Mapping[str, str] | None = None,
    labels: Sequence[int | str] | None = None,
    template: str | Sequence[str] = "a photo of a {}",
    fuse_weight: float = 0.5,
    ks: Sequence[int] = (1, 5),
    verbose: int = 0,
) -> dict[str, Any]:
    """Zero-shot classification of images by text, pronunciation or fused class prompts.

    Each class becomes the prompt ``template.format(class_name)``; the prompt is embedded by
    the text encoder, by the pronunciation encoder on its IPA, and by their fusion. With
    several templates a class's prompt embeddings are averaged and renormalized, as CLIP's
    prompt ensembling does (e.g. ``template=prompt_split().heldout_templates``, templates
    that training never saw). An image is assigned the classes whose prompt embeddings are
    most cosine-similar to its image embedding; top-k accuracy is the fraction of images
    whose true class is among the ``k`` best (ties ranked pessimistically, see
    :mod:`ipaclip.metrics`).

    Parameters
    ----------
    images : path-like or sequence
        An ImageFolder root (one subfolder per class, see :func:`load_image_folder`), or a
        sequence of images (paths, PIL images, arrays: whatever ``image_encoder`` reads)
        together with ``labels``.
    image_encoder : callable or estimator
        ``list -> (n, d)`` image embeddings, or an object with ``transform`` such as
        :class:`ipaclip.teachers.CLIPImageEncoder`.
    embed_text : callable, optional
        Text encoder on prompts (CLIP text tower); ``None`` skips ``"text"`` and ``"fused"``.
    embed_pronunciation : callable, optional
        Pronunciation encoder on IPA; ``None`` skips ``"pronunciation"`` and ``"fused"``.
    g2p : callable, optional
        Transcribes the prompts; required with ``embed_pronunciation``.
    class_names : sequence of str or mapping, optional
        Readable class names. For a folder: default the subfolder names with ``_`` read as
        spaces; a sequence is aligned with the sorted subfolders; a mapping renames
        subfolders (others keep their default). For a sequence of images: required, the
        classes that ``labels`` refer to.
    labels : sequence of int or str, optional
        For a sequence of images: the class of each image, as an index into
        ``class_names`` or a class name.
    template : str or sequence of str, default="a photo of a {}"
        Prompt with one ``{}`` for the class name, or several (a prompt ensemble: the mean
        of a class's prompt embeddings, renormalized).
    fuse_weight : float in [0, 1], default=0.5
        Share of the pronunciation embedding in the fused prompt.
    ks : sequence of int, default=(1, 5)
        Accuracy cut-offs.
    verbose : int, default=0
        Progress bar over query types when positive.

    Returns
    -------
    dict
        ``{"n_images", "n_classes", "class_names", "template", "fuse_weight", "text": {...},
        "pronunciation": {...}, "fused": {...}}``; each query type holds ``"top{k}"`` accuracies.

    Examples
    --------
    >>> import numpy as np
    >>> pictures = {"cat.png": [1.0, 0.0], "dog.png": [0.0, 1.0]}
    >>> prompts = {"a photo of a cat": [1.0, 0.5], "a photo of a dog": [1.0, -1.0]}
    >>> out = zero_shot_classify(
    ...     ["cat.png", "dog.png"], lambda xs: np.array([pictures[x] for x in xs]),
    ...     embed_text=lambda xs: np.array([prompts[x] for x in xs]),
    ...     class_names=["cat", "dog"], labels=["cat", "dog"], ks=(1,))
    >>> out["text"]
    {'top1': 0.5}
    """
    templates = _check_templates(template)
    if isinstance(images, str | os.PathLike):
        items, label_ids, folders = load_image_folder(images)
        if labels is not None:
            raise ValueError("labels come from the folder layout; do not pass labels too.")
        names = [f.replace("_", " ") for f in folders]
        if isinstance(class_names, Mapping):
            unknown = [k for k in class_names if k not in folders]
            if unknown:
                raise ValueError(
                    f"class_names renames {unknown[0]!r}, which is not a subfolder of "
                    f"{str(images)!r} (subfolders: {folders})."
                )
            names = [class_names.get(f, n) for f, n in zip(folders, names)]
        elif class_names is not None:
            names = check_string_items(class_names, what="class name")
            if len(names) != len(folders):
                raise ValueError(
                    f"class_names has {len(names)} names but {str(images)!r} has "
                    f"{len(folders)} class subfolders ({folders})."
                )
    else:
        if class_names is None or labels is None:
            raise ValueError("For a sequence of images pass class_names and labels.")
        if isinstance(class_names, Mapping):
            raise TypeError("class_names must be a sequence of names for a list of images.")
        names = check_string_items(class_names, what="class name")
        items = list(images)
        label_list = list(labels)
        if len(label_list) != len(items):
            raise ValueError(f"labels has {len(label_list)} items but images {len(items)}.")
        index = {n: c for c, n in enumerate(names)}
        label_ids = []
        for i, lab in enumerate(label_list):
            if isinstance(lab, str):
                if lab not in index:
                    raise ValueError(
                        f"Label {lab!r} of image {i} is not in class_names ({names[:10]}...)."
                    )
                label_ids.append(index[lab])
            elif isinstance(lab, int | np.integer) and not isinstance(lab, bool):
                if not 0 <= lab < len(names):
                    raise ValueError(
                        f"Label {lab} of image {i} is not a class index (0..{len(names) - 1})."
                    )
                label_ids.append(int(lab))
            else:
                raise TypeError(
                    f"Label {describe_item(lab)} of image {i} is neither a class index nor a "
                    "class name."
                )
        if not items:
            raise ValueError("images is empty; nothing to classify.")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"Class name {dup!r} appears twice; class names must be distinct.")
    prompts = [t.format(n) for t in templates for n in names]  # template by template
    image_emb = _encode_images(image_encoder, items)
    queries = query_embeddings(
        prompts, embed_text, embed_pronunciation, g2p, fuse_weight, "prompts"
    )
    if len(templates) > 1:
        queries = {
            name: unit_rows(Q.reshape(len(templates), len(names), -1).mean(axis=0))
            for name, Q in queries.items()
        }
    _check_dims(queries, image_emb)
    truth = np.asarray(label_ids, dtype=np.int64)
    result: dict[str, Any] = dict(
        n_images=len(items),
        n_classes=len(names),
        class_names=names,
        template=template if isinstance(template, str) else list(templates),
        fuse_weight=float(fuse_weight),
    )
    for name in iterate(list(queries), "zero-shot", verbose):
        S = image_emb @ queries[name].T
        result[name] = {f"top{int(k)}": recall_at_k(S, truth, int(k)) for k in ks}
    return result


class MultimodalEvaluator(Evaluator):
    """Zero-shot classification of images by text, pronunciation and fused class prompts.

    :func:`zero_shot_classify` with the queries' text encoder, pronunciation encoder and
    G2P. It needs data of its own, so ``evaluate_model`` runs it only when asked
    (``evaluators=[MultimodalEvaluator(images=..., image_encoder=...)]``, or the name
    ``"multimodal"`` with ``images=`` and ``image_encoder=`` among its settings).

    Parameters
    ----------
    images : path-like or sequence, optional
        An ImageFolder root (one subfolder per class), or a sequence of images together
        with ``class_names`` and ``labels``. Required.
    image_encoder : callable or estimator, optional
        Image embeddings in the teacher's CLIP space (e.g. ``CLIPImageEncoder``). Required.
    class_names : sequence of str or mapping, optional
        Readable class names (see :func:`zero_shot_classify`).
    labels : sequence of int or str, optional
        The class of each image, for a sequence of images.
    template : str or sequence of str, optional
        Prompt template(s) with one ``{}`` for the class name; several are a prompt
        ensemble. Default: the held-out templates of
        :func:`ipaclip.datasets.prompt_split` ``(random_state,
        n_heldout_templates=n_heldout_templates)``, the prompt set of the ``"prompts"``
        task (CLIP's ImageNet templates that training on the split never saw).
    n_heldout_templates : int, default=10
        Templates the split keeps out of training (the default ``template``).
    random_state : int, default=0
        Seeds every random draw of the task (here: the prompt split).
    """

    name = "multimodal"
    primary_metric = "pronunciation/top1"
    rows = {"top-1 accuracy": ("top1",), "top-5 accuracy": ("top5",)}
    summary = ("top-1 accuracy",)
    default_suite = False
    order = 80
    _parameter_constraints: dict[str, list[Any]] = {
        "images": [str, os.PathLike, "array-like", None],
        "image_encoder": [callable, HasMethods(["transform"]), None],
        "class_names": ["array-like", dict, None],
        "labels": ["array-like", None],
        "template": [str, "array-like", None],
        "n_heldout_templates": [Interval(Integral, 1, 79, closed="both")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        images: Any = None,
        image_encoder: Any = None,
        class_names: Any = None,
        labels: Any = None,
        template: Any = None,
        n_heldout_templates: int = 10,
        random_state: int = 0,
    ):
        self.images = images
        self.image_encoder = image_encoder
        self.class_names = class_names
        self.labels = labels
        self.template = template
        self.n_heldout_templates = n_heldout_templates
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        if self.images is None or self.image_encoder is None:
            raise ValueError(
                "MultimodalEvaluator needs images= (an image folder, or images with "
                "class_names= and labels=) and image_encoder= (e.g. CLIPImageEncoder())."
            )
        raw = zero_shot_classify(
            self.images,
            self.image_encoder,
            embed_text=queries.text,
            embed_pronunciation=queries.embed_ipa,
            g2p=queries.g2p,
            class_names=self.class_names,
            labels=self.labels,
            template=self._templates(),
            fuse_weight=queries.fuse_weight,
        )
        info = {k: v for k, v in raw.items() if k not in ("text", "pronunciation", "fused")}
        return {**{q: raw[q] for q in ("text", "pronunciation", "fused") if q in raw}, "info": info}

    def _templates(self) -> Any:
        if self.template is not None:
            return self.template
        split = prompt_split(self.random_state, n_heldout_templates=self.n_heldout_templates)
        return list(split.heldout_templates)
