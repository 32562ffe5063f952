"""Shared test fixtures: where the real (research-only) reference files live, if they are present."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "charades-sta"


@pytest.fixture
def real_data() -> Path:
    """The real Charades-STA annotation files in ../shared; tests using it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("real Charades-STA annotations (../shared/data/charades-sta) not present")
    return SHARED_DATA
