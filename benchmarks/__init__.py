"""`make bench` (`python -m benchmarks`) and `make bench-quality` (`python -m benchmarks.quality`)."""

import os
from pathlib import Path

# The real annotation samples shipped with the tests (tests/fixtures/README.md); AHNPL_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("AHNPL_SHARED_DATA", Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "data"))
