"""Record and replay of Responses WebSocket mode: the openai SDK's own `client.responses.connect()`, sync and
async, through a kit client, recorded from the served bridge (over the loopback server of real captured chat
streams) and replayed with no server. The live twin over llama.cpp is tests/live/test_websocket_live.py.

What is expected comes from the issue's contract (each frame with direction, order and arrival time; the key from
the `response.create` bodies; replay pacing as for HTTP; a replay miss naming the file or request and what to do;
no secret on disk) and from the SDK: the events it parses in replay equal those it parsed while recording.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets.exceptions

import kit
from kit.recording.client import socket_route_of
from kit.recording.errors import RefusedToRecord, ReplayMiss
from kit.recording.socket_relay import REPLAY_MISS_CODE, ReplayDiverged
from kit.recording.store import load_recording
from kit.servers.bridge import BridgeServer
from kit.servers.bridge_app import BridgeConfig
from tests.loopback import LoopbackServer
from tests.servers.hostile import bridge_in_process

TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TOOL_CALL = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
ENDS = ("response.completed", "response.incomplete", "response.failed", "error")


def turn_events(connection: Any) -> list[dict[str, Any]]:
    """The events of one turn as the SDK parsed them, up to its end (or an error frame)."""
    events = []
    for event in connection:
        events.append(event.model_dump(exclude_none=True))
        if event.type in ENDS:
            return events
    raise AssertionError("the socket closed mid-turn")


def one_turn(connection: Any, **request: Any) -> list[dict[str, Any]]:
    connection.response.create(model="m", store=False, **request)
    return turn_events(connection)


def two_turns(client: openai.OpenAI, second_input: str = "and tomorrow?") -> list[dict[str, Any]]:
    with client.responses.connect() as connection:
        first = one_turn(connection, input="weather in Tokyo?", tools=[WEATHER],
                         user=f"fixture:{TOOL_CALL}")
        second = one_turn(connection, input=second_input, previous_response_id=first[-1]["response"]["id"],
                          user=f"fixture:{TEXT}")
    return first + second


async def two_turns_async(client: openai.AsyncOpenAI) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with client.responses.connect() as connection:
        for request in ({"input": "weather in Tokyo?", "tools": [WEATHER],
                         "user": f"fixture:{TOOL_CALL}"},
                        {"input": "and tomorrow?", "user": f"fixture:{TEXT}"}):
            if events:
                request["previous_response_id"] = events[-1]["response"]["id"]
            await connection.response.create(model="m", store=False, **request)
            async for event in connection:
                events.append(event.model_dump(exclude_none=True))
                if event.type in ENDS:
                    break
    return events


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """A two-turn session recorded from the served bridge, which is stopped before any replay."""
    folder = tmp_path_factory.mktemp("ws-recordings")
    with LoopbackServer() as upstream, BridgeServer(upstream=upstream.base_url) as served:
        client = kit.client("bridge", "record", base_url=served.base_url, recording_dir=folder)
        events = two_turns(client)
    yield folder, events


def test_a_recorded_session_replays_to_the_same_events_sync_and_async(
        recorded: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, events = recorded
    assert [e["type"] for e in events].count("response.completed") == 2
    assert two_turns(kit.client("bridge", "replay", recording_dir=folder)) == events
    assert asyncio.run(two_turns_async(kit.async_client("bridge", "replay", recording_dir=folder))) == events


def test_the_session_is_one_file_of_frames_with_direction_order_and_arrival_time(
        recorded: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, events = recorded
    files = sorted(folder.glob("bridge/responses/*.json"))
    assert len(files) == 1
    recording = load_recording(files[0])
    assert recording.request["method"] == "WEBSOCKET" and recording.request["path"] == "/v1/responses"
    frames = recording.response["frames"]
    assert [f["from"] for f in frames].count("client") == 2
    assert [f["json"] for f in frames if f["from"] == "server"] == \
        [json.loads(json.dumps(e)) for e in _wire(events, frames)]
    times = [f["t"] for f in frames]
    assert times == sorted(times) and times[-1] > 0
    assert frames[0]["from"] == "client" and frames[0]["json"]["type"] == "response.create"
    second = [f for f in frames if f["from"] == "client"][1]["json"]
    assert second["previous_response_id"] == events[[e["type"] for e in events].index("response.completed")][
        "response"]["id"]
    assert recording.request["body"] == frames[0]["json"]  # the key's body: the first response.create
    assert recording.response["close"] == {"by": "client", "code": 1000, "reason": ""}


def _wire(events: list[dict[str, Any]], frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server frames as sent: the SDK's parse of them drops nothing the test compares (types, ids, order)."""
    server = [f["json"] for f in frames if f["from"] == "server"]
    assert [f["type"] for f in server] == [e["type"] for e in events]
    assert [f.get("sequence_number") for f in server] == [e.get("sequence_number") for e in events]
    return server


