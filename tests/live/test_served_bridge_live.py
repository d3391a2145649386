"""The bridge served over HTTP, over the real llama.cpp server: what any Responses client gets.

The same acceptance as the in-process bridge: its streams pass the rule
catalog with 0 errors, the openai SDK's `responses.stream()` helper consumes
them to a final response, and at temperature 0 they carry the same answer as
the in-process bridge over the same server (the local server is
deterministic). `kit check --url` of it reports 0 errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from kit.battery import BATTERY
from kit.bridge import stream_response
from kit.events.parse import sse_payloads
from kit.events import accumulate, parse, validate_stream
from kit.servers import LocalServer, port_is_free, server_for_setup
from kit.setups import get_setup
from kit.servers.bridge import BridgeServer

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeServer]:
    """The served bridge over llama.cpp behind the `bridge` setup's reasoning server (as `server:bridge` runs it)."""
    folder = tmp_path_factory.mktemp("served-bridge")
    with LocalServer(reasoning=get_setup("bridge").reasoning, log_path=folder / "llama.log") as upstream, \
            BridgeServer(upstream=upstream.base_url, log_path=folder / "bridge.log") as server:
        yield server


@pytest.fixture
def client(served: BridgeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="no-key", max_retries=0, timeout=300)


def errors(events: list[dict[str, Any]]) -> list[str]:
    return [str(v) for v in validate_stream(parse(events), "openai") if v.severity == "error"]


def raw_events(client: openai.OpenAI, request: dict[str, Any]) -> list[dict[str, Any]]:
    with client.responses.with_streaming_response.create(**request, stream=True) as answer:
        return list(sse_payloads(answer.iter_lines()))


def test_the_sdk_stream_helper_gets_the_same_answer_as_the_in_process_bridge(client: openai.OpenAI,
                                                                            sdk: openai.OpenAI) -> None:
    request = {"model": MODEL, "input": "Write one short sentence about the sea.", "temperature": 0,
               "max_output_tokens": 48}
    with client.responses.stream(**request) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    in_process = accumulate(parse(list(stream_response(sdk, request))))
    assert final.status == in_process.status
    assert final.output_text.strip() and final.output_text == in_process.text
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")


@pytest.mark.parametrize("probe", [p for p in BATTERY if p.needs in (None, "tools")], ids=lambda p: p.name)
def test_every_battery_probe_served_passes_the_catalog_and_its_expectation(probe: Any, client: openai.OpenAI) -> None:
    events = raw_events(client, {"model": MODEL, **probe.request})
    assert errors(events) == []
    assert probe.expect(parse(events)) is None


def test_file_search_over_a_store_made_through_the_api(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="kit_demo")
    client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=(
        "lighthouse.txt", b"The Old Harbor lighthouse was built in 1871. Its lamp is visible for 18 nautical miles."))
    events = raw_events(client, {
        "model": MODEL, "input": "When was the Old Harbor lighthouse built?",
        "tools": [{"type": "file_search", "vector_store_ids": [store.id]}], "tool_choice": {"type": "file_search"},
        "include": ["file_search_call.results"], "temperature": 0, "max_output_tokens": 64})
    assert errors(events) == []
    output = events[-1]["response"]["output"]
    search = next(item for item in output if item["type"] == "file_search_call")
    assert search["status"] == "completed"
    assert any("1871" in result["text"] for result in search["results"] or ())


def test_kit_check_url_of_the_served_bridge_reports_no_errors(served: BridgeServer) -> None:
    result = subprocess.run([sys.executable, "-m", "kit", "check", "--url", served.base_url, "--setup", "bridge",
                             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    probes = {r["file"]: r for r in map(json.loads, result.stdout.splitlines())}
    ran = {name: r for name, r in probes.items() if not r["skipped"]}
    assert set(ran) == {"probe:text", "probe:reasoning", "probe:function_tool", "probe:incomplete"}
    assert all(r["errors"] == 0 and r["request_error"] is None for r in ran.values())


def test_the_managed_bridge_setup_starts_and_stops_both_servers() -> None:
    server = server_for_setup("bridge")
    with server:
        assert server.local is not None and server.local.running and server.running
        bridge_port, local_port = server.port, server.local.port
        answer = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0).responses.create(
            model=MODEL, input="Say hi.", max_output_tokens=8, temperature=0)
        assert answer.status in ("completed", "incomplete") and answer.output_text
    assert not server.running and not server.local.running
    assert port_is_free("127.0.0.1", bridge_port) and port_is_free("127.0.0.1", local_port)


def test_a_three_turn_tool_loop_with_previous_response_id_then_retrieve_input_items_and_delete(
        client: openai.OpenAI, local_server: LocalServer) -> None:
    """The held-back check of the stateful surface, as OpenAI's API reference describes it, with the plain SDK
    against the served bridge over the real llama.cpp server: each turn sends only what is new."""
    weather = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    common = {"model": MODEL, "tools": [weather], "temperature": 0, "max_output_tokens": 48}
    first = client.responses.create(input="What is the weather in Paris?",
                                    tool_choice={"type": "function", "name": "get_weather"}, **common)
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments)
    second = client.responses.create(previous_response_id=first.id, tool_choice="none", **common, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny and 21 degrees."}])
    assert second.previous_response_id == first.id and second.output_text.strip()
    third = client.responses.create(previous_response_id=second.id, input="Thanks. Answer in one word: sunny?",
                                    tool_choice="none", **common)
    assert third.previous_response_id == second.id and third.status in ("completed", "incomplete")

    stored = client.responses.retrieve(third.id)
    assert stored.model_dump() == third.model_dump()  # the stored response is the one returned
    items = client.responses.input_items.list(third.id, order="asc")
    assert [i.type for i in items.data] == ["message", "function_call", "function_call_output", "message", "message"]
    assert items.data[1].call_id == call.call_id and items.data[2].output == "Sunny and 21 degrees."
    assert items.data[3].role == "assistant" and items.data[4].role == "user"

    deleted = client.responses.with_raw_response.delete(third.id)
    assert deleted.http_response.status_code == 200 and deleted.http_response.json()["deleted"] is True
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(third.id)
    assert client.responses.retrieve(second.id).id == second.id  # only that one
