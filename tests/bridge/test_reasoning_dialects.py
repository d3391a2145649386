"""The bridge reads every reasoning dialect servers use (issue 18), on real captures where one exists.

Each expected reasoning text is the concatenation of the dialect's own field in the capture, read here
independently of the bridge; the bridged stream must carry exactly that as its reasoning item, and the
answer as its message, and break no rule of the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit.bridge.chunks import bridge_capture, bridge_chunks
from kit.events import accumulate, parse_text, validate_stream

CHAT = Path(__file__).resolve().parents[1] / "captures" / "chat"


def _deltas(name: str) -> list[dict[str, Any]]:
    lines = (CHAT / name).read_text(encoding="utf-8").splitlines()
    return [ch.get("delta") or {} for line in lines if line.strip() for ch in json.loads(line).get("choices") or []]


def _bridged(name: str, **options: Any) -> Any:
    return bridge_capture(parse_text((CHAT / name).read_bytes(), source_name=name), **options)


def _errors(stream: Any) -> list[str]:
    return [v.rule for v in validate_stream(stream) if v.severity == "error"]


@pytest.mark.parametrize("name, field", [
    ("vercel-ai__azure-deepseek-v4-pro-reasoning-content.jsonl", "reasoning_content"),  # DeepSeek on Azure
    ("vercel-ai__groq-qwen3-32b-reasoning.jsonl", "reasoning"),  # Groq
    ("llama-stack__ollama-gpt-oss-20b-reasoning-495578c9.jsonl", "reasoning"),  # Ollama
    ("pydantic-ai__openrouter-claude-reasoning-details.jsonl", "reasoning"),  # OpenRouter, with reasoning_details
])
def test_reasoning_field_dialects_on_real_captures(name: str, field: str) -> None:
    deltas = _deltas(name)
    expected = "".join(d.get(field) or "" for d in deltas)
    answer = "".join(d.get("content") or "" for d in deltas)
    assert expected, f"{name}: the capture has no {field} (wrong capture for this dialect)"
    result = accumulate(stream := _bridged(name))
    assert result.reasoning_text == expected
    assert result.text == answer
    assert [i["type"] for i in result.output][:1] == ["reasoning"]
    assert _errors(stream) == []


def test_openrouter_reasoning_details_text_equals_its_reasoning() -> None:
    """OpenRouter sends the same text twice (reasoning and reasoning_details): read once; alone, details count."""
    name = "pydantic-ai__openrouter-claude-reasoning-details.jsonl"
    deltas = _deltas(name)
    details = "".join(x.get("text") or "" for d in deltas for x in d.get("reasoning_details") or []
                      if x.get("type") == "reasoning.text")
    assert details == "".join(d.get("reasoning") or "" for d in deltas) != ""
    # the same chunks with only reasoning_details (OpenRouter's structured field alone)
    lines = (CHAT / name).read_text(encoding="utf-8").splitlines()
    chunks = [json.loads(line) for line in lines if line.strip()]
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            (choice.get("delta") or {}).pop("reasoning", None)
    result = accumulate(bridge_chunks(chunks, source_name=name))
    assert result.reasoning_text == details


def test_think_tags_on_a_real_capture() -> None:
    name = "llama-stack__vllm-Qwen-Qwen3-0-6B-think-tag-tool-calls-0248ff8a.jsonl"
    content = "".join(d.get("content") or "" for d in _deltas(name))
    inside = content.split("<think>", 1)[1].split("</think>", 1)[0]
    result = accumulate(stream := _bridged(name, think_tags=True))
    assert result.reasoning_text == inside
    assert "<think>" not in result.text and "</think>" not in result.text
    assert _errors(stream) == []


# No real Mistral (Magistral) thinking stream was found in public repositories (only hand-written fixtures), so
# this one is the shape Mistral documents (ThinkChunk: {"type": "thinking", "thinking": [text chunks]}); the live
# test over the reasoning server (tests/live/test_reasoning_live.py) streams it for real through the bridge.
MISTRAL_CHUNKS = [
    {"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "magistral-small",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
    {"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "magistral-small",
     "choices": [{"index": 0, "delta": {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "2 and 2"}]}]},
                  "finish_reason": None}]},
    {"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "magistral-small",
     "choices": [{"index": 0, "delta": {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": " make 4."}],
                                                     "closed": True}, {"type": "text", "text": "It is"}]},
                  "finish_reason": None}]},
    {"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "magistral-small",
     "choices": [{"index": 0, "delta": {"content": " 4."}, "finish_reason": "stop"}]},
]


def test_mistral_content_blocks() -> None:
    stream = bridge_chunks(MISTRAL_CHUNKS, source_name="mistral")
    result = accumulate(stream)
    assert result.reasoning_text == "2 and 2 make 4."
    assert result.text == "It is 4."
    assert [i["type"] for i in result.output] == ["reasoning", "message"]
    assert _errors(stream) == []


@pytest.mark.parametrize("content, message", [
    ([{"type": "image_url", "image_url": {}}], "block of type 'image_url'"),
    ([{"type": "thinking", "thinking": 7}], "is a int, not a list"),
    (["text"], "block is a str"),
])
def test_unreadable_content_blocks_fail_the_response_naming_the_chunk(content: Any, message: str) -> None:
    chunks = [{"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": content}}]}]
    stream = bridge_chunks(chunks)
    errors = [e.raw for e in stream.events if e.type == "error"]
    assert errors and "chunk 1" in errors[0]["message"] and message in errors[0]["message"]
    assert stream.events[-1].type == "response.failed"
