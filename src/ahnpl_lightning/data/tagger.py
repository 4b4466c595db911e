"""Deprecated: moved to ``ahnpl_lightning.data.negatives.tagger`` (and ``...negatives.lexicon.words``)."""

import warnings

from ahnpl_lightning.data.negatives.lexicon.words import IRREGULAR_PLURALS, Lexicon, get_lexicon  # noqa: F401
from ahnpl_lightning.data.negatives.tagger import *  # noqa: F401,F403
from ahnpl_lightning.data.negatives.tagger import BuiltinTagger, Token, get_tagger, nltk_tagger_available, tokenize  # noqa: F401

warnings.warn("ahnpl_lightning.data.tagger moved to ahnpl_lightning.data.negatives.tagger; the old path will be "
              "removed in the next release", DeprecationWarning, stacklevel=2)
