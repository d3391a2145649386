"""The bridge translator's state and helpers: the items it has open, and readers of upstream fields.

Pure data and functions; `translate.py` drives them (see its docstring for the contract).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kit.bridge.markup import CitationStripper, ThinkTagSplitter

Event = dict[str, Any]
Chunk = dict[str, Any]
# Produces the chat chunks of the summary call for a reasoning text (I/O lives in the caller).
Summarizer = Callable[[str], Iterable[Chunk]]

FALLBACK_RESPONSE_ID = "resp_bridge"
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Items still open when the upstream fails are closed with this status.
# "incomplete" is reserved for items of an incomplete response (lifecycle.incomplete-item-last).
STATUS_OF_ITEM_CUT_BY_FAILURE = "completed"


class _Item:
    __slots__ = ("kind", "id", "output_index", "status")

    def __init__(self, kind: str, item_id: str, output_index: int) -> None:
        self.kind = kind
        self.id = item_id
        self.output_index = output_index
        self.status = "completed"


class _Reasoning(_Item):
    __slots__ = ("texts",)

    def __init__(self, item_id: str, output_index: int) -> None:
        super().__init__("reasoning", item_id, output_index)
        self.texts: list[str] = []


class _Message(_Item):
    __slots__ = ("parts", "part_kind", "texts", "annotations", "length", "citations", "logprobs")

    def __init__(self, item_id: str, output_index: int) -> None:
        super().__init__("message", item_id, output_index)
        self.parts: list[dict[str, Any]] = []  # closed parts
        self.part_kind: str | None = None  # "output_text" | "refusal" while a part is open
        self.texts: list[str] = []
        self.annotations: list[dict[str, Any]] = []
        self.length = 0  # characters of the open part so far
        self.citations = CitationStripper()
        self.logprobs: list[dict[str, Any]] = []  # the open part's token logprobs (asked with include)


def token_logprobs(logprobs: Any) -> list[dict[str, Any]]:
    """A chat choice's `logprobs.content` as Responses token logprobs (`ResponseOutputText.Logprob`): token,
    bytes, logprob and top_logprobs, each top one with its bytes (computed from the token when the upstream
    sends none, as llama-cpp-python does)."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return []

    def one(entry: dict[str, Any]) -> dict[str, Any]:
        token = str(entry.get("token") or "")
        raw = entry.get("bytes")
        return {"token": token, "bytes": list(raw) if isinstance(raw, list) else list(token.encode("utf-8")),
                "logprob": float(entry.get("logprob") or 0.0)}

    return [{**one(e), "top_logprobs": [one(t) for t in e.get("top_logprobs") or () if isinstance(t, dict)]}
            for e in content if isinstance(e, dict)]


def delta_logprobs(logprobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Token logprobs as the text events carry them (`ResponseTextDeltaEvent.Logprob`: no bytes)."""
    return [{"token": e["token"], "logprob": e["logprob"],
             "top_logprobs": [{"token": t["token"], "logprob": t["logprob"]} for t in e["top_logprobs"]]}
            for e in logprobs]


class _FunctionCall(_Item):
    __slots__ = ("index", "call_id", "name", "args")

    def __init__(self, item_id: str, output_index: int, index: Any, call_id: str, name: str) -> None:
        super().__init__("function_call", item_id, output_index)
        self.index = index
        self.call_id = call_id
        self.name = name
        self.args: list[str] = []


class HostedCall:
    """A call of the bridge's own search function, held back from the stream (it becomes a file_search_call)."""

    __slots__ = ("index", "call_id", "name", "args")

    def __init__(self, index: Any, call_id: str, name: str) -> None:
        self.index = index
        self.call_id = call_id
        self.name = name
        self.args: list[str] = []

    @property
    def arguments(self) -> str:
        return "".join(self.args)


class BadChunk(ValueError):
    """An upstream chunk the bridge cannot read; becomes `error` + `response.failed`."""


class TranslatorState:
    """What the translator's step families (content, tool calls, lifecycle) share: its state, and the
    few steps each family calls in another (defined once, by `ChatToResponses`)."""

    request: Mapping[str, Any]
    think_tags: bool
    strip_citations: bool
    citation_files: dict[str, str]
    summarize: Summarizer | None
    hosted_search_tool: str | None
    hosted_tool_names: set[str]
    _mcp_open: Any
    finished: bool
    hosted_calls: list[HostedCall]
    _base: str
    _seq: int
    _output: list[dict[str, Any]]
    _open: _Item | None
    _closed_calls: set[Any]
    _hosted_open: HostedCall | None
    _think: ThinkTagSplitter | None
    _chunks: int
    _search_queries: list[str]
    _pending_logprobs: list[dict[str, Any]]

    def _event(self, type_: str, **fields: Any) -> Event:
        raise NotImplementedError

    def _close_open(self) -> Iterator[Event]:
        raise NotImplementedError

    def _item_done(self, item: _Item, done: dict[str, Any]) -> Iterator[Event]:
        raise NotImplementedError

    def _item_id(self, prefix: str) -> str:
        raise NotImplementedError

    def fail(self, message: str, code: str | None = None) -> Iterator[Event]:
        raise NotImplementedError

    def _add_usage(self, usage: Any) -> None:
        raise NotImplementedError


def _is_preamble(chunk: Any) -> bool:
    """Chunks before the real stream (Azure's prompt filter results) say nothing about the response."""
    return (isinstance(chunk, dict) and not chunk.get("choices") and chunk.get("error") is None
            and not chunk.get("usage") and not (chunk.get("id") and chunk.get("model")))


def _int(value: Any) -> int:
    """A count from upstream: an integer, else 0 (a count of another type says nothing)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _object(value: Any) -> dict[str, Any]:
    """An upstream object field, or an empty one when it has another type."""
    return value if isinstance(value, dict) else {}


def _error_fields(error: Any) -> tuple[str, str | None]:
    """(message, code) of an upstream error object, whatever its shape."""
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code") if error.get("code") is not None else error.get("type")
        if not isinstance(message, str) or not message:
            message = json.dumps(error, ensure_ascii=False)[:500]
        metadata = error.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("raw"), str):
            message = f"{message}: {metadata['raw']}"
        return f"upstream error: {message}", None if code is None else str(code)
    return f"upstream error: {error}", None


def _response_object(request: Mapping[str, Any], *, response_id: str, created_at: int, model: str) -> dict[str, Any]:
    reasoning = request.get("reasoning") or {}
    text = request.get("text") or {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": request.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": list(request.get("tools") or []),
        "top_p": request.get("top_p"),
        "truncation": request.get("truncation") or "disabled",
        "usage": None,
        "metadata": dict(request.get("metadata") or {}),
        # who asked, as sent (OpenAI's Response object echoes them; null when not sent)
        "user": request.get("user"),
        "safety_identifier": request.get("safety_identifier"),
        "prompt_cache_key": request.get("prompt_cache_key"),
    }
