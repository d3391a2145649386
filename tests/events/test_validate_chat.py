"""The `chat` profile on real Chat Completions captures and on mutations of them.

Each chat rule: a real capture passes it, and the same capture broken the way
the rule describes (the way real servers broke it, where one did) fails with
that rule and no other chat rule. Expectations come from the API reference and
openai-python's chunk types and stream helper (see kit/events/validate_chat.py),
not from the validator's output.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from kit.events import RULES, enabled_rules, is_chat_stream, parse_events, parse_sse, parse_text, validate_stream
from kit.sources import load as kit_load
from tests.events._streams import FIXTURES

CHAT = FIXTURES / "chat"
CHAT_RULES = {rule_id for rule_id in enabled_rules("chat") if rule_id.startswith("chat.")}
DEEPSEEK = "chatlas__deepseek-v4-flash-reasoning-tool-call"  # clean: reasoning, one tool call, usage last, [DONE]
PARALLEL = "llama-stack__azure-lls-test-gpt-4o-2024-11-20-parallel-tool-calls-1067b555"
GROQ_ERROR = "pydantic-ai__groq-gpt-oss-120b-reasoning-error"
BEDROCK = "llama-stack__bedrock-mantle-openai-gpt-oss-20b-reasoning-24305b42"

# What the chat rules say about the real captures that break one, and why that is right.
REAL_BREACHES: dict[str, dict[str, str]] = {
    "fantasy__avian-kimi-k25-reasoning-tool-call": {
        "chat.stable-identity": "the first chunk's id is chatcmpl-..., every later one gen-... (OpenRouter relaying Avian)",
        "chat.finish-once": "finish_reason tool_calls is sent on two chunks",
    },
    PARALLEL: {
        "chat.prompt-filter-chunk": "Azure's prompt-filter chunk comes first (model '' and object '', no choices)",
    },
    "req_llm-vkryukov__openrouter-gemini-flash-lite-reasoning-error": {
        "chat.tool-call-delta": "four tool calls, each with its own id, all at index 0",
        "chat.tool-arguments": "... so their arguments concatenate into four JSON objects back to back",
        "chat.finish-once": "finish_reason tool_calls on each of the four chunks",
        "chat.error-chunk": "a usage chunk follows the error chunk",
    },
    "vercel-ai__azure-deepseek-v4-pro-reasoning-content": {"chat.stable-identity": "created grows by a second mid-stream"},
    "vercel-ai__azure-model-router-content-filter": {"chat.prompt-filter-chunk": "Azure's prompt-filter chunk, empty id"},
    "vercel-ai__groq-qwen3-32b-reasoning": {"chat.stable-identity": "created grows by a second mid-stream"},
    "vercel-ai__xai-grok-3-mini-reasoning-tool-call": {"chat.stable-identity": "created grows by a second mid-stream"},
}


def chat_names() -> list[str]:
    names = sorted(path.stem for path in CHAT.glob("*.jsonl"))
    if not names:
        raise FileNotFoundError(f"no chat captures at {CHAT}: the clone is incomplete (git checkout tests/captures)")
    return names


def chunks(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CHAT / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def rules_of(stream_chunks: list[Any]) -> Counter[str]:
    return Counter(v.rule for v in validate_stream(parse_events(stream_chunks)))


def to_sse(items: list[Any], *, done: bool = True, comments: bool = False) -> bytes:
    out = []
    for item in items:
        if comments:
            out.append(": keep-alive\n\n")
        out.append(f"data: {json.dumps(item)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


@pytest.mark.parametrize("name", chat_names())
def test_every_real_chat_capture_is_judged_by_the_chat_rules(name: str) -> None:
    stream = kit_load(CHAT / f"{name}.jsonl")
    assert is_chat_stream(stream)
    violations = validate_stream(stream)  # no profile: the stream picks it
    assert {v.rule for v in violations} == set(REAL_BREACHES.get(name, {}))
    assert all(v.rule in CHAT_RULES for v in violations)
    assert len(violations) <= 6  # one fact, one line: never one per chunk


def test_the_breaches_table_names_real_files_and_chat_rules() -> None:
    names = set(chat_names())
    for name, rules in REAL_BREACHES.items():
        assert name in names and set(rules) <= CHAT_RULES, name


def test_a_chat_stream_under_a_responses_profile_is_one_violation_not_one_per_chunk() -> None:
    violations = validate_stream(kit_load(CHAT / f"{DEEPSEEK}.jsonl"), "openai")
    assert len(violations) == 1 and violations[0].rule == "event.schema" and "chat profile" in violations[0].message


def test_a_responses_stream_under_the_chat_profile_is_one_violation() -> None:
    stream = kit_load(FIXTURES / "responses" / "otel-python-contrib__gpt4o-mini-text.jsonl")
    assert not is_chat_stream(stream)
    violations = validate_stream(stream, "chat")
    assert [v.rule for v in violations] == ["chat.schema"] and "openai" in violations[0].message


# -- each rule: the real capture passes, its mutation fails with that rule --

def _drop_created(c: list[Any]) -> None:
    del c[3]["created"]


def _bad_finish_value(c: list[Any]) -> None:
    c[-1]["choices"][0]["finish_reason"] = "end_turn"


def _object(c: list[Any]) -> None:
    c[5]["object"] = "chat.completion"


def _model_changes(c: list[Any]) -> None:
    c[10]["model"] = "deepseek-v4-pro"


def _id_changes(c: list[Any]) -> None:
    for chunk in c[12:]:
        chunk["id"] = "other"


def _prompt_filter_first(c: list[Any]) -> None:
    c.insert(0, chunks("vercel-ai__azure-model-router-content-filter")[0])


def _no_finish(c: list[Any]) -> None:
    c[-1]["choices"][0]["finish_reason"] = None


def _finish_twice(c: list[Any]) -> None:
    extra = copy.deepcopy(c[-1])
    extra["usage"] = None
    c.insert(len(c) - 1, extra)


def _content_after_finish(c: list[Any]) -> None:
    extra = copy.deepcopy(c[5])
    c.append(extra)
    c[-2], c[-1] = c[-1], c[-2]  # keep usage last
    c.insert(len(c) - 1, copy.deepcopy(c[-2]))
    c[-3]["choices"][0]["finish_reason"] = "tool_calls"
    c[-3]["usage"] = None
    c[-2]["choices"][0]["finish_reason"] = None
    c[-2]["choices"][0]["delta"] = {"content": "and one more thing"}
    c[-2]["usage"] = None


def _usage_twice(c: list[Any]) -> None:
    c[-3]["usage"] = c[-1]["usage"]


def _usage_not_last(c: list[Any]) -> None:
    c[-1], c[-2] = c[-2], c[-1]


def _tool_index_gap(c: list[Any]) -> None:
    for chunk in c:
        for choice in chunk.get("choices", []):
            for call in choice.get("delta", {}).get("tool_calls") or []:
                if call["index"] == 1:
                    call["index"] = 2


def _name_repeated(c: list[Any]) -> None:
    c[24]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] = "get_current_date"


def _second_id_same_index(c: list[Any]) -> None:
    c[24]["choices"][0]["delta"]["tool_calls"][0]["id"] = "call_01_other"


def _first_delta_without_name(c: list[Any]) -> None:
    del c[23]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]


def _arguments_resent(c: list[Any]) -> None:
    extra = copy.deepcopy(c[24])
    c.insert(25, extra)  # the whole arguments again: "{}{}"


def _chunk_after_error(c: list[Any]) -> None:
    c.append(copy.deepcopy(c[-2]))


def _error_without_message(c: list[Any]) -> None:
    c[-1]["error"] = {"code": "tool_use_failed"}


MUTATIONS: list[tuple[str, str, Callable[[list[Any]], None], str]] = [
    ("chat.schema", DEEPSEEK, _drop_created, "created missing"),
    ("chat.schema", DEEPSEEK, _bad_finish_value, "finish_reason outside the SDK's Literal"),
    ("chat.object", DEEPSEEK, _object, "object chat.completion on a chunk"),
    ("chat.stable-identity", DEEPSEEK, _model_changes, "model changes mid-stream"),
    ("chat.stable-identity", DEEPSEEK, _id_changes, "id changes mid-stream"),
    ("chat.prompt-filter-chunk", DEEPSEEK, _prompt_filter_first, "Azure's prompt-filter chunk first"),
    ("chat.finish-reason", DEEPSEEK, _no_finish, "finish_reason never sent"),
    ("chat.finish-once", DEEPSEEK, _finish_twice, "finish_reason twice"),
    ("chat.usage-last", DEEPSEEK, _usage_twice, "usage twice"),
    ("chat.usage-last", BEDROCK, _usage_not_last, "usage chunk not last"),
    ("chat.tool-index", PARALLEL, _tool_index_gap, "tool calls numbered 0, 2"),
    ("chat.tool-call-delta", DEEPSEEK, _name_repeated, "name sent again in a later delta"),
    ("chat.tool-call-delta", DEEPSEEK, _second_id_same_index, "a second id at the same index"),
    ("chat.tool-call-delta", DEEPSEEK, _first_delta_without_name, "first delta without a name"),
    ("chat.tool-arguments", DEEPSEEK, _arguments_resent, "arguments sent whole twice"),
    ("chat.error-chunk", GROQ_ERROR, _chunk_after_error, "a chunk after the error chunk"),
    ("chat.error-chunk", GROQ_ERROR, _error_without_message, "error without a message"),
]


@pytest.mark.parametrize("rule, name, mutate, why", MUTATIONS, ids=[f"{m[0]}:{m[3]}" for m in MUTATIONS])
def test_each_chat_rule_passes_the_real_capture_and_fails_its_mutation(rule: str, name: str, mutate: Callable[[list[Any]], None], why: str) -> None:
    real = chunks(name)
    before = rules_of(real)
    assert rule not in before, before
    mutate(real)
    after = rules_of(real)
    assert rule in after, (why, after)
    assert set(after) - set(before) == {rule}, (why, after)  # that rule, and no other new one


def test_every_chat_rule_has_a_mutation() -> None:
    assert {m[0] for m in MUTATIONS} == CHAT_RULES


def test_content_after_finish_reason_is_reported_with_what_a_client_would_lose() -> None:
    c = chunks(DEEPSEEK)
    _content_after_finish(c)
    [violation] = [v for v in validate_stream(parse_events(c)) if v.rule == "chat.finish-once"]
    assert "more deltas" in violation.message and violation.severity == "warning"


def test_a_stream_that_fails_with_an_error_chunk_needs_no_finish_reason() -> None:
    c = chunks(GROQ_ERROR)
    assert not any(ch.get("finish_reason") for chunk in c for ch in chunk.get("choices", []))
    assert rules_of(c) == Counter()
    assert rules_of(c[:-1])["chat.finish-reason"] == 1  # the same stream cut before its error: never finished


def test_done_sentinel_is_a_warning_under_chat_and_keep_alive_comments_are_no_violation() -> None:
    real = chunks(DEEPSEEK)
    assert validate_stream(parse_sse(to_sse(real))) == []
    assert validate_stream(parse_sse(to_sse(real, comments=True))) == []  # ": keep-alive" is legal SSE
    missing = validate_stream(parse_sse(to_sse(real, done=False)))
    assert [(v.rule, v.severity) for v in missing] == [("sse.done-sentinel", "warning")]


def test_garbage_in_a_chat_stream_is_sse_json_and_a_stream_of_garbage_is_said_once() -> None:
    real = chunks(DEEPSEEK)
    body = to_sse(real[:5]) .replace(b"data: [DONE]", b"data: {not json\n\ndata: [DONE]")
    assert [v.rule for v in validate_stream(parse_sse(body))] == ["sse.json", "chat.finish-reason"]
    garbage = validate_stream(parse_text(b"hello\nworld\n"), "chat")
    assert [v.rule for v in garbage].count("chat.schema") == 1
    assert "no chunks (2 payloads, none JSON)" in [v.message for v in garbage if v.rule == "chat.schema"][0]


def test_the_chat_rules_are_in_the_catalog_with_their_basis() -> None:
    for rule_id in CHAT_RULES:
        rule = RULES[rule_id]
        assert rule.chat is not None and rule.openai is None and rule.openresponses is None and rule.basis
    catalog = (Path(__file__).resolve().parents[2] / "docs" / "conformance-rules.md").read_text(encoding="utf-8")
    for rule_id in CHAT_RULES:
        assert f"| {rule_id} |" in catalog, rule_id


JUNK: tuple[Any, ...] = (None, [], {}, 7, -1, "x", [1, 2], {"index": "0"}, True)


@pytest.mark.parametrize("name", [DEEPSEEK, PARALLEL, GROQ_ERROR, "req_llm-vkryukov__openrouter-gemini-flash-lite-reasoning-error"])
def test_junk_in_any_field_of_a_real_chat_stream_is_judged_never_raised(name: str) -> None:
    real = chunks(name)
    paths: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                paths.append((*path, key))
                walk(inner, (*path, key))
        elif isinstance(value, list):
            for position, inner in enumerate(value):
                paths.append((*path, position))
                walk(inner, (*path, position))

    for position in range(len(real)):
        walk(real[position], (position,))
    for count, path in enumerate(paths[:: max(1, len(paths) // 300)]):
        broken = copy.deepcopy(real)
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = JUNK[count % len(JUNK)]
        for violation in validate_stream(parse_events(broken), "chat"):
            assert violation.rule in enabled_rules("chat") and isinstance(violation.message, str)


# -- the rules' claims about clients, checked against openai-python's own stream helper -----------------------------

def _sdk_snapshot(stream_chunks: list[Any]) -> Any:
    from openai._models import construct_type  # how the SDK builds each chunk it streams (no validation)
    from openai.lib.streaming.chat._completions import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state = ChatCompletionStreamState()
    for chunk in stream_chunks:
        if "choices" in chunk and not chunk.get("error"):
            state.handle_chunk(construct_type(type_=ChatCompletionChunk, value=chunk))
    return state.current_completion_snapshot


def test_the_sdk_doubles_a_repeated_tool_name_as_chat_tool_call_delta_says() -> None:
    real = chunks(DEEPSEEK)
    assert _sdk_snapshot(real).choices[0].message.tool_calls[0].function.name == "get_current_date"
    _name_repeated(real)
    assert _sdk_snapshot(real).choices[0].message.tool_calls[0].function.name == "get_current_dateget_current_date"


def test_the_sdk_merges_two_calls_at_one_index_as_the_real_openrouter_stream_shows() -> None:
    real = chunks("req_llm-vkryukov__openrouter-gemini-flash-lite-reasoning-error")
    ids = {call["id"] for chunk in real for choice in chunk.get("choices", [])
           for call in (choice.get("delta") or {}).get("tool_calls") or [] if call.get("id")}
    calls = _sdk_snapshot(real).choices[0].message.tool_calls
    assert len(ids) > 1 and len(calls) == 1 and calls[0].id.count("tool_0_structured_output_") == len(ids)  # all became one


def _first_call_numbered_1(c: list[Any]) -> None:
    for chunk in c:
        for choice in chunk.get("choices", []):
            for call in choice.get("delta", {}).get("tool_calls") or []:
                call["index"] = 1


def test_the_sdk_cannot_place_a_tool_call_after_an_index_gap() -> None:
    real = chunks(DEEPSEEK)
    assert len(_sdk_snapshot(real).choices[0].message.tool_calls) == 1
    _first_call_numbered_1(real)
    assert rules_of(real)["chat.tool-index"] == 1
    with pytest.raises(IndexError):
        _sdk_snapshot(real)


def test_the_sdk_takes_id_and_model_from_azure_s_prompt_filter_chunk() -> None:
    snapshot = _sdk_snapshot(chunks("vercel-ai__azure-model-router-content-filter"))
    assert (snapshot.id, snapshot.model) == ("", "")
