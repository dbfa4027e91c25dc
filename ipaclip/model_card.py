"""Model cards: the ``README.md`` of a saved pronunciation encoder, filled from what it knows.

The layout follows sentence-transformers' cards (``sentence_transformers/model_card.py``):
YAML front matter for the Hugging Face hub (``library_name``, ``tags``, ``base_model`` (the
teacher, when it is a hub model), ``license``, ``datasets``, ``language``), then *Model
Details* (description, the recipe, the architecture), *Usage*, *Evaluation* (the figures,
when given), *Training Details* (epochs and the history), *Intended Use and Limitations*
and *Citation*. Everything comes from the saved ``config.json``: the teacher's id and
dimension, the estimator's parameters (the recipe: ``loss``, ``ngrams``, ...), the
architecture, the phoneme vocabulary, the G2P settings, the per-epoch history and, when
recorded, the number of training items (top-level key ``n_train_items``) and the training
data's name (``training_data``). What is not recorded is said to be unknown, never guessed.

:func:`render_model_card` returns the text; :func:`write_model_card` writes it into a model
folder as ``README.md`` (atomically, through :mod:`ipaclip._io`), with the evaluation
figures of :func:`~ipaclip.evaluation.suite.evaluate_model` or
:func:`~ipaclip.evaluation.suite.evaluate_seeds` when given. It touches no other file: the
card is documentation, outside the model's checksum.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ipaclip._io import atomic_file

__all__ = ["CARD_NAME", "render_model_card", "write_model_card"]

CARD_NAME = "README.md"
_CONFIG_NAME = "config.json"
_FORMAT = "ipaclip-pronunciation-encoder"
#: The largest config.json read (a saved config is kilobytes to a few megabytes).
_MAX_CONFIG_BYTES = 64 * 1024 * 1024
#: What marks a card as ipaclip's own (a README.md without it is the user's).
_MARKER = "library_name: ipaclip"

#: Estimator parameters that make up the training recipe, shown in the card's Recipe list.
RECIPE_PARAMS = (
    "loss",
    "ngrams",
    "ngram_classes",
    "ngram_lr_scale",
    "triplet_items",
    "triplet_margin",
    "prior_items",
    "prior_per_row",
    "augment",
    "learn_temperature",
    "temperature",
    "epochs",
    "batch_size",
    "lr",
    "lr_schedule",
    "warmup",
    "weight_decay",
    "validation_fraction",
    "random_state",
)
#: Licences of teachers whose licence is known (the weights inherit the teacher's terms).
_TEACHER_LICENSES = {"sentence-transformers/all-MiniLM-L6-v2": "apache-2.0"}

CITATION = """@article{matsuhira2023ipaclip,
  title   = {{IPA-CLIP}: Integrating Phonetic Priors into Vision and Language Pretraining},
  author  = {Matsuhira, Chihaya and Kastner, Marc A. and Komamizu, Takahiro and
             Hirayama, Takatsugu and Doman, Keisuke and Kawanishi, Yasutomo and Ide, Ichiro},
  journal = {arXiv preprint arXiv:2303.03144},
  year    = {2023}
}"""


def base_model(teacher_id: str | None) -> str | None:
    """The teacher's Hugging Face hub id, when the teacher is a hub model (else None).

    Examples
    --------
    >>> base_model("sentence-transformers:all-MiniLM-L6-v2")
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> base_model("open_clip:hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
    'laion/CLIP-ViT-B-32-laion2B-s34B-b79K'
    >>> base_model("open_clip:ViT-B-32:openai") is None  # an open_clip tag, not a hub id
    True
    """
    if not teacher_id or "@sha256" in teacher_id:
        return None
    if teacher_id.startswith("sentence-transformers:"):
        name = teacher_id.split(":", 1)[1]
        return name if "/" in name else f"sentence-transformers/{name}"
    if teacher_id.startswith("open_clip:hf-hub:"):
        return teacher_id[len("open_clip:hf-hub:") :]
    return None


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return f"`{value}`" if isinstance(value, str) else str(value)


def _front_matter(config: dict, license: str | None) -> list[str]:
    teacher = (config.get("teacher") or {}).get("id")
    base = base_model(teacher)
    g2p = config.get("g2p") or {}
    lines = ["---", _MARKER, "tags:"]
    lines += [f"- {t}" for t in ("ipaclip", "ipa-clip", "pronunciation", "phonetics",
                                 "feature-extraction")]  # fmt: skip
    lines.append("pipeline_tag: feature-extraction")
    if base:
        lines.append(f"base_model: {_yaml_str(base)}")
    lines.append(f"license: {_yaml_str(license or _TEACHER_LICENSES.get(base or '', 'other'))}")
    if config.get("training_data"):
        lines += ["datasets:", f"- {_yaml_str(str(config['training_data']))}"]
    language = g2p.get("language")
    if isinstance(language, str) and language:
        lines.append(f"language: {_yaml_str(language.split('-')[0])}")
    return lines + ["---", ""]


def _description(config: dict, license: str | None) -> list[str]:
    enc = config.get("encoder_config") or {}
    teacher = config.get("teacher") or {}
    params = config.get("estimator_params") or {}
    g2p = config.get("g2p") or {}
    base = base_model(teacher.get("id"))
    n_items = config.get("n_train_items")
    history = config.get("history") or []
    data = config.get("training_data")
    if isinstance(n_items, int) and not isinstance(n_items, bool):
        size = f"{n_items:,} items" + (f" of {data}" if data else "")
    else:
        size = f"{data}, size not recorded" if data else "not recorded"
    teacher_text = f"[{base}](https://huggingface.co/{base})" if base else f"`{teacher.get('id')}`"
    lines = [
        "## Model Details",
        "",
        "### Model Description",
        "",
        "- **Model type:** IPA-CLIP pronunciation encoder (Transformer over IPA phoneme "
        "features), distilled from a frozen text encoder",
        f"- **Teacher (base model):** {teacher_text}",
        f"- **Output dimensionality:** {teacher.get('dim')} dimensions, in the teacher's space"
        + " (L2-normalized)",
        f"- **Maximum sequence length:** {enc.get('context_length')} phoneme tokens "
        "(`<bos>` and `<eos>` included)",
        f"- **Phoneme vocabulary:** {len(config.get('vocabulary') or [])} segments",
        "- **G2P (text to IPA):** "
        + (
            f"{g2p.get('backend', 'espeak')} `{g2p.get('language')}`"
            if g2p
            else "none saved (the default English `IPATransformer()` is used)"
        ),  # fmt: skip
        f"- **Training data:** {size}",
        f"- **Training:** {len(history)} epochs",
        f"- **License:** {license or _TEACHER_LICENSES.get(base or '', 'other')}"
        + (
            ""
            if license or base in _TEACHER_LICENSES
            else " (the teacher's and the training data's terms apply)"
        ),  # fmt: skip
        f"- **ipaclip version:** {config.get('ipaclip_version')}",
        "",
        "### Recipe",
        "",
    ]
    recipe = params.get("recipe")
    if isinstance(recipe, dict):  # a Recipe saved as its settings
        lines += [f"- `{k}`: {_fmt(v)}" for k, v in recipe.items()]
    lines += [f"- `{k}`: {_fmt(params[k])}" for k in RECIPE_PARAMS if k in params]
    lines += [f"- `{k}`: {_fmt(v)}" for k, v in params.items() if k.startswith("recipe__")]
    lines += ["", "### Architecture", ""]
    arch = [
        ("embedding", "phoneme input"),
        ("width", "width"),
        ("layers", "layers"),
        ("heads", "attention heads"),
        ("mlp_ratio", "MLP ratio"),
        ("pooling", "pooling"),
        ("causal", "causal attention"),
        ("ngram_max", "n-gram bag, longest n-gram"),
        ("ngram_vocab_size", "n-gram bag, known n-grams"),
        ("ngram_class_count", "n-gram bag, sound classes"),
    ]
    lines += [f"- {label}: {_fmt(enc[key])}" for key, label in arch if key in enc]
    return lines + [""]


def _usage(model_id: str) -> list[str]:
    return [
        "## Usage",
        "",
        "```python",
        "from ipaclip import PronunciationEncoder",
        "",
        f'encoder = PronunciationEncoder.from_pretrained("{model_id}")',
        'Z = encoder.encode(["quick", "kwik"])  # text -> IPA (espeak) -> embedding',
        "```",
        "",
        "The embeddings live in the teacher's space: compare them with the teacher's "
        "embeddings of texts (and, for a CLIP teacher, of images). `ipaclip.export.export_onnx` "
        "writes the encoder (phoneme ids to embedding) as ONNX; text to IPA to phoneme "
        "features stays in Python.",
        "",
    ]


def _evaluation(results: dict | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if not results:
        return lines + [
            "Not evaluated yet. `ipaclip.model_card.write_model_card(folder, results)` adds "
            "the figures of `ipaclip.evaluation.evaluate_model`.",
            "",
        ]
    from ipaclip.evaluation.evaluator import summary_rows
    from ipaclip.evaluation.suite import format_results

    config = results.get("config") or {}
    seeds = results.get("seeds")
    rows = [label for label in summary_rows() if label in (results.get("summary") or {})]
    lines.append(
        "Figures of `ipaclip.evaluation` (rows: task and metric; columns: the query type: "
        "the teacher on the spelling, the encoder on the G2P's IPA, and the two fused "
        f"with `fuse_weight={config.get('fuse_weight')}`); teacher for the text queries: "
        f"`{config.get('teacher')}`."
        + (
            f" Mean ± sd over {seeds.get('n_seeds')} seeds (random_state 0 to "
            f"{seeds.get('n_seeds', 1) - 1})."
            if isinstance(seeds, dict)
            else ""
        )  # fmt: skip
    )
    lines += ["", format_results(results, rows or None, format="markdown"), ""]
    settings = {k: v for k, v in config.items() if k not in ("teacher", "model_name", "tasks")}
    if settings:
        lines.append("Settings: " + ", ".join(f"`{k}={v}`" for k, v in settings.items()) + ".")
        lines.append("")
    return lines


def _training(config: dict) -> list[str]:
    history = [h for h in (config.get("history") or []) if isinstance(h, dict)]
    lines = ["## Training Details", ""]
    if not history:
        return lines + ["No training history was saved.", ""]
    seconds = sum(float(h.get("seconds") or 0.0) for h in history)
    lines.append(
        f"{len(history)} epochs in {seconds:.0f} s. Distillation loss and cosine to the "
        "teacher, at the first, the best (by validation cosine, when there is a validation "
        "split) and the last epoch:"
    )
    shown = [0]
    vals = [h.get("val_cosine") for h in history]
    numeric = [i for i, v in enumerate(vals) if isinstance(v, int | float) and not math.isnan(v)]
    if numeric:
        shown.append(max(numeric, key=lambda i: vals[i]))
    shown.append(len(history) - 1)
    lines += ["", "| epoch | loss | train cosine | validation cosine |", "|--:|--:|--:|--:|"]
    for i in sorted(set(shown)):
        h = history[i]
        cells = [h.get("epoch", i + 1), h.get("loss"), h.get("train_cosine"), h.get("val_cosine")]
        text = ["-" if c is None else (f"{c:.4f}" if isinstance(c, float) else str(c))
                for c in cells]  # fmt: skip
        lines.append("| " + " | ".join(text) + " |")
    return lines + [""]


_LIMITATIONS = [
    "## Intended Use and Limitations",
    "",
    "For research on how words sound: pronunciation search (nearest words by sound, "
    "respellings such as *kwik* for *quick*), phonetic similarity, and text or image "
    "retrieval from a pronunciation in the teacher's space.",
    "",
    "- **IPA comes from espeak-ng** (through phonemizer): its voice's reading of a text, "
    "not a speaker's; names, loanwords and rare words may be read wrongly, and a text in "
    "another language or script is read only as the G2P's `language` and policy allow.",
    "- **English by default.** The default G2P reads English (`en-us`); an encoder "
    "distilled on English words has seen few of other languages' sounds.",
    "- **The teacher is a text-only proxy.** The encoder learns to land where the teacher "
    "embeds the *spelling*; it inherits the teacher's biases and knows nothing the teacher "
    "does not, and scores against the teacher measure agreement with it, not with listeners.",
    "- Featurisation (text to IPA to phoneme features) runs in Python; only the encoder "
    "itself exports to ONNX.",
    "",
]


def render_model_card(
    config: dict,
    results: dict | None = None,
    *,
    model_id: str = "path/to/model",
    license: str | None = None,
) -> str:
    """A Hugging Face model card (``README.md``) for a saved encoder's config.

    Parameters
    ----------
    config : dict
        The model's ``config.json`` (what ``save`` writes): ``teacher``,
        ``encoder_config``, ``estimator_params``, ``vocabulary``, ``g2p``, ``history``;
        optionally ``n_train_items`` (the number of training items) and ``training_data``
        (its name, for the hub's ``datasets``).
    results : dict, optional
        :func:`~ipaclip.evaluation.suite.evaluate_model`'s (or ``evaluate_seeds``') result:
        its summary rows become the card's Evaluation table.
    model_id : str, default="path/to/model"
        The hub id or folder the card's usage snippet loads.
    license : str, optional
        The hub licence identifier. Default: the teacher's, when known
        (all-MiniLM-L6-v2: ``apache-2.0``), else ``other``.

    Returns
    -------
    str

    Examples
    --------
    >>> card = render_model_card({"teacher": {"id": "sentence-transformers:all-MiniLM-L6-v2",
    ...                                       "dim": 384}, "n_train_items": 19287})
    >>> print(card.split("---")[1].strip())  # doctest: +NORMALIZE_WHITESPACE
    library_name: ipaclip
    tags:
    - ipaclip
    - ipa-clip
    - pronunciation
    - phonetics
    - feature-extraction
    pipeline_tag: feature-extraction
    base_model: "sentence-transformers/all-MiniLM-L6-v2"
    license: "apache-2.0"
    >>> "- **Training data:** 19,287 items" in card
    True
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a model's config.json as a dict; got {type(config)}.")
    title = (results or {}).get("config", {}).get("model_name") if results else None
    lines = _front_matter(config, license)
    lines += [
        f"# {title or 'ipaclip pronunciation encoder'}",
        "",
        "An [IPA-CLIP](https://arxiv.org/abs/2303.03144) pronunciation encoder made with "
        "ipaclip: a Transformer over IPA phoneme features, distilled so that the "
        "pronunciation of a text lands where the teacher embeds the text.",
        "",
    ]
    lines += _description(config, license)
    lines += _usage(model_id)
    lines += _evaluation(results)
    lines += _training(config)
    lines += _LIMITATIONS
    lines += ["## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def _read_config(folder: Path) -> dict:
    path = folder / _CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} holds no {_CONFIG_NAME}: pass the folder of a saved model "
            "(PronunciationEncoder.save / save_pretrained)."
        )
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is larger than {_MAX_CONFIG_BYTES} bytes: not a model config.")
    try:
        config = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); is this an ipaclip model?") from err
    if not isinstance(config, dict) or config.get("format") != _FORMAT:
        raise ValueError(
            f"{path} does not name the ipaclip format ({_FORMAT!r}): not an ipaclip model folder."
        )
    return config


