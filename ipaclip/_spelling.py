"""The spelling check of a fitted encoder's IPA input (``transform``, ``score``, IPACLIP).

``fit`` checks its input with :func:`ipaclip.phonemes.looks_like_spelling` under the
encoder's ``check_spelling`` policy; :func:`check_ipa_input` applies the same check, with the
same policy, wherever a fitted encoder reads IPA strings, so that spelling passed where IPA
belongs (``transform(["quick", "kwik"])``) is never embedded as if it were IPA.
"""

from __future__ import annotations

import logging

from ipaclip.phonemes import looks_like_spelling

__all__ = ["check_ipa_input", "spelling_in_ipa_message"]

logger = logging.getLogger("ipaclip")


def spelling_in_ipa_message(reason: str, where: str) -> str:
    """The error of :func:`check_ipa_input`: what looked like spelling, and what to do."""
    return (
        f"{where} reads IPA, but its input looks like spelling: {reason}. To embed texts, "
        "call encode(texts) (it transcribes them with the model's G2P) or put an "
        "IPATransformer first (Pipeline([('ipa', IPATransformer()), ('enc', encoder)])); "
        "if the input really is IPA, set check_spelling='off' on the encoder."
    )


def check_ipa_input(items: list[str], policy: str, where: str) -> None:
    """Refuse (``"raise"``), log (``"warn"``) or pass (``"off"``) spelling given as IPA.

    Parameters
    ----------
    items : list of str
        The IPA strings.
    policy : {"raise", "warn", "off"}
        The encoder's ``check_spelling``.
    where : str
        The method, for the message (``"PronunciationEncoder.transform"``).
    """
    if policy == "off":
        return
    reason = looks_like_spelling(items)
    if reason is None:
        return
    if policy == "raise":
        raise ValueError(spelling_in_ipa_message(reason, where))
    logger.warning(spelling_in_ipa_message(reason, where))
