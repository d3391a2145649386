"""Content expectations a notebook ends with: each raises `StreamCheckFailed` saying what was expected and what came.

`CapabilityMissing` says a setup cannot show a scenario (its capability flags); the
runner reports it as unsupported, never as passed."""

from __future__ import annotations

from typing import Any

from kit.events import Stream, accumulate
from kit.events.validate_state import INCOMPLETE_REASONS


class CapabilityMissing(Exception):
    """This setup cannot show this scenario (its capability flags say so); not a failure, not a pass."""


class StreamCheckFailed(AssertionError):
    """A stream or its content is wrong; the message lists the rule ids or the expectation."""


def chat_table(chunks: list[dict[str, Any]]) -> Any:
    """One row per chat chunk: what each carried (content, reasoning fields, tool calls, finish); shown as the
    kit's table view (a heading, no hidden column, no pandas "rows × columns" truncation line)."""
    from kit.render.tables import ViewTable

    rows = []
    for i, chunk in enumerate(chunks):
        choice = (chunk.get("choices") or [{}])[0] or {}
        delta = choice.get("delta") or {}
        rows.append({
            "chunk": i,
            "content": delta.get("content"),
            "reasoning_content": delta.get("reasoning_content"),
            "reasoning": delta.get("reasoning"),
            "refusal": delta.get("refusal"),
            "tool_calls": len(delta.get("tool_calls") or []),
            "finish_reason": choice.get("finish_reason"),
            "usage": bool(chunk.get("usage")),
        })
    table = ViewTable(rows)
    table.caption = "Chat chunks"
    return table


def chat_text(chunks: list[dict[str, Any]]) -> tuple[str, str]:
    """(answer text, reasoning text) of a chat stream, from whichever reasoning field the server used."""
    answer, reasoning = [], []
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = (choice or {}).get("delta") or {}
            answer.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
    return "".join(answer), "".join(reasoning)


# -- content expectations: each raises StreamCheckFailed saying what was expected and what came --


def _fail(stream: Stream, message: str) -> None:
    raise StreamCheckFailed(f"{stream.source}: {message}")


def expect_text(stream: Stream, *, min_chars: int = 1, contains: str | None = None) -> str:
    text = accumulate(stream).text
    if len(text.strip()) < min_chars:
        _fail(stream, f"expected an answer of at least {min_chars} character(s), got {text!r}")
    if contains is not None and contains.lower() not in text.lower():
        _fail(stream, f"expected the answer to contain {contains!r}, got {text[:200]!r}")
    return text


def expect_status(stream: Stream, status: str, *, reason: str | None = None) -> None:
    result = accumulate(stream)
    if result.status != status:
        _fail(stream, f"expected the response to end {status!r}, it ended {result.status!r}")
    if reason is not None:
        got = ((result.incomplete_details or {}).get("reason") if hasattr(result, "incomplete_details") else None)
        if got is None:
            terminal = stream.events[-1].raw.get("response", {}) if stream.events else {}
            got = (terminal.get("incomplete_details") or {}).get("reason")
        # A value outside the API's is the validator's to judge (lifecycle.terminal-status), once, where a
        # peer's baseline can hold it; here: a valid reason that is not the one this scenario caused.
        if got != reason and (got in INCOMPLETE_REASONS or got is None):
            _fail(stream, f"expected incomplete_details.reason {reason!r}, got {got!r}")


def expect_function_call(stream: Stream, name: str) -> dict[str, Any]:
    import json

    calls = [item for item in accumulate(stream).output if item.get("type") == "function_call"]
    match = [c for c in calls if c.get("name") == name]
    if not match:
        _fail(stream, f"expected a function_call item named {name!r}, got {[c.get('name') for c in calls]}")
    try:
        args = json.loads(match[0].get("arguments") or "")
    except ValueError:
        _fail(stream, f"function {name!r} arguments are not JSON: {match[0].get('arguments')!r}")
    if not isinstance(args, dict):
        _fail(stream, f"function {name!r} arguments are not a JSON object: {args!r}")
    return args


def expect_file_citations(stream: Stream, *, at_least: int = 1) -> list[dict[str, Any]]:
    result = accumulate(stream)
    searched = [i for i in result.output if i.get("type") == "file_search_call"]
    if not searched:
        _fail(stream, "expected a file_search_call item")
    citations = [a for item in result.output if item.get("type") == "message" for part in item.get("content", [])
                 for a in part.get("annotations", []) or [] if a.get("type") == "file_citation"]
    if len(citations) < at_least:
        _fail(stream, f"expected at least {at_least} file citation(s) in the answer, got {len(citations)}")
    return citations


def expect_items(stream: Stream, *types: str) -> None:
    got = [item.get("type") for item in accumulate(stream).output]
    for kind in types:
        if kind not in got:
            _fail(stream, f"expected an output item of type {kind!r}, got {got}")


def expect_reasoning(stream: Stream, *, summary: bool = True) -> str:
    result = accumulate(stream)
    if not result.reasoning_text and not result.summary_text:
        _fail(stream, "expected reasoning text or a reasoning summary, got neither")
    if summary and not result.summary_text:
        _fail(stream, "the request asked for a reasoning summary; none was streamed")
    return result.summary_text or result.reasoning_text


def expect_refusal(stream: Stream) -> str:
    refusal = accumulate(stream).refusal
    if not refusal:
        _fail(stream, f"expected a refusal part, got the answer {accumulate(stream).text[:200]!r}")
    return refusal


def expect_chat(chunks: list[dict[str, Any]], *, reasoning: bool = False) -> None:
    answer, thought = chat_text(chunks)
    if not chunks:
        raise StreamCheckFailed("the chat stream had no chunks")
    if not answer.strip() and not any((c.get("choices") or [{}])[0].get("delta", {}).get("tool_calls") for c in chunks if c.get("choices")):
        raise StreamCheckFailed("the chat stream carried no answer text")
    if reasoning and not thought:
        raise StreamCheckFailed("this setup reasons, but no chunk carried reasoning_content or reasoning")
    finishes = [ch.get("finish_reason") for c in chunks for ch in c.get("choices") or [] if ch and ch.get("finish_reason")]
    if not finishes:
        raise StreamCheckFailed("no chunk carried a finish_reason: the stream ended early")


def expect_embeddings(vectors: list[list[float]], *, dimension: int | None, similar: tuple[int, int],
                      unrelated: int) -> dict[str, float]:
    import math

    if dimension is not None and any(len(v) != dimension for v in vectors):
        raise StreamCheckFailed(f"expected vectors of dimension {dimension}, got {[len(v) for v in vectors]}")

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    near = cosine(vectors[similar[0]], vectors[similar[1]])
    far = cosine(vectors[similar[0]], vectors[unrelated])
    if not near > far:
        raise StreamCheckFailed(f"similar texts are not closer ({near:.3f}) than unrelated ones ({far:.3f})")
    return {"similar": near, "unrelated": far}


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> str:
    """A one-color PNG as a data URL, made here so a vision request fetches nothing."""
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
