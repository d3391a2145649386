"""Notebooks judge the Chat Completions streams they collect under the `chat` profile (issue 23).

`Scenario.chat_stream` reads the body's bytes (so the wire facts the SDK's parsed chunks lose, `data: [DONE]`
first, are judged), and the in-process bridge hands the scenario each upstream chat body it read. The verdicts
must be the ones `kit check` gives on the same bytes (one validator), and the runner judges them against
findings/<setup>.toml like a Responses stream's. The streams are the committed recordings (real servers, the
kit's record mode) and the real chat captures of tests/captures/chat; the mutations are served by a loopback
httpx MockTransport (fault injection: a server with a broken wire).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

import kit.notebook as nb
from kit.events import parse_jsonl, validate_stream
from kit.findings import load_baseline
from kit.recording import load_recording
from kit.runner.outcome import Status, judge_findings
from kit.sources import load_recording_stream
from kit.summary import RunResult

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
CHAT_CAPTURES = sorted((ROOT / "tests" / "captures" / "chat").glob("*.jsonl"))
RAINBOW = {"messages": [{"role": "user", "content": "Name three colors of the rainbow."}], "temperature": 0,
           "max_tokens": 64, "stream_options": {"include_usage": True}}  # base/chat_streaming's first request
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Get the current weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _recording_of(setup: str, content: str) -> Path:
    """The committed chat recording of `setup` whose last message is `content`."""
    for path in sorted((RECORDINGS / setup / "chat-completions").glob("*.json")):
        body = json.loads(path.read_text())["request"]["body"]
        if body.get("messages") and body["messages"][-1]["content"] == content and not body.get("tools"):
            return path
    raise AssertionError(f"no {setup} recording for {content!r}")


def _rules(violations: list) -> list[tuple[str, str]]:
    return sorted({(v.rule, v.severity) for v in violations})


# -- the committed recordings: real servers, replayed -------------------------------------------------------------


def test_ogx_chat_stream_is_judged_from_its_bytes_where_the_sdk_loses_the_missing_done() -> None:
    """ogx's recorded body ends without `data: [DONE]` (read here from the raw bytes, independently of the kit's
    decoder); the notebook's chat observation says so, as `kit check` does on the same recording."""
    path = _recording_of("ogx", RAINBOW["messages"][0]["content"])
    body = b"".join(chunk for _, chunk in load_recording(path).response_chunks())
    assert b"data: [DONE]" not in body and body.rstrip().endswith(b"}")

    scenario = nb.start({"setup": "ogx", "recording_dir": str(RECORDINGS), "notebook": "base/chat_streaming"})
    chunks = scenario.chat_stream(RAINBOW, show=False)
    observation = scenario.observation(chunks)
    assert [v.rule for v in observation.violations] == ["sse.done-sentinel"]
    assert observation.violations[0].severity == "warning"
    assert _rules(observation.violations) == _rules(validate_stream(load_recording_stream(path)))  # kit check's verdict
    # the chunks the notebook reads are the server's JSON, one per data: line of the body
    assert len(chunks) == body.count(b"data: ") and all(c["object"] == "chat.completion.chunk" for c in chunks)
    stream = scenario.result().streams[0]
    assert stream.profile == "chat" and stream.events == len(chunks)


def test_a_chat_stream_that_ends_with_done_breaks_no_rule() -> None:
    path = _recording_of("local", RAINBOW["messages"][0]["content"])
    assert b"".join(c for _, c in load_recording(path).response_chunks()).rstrip().endswith(b"data: [DONE]")
    scenario = nb.start({"setup": "local", "recording_dir": str(RECORDINGS)})
    chunks = scenario.chat_stream(RAINBOW, show=False)
    assert scenario.observation(chunks).violations == []
    assert nb.chat_text(chunks)[0].startswith("The rainbow")  # the recorded SmolLM2 answer
    assert scenario.result().error_rules() == {} and scenario.result().warning_rules() == {}


def test_mistral_content_blocks_break_chat_schema_on_the_bridge_setup() -> None:
    """The bridge setup's reasoning request streams Mistral's content blocks (a list where the chunk schema has a
    string): judged as chat.schema, a finding of findings/bridge.toml, not allowed by the profile."""
    scenario = nb.start({"setup": "bridge", "recording_dir": str(RECORDINGS), "notebook": "base/chat_streaming"})
    thinking = scenario.chat_stream({"messages": [{"role": "user", "content": "Is 17 a prime number?"}],
                                     "temperature": 0, "max_tokens": 200, "reasoning_effort": "low"}, show=False)
    blocks = [c for c in thinking for ch in c["choices"] if isinstance(ch["delta"].get("content"), list)]
    assert blocks and blocks[0]["choices"][0]["delta"]["content"][0]["type"] == "thinking"
    errors = scenario.result().error_rules()
    assert list(errors) == ["chat.schema"] and "delta.content list" in errors["chat.schema"]
    by_rule = scenario.result().violations()["by_rule"]  # type: ignore[index]
    assert by_rule["chat.schema"] == len(blocks)  # one per chunk carrying blocks, none for the others
    judged = judge_findings(Status.PASSED, "", scenario.result(), load_baseline("bridge", ROOT / "findings"),
                            "base/chat_streaming")
    assert judged[0] is Status.KNOWN_FINDINGS


