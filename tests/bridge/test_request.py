"""Responses request -> Chat Completions request: what maps, and what is refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from kit.bridge import SEARCH_TOOL_NAME, UnsupportedParameter, to_chat_request

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
           "strict": True}


def test_string_input_and_instructions_become_system_and_user_messages() -> None:
    chat = to_chat_request({"model": "m", "instructions": "Be brief.", "input": "Hi"})
    assert chat == {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": "Hi"}]}


def test_sampling_and_limits_map_to_their_chat_names() -> None:
    chat = to_chat_request({"model": "m", "input": "x", "temperature": 0.2, "top_p": 0.9, "max_output_tokens": 64,
                            "user": "u1", "metadata": {"k": "v"}})
    assert (chat["temperature"], chat["top_p"], chat["max_tokens"], chat["user"]) == (0.2, 0.9, 64, "u1")
    assert chat["metadata"] == {"k": "v"}
    assert to_chat_request({"model": "m", "input": "x", "max_output_tokens": 9},
                           max_tokens_field="max_completion_tokens")["max_completion_tokens"] == 9


def test_item_input_with_prior_function_calls_and_outputs() -> None:
    chat = to_chat_request({"model": "m", "tools": [WEATHER], "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris and Rome?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "21C"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Paris 18C, Rome 21C."}]},
    ]})
    assert chat["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},  # text parts alone: a string
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": "21C"},
        {"role": "assistant", "content": "Paris 18C, Rome 21C."},
    ]
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "parameters": WEATHER["parameters"], "strict": True}}]


def test_a_user_message_of_text_parts_alone_goes_as_one_string() -> None:
    """llama-cpp-python (the local setup's server) answers a streamed list of text parts with HTTP 200 and an
    empty body, and many chat templates take strings only: typed multi-turn input (responses/multi_turn_input)
    failed through the in-process bridge while the served bridge answered it."""
    chat = to_chat_request({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Remember: "},
                                                        {"type": "input_text", "text": "tangerine."}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Got it."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "The word?"}]}]})
    assert chat["messages"] == [{"role": "user", "content": "Remember: tangerine."},
                                {"role": "assistant", "content": "Got it."},
                                {"role": "user", "content": "The word?"}]


def test_images_and_developer_messages() -> None:
    chat = to_chat_request({"model": "m", "input": [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]}]})
    assert chat["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                                         "detail": "low"}}]}]


@pytest.mark.parametrize("choice, expected", [
    ("auto", "auto"), ("required", "required"),
    ({"type": "function", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
])
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert to_chat_request({"model": "m", "input": "x", "tools": [WEATHER], "tool_choice": choice})["tool_choice"] == expected


def test_reasoning_effort_goes_upstream_and_the_summary_stays_with_the_bridge() -> None:
    chat = to_chat_request({"model": "m", "input": "x", "reasoning": {"effort": "low", "summary": "auto"}})
    assert chat["reasoning_effort"] == "low"
    assert "summary" not in str(chat)


def test_json_schema_text_format_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    chat = to_chat_request({"model": "m", "input": "x",
                            "text": {"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}}})
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}


def test_file_search_becomes_the_bridges_search_function() -> None:
    request = {"model": "m", "input": "x", "include": ["file_search_call.results"],
               "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}], "tool_choice": {"type": "file_search"}}
    chat = to_chat_request(request)
    assert [t["function"]["name"] for t in chat["tools"]] == [SEARCH_TOOL_NAME]
    assert chat["tools"][0]["function"]["parameters"]["required"] == ["query"]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": SEARCH_TOOL_NAME}}
    last = to_chat_request(request, search_tool=False)
    assert "tools" not in last


@pytest.mark.parametrize("request_, param", [
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"background": True}, "background"),
    ({"store": True}, "store"),
    ({"truncation": "auto"}, "truncation"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"include": ["reasoning.encrypted_content"]}, "include['reasoning.encrypted_content']"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["v"], "filters": {"type": "eq"}}]}, "tools[0].filters"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["v"]}, {**WEATHER, "name": "file_search"}]}, "tools"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
    ({"reasoning": {"effort": "low", "budget": 3}}, "reasoning.budget"),
    ({"frobnicate": 1}, "frobnicate"),
])
def test_what_chat_cannot_express_is_refused_naming_the_parameter(request_: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        to_chat_request({"model": "m", "input": "x", **request_})
    assert info.value.param == param
    assert str(info.value).startswith(f"{param}: ") and len(info.value.reason) > 10


def test_a_request_without_model_is_refused() -> None:
    with pytest.raises(UnsupportedParameter, match="model"):
        to_chat_request({"input": "x"})


def test_harmless_defaults_are_accepted() -> None:
    chat = to_chat_request({"model": "m", "input": "x", "store": False, "truncation": "disabled", "top_logprobs": 0,
                            "stream": True, "parallel_tool_calls": True})
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "x"}]}
