"""Responses WebSocket mode on the served bridge (`/v1/responses`), driven by the openai SDK's own
`responses.connect()` and parsed by its own event types (`ResponsesServerEvent`, `ResponseWsError`).

Expected values come from the SDK's documentation of the mode (`responses.connect`, `response.create`'s
`stream_id`: "Requests with the same stream_id are processed FIFO, and events for the response echo the same
stream_id") and the issue's contract (previous_response_id held per connection, even with store:false). The
upstream is the loopback server of real captured chat streams; the fault-injection half runs the hostile
upstream of tests/servers/hostile.py.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import openai
import pytest
import websockets.exceptions
from websockets.sync.client import connect as ws_connect

from kit.servers.bridge import BridgeServer
from kit.servers.bridge_app import BridgeConfig
from kit.servers.bridge_app.upstream import UpstreamTimeouts
from kit.servers.bridge_app.wire import ws_error_frame, ws_frame
from tests.loopback import LoopbackServer
from tests.servers.test_bridge_state import served, upstream  # noqa: F401 - the same two fixtures
from tests.servers.hostile import HostileUpstream, bridge_in_process, wait_threads

TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TOOL_CALL = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


# -- the frames, pure --------------------------------------------------------------------------------------------


def test_an_sse_shaped_error_event_becomes_the_websocket_error_shape_with_its_lane() -> None:
    frame = ws_frame({"type": "error", "code": "upstream_timeout", "message": "late", "param": None,
                      "sequence_number": 7}, "lane-1")
    parsed = openai.types.responses.responses_server_event.ResponseWsError.model_validate(frame)
    assert (parsed.error.code, parsed.error.message, parsed.sequence_number, parsed.stream_id) == \
        ("upstream_timeout", "late", 7, "lane-1")
    assert ws_frame({"type": "response.created", "sequence_number": 0}, None) == \
        {"type": "response.created", "sequence_number": 0}
    refused = ws_error_frame("no", status=404, code="not_found")
    assert refused == {"type": "error", "status": 404,
                       "error": {"type": "invalid_request_error", "code": "not_found", "message": "no", "param": None}}


# -- served, over the loopback upstream of real captures ---------------------------------------------------------


@pytest.fixture
def client(served: BridgeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="none", max_retries=0, timeout=60)


def until_terminal(connection: Any) -> list[Any]:
    events = []
    for event in connection:
        events.append(event)
        if event.type in TERMINAL or (event.type == "error" and getattr(event, "status", None)):
            return events
    raise AssertionError(f"the socket closed after {[e.type for e in events]}")


def test_a_tool_loop_over_one_socket_keeps_store_false_responses_for_the_next_turn(
        client: openai.OpenAI, upstream: LoopbackServer) -> None:
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="weather in Tokyo?", tools=[WEATHER], store=False,
                                   user=f"fixture:{TOOL_CALL}")
        first = until_terminal(connection)
        assert [e.type for e in first][:2] == ["response.created", "response.in_progress"]
        assert first[-1].type == "response.completed" and first[-1].response.store is False
        call = next(i for i in first[-1].response.output if i.type == "function_call")
        connection.response.create(model="m", previous_response_id=first[-1].response.id, store=False,
                                   tools=[WEATHER], input=[{"type": "function_call_output", "call_id": call.call_id,
                                                            "output": "sunny, 21 C"}], user=f"fixture:{TEXT}")
        second = until_terminal(connection)
    assert second[-1].type == "response.completed"
    assert second[-1].response.previous_response_id == first[-1].response.id
    messages = json.loads(upstream.requests[-1]["body"])["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny, 21 C"}
    # every sequence number of each response counts from 0 without a gap
    for events in (first, second):
        assert [e.sequence_number for e in events] == list(range(len(events)))


def test_a_store_false_response_is_held_by_its_own_connection_only(client: openai.OpenAI) -> None:
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="hi", store=False, user=f"fixture:{TEXT}")
        response_id = until_terminal(connection)[-1].response.id
    with client.responses.connect() as other:
        other.response.create(model="m", input="again", previous_response_id=response_id, user=f"fixture:{TEXT}")
        error = other.recv()
    assert error.type == "error" and error.status == 404
    assert error.error.code == "previous_response_not_found" and error.error.param == "previous_response_id"
    assert response_id in error.error.message


def test_a_stored_response_continues_on_another_connection(client: openai.OpenAI) -> None:
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="hi", user=f"fixture:{TEXT}")
        response_id = until_terminal(connection)[-1].response.id
    with client.responses.connect() as other:
        other.response.create(model="m", input="again", previous_response_id=response_id, user=f"fixture:{TEXT}")
        events = until_terminal(other)
    assert events[-1].type == "response.completed" and events[-1].response.previous_response_id == response_id


def test_each_lane_echoes_its_stream_id_and_runs_its_requests_one_after_the_other(client: openai.OpenAI) -> None:
    with client.responses.connect() as connection:
        for lane in ("a", "a", "b"):
            connection.response.create(model="m", input=f"hi {lane}", store=False, stream_id=lane,
                                       user=f"fixture:{TEXT}")
        events, ended = [], 0
        for event in connection:
            events.append(event)
            ended += event.type in TERMINAL
            if ended == 3:
                break
    assert all(e.stream_id in ("a", "b") for e in events)
    lane_a = [e for e in events if e.stream_id == "a"]
    created = [n for n, e in enumerate(lane_a) if e.type == "response.created"]
    done = [n for n, e in enumerate(lane_a) if e.type in TERMINAL]
    assert len(created) == 2 and done[0] < created[1]  # the second waits for the first to end
    assert len({e.response.id for e in events if e.type in TERMINAL}) == 3


def _read_turn(socket: Any) -> list[str]:
    """The first and the terminal event type of one turn, read to its end. A test that closed after the first
    frame would wait out the client's close timeout (10 s) whenever the turn's other frames filled the sync
    client's receive queue (websockets' `max_queue`, 16): the client stops reading, so never sees the close reply."""
    types = [json.loads(socket.recv(timeout=10))["type"]]
    while types[-1] not in TERMINAL:
        types.append(json.loads(socket.recv(timeout=10))["type"])
    return [types[0], types[-1]]


@pytest.mark.parametrize("message, code, param", [
    ("{not json", "invalid_json", None),
    ('{"type": "response.cancel"}', "invalid_event", "type"),
    ('{"type": "response.create", "input": "hi"}', "missing_required_parameter", "model"),
    ('{"type": "response.create", "model": "m", "input": "hi", "background": true}', "unsupported_parameter",
     "background"),
    ('{"type": "response.create", "model": "m", "input": "hi", "stream_id": 5}', "invalid_type", "stream_id"),
    ('{"type": "response.create", "model": "m", "input": 7}', "invalid_request", "input"),
])
def test_a_request_the_bridge_cannot_take_is_an_error_frame_and_the_socket_stays_open(
        served: BridgeServer, message: str, code: str, param: str | None) -> None:
    with ws_connect(served.base_url.replace("http", "ws", 1) + "/responses") as socket:
        socket.send(message)
        frame = json.loads(socket.recv(timeout=10))
        parsed = openai.types.responses.responses_server_event.ResponseWsError.model_validate(frame)
        assert parsed.status == 400 and parsed.error.code == code and parsed.error.param == param
        socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "store": False,
                                "user": f"fixture:{TEXT}"}))
        assert _read_turn(socket) == ["response.created", "response.completed"]  # the connection goes on


def test_browsers_and_keyless_clients_are_refused_at_the_upgrade(upstream: LoopbackServer) -> None:
    key = secrets.token_urlsafe(16)  # made at run time: no key-shaped literal in the tree
    config = BridgeConfig(upstream=upstream.base_url, api_key=key, bind_host="127.0.0.1")
    with bridge_in_process(config) as url:
        socket_url = url.replace("http", "ws", 1) + "/responses"
        with pytest.raises(websockets.exceptions.InvalidStatus) as keyless:
            ws_connect(socket_url)
        with pytest.raises(websockets.exceptions.InvalidStatus) as browser:
            ws_connect(socket_url, origin="http://evil.example", additional_headers={
                "authorization": f"Bearer {key}"})
        with ws_connect(socket_url, additional_headers={"authorization": f"Bearer {key}"}) as ok:
            ok.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "store": False,
                                "user": f"fixture:{TEXT}"}))
            assert _read_turn(ok) == ["response.created", "response.completed"]
    assert keyless.value.response.status_code == 401
    assert json.loads(keyless.value.response.body)["error"]["code"] == "invalid_api_key"
    assert browser.value.response.status_code == 403


# -- fault injection: the hostile upstream --------------------------------------------------------------------------


@pytest.mark.fault_injection
def test_a_socket_outlives_the_header_timeout_and_a_stalled_upstream_ends_in_error_and_failed() -> None:
    with HostileUpstream() as hostile:
        config = BridgeConfig(upstream=hostile.base_url, header_timeout=0.5,
                              timeouts=UpstreamTimeouts(connect=2.0, first_byte=1.0, idle=1.0))
        with bridge_in_process(config) as url, ws_connect(url.replace("http", "ws", 1) + "/responses") as socket:
            time.sleep(1.0)  # past the header timeout: the upgraded socket must stay open
            socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "user": "stall-mid",
                                    "stream_id": "s"}))
            frames = []
            while not frames or frames[-1]["type"] not in TERMINAL:
                frames.append(json.loads(socket.recv(timeout=10)))
    assert [f["type"] for f in frames[-2:]] == ["error", "response.failed"]
    error = openai.types.responses.responses_server_event.ResponseWsError.model_validate(frames[-2])
    assert error.error.code == "upstream_timeout" and error.stream_id == "s"
    assert all(f.get("stream_id") == "s" for f in frames)
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))


@pytest.mark.fault_injection
def test_a_client_that_leaves_mid_response_cancels_the_upstream_call_at_once() -> None:
    with HostileUpstream() as hostile:
        config = BridgeConfig(upstream=hostile.base_url, timeouts=UpstreamTimeouts(connect=2.0, first_byte=60.0,
                                                                                  idle=60.0))
        with bridge_in_process(config) as url:
            with ws_connect(url.replace("http", "ws", 1) + "/responses") as socket:
                socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "user": "stall"}))
                deadline = time.monotonic() + 5
                while hostile.accepted == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
            began = time.monotonic()
            assert hostile.wait_closed(5.0) == 0 and time.monotonic() - began < 3
            assert wait_threads(5.0) == 0


@pytest.mark.fault_injection
def test_the_callers_token_echoed_by_the_upstream_never_reaches_the_socket() -> None:
    token = "caller-token-" + "0123456789abcdef"
    with HostileUpstream() as hostile, bridge_in_process(BridgeConfig(upstream=hostile.base_url)) as url:
        with ws_connect(url.replace("http", "ws", 1) + "/responses",
                        additional_headers={"authorization": f"Bearer {token}"}) as socket:
            socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "user": "echo-auth"}))
            frames = [socket.recv(timeout=10)]
            while json.loads(frames[-1])["type"] not in TERMINAL:
                frames.append(socket.recv(timeout=10))
    error = next(json.loads(f) for f in frames if json.loads(f)["type"] == "error")
    assert error["error"]["code"] == "invalid_api_key" and "Bearer REDACTED" in error["error"]["message"]
    assert not any(token in f for f in frames)


@pytest.mark.fault_injection
def test_two_lanes_run_side_by_side() -> None:
    """Lane b's response is not held behind lane a's stalled one."""
    with HostileUpstream() as hostile:
        config = BridgeConfig(upstream=hostile.base_url, timeouts=UpstreamTimeouts(connect=2.0, first_byte=3.0,
                                                                                  idle=3.0))
        with bridge_in_process(config) as url, ws_connect(url.replace("http", "ws", 1) + "/responses") as socket:
            socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "user": "stall",
                                    "stream_id": "a"}))
            socket.send(json.dumps({"type": "response.create", "model": "m", "input": "hi", "user": "fine",
                                    "stream_id": "b"}))
            first = json.loads(socket.recv(timeout=10))
    assert first["stream_id"] == "b"