def write_model_card(
    folder: str | os.PathLike,
    results: dict | None = None,
    *,
    model_id: str | None = None,
    license: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write (or rewrite) the model card ``README.md`` of a saved model, with the figures.

    Only ``README.md`` is written, atomically; the model's other files and its checksum are
    not touched (the card is documentation, not covered by the checksum). An existing
    ``README.md`` that is not an ipaclip card (its front matter lacks
    ``library_name: ipaclip``) is the user's: it is replaced only with ``overwrite=True``.

    Parameters
    ----------
    folder : str or path-like
        A model folder (``config.json`` naming the ipaclip format).
    results : dict, optional
        ``evaluate_model``'s or ``evaluate_seeds``' result: the Evaluation section.
    model_id : str, optional
        The id the usage snippet loads. Default: the folder's name.
    license : str, optional
        See :func:`render_model_card`.
    overwrite : bool, default=False
        Replace a ``README.md`` that ipaclip did not write.

    Returns
    -------
    pathlib.Path
        The card's path.
    """
    folder = Path(folder)
    config = _read_config(folder)
    card_path = folder / CARD_NAME
    if card_path.is_symlink() or (card_path.exists() and not card_path.is_file()):
        raise FileExistsError(f"{card_path} is not a regular file; it is left as it is.")
    if card_path.exists() and not overwrite:
        with open(card_path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
        if _MARKER not in head:
            raise FileExistsError(
                f"Refusing to replace {card_path}: it is not a card ipaclip wrote (no "
                f"'{_MARKER}' in its front matter). Pass overwrite=True to replace it."
            )
    card = render_model_card(
        config, results, model_id=model_id or folder.resolve().name, license=license
    )
    with atomic_file(card_path) as tmp:
        tmp.write_text(card, "utf-8")
    return card_path