def test_realtime_replay_keeps_the_recorded_pace(recorded: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, events = recorded
    frames = load_recording(next(folder.glob("bridge/responses/*.json"))).response["frames"]
    # the time the server took for each turn: from the client's message to the turn's last frame
    clients = [n for n, f in enumerate(frames) if f["from"] == "client"]
    recorded_waits = sum(frames[end - 1]["t"] - frames[start]["t"]
                         for start, end in zip(clients, [*clients[1:], len(frames)]))
    client = kit.client("bridge", "replay", recording_dir=folder, replay_style="realtime")
    began = time.perf_counter()
    assert two_turns(client) == events
    assert time.perf_counter() - began >= recorded_waits * 0.9


def test_a_first_message_with_no_recording_is_a_helpful_miss(recorded: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, _ = recorded
    client = kit.client("bridge", "replay", recording_dir=folder)
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="weather in Paris?", store=False)
        error = connection.recv()
    assert error.type == "error" and error.error.code == REPLAY_MISS_CODE and error.status == 404
    message = error.error.message
    assert "no recording for this request (mode=replay, setup=bridge): WEBSOCKET /v1/responses model=m" in message
    assert "nearest recording for the same endpoint" in message and "weather in Paris?" in message
    assert "--inference-mode record-if-missing" in message
    with pytest.raises(ReplayMiss) as raised:
        socket_route_of(client).raise_error()
    assert str(raised.value) == message


def test_a_later_message_that_differs_names_the_file_the_message_and_the_diff(
        recorded: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, _ = recorded
    client = kit.client("bridge", "replay", recording_dir=folder)
    with client.responses.connect() as connection:
        first = one_turn(connection, input="weather in Tokyo?", tools=[WEATHER],
                         user=f"fixture:{TOOL_CALL}")
        assert first[-1]["type"] == "response.completed"
        diverged = one_turn(connection, input="and next week?", previous_response_id=first[-1]["response"]["id"])
    message = diverged[-1]["error"]["message"]
    path = str(next(folder.glob("bridge/responses/*.json")))
    assert message.startswith(f"{path}: client message 1 of this WebSocket session differs")
    assert '- "input": "and tomorrow?",' in message and '+ "input": "and next week?",' in message
    with pytest.raises(ReplayDiverged):
        socket_route_of(client).raise_error()


def test_record_if_missing_replays_what_exists_and_records_the_rest(
        recorded: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    folder, events = recorded
    for file in folder.glob("bridge/responses/*.json"):
        (tmp_path / "bridge" / "responses").mkdir(parents=True, exist_ok=True)
        (tmp_path / "bridge" / "responses" / file.name).write_text(file.read_text())
    replayed = kit.client("bridge", "record-if-missing", base_url="http://127.0.0.1:9/v1", recording_dir=tmp_path)
    assert two_turns(replayed) == events  # nothing listens on port 9: this came from the recording
    with LoopbackServer() as upstream, BridgeServer(upstream=upstream.base_url) as served:
        client = kit.client("bridge", "record-if-missing", base_url=served.base_url, recording_dir=tmp_path)
        with client.responses.connect() as connection:
            new = one_turn(connection, input="something new", user=f"fixture:{TEXT}")
    assert new[-1]["type"] == "response.completed"
    assert len(list(tmp_path.glob("bridge/responses/*.json"))) == 2
    with kit.client("bridge", "replay", recording_dir=tmp_path).responses.connect() as connection:
        assert one_turn(connection, input="something new", user=f"fixture:{TEXT}") == new


def test_a_refused_upgrade_is_recorded_and_replayed_as_the_same_http_answer(tmp_path: Path) -> None:
    with LoopbackServer() as upstream, bridge_in_process(BridgeConfig(upstream=upstream.base_url,
                                                                      api_key="the-bridge-client-key")) as url:
        client = kit.client("bridge", "record", base_url=url, api_key="not-the-key", recording_dir=tmp_path)
        with pytest.raises(websockets.exceptions.InvalidStatus) as live:
            client.responses.connect().enter()
    replay = kit.client("bridge", "replay", recording_dir=tmp_path)
    with pytest.raises(websockets.exceptions.InvalidStatus) as replayed:
        replay.responses.connect().enter()
    assert live.value.response.status_code == replayed.value.response.status_code == 401
    assert json.loads(replayed.value.response.body) == json.loads(live.value.response.body)
    assert json.loads(replayed.value.response.body)["error"]["code"] == "invalid_api_key"
    text = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "not-the-key" not in text and "the-bridge-client-key" not in text


def test_no_secret_reaches_the_recording_and_a_credential_in_a_frame_is_refused(tmp_path: Path) -> None:
    key = "kit-client-key-" + "0123456789"
    with LoopbackServer() as upstream, BridgeServer(upstream=upstream.base_url) as served:
        client = kit.client("bridge", "record", base_url=served.base_url, api_key=key, recording_dir=tmp_path)
        with client.responses.connect() as connection:
            assert one_turn(connection, input="hi", user=f"fixture:{TEXT}")[-1]["type"] == "response.completed"
        leaked = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
        with client.responses.connect() as connection:
            one_turn(connection, input=f"my key is {leaked}", user=f"fixture:{TEXT}")
        deadline = time.monotonic() + 5
        while not socket_route_of(client).errors and time.monotonic() < deadline:
            time.sleep(0.02)  # the session is written (or refused) when the socket has closed
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1 and key not in files[0].read_text()
    with pytest.raises(RefusedToRecord, match="credential-looking value"):
        socket_route_of(client).raise_error()
    assert not any(leaked.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
