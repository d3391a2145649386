from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "MANIFEST.tsv").is_file():
        pytest.skip(f"real captured streams not found at {FIXTURES} (../shared/fixtures next to the project)")
    return FIXTURES.resolve()


@pytest.fixture
def loopback(fixtures_dir: Path):
    from tests.loopback import LoopbackServer

    with LoopbackServer() as server:
        yield server
