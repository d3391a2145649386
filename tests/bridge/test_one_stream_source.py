"""One stream source: a chat payload that is not JSON gives the same events live, recorded and replayed.

Before, the bridged route was decoded by the openai SDK, which raised on such a
payload live, while the same bytes read from a capture became an error chunk.
Now the upstream body is read by the kit's one SSE decoder on every path. The
loopback server sends a real captured chat stream with one payload cut in half
(fault injection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

import kit
from kit.bridge import bridge_capture
from kit.events import Event, NotJSONEvent, parse_sse
from kit.setups import get_setup
from kit.sources import BridgedEvents, responses_events

QWEN = "llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-d1edbcab.jsonl"
GARBLED = 7  # the chat event whose payload the server cuts in half
REQUEST = {"input": "hi", "user": f"fixture:chat/{QWEN}", "metadata": {"fault": f"not-json:{GARBLED}"}}
FIXED = {"response_id": "resp_same", "created_at": 1700000000}  # ids and clocks the translator would make up


def _events(client: openai.OpenAI) -> list[Event]:
    source = responses_events(client, get_setup("ollama"), REQUEST, **FIXED)
    assert isinstance(source, BridgedEvents)
    events = list(source)
    assert all(isinstance(e, Event) for e in events)  # the same type as the native route's
    return events


@pytest.mark.fault_injection
def test_a_chat_payload_that_is_not_json_gives_the_same_events_live_recorded_and_replayed(
        loopback: Any, tmp_path: Path) -> None:
    plain = _events(openai.OpenAI(base_url=loopback.base_url, api_key="loopback", max_retries=0))
    recorded = _events(kit.client(mode="record", base_url=loopback.base_url, recording_dir=tmp_path))
    requests_before_replay = len(loopback.requests)
    replayed = _events(kit.client(mode="replay", recording_dir=tmp_path))
    assert len(loopback.requests) == requests_before_replay  # the replay reached no server

    assert [e.raw for e in plain] == [e.raw for e in recorded] == [e.raw for e in replayed]
    assert [e.type for e in plain[-2:]] == ["error", "response.failed"]
    error = plain[-2].raw
    assert error["code"] == "bridge_not_json" or "bridge_not_json" in str(plain[-1].raw)
    assert "upstream chat stream:" in error["message"]


@pytest.mark.fault_injection
def test_the_offline_reading_of_the_same_bytes_fails_the_response_the_same_way(loopback: Any, tmp_path: Path) -> None:
    live = _events(openai.OpenAI(base_url=loopback.base_url, api_key="loopback", max_retries=0))
    lines = (Path(__file__).resolve().parents[1] / "captures" / "chat" / QWEN).read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    lines[GARBLED] = lines[GARBLED][: len(lines[GARBLED]) // 2]
    body = "".join(f"data: {line}\n\n" for line in lines) + "data: [DONE]\n\n"
    chat = parse_sse(body, source_name="capture.sse")
    assert isinstance(chat.events[GARBLED], NotJSONEvent)
    offline = bridge_capture(chat, request={"model": "m", **REQUEST}, **FIXED)
    assert [e.type for e in offline.events] == [e.type for e in live]
    assert [e.raw.get("delta") for e in offline.events] == [e.raw.get("delta") for e in live]
