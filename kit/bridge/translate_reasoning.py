"""Readers of the reasoning dialects servers put in a chat delta, beyond `reasoning_content` / `reasoning` strings.

- OpenRouter's `reasoning_details`: a list of `{"type": "reasoning.text", "text": ...}` (and `reasoning.summary`,
  `reasoning.encrypted`, which carry no raw text). It comes beside `delta.reasoning`, which then wins (the same
  text twice would be read twice); alone, its text items are the reasoning.
- Mistral's content blocks: `delta.content` is a list of `{"type": "thinking", "thinking": [{"type": "text",
  "text": ...}]}` and `{"type": "text", "text": ...}` blocks (Magistral models).

Pure functions; a shape they cannot read raises `BadChunk` naming the chunk, which the translator turns into
`error` + `response.failed`.
"""

from __future__ import annotations

from typing import Any

from kit.bridge.translate_items import BadChunk

# reasoning_details types with no raw reasoning text in them
_DETAILS_WITHOUT_TEXT = frozenset({"reasoning.summary", "reasoning.encrypted"})


def reasoning_details_text(details: Any, chunk: int) -> str:
    """The raw reasoning text of OpenRouter's `reasoning_details` (its `reasoning.text` items, joined)."""
    if not isinstance(details, list):
        raise BadChunk(f"chunk {chunk}: delta.reasoning_details is a {type(details).__name__}, not a list")
    texts = []
    for detail in details:
        if not isinstance(detail, dict):
            raise BadChunk(f"chunk {chunk}: a reasoning_details item is a {type(detail).__name__}, not an object")
        kind = detail.get("type")
        if kind == "reasoning.text":
            text = detail.get("text")
            if text is not None and not isinstance(text, str):
                raise BadChunk(f"chunk {chunk}: reasoning_details text is a {type(text).__name__}, not text")
            texts.append(text or "")
        elif kind not in _DETAILS_WITHOUT_TEXT:
            raise BadChunk(f"chunk {chunk}: reasoning_details item of type {kind!r}; the bridge reads "
                           "reasoning.text (and skips reasoning.summary, reasoning.encrypted)")
    return "".join(texts)


def _thinking_text(thinking: Any, chunk: int) -> str:
    """A Mistral `thinking` block's text: a list of text blocks (or strings), or a string."""
    if isinstance(thinking, str):
        return thinking
    if not isinstance(thinking, list):
        raise BadChunk(f"chunk {chunk}: a thinking block's `thinking` is a {type(thinking).__name__}, not a list")
    texts = []
    for part in thinking:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text", ""), str):
            texts.append(part.get("text") or "")
        else:
            raise BadChunk(f"chunk {chunk}: a thinking block holds {json_type(part)}, not text blocks")
    return "".join(texts)


def content_pieces(content: Any, chunk: int) -> list[tuple[bool, str]]:
    """`(is_reasoning, text)` pieces of a delta's content: a string, or Mistral's list of blocks."""
    if isinstance(content, str):
        return [(False, content)]
    if not isinstance(content, list):
        raise BadChunk(f"chunk {chunk}: delta.content is a {type(content).__name__}, not text or a list of blocks")
    pieces: list[tuple[bool, str]] = []
    for block in content:
        if not isinstance(block, dict):
            raise BadChunk(f"chunk {chunk}: a delta.content block is a {type(block).__name__}, not an object")
        kind = block.get("type")
        if kind == "thinking":
            text = _thinking_text(block.get("thinking"), chunk)
            if text:
                pieces.append((True, text))
        elif kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise BadChunk(f"chunk {chunk}: a text block's text is a {type(text).__name__}, not text")
            if text:
                pieces.append((False, text))
        else:
            raise BadChunk(f"chunk {chunk}: delta.content block of type {kind!r}; the bridge reads text and "
                           "thinking blocks")
    return pieces


def json_type(value: Any) -> str:
    return f"a {type(value).__name__}" if not isinstance(value, dict) else f"a block of type {value.get('type')!r}"


def dialect_text(chunks: Any, *, think_tags: bool = False) -> tuple[str, str]:
    """(answer, reasoning) of a chat stream read straight from its chunks, in whichever dialect it uses.

    Independent of the translator (whole-text, not incremental), so a notebook or test can hold the bridge's
    reasoning item to what the upstream streamed: `reasoning_content`, `reasoning` (else `reasoning_details`),
    Mistral's thinking blocks, and with `think_tags` the text between `<think>` and `</think>` in the content.
    """
    answer: list[str] = []
    reasoning: list[str] = []
    for index, chunk in enumerate(chunks, start=1):
        for choice in (chunk.get("choices") if isinstance(chunk, dict) else None) or []:
            delta = (choice or {}).get("delta") or {}
            field = delta.get("reasoning_content") or delta.get("reasoning")
            if not field and delta.get("reasoning_details"):
                field = reasoning_details_text(delta["reasoning_details"], index)
            reasoning.append(field or "")
            if delta.get("content"):
                for is_reasoning, text in content_pieces(delta["content"], index):
                    (reasoning if is_reasoning else answer).append(text)
    text = "".join(answer)
    if think_tags and "<think>" in text:
        before, _, rest = text.partition("<think>")
        inside, closed, after = rest.partition("</think>")
        reasoning.append(inside)
        text = before + (after.lstrip() if closed else "")
    return text, "".join(reasoning)
