"""`make bench` (`python -m benchmarks`) and `make bench-quality` (`python -m benchmarks.quality`)."""

import os
from pathlib import Path

# The real annotation samples shipped with the tests (tests/fixtures/README.md); AHNPL_SHARED_DATA overrides.
_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "data"
SHARED_DATA = Path(os.environ.get("AHNPL_SHARED_DATA", _FIXTURES))
