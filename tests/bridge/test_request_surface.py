"""The request surface the bridge maps (issue 20): logprobs, values OpenAI refuses, tool schemas; and the
logprobs it carries from a real llama.cpp chat stream onto the Responses text events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.bridge.request import LOGPROBS_INCLUDE, UnsupportedParameter, to_chat_request
from kit.bridge.translate import translate_chat_stream
from kit.events import accumulate, parse_events
from kit.events.error_object import error_object_violations
from kit.notebook.surface import expect_logprobs
from kit.sources import load_recording_stream

ROOT = Path(__file__).resolve().parents[2]
# recorded by `kit run --setup local --inference-mode record --pattern responses/logprobs` (llama-cpp-python 0.3.36)
LOGPROBS_CHAT = ROOT / "recordings" / "local" / "chat-completions" / "a55c80cb7efe327b.0.json"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _chat(**request: Any) -> dict[str, Any]:
    return to_chat_request({"model": "m", "input": "x", **request})


def test_logprobs_are_asked_upstream_with_top_logprobs() -> None:
    chat = _chat(include=[LOGPROBS_INCLUDE], top_logprobs=3)
    assert (chat["logprobs"], chat["top_logprobs"]) == (True, 3)
    # llama-cpp-python sends no logprobs at all without top_logprobs: 0 is sent when the request gives none
    assert _chat(include=[LOGPROBS_INCLUDE])["top_logprobs"] == 0
    assert "logprobs" not in _chat(top_logprobs=3)  # without the include, OpenAI returns none either


def test_structured_outputs_become_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    chat = _chat(text={"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": True}})
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert _chat(text={"format": {"type": "json_object"}})["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("request_, param, code", [
    ({"temperature": 5}, "temperature", "decimal_above_max_value"),
    ({"temperature": -1}, "temperature", "decimal_below_min_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
    ({"top_logprobs": 2.5}, "top_logprobs", "invalid_type"),
    ({"top_logprobs": True}, "top_logprobs", "invalid_type"),
    ({"tools": [{"type": "function", "name": "w", "parameters": {"type": "object", "properties": "city"}}]},
     "tools[0].parameters", "invalid_function_parameters"),
    ({"tools": [{"type": "function", "name": "w", "parameters": {"type": "string"}}]},
     "tools[0].parameters", "invalid_function_parameters"),
    ({"tools": [{"type": "function", "name": "w", "parameters": CITY}, {"type": "function", "name": "get weather!",
                                                                        "parameters": CITY}]},
     "tools[1].name", "invalid_value"),
])
def test_a_value_openai_refuses_is_refused_with_its_param_and_code(request_: dict[str, Any], param: str,
                                                                    code: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        _chat(**request_)
    assert (info.value.param, info.value.code) == (param, code)
    body = info.value.error_object()
    assert body["error"]["param"] == param and body["error"]["code"] == code
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"].startswith(param)
    assert error_object_violations(body, 400) == []


@pytest.mark.parametrize("request_", [{"temperature": 0}, {"temperature": 2}, {"top_p": 1}, {"temperature": 0.7},
                                      {"tools": [{"type": "function", "name": "get_weather-2", "parameters": CITY}]}])
def test_values_in_range_and_valid_schemas_pass(request_: dict[str, Any]) -> None:
    _chat(**request_)


def _chunks() -> list[dict[str, Any]]:
    return [event.raw for event in load_recording_stream(LOGPROBS_CHAT).events if event.raw.get("choices") is not None]


def test_logprobs_of_a_real_llama_cpp_stream_agree_on_deltas_done_and_part() -> None:
    chunks = _chunks()
    upstream = [entry for c in chunks for entry in ((c["choices"][0].get("logprobs") or {}).get("content") or [])]
    assert upstream, "the recording carries chat logprobs"
    request = {"model": "smollm2-135m-instruct", "include": [LOGPROBS_INCLUDE], "top_logprobs": 2}
    stream = parse_events(translate_chat_stream(chunks, request=request), source_name="logprobs")
    tokens = expect_logprobs(stream, top=2)
    assert [t[0] for t in tokens] == [e["token"] for e in upstream]
    assert [t[1] for t in tokens] == [round(e["logprob"], 6) for e in upstream]
    part = accumulate(stream).output[0]["content"][0]
    assert part["logprobs"][0]["bytes"] == list(upstream[0]["token"].encode("utf-8"))
    assert part["logprobs"][0]["top_logprobs"][0]["token"] == upstream[0]["top_logprobs"][0]["token"]


def test_without_the_include_the_text_events_carry_no_logprobs() -> None:
    stream = parse_events(translate_chat_stream(_chunks(), request={"model": "m"}), source_name="plain")
    assert all(e.raw["logprobs"] == [] for e in stream.events if e.type in ("response.output_text.delta",
                                                                            "response.output_text.done"))
    with pytest.raises(AssertionError, match="none of the"):
        expect_logprobs(stream, top=2)
