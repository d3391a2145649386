"""Record and replay of a chain of requests whose bodies carry ids a server made (`previous_response_id`).

The server is the kit's served bridge (it keeps responses, makes a new `resp_...` id per response and answers
an unknown `previous_response_id` with 404) over the loopback server of the project's real captured chat
streams; the client is the kit's record/replay openai client. Replay matches the chained request because it
answers the first with the recorded id, so the second carries the recorded id, as when it was recorded.
record-if-missing over a half-recorded chain must not send a live server an id it never made (it would
record the server's 404 as the chain's answer): it refuses, naming the id, and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from kit.recording import ChainNotRecorded, InferenceMode, ReplayMiss, client as kit_client
from kit.recording.session import server_ids
from kit.servers.bridge import BridgeServer
from tests.loopback import LoopbackServer

TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TOOL_CALL = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def fresh_bridge(upstream: LoopbackServer, folder: Path) -> BridgeServer:
    """A served bridge with an empty store: it knows no response of an earlier run."""
    return BridgeServer(upstream=upstream.base_url, stores_dir=folder / "stores", log_path=folder / "bridge.log")


def chain(client: openai.OpenAI) -> tuple[Any, Any]:
    """A tool round trip through previous_response_id; `user` picks the loopback's capture (a volatile field)."""
    first = client.responses.create(model="m", input="weather in Tokyo?", tools=[WEATHER], user=f"fixture:{TOOL_CALL}")
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(model="m", previous_response_id=first.id, user=f"fixture:{TEXT}", input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}])
    return first, second


def recordings(folder: Path) -> list[Path]:
    return sorted((folder / "bridge").rglob("*.json"))


def test_replay_answers_with_the_recorded_ids_so_the_chained_request_matches(
        upstream: LoopbackServer, tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    with fresh_bridge(upstream, tmp_path / "run1") as server:
        first, second = chain(kit_client("bridge", InferenceMode.RECORD, base_url=server.base_url, recording_dir=rec))
    assert second.previous_response_id == first.id and first.id.startswith("resp_")
    assert len(recordings(rec)) == 2

    replayed_first, replayed_second = chain(kit_client("bridge", InferenceMode.REPLAY, recording_dir=rec))
    assert replayed_first.id == first.id  # the id the server made when it was recorded
    assert replayed_second.id == second.id and replayed_second.previous_response_id == first.id
    assert replayed_second.output_text == second.output_text


def test_record_if_missing_over_a_half_recorded_chain_refuses_and_writes_nothing(
        upstream: LoopbackServer, tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    with fresh_bridge(upstream, tmp_path / "run1") as server:
        first, second = chain(kit_client("bridge", InferenceMode.RECORD, base_url=server.base_url, recording_dir=rec))
    chained = next(p for p in recordings(rec) if json.loads(p.read_text())["request"]["body"].get("previous_response_id"))
    chained.unlink()  # the chain's second request is no longer recorded
    kept = {p: p.read_bytes() for p in recordings(rec)}

    with fresh_bridge(upstream, tmp_path / "run2") as server:  # a new run: it never made first.id
        client = kit_client("bridge", InferenceMode.RECORD_IF_MISSING, base_url=server.base_url, recording_dir=rec)
        with pytest.raises(ChainNotRecorded) as refused:
            chain(client)
        asked = len(upstream.requests)
    message = str(refused.value)
    assert first.id in message and "--inference-mode record" in message and "Nothing was sent" in message
    assert {p: p.read_bytes() for p in recordings(rec)} == kept  # no 404 recorded as the chain's answer
    assert len(upstream.requests) == asked

    with pytest.raises(ReplayMiss) as missed:  # replay says the same: record the whole notebook again
        chain(kit_client("bridge", InferenceMode.REPLAY, recording_dir=rec))
    assert first.id in str(missed.value) and "--inference-mode record" in str(missed.value)
    assert missed.value.carried and "record-if-missing" not in str(missed.value).split("to record it:")[1]

    with fresh_bridge(upstream, tmp_path / "run3") as server:  # what the message says to do works
        again = chain(kit_client("bridge", InferenceMode.RECORD, base_url=server.base_url, recording_dir=rec))
    replayed = chain(kit_client("bridge", InferenceMode.REPLAY, recording_dir=rec))
    assert [r.id for r in replayed] == [r.id for r in again] and again[0].id != first.id


def test_a_request_that_carries_no_replayed_id_is_recorded_by_record_if_missing(
        upstream: LoopbackServer, tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    with fresh_bridge(upstream, tmp_path / "run1") as server:
        kit_client("bridge", InferenceMode.RECORD, base_url=server.base_url, recording_dir=rec).responses.create(
            model="m", input="hi", user=f"fixture:{TEXT}")
    with fresh_bridge(upstream, tmp_path / "run2") as server:
        client = kit_client("bridge", InferenceMode.RECORD_IF_MISSING, base_url=server.base_url, recording_dir=rec)
        client.responses.create(model="m", input="hi", user=f"fixture:{TEXT}")  # replayed
        client.responses.create(model="m", input="hello", user=f"fixture:{TEXT}")  # recorded, nothing carried
    assert len(recordings(rec)) == 2


def test_server_ids_are_a_json_body_id_and_the_streamed_response_id() -> None:
    sse = {"events": [{"data": {"type": "response.created", "response": {"id": "resp_0123456789"}}},
                      {"data": {"type": "response.output_text.delta", "delta": "x"}}]}
    assert server_ids({"sse": sse}) == {"resp_0123456789"}
    assert server_ids({"json": {"id": "conv_abcdefgh", "object": "conversation"}}) == {"conv_abcdefgh"}
    assert server_ids({"json": {"id": "1"}}) == set()  # too short to look for: found by chance anywhere
    assert server_ids({"json": [1, 2]}) == set() and server_ids({}) == set()
