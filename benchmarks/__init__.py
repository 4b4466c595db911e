"""`make bench` (`python -m benchmarks`) and `make bench-quality` (`python -m benchmarks.quality`)."""

import os
from pathlib import Path

# The real annotation samples: `../shared/data` beside the checkout, or AHNPL_SHARED_DATA.
SHARED_DATA = Path(os.environ.get("AHNPL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
