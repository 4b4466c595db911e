"""Deprecated: moved to ``ahnpl_lightning.data.negatives.lexicon.wordnet_index``."""

import warnings

from ahnpl_lightning.data.negatives.lexicon.wordnet_index import *  # noqa: F401,F403
from ahnpl_lightning.data.negatives.lexicon.wordnet_index import (  # noqa: F401
    SynsetRecord,
    WordNetIndex,
    get_wordnet_index,
    synset_id,
)

warnings.warn("ahnpl_lightning.data.wordnet_index moved to ahnpl_lightning.data.negatives.lexicon.wordnet_index; "
              "the old path will be removed in the next release", DeprecationWarning, stacklevel=2)
