"""End to end against the real local llama.cpp server (the `local` setup): recorded, then replayed without it.

llama-cpp-python's chat endpoint is what the bridge exists for: no
/v1/responses of its own in the kit's setup, tool-call deltas repeated as
legacy `function_call`, string-only assistant content, no usage while
streaming. Skipped when the `local` extra is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import kit
from kit.bridge import VectorStores, stream_response
from kit.setups import get_setup
from tests.bridge.helpers import assert_valid, of_type

pytestmark = pytest.mark.live

MODEL = get_setup("local").text_model
PLAIN = {"model": MODEL, "input": "Say hello in five words.", "max_output_tokens": 24, "temperature": 0}
SEARCH = {"model": MODEL, "input": "What is the capital of France?", "max_output_tokens": 24, "temperature": 0,
          "tools": [{"type": "file_search", "vector_store_ids": ["vs_geo"]}],
          "tool_choice": {"type": "file_search"}, "include": ["file_search_call.results"]}


@pytest.fixture(scope="module")
def local_server() -> Any:
    from kit.servers import LocalServerError, server_for_setup

    server = server_for_setup("local")
    try:
        server.start()
    except LocalServerError as exc:
        pytest.skip(f"the local llama.cpp server cannot start here: {exc}")
    yield server
    server.stop()


def test_bridge_over_the_local_server_records_and_replays(local_server: Any, tmp_path: Path) -> None:
    stores = VectorStores(tmp_path / "stores")
    stores.create("geography", store_id="vs_geo")
    stores.add_file("vs_geo", text="The capital of France is Paris.", filename="france.txt", file_id="file-france")
    recorder = kit.client("local", "record", base_url=local_server.base_url, recording_dir=tmp_path / "rec")
    recorded = [list(stream_response(recorder, request, stores=stores)) for request in (PLAIN, SEARCH)]
    for events in recorded:
        assert_valid(events)
        assert events[-1]["type"] in ("response.completed", "response.incomplete")
    assert of_type(recorded[0], "response.output_text.delta")
    searched = of_type(recorded[1], "response.output_item.done")[0]["item"]
    assert searched["type"] == "file_search_call" and searched["status"] == "completed"
    assert isinstance(searched["results"], list)  # included; what matches depends on the model's query
    assert all(r["file_id"] == "file-france" for r in searched["results"])

    replayer = kit.client("local", "replay", recording_dir=tmp_path / "rec")
    replayed = [list(stream_response(replayer, request, stores=stores)) for request in (PLAIN, SEARCH)]
    assert replayed == recorded
