"""Live tests: the kit starts the real llama.cpp server on SmolLM2-135M-Instruct.

They skip only when llama-cpp-python is not installed (the `local` extra);
every other problem (no model file, a crash while starting) fails loudly
with the error that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import openai
import pytest

from kit.servers import INSTALL_HINT, LocalServer

SEED = 7


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if find_spec("llama_cpp") is None:
        skip = pytest.mark.skip(reason=f"llama-cpp-python is not installed: {INSTALL_HINT} builds it (about 8 min)")
        for item in items:
            if "live" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    log = Path(tmp_path_factory.mktemp("local-server")) / "server.log"
    with LocalServer(log_path=log) as server:
        yield server


@pytest.fixture
def sdk(local_server: LocalServer) -> openai.OpenAI:
    """The plain openai SDK on the managed server: what a user's own code would do."""
    return openai.OpenAI(base_url=local_server.base_url, api_key="no-key", max_retries=0, timeout=300)
