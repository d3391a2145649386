"""The `ws.*` rules of WebSocket mode, on frames the kit's record mode captured from the served bridge (over the
loopback server of real captured chat streams) and on mutations of them, one rule each.

What a rule expects comes from the openai SDK's WebSocket types (`ResponseWsError`; `response.create`'s
`stream_id`: events echo it, one lane is FIFO) and docs/conformance-rules.md, "WebSocket mode". The committed
recordings of WebSocket sessions are judged too (every one the kit holds).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect as ws_connect

import kit
from kit.events import split_socket, validate_socket
from kit.events.socket import SOCKET_RULES
from kit.recording.store import load_recording
from kit.servers.bridge import BridgeServer
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TERMINAL = ("response.completed", "response.incomplete", "response.failed")
Frames = list[dict[str, Any]]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    """One recorded socket: a refused request, then two responses on lane "a" (the second continuing the first,
    store:false) and one on the default lane; what the served bridge sent, as the record mode stored it."""
    folder = tmp_path_factory.mktemp("ws-rules")
    with LoopbackServer() as upstream, BridgeServer(upstream=upstream.base_url) as served:
        client = kit.client("bridge", "record", base_url=served.base_url, recording_dir=folder)
        with ws_connect(str(client.websocket_base_url) + "/responses") as socket:
            def turn(**request: Any) -> dict[str, Any]:
                socket.send(json.dumps({"type": "response.create", "model": "m", "store": False,
                                        "user": f"fixture:{TEXT}", **request}))
                while True:
                    event = json.loads(socket.recv(timeout=30))
                    if event["type"] in TERMINAL or "status" in event:
                        return event
            assert "status" in turn(input="no model", model="")
            first = turn(input="hi", stream_id="a")
            turn(input="again", stream_id="a", previous_response_id=first["response"]["id"])
            turn(input="plain")
    (file,) = folder.glob("bridge/responses/*.json")
    return load_recording(file).response["frames"]


def rules(frames: Frames) -> dict[str, int]:
    found: dict[str, int] = {}
    for violation in validate_socket(frames):
        if violation.severity == "error":
            found[violation.rule] = found.get(violation.rule, 0) + 1
    return found


def server_frames(frames: Frames, **match: Any) -> list[int]:
    return [n for n, f in enumerate(frames) if f["from"] == "server"
            and all(f["json"].get(k) == v for k, v in match.items())]


def test_the_served_bridges_socket_passes_and_splits_into_its_responses(frames: Frames) -> None:
    assert rules(frames) == {}
    session = split_socket(frames)
    assert [r.lane for r in session.responses] == ["a", "a", None]
    assert all(r.ended for r in session.responses)
    assert [e["status"] for _, e in session.refusals] == [400]
    assert not any("stream_id" in e for r in session.responses for e in r.events)  # the envelope is off
    assert len(session.requests) == 4


def test_a_frame_that_is_not_one_event_breaks_ws_one_event_per_frame(frames: Frames) -> None:
    n = server_frames(frames, type="response.in_progress")[0]
    for broken in ({"text": "event: response.in_progress\ndata: " + json.dumps(frames[n]["json"]) + "\n\n"},
                   {"json": [frames[n]["json"], frames[n]["json"]]},
                   {"base64": "AAEC"}):
        mutated = copy.deepcopy(frames)
        mutated[n] = {"t": frames[n]["t"], "from": "server", **broken}
        assert "ws.one-event-per-frame" in rules(mutated)
        (violation,) = [v for v in validate_socket(mutated) if v.rule == "ws.one-event-per-frame"]
        assert violation.index == n


def test_an_event_that_drops_its_stream_id_breaks_ws_stream_id_echo(frames: Frames) -> None:
    mutated = copy.deepcopy(frames)
    n = server_frames(frames, type="response.output_text.delta", stream_id="a")[0]
    del mutated[n]["json"]["stream_id"]
    found = rules(mutated)
    assert found.pop("ws.stream-id-echo") == 1
    assert found == {"part.text-consistent": 1}  # lane a's response misses that delta: its text disagrees
    echoed = copy.deepcopy(frames)
    m = server_frames(frames, type="response.created", stream_id=None)[-1]
    echoed[m]["json"]["stream_id"] = "b"  # a lane nobody asked for
    assert "ws.stream-id-echo" in rules(echoed)


def test_an_error_frame_in_the_sse_shape_breaks_ws_error_shape(frames: Frames) -> None:
    n = server_frames(frames, type="error")[0]
    error = frames[n]["json"]
    flat = copy.deepcopy(frames)
    flat[n]["json"] = {**error["error"], "type": "error", "status": 400}  # code, message, param at the top
    assert rules(flat) == {"ws.error-shape": 1}
    typed = copy.deepcopy(frames)
    typed[n]["json"]["status"] = "400"
    typed[n]["json"]["error"]["message"] = None
    (violation,) = [v for v in validate_socket(typed) if v.rule == "ws.error-shape"]
    assert "error.message is None" in violation.message and "status is '400'" in violation.message


def test_a_second_response_on_a_lane_before_the_first_ended_breaks_ws_one_in_flight(frames: Frames) -> None:
    created = server_frames(frames, type="response.created", stream_id="a")
    ended = server_frames(frames, type="response.completed", stream_id="a")
    mutated = copy.deepcopy(frames)
    second = mutated.pop(created[1])
    mutated.insert(ended[0], second)  # the second response begins before the first one's last event
    assert rules(mutated).get("ws.one-in-flight") == 1


def test_sequence_numbers_carried_over_from_the_previous_response_break_ws_sequence_per_response(
        frames: Frames) -> None:
    mutated = copy.deepcopy(frames)
    first_end = server_frames(frames, type="response.completed", stream_id="a")[0]
    carry = frames[first_end]["json"]["sequence_number"] + 1
    created = server_frames(frames, type="response.created", stream_id="a")[1]
    ended = server_frames(frames, type="response.completed", stream_id="a")[1]
    for n in range(created, ended + 1):
        mutated[n]["json"]["sequence_number"] += carry
    assert rules(mutated) == {"ws.sequence-per-response": 1}


def test_each_responses_events_meet_the_stream_rules_located_by_frame(frames: Frames) -> None:
    mutated = copy.deepcopy(frames)
    n = server_frames(frames, type="response.output_text.delta", stream_id=None)[0]
    mutated[n]["json"]["item_id"] = "msg_not_this_one"
    found = [v for v in validate_socket(mutated) if v.rule == "item.id-matches"]
    assert [v.index for v in found] == [n]


def committed_sessions() -> list[Path]:
    return sorted(p for p in (ROOT / "recordings").glob("*/responses/*.json")
                  if json.loads(p.read_text(encoding="utf-8"))["request"]["method"] == "WEBSOCKET"
                  and "frames" in json.loads(p.read_text(encoding="utf-8"))["response"])


def test_every_ws_rule_has_a_breach_here() -> None:
    tested = {"ws.one-event-per-frame", "ws.stream-id-echo", "ws.error-shape", "ws.one-in-flight",
              "ws.sequence-per-response"}  # the mutation tests above, one per rule
    assert set(SOCKET_RULES) == tested == {r for r in kit.events.RULES if r.startswith("ws.")}


def test_the_ws_rules_are_in_the_catalog() -> None:
    catalog = (ROOT / "docs" / "conformance-rules.md").read_text(encoding="utf-8")
    for rule in SOCKET_RULES:
        assert f"| {rule} |" in catalog
        assert kit.events.RULES[rule].severity("openai") == "error"


@pytest.mark.parametrize("path", committed_sessions(), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_every_committed_bridge_socket_is_clean_of_ws_errors(path: Path) -> None:
    """The kit's own bridge must be clean; a peer's socket (if one is ever recorded) is judged by its baseline."""
    violations = validate_socket(load_recording(path).response["frames"])
    if path.parts[-3] in ("bridge",):
        assert [str(v) for v in violations if v.severity == "error"] == []
    assert all(v.rule in kit.events.RULES for v in violations)


def test_kit_check_judges_a_recorded_socket_as_a_socket() -> None:
    from typer.testing import CliRunner

    from kit.cli import app

    sessions = {p.parts[-3]: p for p in committed_sessions()}
    clean = CliRunner().invoke(app, ["check", str(sessions["bridge"])])
    assert clean.exit_code == 0, clean.output
    assert "frames on one socket (2 messages sent, 2 responses), 0 errors" in clean.output
    broken = CliRunner().invoke(app, ["check", "--json", str(sessions["litellm"])])
    assert broken.exit_code == 1
    record = json.loads(broken.output)
    assert {v["rule"] for v in record["violations"] if v["severity"] == "error"} == \
        {"item.closed-once", "lifecycle.one-terminal"}  # as findings/litellm.toml says
