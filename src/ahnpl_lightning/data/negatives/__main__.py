"""``python -m ahnpl_lightning.data.negatives``: deprecated spelling of ``ahnpl negatives``."""

import sys
import warnings

from ahnpl_lightning.tools.negatives import main

warnings.warn("`python -m ahnpl_lightning.data.negatives` is deprecated: use `ahnpl negatives`", DeprecationWarning,
              stacklevel=1)
sys.exit(main())
