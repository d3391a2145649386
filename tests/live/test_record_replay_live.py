"""Record from the managed server through `kit.client`, replay from disk, and judge both.

Each flow (a plain text stream, a forced function call, a file search) is a
Responses request served by the bridge over the server's Chat Completions
stream, recorded into a temporary store by the kit's own record mode. The
replayed events must be identical to the live ones, and the validator's
findings on them are reported (printed, and attached to the test report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.bridge import VectorStores, stream_response
from kit.events import parse, summarize, validate_stream
from kit.servers import LocalServer

pytestmark = pytest.mark.live

RESPONSE_ID = "resp_live_test"  # fixed, so a live and a replayed run name the response alike
CREATED_AT = 1_700_000_000


def record_and_replay(server: LocalServer, store: Path, request: dict[str, Any],
                      **options: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bridged events of `request`, live (recorded into `store`) and replayed from `store`."""
    request = {"model": server.model_alias, "temperature": 0, **request}
    recorder = kit.client("local", "record", base_url=server.base_url, recording_dir=store)
    live = list(stream_response(recorder, request, response_id=RESPONSE_ID, created_at=CREATED_AT, **options))
    player = kit.client("local", "replay", recording_dir=store)
    replayed = list(stream_response(player, request, response_id=RESPONSE_ID, created_at=CREATED_AT, **options))
    return live, replayed


def findings(events: list[dict[str, Any]], record_property: Any) -> dict[str, Any]:
    """The validator's verdict on a stream, shown with the test's result."""
    violations = validate_stream(parse(events))
    report = {**summarize(violations), "violations": [f"{v.severity} {v.rule}: {v.message}" for v in violations]}
    record_property("validator", json.dumps(report))
    print(json.dumps(report, indent=1))
    return report


def terminal(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events and events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    return events[-1]["response"]


def test_plain_text_stream_replays_identically(local_server, tmp_path, record_property) -> None:
    live, replayed = record_and_replay(local_server, tmp_path, {"input": "Name three colors.", "max_output_tokens": 40})
    assert replayed == live
    response = terminal(live)
    assert response["status"] in ("completed", "incomplete"), response
    text = "".join(e["delta"] for e in live if e["type"] == "response.output_text.delta")
    assert text.strip()
    assert list(tmp_path.rglob("*.json")), "nothing was recorded"
    report = findings(live, record_property)
    assert report["errors"] == 0, report["violations"]


def test_forced_function_call_replays_identically(local_server, tmp_path, record_property) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "Get the current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    live, replayed = record_and_replay(local_server, tmp_path, {
        "input": "What is the weather in Paris?", "tools": [tool],
        "tool_choice": {"type": "function", "name": "get_weather"}})
    assert replayed == live
    calls = [item for item in terminal(live)["output"] if item["type"] == "function_call"]
    assert [c["name"] for c in calls] == ["get_weather"]
    assert "paris" in str(json.loads(calls[0]["arguments"]).get("city", "")).lower()
    report = findings(live, record_property)
    assert report["errors"] == 0, report["violations"]


def test_file_search_flow_replays_identically(local_server, tmp_path, record_property) -> None:
    stores = VectorStores(tmp_path / "stores")
    store = stores.create("rivers")
    stores.add_file(store["id"], text="The Danube flows through ten countries and ends in the Black Sea.",
                    filename="danube.txt")
    stores.add_file(store["id"], text="The Rhine rises in the Swiss Alps and reaches the North Sea.",
                    filename="rhine.txt")
    live, replayed = record_and_replay(local_server, tmp_path / "recordings", {
        "input": "Where does the Danube end?", "max_output_tokens": 60,
        "tools": [{"type": "file_search", "vector_store_ids": [store["id"]]}],
        "tool_choice": {"type": "file_search"}}, stores=stores)
    assert replayed == live
    output = terminal(live)["output"]
    searches = [item for item in output if item["type"] == "file_search_call"]
    assert searches and all(s["status"] == "completed" for s in searches)
    assert any(item["type"] == "message" for item in output)
    report = findings(live, record_property)
    assert report["errors"] == 0, report["violations"]
