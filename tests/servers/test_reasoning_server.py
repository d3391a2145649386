"""The reasoning server's pure parts: which requests it shapes, the grammar, and the dialects it writes.

The raw stream under test is a real one: llama.cpp's answer to the battery's reasoning probe through the
reasoning server in its think_tags dialect (unchanged bytes), recorded by the kit's record mode in
recordings/local. Each dialect's output must carry exactly the text between the tags as reasoning, the rest
as the answer, and read back through the bridge to the same reasoning item.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit.bridge.chunks import bridge_chunks
from kit.events import accumulate, validate_stream
from kit.servers.reasoning import (
    DIALECTS,
    GRAMMAR,
    DialectWriter,
    UnknownDialect,
    asks_for_reasoning,
    rewrite_completion,
    rewrite_sse_lines,
    shape_request,
    shapes,
)

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings" / "local" / "chat-completions"
PROBE = "Is 221 a prime number? Answer yes or no."


def _raw_think_tag_stream() -> list[dict[str, Any]]:
    for path in sorted(RECORDINGS.glob("*.json")):
        recording = json.loads(path.read_text(encoding="utf-8"))
        body = recording["request"]["body"]
        if body.get("reasoning_effort") and body["messages"][-1]["content"] == PROBE:
            return [e["data"] for e in recording["response"]["sse"]["events"] if isinstance(e.get("data"), dict)]
    raise AssertionError(f"the battery's reasoning probe is not recorded in {RECORDINGS}")


def _upstream_texts(chunks: list[dict[str, Any]]) -> tuple[str, str]:
    content = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
    assert content.startswith("<think>\n") and "\n</think>\n\n" in content, content
    inside, _, after = content.removeprefix("<think>").partition("</think>")
    return inside, after.lstrip()


@pytest.mark.parametrize("body, asked", [
    ({"reasoning_effort": "low"}, True),
    ({"reasoning_effort": "none"}, False),
    ({"reasoning": {"effort": "high"}}, True),
    ({"reasoning": {"enabled": False, "effort": "high"}}, False),
    ({"think": True}, True),
    ({"chat_template_kwargs": {"enable_thinking": True}}, True),
    ({"chat_template_kwargs": {"enable_thinking": False}}, False),
    ({"temperature": 0}, False),
])
def test_which_requests_ask_for_reasoning(body: dict[str, Any], asked: bool) -> None:
    assert asks_for_reasoning(body) is asked


def test_only_unconstrained_reasoning_requests_are_shaped() -> None:
    assert shapes({"reasoning_effort": "low", "messages": []})
    assert not shapes({"reasoning_effort": "low", "tools": [{"type": "function"}]})
    assert not shapes({"reasoning_effort": "low", "response_format": {"type": "json_object"}})
    assert shape_request({"reasoning_effort": "low"})["grammar"] == GRAMMAR


def test_the_grammar_compiles_in_llama_cpp() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="the `local` extra (llama-cpp-python) is not installed")
    assert llama_cpp.LlamaGrammar.from_string(GRAMMAR, verbose=False) is not None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_dialect_carries_the_think_text_as_reasoning(dialect: str) -> None:
    raw = _raw_think_tag_stream()
    inside, answer = _upstream_texts(raw)
    writer = DialectWriter(dialect)
    out = [c for chunk in raw for c in writer.feed(chunk)]
    deltas = [c["choices"][0]["delta"] for c in out if c.get("choices")]
    if dialect == "think_tags":
        assert out == raw  # the raw llama.cpp stream is already that dialect
    elif dialect == "reasoning_content":
        assert "".join(d.get("reasoning_content") or "" for d in deltas) == inside
    elif dialect == "reasoning":
        assert "".join(d.get("reasoning") or "" for d in deltas) == inside
        assert "".join(x["text"] for d in deltas for x in d.get("reasoning_details") or []) == inside
    else:
        blocks = [b for d in deltas if isinstance(d.get("content"), list) for b in d["content"]]
        assert all(isinstance(d.get("content"), (list, type(None))) for d in deltas)
        assert "".join(t["text"] for b in blocks if b["type"] == "thinking" for t in b["thinking"]) == inside
        assert "".join(b["text"] for b in blocks if b["type"] == "text") == answer
    assert [c["choices"][0]["finish_reason"] for c in out if c.get("choices")][-1] == "stop"
    bridged = bridge_chunks(out, source_name=dialect, think_tags=dialect == "think_tags")
    result = accumulate(bridged)
    assert result.reasoning_text == inside
    assert result.text == answer
    assert [v.rule for v in validate_stream(bridged) if v.severity == "error"] == []


def test_sse_lines_are_reframed_and_done_kept() -> None:
    raw = _raw_think_tag_stream()
    lines = [f"data: {json.dumps(c)}" for c in raw] + ["", "data: [DONE]"]
    events = list(rewrite_sse_lines(iter(lines), "reasoning_content"))
    assert events[-1] == "data: [DONE]\n\n"
    assert all(e.startswith("data: ") and e.endswith("\n\n") for e in events)


def test_a_whole_completion_in_each_dialect() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": "<think>\nTwo and two.\n</think>\n\nFour."}}]}
    assert rewrite_completion(body, "think_tags") == body
    message = rewrite_completion(body, "reasoning_content")["choices"][0]["message"]
    assert message["reasoning_content"] == "\nTwo and two.\n" and message["content"] == "Four."
    message = rewrite_completion(body, "reasoning")["choices"][0]["message"]
    assert message["reasoning"] == message["reasoning_details"][0]["text"] == "\nTwo and two.\n"
    blocks = rewrite_completion(body, "mistral")["choices"][0]["message"]["content"]
    assert blocks == [{"type": "thinking", "thinking": [{"type": "text", "text": "\nTwo and two.\n"}]},
                      {"type": "text", "text": "Four."}]


def test_an_unknown_dialect_says_which_exist() -> None:
    with pytest.raises(UnknownDialect, match="reasoning_content, reasoning, think_tags, mistral"):
        DialectWriter("deepseek")


def test_kit_serve_refuses_an_unknown_dialect_before_starting_anything() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "kit", "serve", "local", "--reasoning", "deepseek"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown reasoning dialect 'deepseek'" in result.stderr and "mistral" in result.stderr


def test_a_standard_json_schema_format_becomes_llama_cpp_python_s_own() -> None:
    from kit.servers.reasoning import schema_format

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = {"model": "m", "messages": [], "response_format": {"type": "json_schema", "json_schema": {
        "name": "place", "strict": True, "schema": schema}}}
    assert schema_format(body) == {**body, "response_format": {"type": "json_object", "schema": schema}}
    assert schema_format({"model": "m", "response_format": {"type": "json_object"}}) is None
    assert schema_format({"model": "m"}) is None
    assert not shapes(body)  # a response format is never shaped into reasoning
