from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "captures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "MANIFEST.tsv").is_file():  # part of the repository: missing data is a failure
        pytest.fail(f"real captured streams not found at {FIXTURES}: the clone is incomplete (git checkout tests/captures)")
    return FIXTURES.resolve()


@pytest.fixture
def loopback(fixtures_dir: Path):
    from tests.loopback import LoopbackServer

    with LoopbackServer() as server:
        yield server
