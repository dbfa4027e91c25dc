"""ipaclip: IPA-CLIP pronunciation encoders as scikit-learn estimators.

Text → IPA (:class:`IPATransformer`), IPA → phoneme feature sequences
(:class:`PhonemeEmbedder`), and a pronunciation encoder distilled from a frozen CLIP text
encoder, all usable inside scikit-learn pipelines.
"""

from ipaclip._version import __version__

__all__ = [
    "CHANNEL_NAMES",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "FEATURE_NAMES",
    "IPACLIP",
    "IPATransformer",
    "InputError",
    "PhonemeEmbedder",
    "PhonemeSequences",
    "PronunciationEncoder",
    "Recipe",
    "__version__",
    "available_languages",
    "fuse",
]

# Every name loads on first use, so that ``import ipaclip`` (and every joblib worker of
# IPATransformer(n_jobs=...), which only needs the G2P engines) pays neither for torch nor
# for scikit-learn and PanPhon.
_LAZY = {
    "IPATransformer": "ipaclip.g2p",
    "available_languages": "ipaclip.g2p",
    "FEATURE_NAMES": "ipaclip.inventory",
    "CHANNEL_NAMES": "ipaclip.phonemes",
    "PhonemeEmbedder": "ipaclip.phonemes",
    "PhonemeSequences": "ipaclip.sequences",
    "PronunciationEncoder": "ipaclip.estimator",
    "Recipe": "ipaclip.recipe",
    "Callback": "ipaclip.training",
    "EarlyStopping": "ipaclip.training",
    "Checkpoint": "ipaclip.training",
    "InputError": "ipaclip._validation",
    "IPACLIP": "ipaclip.model",
    "fuse": "ipaclip.fusion",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipaclip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
