"""ipaclip: IPA-CLIP pronunciation encoders as scikit-learn estimators."""

from ipaclip._version import __version__

__all__ = ["__version__"]
