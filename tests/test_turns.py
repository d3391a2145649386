"""The next turn of a conversation from what a stream gave the client (`kit.notebook.turns`).

The streams are real captures from OpenAI (a function call, a text answer); expected values are read from
the captures' own terminal `response` (the API's final object), not from the code under test. The shapes of
the items sent back are those of OpenAI's API reference ("function calling": a `function_call_output` with
the call's `call_id`; `previous_response_id` with only the new input).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kit.events import Stream, parse
from kit.notebook import turns
from kit.notebook.checks import StreamCheckFailed
from tests.events._streams import load, terminal

CALL = "openai-dotnet__gpt4o-mini-function-call"
TEXT = "otel-python-contrib__gpt4o-mini-text"


def stream_of(name: str, events: list[dict[str, Any]] | None = None) -> Stream:
    return parse(events if events is not None else load(name), source_name=name)


def final(name: str) -> dict[str, Any]:
    return terminal(load(name))


def test_function_calls_are_the_calls_the_final_response_lists_with_their_call_ids() -> None:
    expected = [item for item in final(CALL)["output"] if item["type"] == "function_call"]
    got = turns.function_calls(stream_of(CALL))
    assert got == [{"type": "function_call", "call_id": e["call_id"], "name": e["name"], "arguments": e["arguments"]}
                   for e in expected]
    assert got[0]["call_id"] == "call_0UFGPwrziw5rbinYp7rthrTb"


def test_tool_outputs_answer_every_call_by_its_call_id() -> None:
    outputs = turns.tool_outputs(stream_of(CALL), {"get_weather_at_location": "Sunny and 24 degrees."})
    assert outputs == [{"type": "function_call_output", "call_id": "call_0UFGPwrziw5rbinYp7rthrTb",
                        "output": "Sunny and 24 degrees."}]


def test_tool_outputs_fail_readably_without_a_call_or_a_result_for_it() -> None:
    with pytest.raises(StreamCheckFailed, match="expected a function call to answer, the stream made none"):
        turns.tool_outputs(stream_of(TEXT), {"get_weather_at_location": "x"})
    with pytest.raises(StreamCheckFailed, match="called 'get_weather_at_location'; this turn has results for"):
        turns.tool_outputs(stream_of(CALL), {"get_time": "x"})


def test_the_full_history_is_what_was_sent_then_what_came_back_then_the_new_items() -> None:
    call = stream_of(CALL)
    outputs = turns.tool_outputs(call, {"get_weather_at_location": "Sunny."})
    history = turns.full_history("Weather in San Francisco?", call, outputs)
    assert [item.get("type", "message") for item in history] == ["message", "function_call", "function_call_output"]
    assert history[0] == {"role": "user", "content": "Weather in San Francisco?"}
    assert history[1]["call_id"] == history[2]["call_id"] == final(CALL)["output"][0]["call_id"]
    assert "id" not in history[1] and "status" not in history[1]  # the server's bookkeeping stays with it


def test_a_text_answer_goes_back_as_an_assistant_message_with_its_text() -> None:
    text = final(TEXT)["output"][0]["content"][0]["text"]
    assert turns.output_as_input(stream_of(TEXT)) == [{"role": "assistant", "content": text}]


def test_continued_names_the_streamed_response_and_sends_only_the_new_input() -> None:
    request = {"temperature": 0, "tools": []}
    before = copy.deepcopy(request)
    chained = turns.continued(stream_of(TEXT), "And then?", request)
    assert chained == {"temperature": 0, "tools": [], "previous_response_id": final(TEXT)["id"], "input": "And then?"}
    assert request == before


def test_a_stream_without_a_response_id_cannot_be_continued() -> None:
    events = [e for e in load(TEXT) if "response" not in e]  # no lifecycle event: no id seen
    with pytest.raises(StreamCheckFailed, match="no response id"):
        turns.response_id(stream_of(TEXT, events))


def test_expect_mentions_matches_whole_words_in_any_case() -> None:
    assert turns.expect_mentions(stream_of(TEXT), "TEST") == "This is a test."
    with pytest.raises(StreamCheckFailed, match="expected the answer to use 'tes'"):
        turns.expect_mentions(stream_of(TEXT), "tes")


def test_expect_previous_echoed_reads_the_final_response() -> None:
    with pytest.raises(StreamCheckFailed, match="echo previous_response_id 'resp_1', it says None"):
        turns.expect_previous_echoed(stream_of(TEXT), "resp_1")
    events = load(TEXT)
    for event in events:
        if isinstance(event.get("response"), dict):
            event["response"]["previous_response_id"] = "resp_1"
    turns.expect_previous_echoed(stream_of(TEXT, events), "resp_1")


def test_expect_same_answer_ignores_whitespace_and_names_both_answers_otherwise() -> None:
    text = stream_of(TEXT)
    assert turns.expect_same_answer(text, stream_of(TEXT)) == "This is a test."
    with pytest.raises(StreamCheckFailed, match="expected the answer .* gave, ''"):
        turns.expect_same_answer(text, stream_of(CALL))
