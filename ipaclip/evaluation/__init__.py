"""Evaluation of pronunciation encoders: the paper's four evaluations, PWESuite's tasks and
minimal-pair triplets.

Every function here takes *embedding functions* (``Callable[[list[str]], ndarray]`` returning
L2-normalized rows), so the same code scores a CLIP text encoder, a pronunciation encoder, or
their fused query.

Each task is an :class:`Evaluator` in its own module (``FidelityEvaluator``,
``HumanSimilarityEvaluator``, ...): ``evaluator(model) -> dict[str, float]``, where ``model``
is a fitted encoder, an ``IPACLIP`` or one :class:`Queries`. A subclass that declares a
``name`` registers itself (:func:`registry`); :func:`evaluate_model` runs several on one
``Queries``. Pictures (training curve, evaluation summary, fuse-weight sweep, phoneme map)
are drawn by :mod:`ipaclip.evaluation.plots`; word lists and reference data come from
:mod:`ipaclip.datasets`.

Names load lazily on first use, so ``import ipaclip.evaluation`` stays cheap; the submodules
can also be imported directly.
"""

from __future__ import annotations

# public name -> (submodule, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "evaluate_phoneme_geometry": ("geometry", "evaluate_phoneme_geometry"),
    "mantel_test": ("geometry", "mantel_test"),
    "plot_phoneme_map": ("plots", "plot_phoneme_map"),
    "plot_training_curve": ("plots", "plot_training_curve"),
    "plot_summary": ("plots", "plot_summary"),
    "plot_fuse_sweep": ("plots", "plot_fuse_sweep"),
    "phoneme_kind": ("chart", "phoneme_kind"),
    "chart_position": ("chart", "chart_position"),
    "articulatory_distance_matrix": ("chart", "articulatory_distance_matrix"),
    "chart_distance_matrix": ("chart", "chart_distance_matrix"),
    "evaluate_human_similarity": ("human", "evaluate_human_similarity"),
    "load_vitz_winkler": ("human", "load_vitz_winkler"),
    "format_human_similarity": ("human", "format_human_similarity"),
    "PUBLISHED": ("human", "PUBLISHED"),
    "evaluate_pwesuite": ("pwesuite", "evaluate_pwesuite"),
    "iter_pwesuite": ("pwesuite", "iter_pwesuite"),
    "evaluate_articulatory_correlation": ("pwesuite", "evaluate_articulatory_correlation"),
    "evaluate_retrieval": ("pwesuite", "evaluate_retrieval"),
    "evaluate_sound_analogies": ("pwesuite", "evaluate_sound_analogies"),
    "evaluate_rhyme": ("rhyme", "evaluate_rhyme"),
    "build_sound_analogies": ("pwesuite", "build_sound_analogies"),
    "build_rhyme_pairs": ("rhyme", "build_rhyme_pairs"),
    "format_table": ("pwesuite", "format_table"),
    "PWESUITE_PUBLISHED": ("pwesuite", "PWESUITE_PUBLISHED"),
    "sample_words": ("pwesuite", "sample_words"),
    "arpabet_to_ipa": ("pwesuite", "arpabet_to_ipa"),
    "generate_nonwords": ("nonwords", "generate_nonwords"),
    "nonword_phonetic_correlation": ("nonwords", "nonword_phonetic_correlation"),
    "nearest_real_words": ("nonwords", "nearest_real_words"),
    "is_real_word": ("nonwords", "is_real_word"),
    "cmudict_lexicon": ("rhyme", "cmudict_lexicon"),
    "generate_respellings": ("respell", "generate_respellings"),
    "respelling_candidates": ("respell", "respelling_candidates"),
    "respelling_retrieval": ("respell", "respelling_retrieval"),
    "fuse_embeddings": ("respell", "fuse_embeddings"),
    "RESPELLING_RULES": ("respell", "RESPELLING_RULES"),
    "multimodal_retrieval": ("multimodal", "multimodal_retrieval"),
    "zero_shot_classify": ("multimodal", "zero_shot_classify"),
    "load_image_folder": ("multimodal", "load_image_folder"),
    "IMAGE_EXTENSIONS": ("multimodal", "IMAGE_EXTENSIONS"),
    "feature_edit_distance": ("distance", "feature_edit_distance"),
    "pairwise_feature_edit_distance": ("distance", "pairwise_feature_edit_distance"),
    "paired_feature_edit_distance": ("distance", "paired_feature_edit_distance"),
    "phonetic_similarity": ("distance", "phonetic_similarity"),
    "evaluate_model": ("suite", "evaluate_model"),
    "evaluate_seeds": ("suite", "evaluate_seeds"),
    "format_results": ("suite", "format_results"),
    "SUMMARY_METRICS": ("suite", "SUMMARY_METRICS"),
    "RESULT_ROWS": ("suite", "RESULT_ROWS"),
    "QUERY_TYPES": ("suite", "QUERY_TYPES"),
    "lookup_result": ("suite", "lookup_result"),
    "summary_table": ("suite", "summary_table"),
    "TASK_REGISTRY": ("evaluator", "TASK_REGISTRY"),
    "Evaluator": ("evaluator", "Evaluator"),
    "registry": ("evaluator", "registry"),
    "Queries": ("queries", "Queries"),
    "FidelityEvaluator": ("fidelity", "FidelityEvaluator"),
    "GeometryEvaluator": ("geometry", "GeometryEvaluator"),
    "HumanSimilarityEvaluator": ("human", "HumanSimilarityEvaluator"),
    "NonwordEvaluator": ("nonwords", "NonwordEvaluator"),
    "RespellingEvaluator": ("respell", "RespellingEvaluator"),
    "PWESuiteEvaluator": ("pwesuite", "PWESuiteEvaluator"),
    "TripletEvaluator": ("triplets", "TripletEvaluator"),
    "MultimodalEvaluator": ("multimodal", "MultimodalEvaluator"),
    "ZeroShotPromptEvaluator": ("prompts", "ZeroShotPromptEvaluator"),
    "CaptionRetrievalEvaluator": ("captions", "CaptionRetrievalEvaluator"),
    "HUMAN_SIMILARITY_PUBLISHED": ("human", "PUBLISHED"),
    "minimal_pair_triplets": ("triplets", "minimal_pair_triplets"),
    "nonword_triplets": ("triplets", "nonword_triplets"),
    "triplet_accuracy": ("triplets", "triplet_accuracy"),
    "ENGLISH_PHONEMES": ("triplets", "ENGLISH_PHONEMES"),
    "FOREIGN_PHONEMES": ("triplets", "FOREIGN_PHONEMES"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        if name not in ("RESULT_ROWS", "SUMMARY_METRICS"):  # those follow the live registry
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
