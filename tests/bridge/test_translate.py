"""The stream translation over the real captured chat streams of tests/captures/chat.

Where a test needs a case no capture has (refusal, url citations, content
filter, interleaving, garbage), it is made from real chunks by changing one
field, and the test says what it changed.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from kit.bridge import translate_chat_stream
from tests.bridge.helpers import (
    assert_valid,
    chat_files,
    clean_and_citations,
    deltas,
    joined,
    load_chunks,
    of_type,
    upstream_content,
    upstream_reasoning,
    upstream_tool_calls,
    uses_think_tags,
)


CITATIONS = ["llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-1dbd102b.jsonl",
             "llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-545bde72.jsonl"]
LENGTH = "llama-stack__openai-gpt-4o-2024-08-06-finish-length-4a527f09.jsonl"
AZURE_FILTER = "vercel-ai__azure-model-router-content-filter.jsonl"
GROQ_ERROR = "pydantic-ai__groq-gpt-oss-120b-reasoning-error.jsonl"
OPENROUTER_ERROR = "req_llm-vkryukov__openrouter-gemini-flash-lite-reasoning-error.jsonl"
PARALLEL = "llama-stack__azure-lls-test-gpt-4o-2024-11-20-parallel-tool-calls-1067b555.jsonl"
QWEN_REASONING = "llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-d1edbcab.jsonl"
QWEN_BOTH_FIELDS = "llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-66c64647.jsonl"
THINK_TAGS = "llama-stack__vllm-Qwen-Qwen3-0-6B-think-tag-tool-calls-0248ff8a.jsonl"
OLLAMA_TEXT = "llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"


def translate(chunks: list[Any], **options: Any) -> list[dict[str, Any]]:
    return list(translate_chat_stream(chunks, **options))


def fixture_id(path: Path) -> str:
    return path.stem


def message_texts(events: list[dict[str, Any]]) -> str:
    return "".join(part["text"] for item in events[-1]["response"]["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def rechunk_content(chunks: list[Any], pieces: list[str]) -> list[Any]:
    """The same stream with its content deltas replaced by `pieces` (one chunk each)."""
    template = next(c for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("content"))
    out = [c for c in chunks if not (c.get("choices") and c["choices"][0]["delta"].get("content"))]
    made = []
    for piece in pieces:
        chunk = copy.deepcopy(template)
        chunk["choices"][0]["delta"]["content"] = piece
        made.append(chunk)
    finish = next(n for n, c in enumerate(out) if c.get("choices") and c["choices"][0].get("finish_reason"))
    return out[:finish] + made + out[finish:]


# ------------------------------------------------------------------ every real stream


@pytest.mark.parametrize("path", chat_files(), ids=fixture_id)
def test_every_real_stream_keeps_order_and_consistency(path: Path) -> None:
    events = translate(load_chunks(path), think_tags=uses_think_tags(path))
    assert_valid(events)


def test_reasoning_is_taken_once_when_a_server_sends_both_fields() -> None:
    chunks = load_chunks(QWEN_BOTH_FIELDS)
    both = [d for d in deltas(chunks) if d.get("reasoning") and d.get("reasoning_content")]
    assert both, "the capture has deltas with both reasoning fields"
    events = translate(chunks)
    assert joined(events, "response.reasoning_text.delta") == "".join(d.get("reasoning_content") or ""
                                                                      for d in deltas(chunks))


# ------------------------------------------------------------------ citations


@pytest.mark.parametrize("name", CITATIONS)
def test_citation_markers_become_file_citations_at_the_right_offsets(name: str) -> None:
    events = translate(load_chunks(name), citation_files={"file-446066738450": "us-updates.txt"})
    text, cites = clean_and_citations(upstream_content(load_chunks(name)))
    added = [e["annotation"] for e in of_type(events, "response.output_text.annotation.added")]
    assert [(a["index"], a["file_id"]) for a in added] == cites
    assert all(a["type"] == "file_citation" for a in added)
    # In these captures every marker stands before the sentence's full stop.
    assert all(text[a["index"]] == "." for a in added)
    assert "<|" not in text
    done = of_type(events, "response.content_part.done")[0]["part"]["annotations"]
    final = events[-1]["response"]["output"][0]["content"][0]["annotations"]
    assert added == done == final
    filenames = {a["file_id"]: a["filename"] for a in added}
    assert filenames.get("file-446066738450", "us-updates.txt") == "us-updates.txt"


@pytest.mark.parametrize("name", CITATIONS)
def test_markers_split_across_chunks_at_every_character_give_the_same_result(name: str) -> None:
    chunks = load_chunks(name)
    content = upstream_content(chunks)
    whole = translate(chunks)
    one_char = translate(rechunk_content(chunks, list(content)))
    assert message_texts(one_char) == message_texts(whole) == clean_and_citations(content)[0]
    assert (of_type(one_char, "response.output_text.annotation.added")[-1]["annotation"]
            == of_type(whole, "response.output_text.annotation.added")[-1]["annotation"])
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(content)), 12))
        pieces = [content[a:b] for a, b in zip([0, *cuts], [*cuts, len(content)])]
        events = translate(rechunk_content(chunks, pieces))
        assert_valid(events)
        assert message_texts(events) == message_texts(whole)
        assert ([e["annotation"] for e in of_type(events, "response.output_text.annotation.added")]
                == [e["annotation"] for e in of_type(whole, "response.output_text.annotation.added")])


def test_markers_are_kept_when_stripping_is_off() -> None:
    chunks = load_chunks(CITATIONS[1])
    events = translate(chunks, strip_citations=False)
    assert message_texts(events) == upstream_content(chunks)
    assert of_type(events, "response.output_text.annotation.added") == []


def test_text_that_only_looks_like_a_marker_start_is_released_at_the_end() -> None:
    chunks = rechunk_content(load_chunks(OLLAMA_TEXT), ["a <", "|fi", "le-x y", " <|fil"])
    events = translate(chunks)
    assert message_texts(events) == "a <|file-x y <|fil"
    assert_valid(events)


def test_url_citations_from_the_upstream_become_annotations() -> None:
    # Made from a real chunk: OpenAI's chat shape for search models, delta.annotations on the last text chunk.
    chunks = rechunk_content(load_chunks(OLLAMA_TEXT), ["Paris is the capital ", "of France."])
    last_text = [c for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("content")][-1]
    last_text["choices"][0]["delta"]["annotations"] = [{"type": "url_citation", "url_citation": {
        "start_index": 0, "end_index": 31, "title": "France", "url": "https://en.wikipedia.org/wiki/France"}}]
    events = translate(chunks)
    added = of_type(events, "response.output_text.annotation.added")
    assert [a["annotation"] for a in added] == [{"type": "url_citation", "start_index": 0, "end_index": 31,
                                                "title": "France", "url": "https://en.wikipedia.org/wiki/France"}]
    assert_valid(events)


def test_url_citation_offsets_follow_the_text_once_markers_are_removed() -> None:
    # Made from a real chunk: one marker, then a url citation whose offsets count the upstream's raw text.
    raw = "Paris <|file-1|>. Rome is in Italy."
    chunks = rechunk_content(load_chunks(OLLAMA_TEXT), ["Paris <|fi", "le-1|>. Rome is", " in Italy."])
    last_text = [c for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("content")][-1]
    start = raw.index("Rome")
    last_text["choices"][0]["delta"]["annotations"] = [{"type": "url_citation", "url_citation": {
        "start_index": start, "end_index": len(raw), "title": "Rome", "url": "https://en.wikipedia.org/wiki/Rome"}}]
    events = translate(chunks)
    assert_valid(events)
    text = message_texts(events)
    assert text == "Paris. Rome is in Italy."
    url = of_type(events, "response.output_text.annotation.added")[1]["annotation"]
    assert text[url["start_index"]:url["end_index"]] == "Rome is in Italy."


# ------------------------------------------------------------------ terminal states


def test_finish_reason_length_makes_the_response_incomplete() -> None:
    events = translate(load_chunks(LENGTH))
    terminal = events[-1]
    assert terminal["type"] == "response.incomplete"
    assert terminal["response"]["status"] == "incomplete"
    assert terminal["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert terminal["response"]["output"][-1]["status"] == "incomplete"
    assert terminal["response"]["usage"]["output_tokens"] == 16


def test_finish_reason_content_filter_makes_the_response_incomplete() -> None:
    # The real Azure stream with its finish_reason changed from stop to content_filter.
    chunks = load_chunks(AZURE_FILTER)
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason") == "stop":
                choice["finish_reason"] = "content_filter"
    terminal = translate(chunks)[-1]
    assert terminal["type"] == "response.incomplete"
    assert terminal["response"]["incomplete_details"] == {"reason": "content_filter"}


def test_azure_prompt_filter_preamble_does_not_become_the_response_identity() -> None:
    events = translate(load_chunks(AZURE_FILTER))
    response = events[0]["response"]
    assert response["id"] == "resp_chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt"
    assert response["model"] == "gpt-5-nano-2025-08-07"
    assert response["created_at"] == 1762317021


def test_usage_is_mapped_to_responses_names() -> None:
    usage = translate(load_chunks(AZURE_FILTER))[-1]["response"]["usage"]
    assert usage == {"input_tokens": 15, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 78,
                     "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 93}


def test_mid_stream_error_chunk_gives_error_then_failed_after_the_reasoning_so_far() -> None:
    chunks = load_chunks(GROQ_ERROR)
    events = translate(chunks)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "Tool call validation failed" in events[-2]["message"]
    assert events[-2]["code"] == "tool_use_failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert joined(events, "response.reasoning_text.delta") == upstream_reasoning(chunks)
    assert_valid(events)


def test_error_chunk_after_many_tool_calls_fails_and_ignores_what_follows() -> None:
    chunks = load_chunks(OPENROUTER_ERROR)
    events = translate(chunks)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "Malformed function call" in events[-2]["message"]
    calls = [i for i in events[-1]["response"]["output"] if i["type"] == "function_call"]
    assert len(calls) == len(upstream_tool_calls(chunks)) == 15
    assert len({c["call_id"] for c in calls}) == 15
    assert events[-1]["response"]["usage"] is None  # the usage chunk came after the error


def test_stream_cut_before_finish_reason_fails() -> None:
    chunks = load_chunks(OLLAMA_TEXT)[:5]
    events = translate(chunks)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "finish_reason" in events[-2]["message"]
    assert_valid(events)


def test_empty_stream_fails_cleanly() -> None:
    events = translate([])
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error", "response.failed"]


@pytest.mark.parametrize("garbage, where", [
    ("not a chunk", "is a str"),
    ({"id": "x", "model": "m", "choices": {"delta": {}}}, "choices is not a list"),
    ({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": 7}}]}, "delta.content is a int"),
    ({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [3]}}]}, "a tool call is not an object"),
    ({"id": "x", "model": "m", "choices": [{"index": 1, "delta": {"content": "hi"}}]}, "one choice"),
])
def test_garbage_chunks_become_a_failed_response_naming_the_chunk(garbage: Any, where: str) -> None:
    chunks = load_chunks(OLLAMA_TEXT)
    events = translate([*chunks[:4], garbage, *chunks[4:]])
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "chunk 5" in events[-2]["message"] and where in events[-2]["message"]
    assert_valid(events)


# ------------------------------------------------------------------ items and interleaving


def test_parallel_tool_calls_become_one_item_each_in_order() -> None:
    chunks = load_chunks(PARALLEL)
    events = translate(chunks)
    added = of_type(events, "response.output_item.added")
    assert [(e["output_index"], e["item"]["type"], e["item"]["name"]) for e in added] == [
        (0, "function_call", "get_experiment_id"), (1, "function_call", "get_user_id")]
    assert [e["item"]["call_id"] for e in added] == ["call_xpbLPPicxHz8fgQD2HGB9cM3", "call_tdp2LbdkE5fOnEDYWlaY6u4F"]
    dones = of_type(events, "response.function_call_arguments.done")
    assert [(d["name"], d["arguments"]) for d in dones] == upstream_tool_calls(chunks)
    assert all(json.loads(d["arguments"]) for d in dones)


def test_a_tool_call_repeated_as_legacy_function_call_counts_once() -> None:
    # llama-cpp-python (the local setup's server) sends each tool call delta twice: in tool_calls and in the
    # legacy function_call. Made from the real Ollama tool-call capture by adding that copy.
    chunks = load_chunks("llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl")
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            for call in choice["delta"].get("tool_calls") or ():
                choice["delta"]["function_call"] = dict(call["function"])
    events = translate(chunks)
    assert_valid(events)
    assert [(e["name"], e["arguments"]) for e in of_type(events, "response.function_call_arguments.done")] == [
        ("get_weather", '{"city":"Tokyo"}')]


def test_legacy_function_call_alone_becomes_a_function_call_item() -> None:
    chunks = load_chunks("llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl")
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            calls = choice["delta"].pop("tool_calls", None)
            if calls:
                choice["delta"]["function_call"] = calls[0]["function"]
    events = translate(chunks)
    assert_valid(events)
    assert [(e["name"], e["arguments"]) for e in of_type(events, "response.function_call_arguments.done")] == [
        ("get_weather", '{"city":"Tokyo"}')]


def test_interleaved_reasoning_and_text_still_close_each_item_before_the_next() -> None:
    # The real Qwen3 stream with three of its answer chunks moved into the middle of its reasoning.
    chunks = load_chunks(QWEN_REASONING)
    text_at = [n for n, c in enumerate(chunks) if c.get("choices") and c["choices"][0]["delta"].get("content")]
    reasoning_at = [n for n, c in enumerate(chunks) if c.get("choices") and c["choices"][0]["delta"].get("reasoning")]
    moved = [chunks[n] for n in text_at[:3]]
    rest = [c for n, c in enumerate(chunks) if n not in text_at[:3]]
    middle = rest.index(chunks[reasoning_at[len(reasoning_at) // 2]])
    mixed = rest[:middle] + moved + rest[middle:]
    events = translate(mixed)
    assert_valid(events)
    kinds = [e["item"]["type"] for e in of_type(events, "response.output_item.added")]
    assert kinds == ["reasoning", "message", "reasoning", "message"]
    assert joined(events, "response.reasoning_text.delta") == upstream_reasoning(chunks)
    assert joined(events, "response.output_text.delta") == upstream_content(chunks)


def test_refusal_goes_on_a_message_item_with_a_refusal_part() -> None:
    # Made from a real gpt-4o stream: its content deltas moved to delta.refusal (OpenAI's shape for refusals).
    chunks = load_chunks(LENGTH)
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            delta = choice["delta"]
            if delta.get("content"):
                delta["refusal"], delta["content"] = delta["content"], None
            if choice.get("finish_reason"):
                choice["finish_reason"] = "stop"
    events = translate(chunks)
    assert_valid(events)
    added = of_type(events, "response.output_item.added")
    assert [e["item"]["type"] for e in added] == ["message"]
    assert of_type(events, "response.content_part.added")[0]["part"] == {"type": "refusal", "refusal": ""}
    refusal = "".join(c["choices"][0]["delta"]["refusal"] for c in chunks
                      if c.get("choices") and c["choices"][0]["delta"].get("refusal"))
    assert joined(events, "response.refusal.delta") == refusal
    assert of_type(events, "response.refusal.done")[0]["refusal"] == refusal
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "refusal", "refusal": refusal}]


def test_think_tags_split_at_every_character_give_the_same_reasoning_and_call() -> None:
    chunks = load_chunks(THINK_TAGS)
    content = upstream_content(chunks)
    whole = translate(chunks, think_tags=True)
    text_chunks = [c for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("content")]
    template = text_chunks[0]
    singles = []
    for char in content:
        chunk = copy.deepcopy(template)
        chunk["choices"][0]["delta"]["content"] = char
        singles.append(chunk)
    first = chunks.index(text_chunks[0])
    rest = [c for c in chunks[first:] if c not in text_chunks]
    events = translate(chunks[:first] + singles + rest, think_tags=True)
    assert_valid(events)
    assert joined(events, "response.reasoning_text.delta") == joined(whole, "response.reasoning_text.delta")
    assert [e["item"]["type"] for e in of_type(events, "response.output_item.added")] == ["reasoning", "function_call"]


def test_think_tags_are_text_when_the_setup_does_not_declare_them() -> None:
    chunks = load_chunks(THINK_TAGS)
    events = translate(chunks)
    assert of_type(events, "response.reasoning_text.delta") == []
    assert message_texts(events).startswith("<think>")


# ------------------------------------------------------------------ summary


def test_reasoning_summary_streams_from_the_second_call() -> None:
    # The second call's answer is a real capture too (llama3.2's text stream).
    seen: list[str] = []
    summary_chunks = load_chunks(OLLAMA_TEXT)

    def summarize(reasoning: str) -> list[Any]:
        seen.append(reasoning)
        return summary_chunks

    chunks = load_chunks(QWEN_REASONING)
    events = translate(chunks, request={"model": "Qwen/Qwen3-0.6B", "reasoning": {"summary": "auto"}},
                       summarize=summarize)
    assert_valid(events)
    assert seen == [upstream_reasoning(chunks)]
    summary = upstream_content(summary_chunks)
    assert joined(events, "response.reasoning_summary_text.delta") == summary
    types = [e["type"] for e in events]
    part_done = types.index("response.content_part.done")
    assert types[part_done + 1:part_done + 3] == ["response.reasoning_summary_part.added",
                                                  "response.reasoning_summary_text.delta"]
    assert events[-1]["response"]["output"][0]["summary"] == [{"type": "summary_text", "text": summary}]


def test_no_summary_call_unless_the_request_asks() -> None:
    calls: list[str] = []
    events = translate(load_chunks(QWEN_REASONING), summarize=lambda r: calls.append(r) or [])
    assert calls == []
    assert not any(e["type"].startswith("response.reasoning_summary") for e in events)


def test_failed_summary_call_fails_the_response_after_closing_the_item() -> None:
    summary_chunks = load_chunks(OLLAMA_TEXT)[:4] + [load_chunks(GROQ_ERROR)[-1]]
    events = translate(load_chunks(QWEN_REASONING), request={"reasoning": {"summary": "concise"}},
                       summarize=lambda reasoning: summary_chunks)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["message"].startswith("summary call: upstream error: Tool call validation failed")
    assert_valid(events)
    assert of_type(events, "response.output_text.delta") == []  # nothing after the failure


# ------------------------------------------------------------------ determinism


def test_ids_and_timestamps_come_from_the_parameters_and_are_unique() -> None:
    chunks = load_chunks(PARALLEL)
    events = translate(chunks, response_id="resp_test", created_at=123)
    assert {e["response"]["id"] for e in events if "response" in e} == {"resp_test"}
    assert {e["response"]["created_at"] for e in events if "response" in e} == {123}
    ids = [e["item"]["id"] for e in of_type(events, "response.output_item.added")]
    assert len(set(ids)) == len(ids) and all("test" in i for i in ids)
    assert translate(chunks, response_id="resp_test", created_at=123) == events


def test_the_request_surface_is_echoed_in_every_response_snapshot_as_sent() -> None:
    # OpenAI's API reference (The response object): instructions, max_output_tokens, temperature, top_p,
    # metadata, user, safety_identifier, prompt_cache_key and truncation are the request's values, echoed.
    request = {"model": "m", "input": "x", "instructions": "Answer in one word.", "max_output_tokens": 24,
               "temperature": 0, "top_p": 0.5, "metadata": {"suite": "surface"}, "user": "user-1",
               "safety_identifier": "safety-1", "prompt_cache_key": "cache-1", "truncation": "disabled"}
    events = list(translate_chat_stream(load_chunks(AZURE_FILTER), request=request))
    snapshots = [e["response"] for e in events if "response" in e]
    assert len(snapshots) >= 3
    for snapshot in snapshots:
        assert {k: snapshot[k] for k in request if k not in ("model", "input")} == {
            k: v for k, v in request.items() if k not in ("model", "input")}


def test_fields_not_sent_are_echoed_as_openai_defaults_them() -> None:
    snapshot = translate(load_chunks(AZURE_FILTER))[-1]["response"]
    assert (snapshot["user"], snapshot["safety_identifier"], snapshot["prompt_cache_key"]) == (None, None, None)
    assert snapshot["truncation"] == "disabled" and snapshot["metadata"] == {} and snapshot["instructions"] is None
