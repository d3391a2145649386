"""Responses WebSocket mode, live: the issue's done-when test.

A kit client records a two-turn WebSocket session (a function call, then its output sent with only
`previous_response_id` and `store: false`) against `kit serve bridge` over the real llama.cpp server; the
server is stopped; the openai SDK replays the session, sync and async, to the same events. The recorded
frames pass the rule catalog (the `ws.*` rules included).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.events import validate_socket
from kit.recording.store import load_recording
from kit.servers import LocalServer
from kit.servers.bridge import BridgeServer
from tests.recording.test_socket_relay import ENDS, turn_events

pytestmark = pytest.mark.live
MODEL = "smollm2-135m-instruct"
WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TURN = {"model": MODEL, "temperature": 0, "max_output_tokens": 24, "store": False}


def turn(connection: Any, **request: Any) -> list[dict[str, Any]]:
    connection.response.create(**TURN, **request)
    return turn_events(connection)


def tool_loop(client: Any) -> list[dict[str, Any]]:
    with client.responses.connect() as connection:
        first = turn(connection, input="What is the weather in Paris?", tools=[WEATHER],
                     tool_choice={"type": "function", "name": "get_weather"})
        call = next(i for i in first[-1]["response"]["output"] if i["type"] == "function_call")
        second = turn(connection, previous_response_id=first[-1]["response"]["id"], tools=[WEATHER],
                      input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny, 21 C"}])
    return first + second


async def tool_loop_async(client: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with client.responses.connect() as connection:
        await connection.response.create(**TURN, input="What is the weather in Paris?", tools=[WEATHER],
                                         tool_choice={"type": "function", "name": "get_weather"})
        async for event in connection:
            events.append(event.model_dump(exclude_none=True))
            if event.type in ENDS:
                break
        call = next(i for i in events[-1]["response"]["output"] if i["type"] == "function_call")
        await connection.response.create(**TURN, previous_response_id=events[-1]["response"]["id"], tools=[WEATHER],
                                         input=[{"type": "function_call_output", "call_id": call["call_id"],
                                                 "output": "sunny, 21 C"}])
        async for event in connection:
            events.append(event.model_dump(exclude_none=True))
            if event.type in ENDS:
                break
    return events


def test_a_two_turn_session_recorded_from_the_served_bridge_replays_with_the_server_stopped(
        tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    with LocalServer(log_path=tmp_path / "llama.log") as upstream, \
            BridgeServer(upstream=upstream.base_url, log_path=tmp_path / "bridge.log") as served:
        recorded = tool_loop(kit.client("bridge", "record", base_url=served.base_url, recording_dir=folder))
        base_url = served.base_url
    assert [e["type"] for e in recorded].count("response.completed") == 2
    assert recorded[-1]["response"]["previous_response_id"] == \
        recorded[[e["type"] for e in recorded].index("response.completed")]["response"]["id"]
    with pytest.raises(Exception):  # the server is gone
        kit.client("bridge", "live", base_url=base_url).models.list()
    assert tool_loop(kit.client("bridge", "replay", recording_dir=folder)) == recorded
    assert asyncio.run(tool_loop_async(kit.async_client("bridge", "replay", recording_dir=folder))) == recorded
    (file,) = folder.glob("bridge/responses/*.json")
    frames = load_recording(file).response["frames"]
    assert [str(v) for v in validate_socket(frames) if v.severity == "error"] == []
