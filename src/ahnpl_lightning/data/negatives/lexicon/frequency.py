"""Word frequency floor from ``wordfreq`` (shipped frequency lists, offline): obscure words make easy negatives.

A replacement must be a word people use: Zipf frequency (log10 of occurrences per billion words) at least
``MIN_ZIPF`` in general English, or at least ``MIN_ZIPF_ATTESTED`` when the caption corpus itself uses the word
(captions say "frisbee" and "skateboard" far more often than general text does).
"""

from __future__ import annotations

import functools

__all__ = ["MIN_ZIPF", "MIN_ZIPF_ATTESTED", "zipf", "common_enough"]

#: Zipf floor for words the caption corpus does not use (3.0: about one in a million words).
MIN_ZIPF = 3.0
#: Zipf floor for words the caption corpus uses (the audit's "obscure" bound is 2.5).
MIN_ZIPF_ATTESTED = 2.5


@functools.lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """Zipf frequency of ``word`` (spaces or underscores for collocations) in English; 0 when unknown."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word.replace("_", " "), "en")


def common_enough(word: str, attested: bool = False) -> bool:
    """Whether ``word`` passes the frequency floor (the lower one when the caption corpus uses it)."""
    return zipf(word) >= (MIN_ZIPF_ATTESTED if attested else MIN_ZIPF)