def test_the_in_process_bridge_hands_its_upstream_chat_streams_to_the_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """local's function_tools request goes through the in-process bridge; llama-cpp-python's recorded chat stream
    beneath it sends the tool call's id again in every chunk (read here from the recording itself)."""
    scenario = nb.start({"setup": "local", "recording_dir": str(RECORDINGS), "notebook": "responses/function_tools"})
    stream = scenario.responses_stream({"input": "What is the weather in Paris?", "tools": [WEATHER_TOOL],
                                        "tool_choice": {"type": "function", "name": "get_weather"},
                                        "temperature": 0}, show=False)
    upstream = [o for o in scenario.observed if o.beneath is stream]
    assert len(upstream) == 1 and upstream[0].profile == "chat"
    calls = [call for event in upstream[0].observation.events for choice in event.raw.get("choices") or []
             for call in (choice.get("delta") or {}).get("tool_calls") or []]
    assert len(calls) > 2 and len({call["id"] for call in calls}) == 1  # the same id in every delta of the call
    assert [v.rule for v in upstream[0].observation.violations] == ["chat.tool-call-delta"]
    scenario.check(stream)
    out = capsys.readouterr().out
    assert "conformance error chat.tool-call-delta" in out and "upstream chat stream 1, chunk 2" in out
    result = scenario.result()
    assert [s.profile for s in result.streams] == ["chat", "openai"]
    assert list(result.error_rules()) == ["chat.tool-call-delta"]  # the bridged Responses stream breaks no error rule


# -- mutations of a real recorded body (fault injection: a loopback server with a broken wire) ---------------------


def _serving(body: bytes) -> openai.OpenAI:
    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, content=body, headers={"content-type": "text/event-stream"}))
    return openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0,
                         http_client=httpx.Client(transport=transport))


def _live_scenario(body: bytes, **context: object) -> nb.Scenario:
    scenario = nb.start({"setup": "local", "mode": "live", "base_url": "http://127.0.0.1:9/v1", **context})
    scenario._client = _serving(body)
    return scenario


LOCAL_BODY = b"".join(c for _, c in load_recording(_recording_of("local", RAINBOW["messages"][0]["content"]))
                      .response_chunks())


@pytest.mark.fault_injection
def test_a_mutation_that_drops_done_is_seen_and_comments_are_not() -> None:
    dropped = LOCAL_BODY.replace(b"data: [DONE]\n\n", b"").replace(b"data: [DONE]\r\n\r\n", b"")
    assert dropped != LOCAL_BODY
    scenario = _live_scenario(dropped)
    chunks = scenario.chat_stream(RAINBOW, show=False)
    assert [(v.rule, v.severity) for v in scenario.observation(chunks).violations] == [("sse.done-sentinel", "warning")]

    kept_alive = LOCAL_BODY.replace(b"\n\ndata: ", b"\n\n: keep-alive\n\ndata: ")
    assert kept_alive.count(b": keep-alive") > 5
    scenario = _live_scenario(kept_alive)
    chunks = scenario.chat_stream(RAINBOW, show=False)
    assert scenario.observation(chunks).violations == []  # legal SSE comments: no violation, no chunk
    assert nb.chat_text(chunks) == nb.chat_text(_live_scenario(LOCAL_BODY).chat_stream(RAINBOW, show=False))


