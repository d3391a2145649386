"""The request-surface checks (kit.notebook.surface) on real captures: OpenAI's own logprobs and structured-output
streams, Azure gpt-4o's parallel tool calls through the bridge; and on mutations of them that each must catch."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from kit.bridge.chunks import bridge_chunks
from kit.events import Stream, parse_events
from kit.notebook.checks import StreamCheckFailed
from kit.notebook.surface import (expect_calls_at_most, expect_json, expect_logprobs, expect_no_function_call,
                                  expect_separate_calls, function_calls)
from kit.sources import load

CAPTURES = Path(__file__).resolve().parent / "captures"
LOGPROBS = ["chatlas__gpt54-logprobs", "openai-dotnet__gpt4o-mini-logprobs", "pydantic-ai__gpt4o-mini-logprobs"]


def _responses(name: str) -> Stream:
    return load(CAPTURES / "responses" / f"{name}.jsonl")


def _mutated(stream: Stream, change) -> Stream:  # type: ignore[no-untyped-def]
    raws = [copy.deepcopy(e.raw) for e in stream.events]
    change(raws)
    return parse_events(raws, source_name="mutated")


def _top(stream: Stream) -> int:
    first = next(e for e in stream.events if e.type == "response.output_text.delta" and e.raw.get("logprobs"))
    return len(first.raw["logprobs"][0].get("top_logprobs") or [])


@pytest.mark.parametrize("name", LOGPROBS)
def test_openai_s_logprobs_agree_on_deltas_done_and_part(name: str) -> None:
    stream = _responses(name)
    tokens = expect_logprobs(stream, top=_top(stream))
    assert len(tokens) >= 3


@pytest.mark.parametrize("name", LOGPROBS[:2])
def test_a_delta_that_loses_a_token_is_caught(name: str) -> None:
    stream = _responses(name)

    def drop(raws: list[dict]) -> None:  # type: ignore[type-arg]
        delta = next(r for r in raws if r["type"] == "response.output_text.delta" and r.get("logprobs"))
        delta["logprobs"] = delta["logprobs"][1:] or [{"token": "x", "logprob": -1.0, "top_logprobs": []}]

    with pytest.raises(StreamCheckFailed, match="differ|spell"):
        expect_logprobs(_mutated(stream, drop), top=_top(stream))


def test_a_wrong_count_of_alternatives_is_caught() -> None:
    stream = _responses(LOGPROBS[0])
    with pytest.raises(StreamCheckFailed, match="top_logprobs"):
        expect_logprobs(stream, top=_top(stream) + 1)


SCHEMA = {"type": "object", "additionalProperties": False, "required": ["title", "author", "genres", "published_year"],
          "properties": {"title": {"type": "string"}, "genres": {"type": "array", "items": {"type": "string"}},
                         "published_year": {"type": "integer"},
                         "author": {"type": "object", "additionalProperties": False, "required": ["name", "nationality"],
                                    "properties": {"name": {"type": "string"}, "nationality": {"type": "string"}}}}}


def test_gpt5_s_structured_output_validates_against_its_schema() -> None:
    stream = _responses("fantasy__gpt5-structured-output")
    sent = stream.events[0].raw["response"]["text"]["format"]["schema"]
    assert expect_json(stream, sent)["author"]["name"]
    assert expect_json(stream, SCHEMA) == expect_json(stream)


def test_an_answer_off_the_schema_or_not_json_is_caught() -> None:
    stream = _responses("fantasy__gpt5-structured-output")
    with pytest.raises(StreamCheckFailed, match="published_year"):
        expect_json(stream, {**SCHEMA, "properties": {**SCHEMA["properties"], "published_year": {"type": "string"}}})

    def cut(raws: list[dict]) -> None:  # type: ignore[type-arg]  # every closing brace gone from the text
        for r in raws:
            if r["type"] == "response.output_text.delta":
                r["delta"] = r["delta"].replace("}", "")
            if r["type"] == "response.output_text.done":
                r["text"] = r["text"].replace("}", "")
    with pytest.raises(StreamCheckFailed, match="not JSON"):
        expect_json(_mutated(stream, cut))


def _parallel() -> Stream:
    chunks = [json.loads(line) for line in (CAPTURES / "chat" / "llama-stack__azure-lls-test-gpt-4o-2024-11-20-"
                                            "parallel-tool-calls-1067b555.jsonl").read_text().splitlines()]
    return bridge_chunks(chunks, source_name="azure gpt-4o parallel calls, bridged")


def test_parallel_calls_through_the_bridge_are_separate_items() -> None:
    stream = _parallel()
    calls = expect_separate_calls(stream)
    assert len(calls) == 2 == len({c["call_id"] for c in calls})
    with pytest.raises(StreamCheckFailed, match="at most 1"):
        expect_calls_at_most(stream, 1)
    with pytest.raises(StreamCheckFailed, match="tool_choice 'none'"):
        expect_no_function_call(stream)


def test_two_calls_sharing_a_call_id_or_losing_an_argument_event_are_caught() -> None:
    stream = _parallel()
    ids = [c["id"] for c in function_calls(stream)]

    def same_call_id(raws: list[dict]) -> None:  # type: ignore[type-arg]
        for r in raws:
            for item in ([r.get("item")] if r.get("item") else []) + list((r.get("response") or {}).get("output") or []):
                if item and item.get("type") == "function_call":
                    item["call_id"] = "call_same"

    with pytest.raises(StreamCheckFailed, match="call_ids are not distinct"):
        expect_separate_calls(_mutated(stream, same_call_id))

    def lose_delta(raws: list[dict]) -> None:  # type: ignore[type-arg]
        first = next(i for i, r in enumerate(raws) if r["type"] == "response.function_call_arguments.delta"
                     and r["item_id"] == ids[1])
        del raws[first]

    with pytest.raises(StreamCheckFailed, match="expected the deltas to make the one done"):
        expect_separate_calls(_mutated(stream, lose_delta))


def test_reject_judges_an_error_answer_and_shows_a_known_finding_as_such() -> None:
    """`reject` over a refusal of the in-process bridge, on a scenario whose context knows ogx-style findings."""
    from kit.notebook.scenario import start
    from kit.notebook.surface import reject
    from kit.setups.context import KnownFinding

    scenario = start("local")
    answer = reject(scenario, {"input": "hi", "temperature": 5}, title="bad parameter")
    assert (answer["status"], answer["error"]["code"]) == (400, "decimal_above_max_value")
    assert scenario.checked == [("bad parameter", ())]
    assert [(e.rule, e.met) for e in scenario.expectations] == [("expect.failure", True), ("expect.client-error", True)]
    result = scenario.result()
    assert result.streams[-1].title == "bad parameter" and result.streams[-1].rules == ()

    from kit.notebook import surface

    scenario.context = dataclasses.replace(scenario.context, findings=(
        KnownFinding(rule="expect.client-error", line="expect.client-error — a 5xx — none"),))
    assert surface._label(scenario, "expect.client-error") == "known finding: expect.client-error — a 5xx — none"
    assert surface._label(scenario, "error.object", "conformance error") == "conformance error error.object"
