"""The WebSocket tool loop behind responses/websocket_mode (kit.notebook.socket_loop), outside a kernel.

On `bridge` it replays the committed recording the kit's record mode made from the served bridge over llama.cpp
(no server runs here); `local` is unsupported with its reason; a server that refuses the upgrade is unsupported
quoting its answer (the served bridge itself, with a client key the request lacks: a real refusal).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import kit.notebook as nb
from kit.events import parse
from kit.notebook.checks import CapabilityMissing, StreamCheckFailed
from kit.notebook.socket_loop import SocketRun, expect_continued, socket_summary
from kit.servers.bridge_app import BridgeConfig
from tests.loopback import LoopbackServer
from tests.servers.hostile import bridge_in_process

ROOT = Path(__file__).resolve().parents[1]
WEATHER = {"type": "function", "name": "get_weather", "description": "Get the current weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
REQUEST = {"input": "What is the weather in Paris?", "tools": [WEATHER],
           "tool_choice": {"type": "function", "name": "get_weather"}, "temperature": 0, "max_output_tokens": 32}


def answer(name: str, args: dict[str, Any]) -> str:
    return f"{args.get('city', 'there')}: sunny, 21 C"


def test_the_recorded_bridge_loop_replays_two_turns_on_one_socket_with_no_ws_violation() -> None:
    scenario = nb.start({"setup": "bridge", "recording_dir": str(ROOT / "recordings")})
    run = scenario.socket_tool_loop(REQUEST, answer, show=False)
    assert len(run.turns) == 2 and run.violations == []
    assert nb.expect_function_call(run.turns[0], "get_weather") == {"city": "Paris"}
    last = expect_continued(run)
    assert "sunny" in nb.accumulate(last).text
    assert [f["from"] for f in run.frames].count("client") == 2
    assert scenario.result().streams[-1].title == "bridge · WebSocket mode · the socket"
    assert "2 message(s) sent" in socket_summary(run) and "no violation of the ws.* rules" in socket_summary(run)


def test_a_second_turn_that_does_not_continue_the_first_misses_the_expectation() -> None:
    scenario = nb.start({"setup": "bridge", "recording_dir": str(ROOT / "recordings")})
    run = scenario.socket_tool_loop(REQUEST, answer, show=False)
    events = [copy.deepcopy(e.raw) for e in run.turns[1].events]
    for event in events:
        if isinstance(event.get("response"), dict):
            event["response"]["previous_response_id"] = None
    broken = SocketRun(run.title, run.frames, [run.turns[0], parse(events)])
    with pytest.raises(StreamCheckFailed, match="names previous_response_id None"):
        expect_continued(broken)
    with pytest.raises(StreamCheckFailed, match="expected a second turn"):
        expect_continued(SocketRun(run.title, run.frames, run.turns[:1]))


def test_the_in_process_bridge_is_unsupported_with_its_reason() -> None:
    scenario = nb.start({"setup": "local"})
    with pytest.raises(CapabilityMissing, match="lacks a server: it runs the kit's bridge in-process"):
        scenario.socket_tool_loop(REQUEST, answer, show=False)


def test_a_refused_upgrade_is_unsupported_quoting_the_servers_answer(tmp_path: Path) -> None:
    with LoopbackServer() as upstream, bridge_in_process(BridgeConfig(upstream=upstream.base_url,
                                                                      api_key="a-key-this-client-lacks")) as url:
        scenario = nb.start({"setup": "bridge", "mode": "record", "base_url": url, "recording_dir": str(tmp_path)})
        with pytest.raises(CapabilityMissing) as caught:
            scenario.socket_tool_loop(REQUEST, answer, show=False)
    text = str(caught.value)
    assert "setup 'bridge' does not support Responses WebSocket mode" in text
    assert "HTTP 401" in text and "invalid_api_key" in text
    replayed = nb.start({"setup": "bridge", "recording_dir": str(tmp_path)})
    with pytest.raises(CapabilityMissing) as again:
        replayed.socket_tool_loop(REQUEST, answer, show=False)
    assert str(again.value) == text
