"""Issue 4's acceptance: every real chat stream, bridged, is a valid Responses stream with its content intact.

Validity is judged by the kit's own validator (`kit.events.validate_stream`,
profile `openai`); content is compared with what the upstream chunks say,
computed here from the chunks without the bridge. Then one test per breach
that ogx (llama-stack) makes, each showing first that the validator catches
the breach when it is there, then that the bridge does not make it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kit.bridge import translate_chat_stream
from tests.bridge.helpers import (
    chat_files,
    clean_and_citations,
    joined,
    load_chunks,
    of_type,
    renumbered,
    split_think,
    upstream_content,
    upstream_reasoning,
    upstream_tool_calls,
    uses_think_tags,
    validator_errors,
)


REASONING = "llama-stack__ollama-gpt-oss-20b-reasoning-98e718b2.jsonl"
PARALLEL = "llama-stack__azure-lls-test-gpt-4o-2024-11-20-parallel-tool-calls-1067b555.jsonl"
CITATIONS = "llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-1dbd102b.jsonl"
LENGTH = "llama-stack__openai-gpt-4o-2024-08-06-finish-length-4a527f09.jsonl"


def bridged(name: str | Path, **options: Any) -> list[dict[str, Any]]:
    return list(translate_chat_stream(load_chunks(name), **options))


@pytest.mark.parametrize("path", chat_files(), ids=lambda p: p.stem)
def test_every_real_chat_stream_bridges_to_a_valid_stream_with_its_content(path: Path) -> None:
    chunks = load_chunks(path)
    think = uses_think_tags(path)
    events = list(translate_chat_stream(chunks, think_tags=think))
    assert validator_errors(events) == []
    content = upstream_content(chunks)
    reasoning, content = split_think(content) if think else (upstream_reasoning(chunks), content)
    answer, citations = clean_and_citations(content)
    assert joined(events, "response.reasoning_text.delta") == reasoning
    assert joined(events, "response.output_text.delta") == answer
    output = events[-1]["response"]["output"]
    assert "".join(p["text"] for i in output if i["type"] == "message" for p in i["content"]) == answer
    assert [(i["name"], i["arguments"]) for i in output if i["type"] == "function_call"] == upstream_tool_calls(chunks)
    added = [e["annotation"] for e in of_type(events, "response.output_text.annotation.added")]
    assert [(a["index"], a["file_id"]) for a in added] == citations


def refusal_stream() -> list[dict[str, Any]]:
    """The real gpt-4o stream with its content deltas sent as delta.refusal (no refusal capture exists)."""
    chunks = load_chunks(LENGTH)
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            if choice["delta"].get("content"):
                choice["delta"]["refusal"], choice["delta"]["content"] = choice["delta"]["content"], None
            if choice.get("finish_reason"):
                choice["finish_reason"] = "stop"
    return list(translate_chat_stream(chunks))


def rules(events: list[dict[str, Any]]) -> set[str]:
    return {rule for rule, _ in validator_errors(events)}


def test_ogx_breach_reasoning_on_the_message_item() -> None:
    events = bridged(REASONING)
    message = next(e for e in of_type(events, "response.output_item.added") if e["item"]["type"] == "message")
    ogx = copy.deepcopy(events)
    for e in ogx:  # what ogx does: reasoning deltas on the message's index and id
        if e["type"].startswith("response.reasoning_text"):
            e["output_index"], e["item_id"] = message["output_index"], message["item"]["id"]
    assert rules(ogx) & {"reasoning.text-on-reasoning-item", "item.opened", "part.kind-matches"}
    assert validator_errors(events) == []
    reasoning_items = {e["item"]["id"] for e in of_type(events, "response.output_item.added")
                       if e["item"]["type"] == "reasoning"}
    assert of_type(events, "response.reasoning_text.delta")
    assert {e["item_id"] for e in of_type(events, "response.reasoning_text.delta")} <= reasoning_items


def test_ogx_breach_two_items_at_output_index_0() -> None:
    events = bridged(REASONING)
    ogx = copy.deepcopy(events)
    for e in ogx:
        if "output_index" in e:
            e["output_index"] = 0
    assert "item.index-order" in rules(ogx)
    assert validator_errors(events) == []
    added = of_type(events, "response.output_item.added")
    assert [e["output_index"] for e in added] == [0, 1]
    assert [e["item"]["type"] for e in added] == ["reasoning", "message"]


def test_ogx_breach_refusal_with_no_item() -> None:
    events = refusal_stream()
    ogx = renumbered([e for e in events if e["type"] != "response.output_item.added"])
    assert "item.opened" in rules(ogx)
    assert validator_errors(events) == []
    first_refusal = next(n for n, e in enumerate(events) if e["type"].startswith("response.refusal"))
    announced = [e for e in events[:first_refusal] if e["type"] == "response.output_item.added"]
    assert announced and announced[-1]["item"]["id"] == events[first_refusal]["item_id"]


def test_ogx_breach_arguments_for_an_unannounced_item() -> None:
    events = bridged(PARALLEL)
    second = of_type(events, "response.output_item.added")[1]
    ogx = renumbered([e for e in events if e is not second])
    assert "item.opened" in rules(ogx)
    assert validator_errors(events) == []
    for n, e in enumerate(events):
        if e["type"].startswith("response.function_call_arguments"):
            assert any(a["type"] == "response.output_item.added" and a["item"]["id"] == e["item_id"]
                       for a in events[:n])


def test_ogx_breach_no_annotation_added() -> None:
    events = bridged(CITATIONS)
    ogx = renumbered([e for e in events if e["type"] != "response.output_text.annotation.added"])
    assert "annotation.consistent" in rules(ogx)
    assert validator_errors(events) == []
    streamed = [e["annotation"] for e in of_type(events, "response.output_text.annotation.added")]
    assert len(streamed) == len(clean_and_citations(upstream_content(load_chunks(CITATIONS)))[1]) == 3
    assert streamed == events[-1]["response"]["output"][0]["content"][0]["annotations"]


def test_ogx_breach_no_output_text_done() -> None:
    events = bridged(REASONING)
    ogx = renumbered([e for e in events if e["type"] != "response.output_text.done"])
    assert rules(ogx) & {"part.one-done", "part.closed-once"}
    assert validator_errors(events) == []
    parts = [e for e in of_type(events, "response.content_part.added") if e["part"]["type"] == "output_text"]
    dones = of_type(events, "response.output_text.done")
    assert [(p["item_id"], p["content_index"]) for p in parts] == [(d["item_id"], d["content_index"]) for d in dones]