@pytest.mark.fault_injection
def test_a_mutation_that_gives_a_tool_call_a_second_id_is_an_error_shown_as_a_known_finding(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A real chat capture with one tool call, its second delta given another id: chat.tool-call-delta, shown as
    the known finding the context lists, and judged by the runner against a baseline naming it."""
    from kit.setups.context import KnownFinding

    capture = ROOT / "tests" / "captures" / "chat" / "llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
    chunks = [json.loads(line) for line in capture.read_text().splitlines() if line.strip()]
    calls = [(i, call) for i, c in enumerate(chunks) for ch in c.get("choices") or []
             for call in (ch.get("delta") or {}).get("tool_calls") or []]
    assert calls, "the capture streams a tool call"
    first_chunk, first_call = calls[0]
    mutated = [dict(c) for c in chunks]
    extra = json.loads(json.dumps(chunks[first_chunk]))
    extra["choices"][0]["delta"] = {"tool_calls": [{"index": first_call["index"], "id": "call_other",
                                                     "function": {"arguments": ""}}]}
    mutated.insert(first_chunk + 1, extra)
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in mutated) + b"data: [DONE]\n\n"
    line = "chat.tool-call-delta — two calls share one index — no upstream issue known"
    scenario = _live_scenario(body, notebook="base/chat_streaming",
                              findings=(KnownFinding("chat.tool-call-delta", line),))
    got = scenario.chat_stream({"messages": [{"role": "user", "content": "weather?"}]}, show=False)
    scenario.check(got)
    assert f"known finding: {line}" in capsys.readouterr().out
    assert "second id 'call_other'" in scenario.result().error_rules()["chat.tool-call-delta"]


# -- the same validator as `kit check`, on every real chat capture --------------------------------------------------


@pytest.mark.fault_injection
@pytest.mark.parametrize("capture", CHAT_CAPTURES, ids=lambda p: p.stem)
def test_a_notebook_judges_every_real_chat_capture_as_kit_check_does(capture: Path) -> None:
    """Each capture's chunks served as an SSE body ending with [DONE]: the notebook's chat observation gives the
    rules `kit check` gives the capture (chat profile), nothing more and nothing less."""
    stream = parse_jsonl(capture.read_bytes(), source_name=str(capture))
    payloads = [e.raw for e in stream.events]
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"
    scenario = _live_scenario(body)
    try:
        chunks = scenario.chat_stream({"messages": [{"role": "user", "content": "x"}]}, show=False)
    except openai.APIError as exc:  # pragma: no cover - the kit reads bytes, the SDK never parses them
        pytest.fail(f"the SDK raised on a chunk the notebook should have judged: {exc}")
    assert _rules(scenario.observation(chunks).violations) == _rules(validate_stream(stream, "chat"))
    assert scenario.result().streams[0].profile == "chat"


# -- the typed result and the runner's judgement -----------------------------------------------------------------


def test_the_result_keeps_each_streams_profile_and_an_older_result_reads_as_responses() -> None:
    scenario = nb.start({"setup": "ogx", "recording_dir": str(RECORDINGS)})
    scenario.chat_stream(RAINBOW, show=False)
    again = RunResult.from_json(json.loads(json.dumps(scenario.result().to_json())))
    assert again.streams[0].profile == "chat" and again.warning_rules() == scenario.result().warning_rules()
    older = scenario.result().to_json()
    del older["streams"][0]["profile"]
    assert RunResult.from_json(older).streams[0].profile == "openai"


OGX_DONE = '''[[finding]]
notebook = "base/chat_streaming"
rule = "sse.done-sentinel"
event = "the body ends with no data: [DONE]"
reason = "a test baseline"
upstream = ""
'''


def test_the_runner_judges_a_chat_warning_only_where_the_baseline_names_it(tmp_path: Path) -> None:
    scenario = nb.start({"setup": "ogx", "recording_dir": str(RECORDINGS), "notebook": "base/chat_streaming"})
    scenario.chat_stream(RAINBOW, show=False)
    result = scenario.result()
    assert result.error_rules() == {} and list(result.warning_rules()) == ["sse.done-sentinel"]

    empty = load_baseline("ogx", tmp_path)  # no file: a warning nobody named is shown, not judged
    assert judge_findings(Status.PASSED, "", result, empty, "base/chat_streaming")[0] is Status.PASSED

    (tmp_path / "ogx.toml").write_text(OGX_DONE, encoding="utf-8")
    named = load_baseline("ogx", tmp_path)
    status, message, findings = judge_findings(Status.PASSED, "", result, named, "base/chat_streaming")
    assert status is Status.KNOWN_FINDINGS and [f["rule"] for f in findings] == ["sse.done-sentinel"]
    assert "does not end with data: [DONE]" in findings[0]["seen"]

    fixed = nb.start({"setup": "local", "recording_dir": str(RECORDINGS), "notebook": "base/chat_streaming"})
    fixed.chat_stream(RAINBOW, show=False)  # a server that sends [DONE]: the baselined warning no longer occurs
    status, message, _ = judge_findings(Status.PASSED, "", fixed.result(), named, "base/chat_streaming")
    assert status is Status.FAILED and "baselined rule sse.done-sentinel no longer occurs" in message


def test_the_runner_judges_a_chat_error_rule_against_the_committed_baseline() -> None:
    scenario = nb.start({"setup": "local", "recording_dir": str(RECORDINGS), "notebook": "responses/function_tools"})
    scenario.responses_stream({"input": "What is the weather in Paris?", "tools": [WEATHER_TOOL],
                               "tool_choice": {"type": "function", "name": "get_weather"}, "temperature": 0}, show=False)
    committed = load_baseline("local", ROOT / "findings")
    status, _, findings = judge_findings(Status.PASSED, "", scenario.result(), committed, "responses/function_tools")
    assert status is Status.KNOWN_FINDINGS and findings[0]["upstream"]
    status, message, _ = judge_findings(Status.PASSED, "", scenario.result(), committed, "responses/basic_streaming")
    assert status is Status.FAILED and "new finding: error rule chat.tool-call-delta" in message
    assert committed.for_notebook("responses/function_tools")[0].rule == "chat.tool-call-delta"
