"""Deprecated: moved to ``ahnpl_lightning.data.negatives.lexicon.wordnet``."""

import warnings

from ahnpl_lightning.data.negatives.lexicon.wordnet import *  # noqa: F401,F403
from ahnpl_lightning.data.negatives.lexicon.wordnet import (  # noqa: F401
    DEBIAN_WORDNET_DIR,
    LEXNAMES,
    WORDNET_FILES,
    WordNetNotFoundError,
    default_data_dir,
    ensure_wordnet,
    get_wordnet,
    lexnames_text,
    main,
)

warnings.warn("ahnpl_lightning.data.wordnet moved to ahnpl_lightning.data.negatives.lexicon.wordnet; the old path "
              "will be removed in the next release", DeprecationWarning, stacklevel=2)

if __name__ == "__main__":
    raise SystemExit(main())
