"""ipaclip: IPA-CLIP pronunciation encoders as scikit-learn estimators.

Text → IPA (:class:`IPATransformer`), IPA → phoneme feature sequences
(:class:`PhonemeEmbedder`), and a pronunciation encoder distilled from a frozen CLIP text
encoder, all usable inside scikit-learn pipelines.
"""

from ipaclip._version import __version__
from ipaclip.g2p import IPATransformer, available_languages
from ipaclip.inventory import FEATURE_NAMES
from ipaclip.phonemes import CHANNEL_NAMES, PhonemeEmbedder, PhonemeSequences

__all__ = [
    "CHANNEL_NAMES",
    "FEATURE_NAMES",
    "IPATransformer",
    "PhonemeEmbedder",
    "PhonemeSequences",
    "__version__",
    "available_languages",
]
