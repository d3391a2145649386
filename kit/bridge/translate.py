"""Chat Completions chunks in, Responses API events out (pure: no I/O, clocks or randomness).

The order of events is the one of docs/bridge-mapping.md:
each item is closed before the next is opened, whatever order the upstream
interleaves reasoning, text, refusals and tool calls in; reasoning never goes
on the message item. Ids and timestamps come from the parameters or, when
absent, from the upstream's own chunk (so replays are deterministic).

Upstream failures are data here, not exceptions: a chunk with an `error`
key (what servers send mid-stream; the I/O layer turns HTTP errors and
dropped connections into the same shape), a chunk that is not a chat
chunk, or a stream that ends before any `finish_reason` become an `error`
event followed by `response.failed`.

`ChatToResponses` is the incremental core (the file search loop in
`kit.bridge.service` drives it across several upstream calls);
`translate_chat_stream` is the one-call convenience over it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kit.bridge.markup import ThinkTagSplitter
from kit.bridge.request import LOGPROBS_INCLUDE
from kit.bridge.translate_reasoning import content_pieces, reasoning_details_text
from kit.bridge.translate_content import ContentSteps
from kit.bridge.translate_items import (  # noqa: F401  (re-exported: the translator's public names)
    FALLBACK_RESPONSE_ID,
    INCOMPLETE_REASONS,
    STATUS_OF_ITEM_CUT_BY_FAILURE,
    BadChunk,
    Chunk,
    Event,
    HostedCall,
    Summarizer,
    _error_fields,
    _FunctionCall,
    _int,
    _is_preamble,
    _object,
    _Item,
    _Message,
    _Reasoning,
    _response_object,
    token_logprobs,
)
from kit.bridge.translate_mcp import McpSteps
from kit.bridge.translate_tools import ToolSteps


def translate_chat_stream(
    chunks: Iterable[Chunk],
    *,
    request: Mapping[str, Any] | None = None,
    think_tags: bool = False,
    strip_citations: bool = True,
    citation_files: Mapping[str, str] | None = None,
    summarize: Summarizer | None = None,
    response_id: str | None = None,
    created_at: int | None = None,
) -> Iterator[Event]:
    """The Responses event stream for one Chat Completions stream.

    `request` is the Responses request (echoed in the response object and
    read for `include`); `citation_files` maps file ids of citation markers
    to filenames; `summarize` makes the reasoning summary when the request
    asks `reasoning.summary`.
    """
    translator = ChatToResponses(request=request, think_tags=think_tags, strip_citations=strip_citations,
                                 citation_files=citation_files, summarize=summarize,
                                 response_id=response_id, created_at=created_at)
    for chunk in chunks:
        yield from translator.feed(chunk)
        if translator.finished:
            return
    yield from translator.end_round()
    yield from translator.finish()


class ChatToResponses(ContentSteps, ToolSteps, McpSteps):
    """Incremental translator: `feed` chunks, `end_round` after each upstream call, `finish` once."""

    def __init__(
        self,
        *,
        request: Mapping[str, Any] | None = None,
        think_tags: bool = False,
        strip_citations: bool = True,
        citation_files: Mapping[str, str] | None = None,
        summarize: Summarizer | None = None,
        hosted_search_tool: str | None = None,
        response_id: str | None = None,
        created_at: int | None = None,
    ) -> None:
        self.request: Mapping[str, Any] = request or {}
        self.think_tags = think_tags
        self.strip_citations = strip_citations
        self.citation_files: dict[str, str] = dict(citation_files or {})
        reasoning = self.request.get("reasoning") or {}
        wants_summary = bool(reasoning.get("summary") or reasoning.get("generate_summary"))
        self.summarize = summarize if wants_summary else None
        self.hosted_search_tool = hosted_search_tool
        self.finished = False
        self.hosted_calls: list[HostedCall] = []
        self.hosted_tool_names: set[str] = set()  # the MCP tools the bridge calls itself (kit.bridge.mcp)
        self._mcp_open: Any = None
        self._response_id = response_id
        self._created_at = created_at
        self._response: dict[str, Any] | None = None
        self._base = ""
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._open: _Item | None = None
        self._closed_calls: set[Any] = set()
        self._hosted_open: HostedCall | None = None
        self._think = ThinkTagSplitter() if think_tags else None
        self._finish_reason: str | None = None
        self._usage: dict[str, int] | None = None
        self._chunks = 0
        self._search_queries: list[str] = []
        self.logprobs_wanted = LOGPROBS_INCLUDE in (self.request.get("include") or ())
        self._pending_logprobs: list[dict[str, Any]] = []  # taken by the next text delta

    @property
    def output(self) -> list[dict[str, Any]]:
        """The items done so far, in output order (read only)."""
        return self._output

    @property
    def finish_reason(self) -> str | None:
        """The upstream's last finish_reason in the current round."""
        return self._finish_reason

    # ------------------------------------------------------------------ input

    def feed(self, chunk: Chunk) -> Iterator[Event]:
        """Events for one upstream chunk (possibly none)."""
        if self.finished:
            return
        self._chunks += 1
        if self._response is None:
            if _is_preamble(chunk):
                return
            yield from self._start(chunk)
        try:
            if not isinstance(chunk, dict):
                raise BadChunk(f"chunk {self._chunks} is a {type(chunk).__name__}, not a JSON object")
            choices = chunk.get("choices")
            if choices:
                if not isinstance(choices, list):
                    raise BadChunk(f"chunk {self._chunks}: choices is not a list")
                for choice in choices:
                    yield from self._on_choice(choice)
                    if self.finished:
                        return
            usage = chunk.get("usage")
            if usage:
                self._add_usage(usage)
        except BadChunk as exc:
            yield from self.fail(str(exc), code="bridge_bad_chunk")
            return
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
            # A shape no check above foresaw: still data, never an exception out of the bridge.
            yield from self.fail(f"chunk {self._chunks}: cannot translate it ({type(exc).__name__}: {exc})",
                                 code="bridge_bad_chunk")
            return
        error = chunk.get("error")
        if error is not None:
            message, code = _error_fields(error)
            yield from self.fail(message, code=code)

    def _on_choice(self, choice: Any) -> Iterator[Event]:
        if not isinstance(choice, dict):
            raise BadChunk(f"chunk {self._chunks}: a choice is not an object")
        if choice.get("index", 0) not in (0, None):
            raise BadChunk(f"chunk {self._chunks}: choice index {choice.get('index')!r}; "
                           "the bridge translates one choice (n=1)")
        delta = choice.get("delta")
        if self.logprobs_wanted and choice.get("logprobs"):
            self._pending_logprobs.extend(token_logprobs(choice["logprobs"]))
        if delta:
            if not isinstance(delta, dict):
                raise BadChunk(f"chunk {self._chunks}: delta is not an object")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if not reasoning and delta.get("reasoning_details"):  # OpenRouter's structured reasoning alone
                reasoning = reasoning_details_text(delta["reasoning_details"], self._chunks)
            if reasoning:
                if not isinstance(reasoning, str):
                    raise BadChunk(f"chunk {self._chunks}: delta reasoning is a {type(reasoning).__name__}, "
                                   "not text")
                yield from self._reasoning_text(reasoning)
            content = delta.get("content")
            if content:
                for is_reasoning, piece in content_pieces(content, self._chunks):
                    if is_reasoning:
                        yield from self._reasoning_text(piece)
                    elif self._think is not None:
                        for in_think, text in self._think.feed(piece):
                            yield from (self._reasoning_text(text) if in_think else self._answer_text(text))
                            if self.finished:
                                return
                    else:
                        yield from self._answer_text(piece)
                    if self.finished:
                        return
            refusal = delta.get("refusal")
            if refusal:
                if not isinstance(refusal, str):
                    raise BadChunk(f"chunk {self._chunks}: delta.refusal is not text")
                yield from self._refusal_text(refusal)
            annotations = delta.get("annotations")
            if annotations:
                yield from self._url_citations(annotations)
            tool_calls = delta.get("tool_calls")
            if tool_calls:
                if not isinstance(tool_calls, list):
                    raise BadChunk(f"chunk {self._chunks}: delta.tool_calls is not a list")
                for call in tool_calls:
                    yield from self._tool_call(call)
                    if self.finished:
                        return
            legacy = delta.get("function_call")  # llama-cpp-python repeats each tool call delta here
            if legacy and not tool_calls:
                yield from self._tool_call({"index": "function_call", "function": legacy})
        reason = choice.get("finish_reason")
        if reason:
            if not isinstance(reason, str):
                raise BadChunk(f"chunk {self._chunks}: finish_reason is a {type(reason).__name__}, not a string")
            self._finish_reason = reason
        message = choice.get("message")  # some servers repeat the whole message (with annotations) at the end
        if isinstance(message, dict) and message.get("annotations"):
            yield from self._url_citations(message["annotations"])

    # -------------------------------------------------------- item closing

    def _close_open(self) -> Iterator[Event]:
        item = self._open
        if item is None:
            return
        if isinstance(item, _Message):
            if item.part_kind is not None:
                yield from self._close_part(item)
            yield from self._item_done(item, {"id": item.id, "type": "message", "status": item.status,
                                              "content": item.parts, "role": "assistant"})
        elif isinstance(item, _Reasoning):
            yield from self._close_reasoning(item)
        elif isinstance(item, _FunctionCall):
            yield from self._close_function_call(item)
        else:
            raise AssertionError(f"{item.kind} items are closed by their own step")

    def _item_done(self, item: _Item, done: dict[str, Any]) -> Iterator[Event]:
        self._open = None
        self._output.append(done)
        yield self._event("response.output_item.done", output_index=item.output_index, item=done)

    # ------------------------------------------------------------ lifecycle

    def end_round(self) -> Iterator[Event]:
        """The upstream call ended: release held text and close the open item."""
        if self.finished:
            return
        if self._response is None:
            yield from self._start(None)
        yield from self._flush_held_text()
        if self._open is not None and self._finish_reason in INCOMPLETE_REASONS:
            self._open.status = "incomplete"
        yield from self._close_open()
        self._hosted_open = None
        self._closed_calls = set()

    def next_round(self) -> None:
        """Another upstream call follows (the file search loop): its finish_reason counts, not this one's."""
        self._finish_reason = None
        self.hosted_calls = []
        if self.think_tags:  # a <think> left open by the last call does not carry over
            self._think = ThinkTagSplitter()

    def finish(self) -> Iterator[Event]:
        """The terminal event (once, after the last round)."""
        if self.finished:
            return
        if self._response is None:
            yield from self._start(None)
        if self._open is not None:
            yield from self.end_round()
            if self.finished:
                return
        reason = self._finish_reason
        if reason is None:
            yield from self.fail("the upstream stream ended before any finish_reason (connection dropped?)",
                                 code="bridge_truncated_stream")
            return
        self.finished = True
        if reason in INCOMPLETE_REASONS:
            yield self._event("response.incomplete", response=self._snapshot(
                "incomplete", incomplete_details={"reason": INCOMPLETE_REASONS[reason]}))
        else:
            yield self._event("response.completed", response=self._snapshot("completed"))

    def fail(self, message: str, code: str | None = None) -> Iterator[Event]:
        """`error` then `response.failed`; open items are closed first (nothing may follow the error)."""
        if self.finished:
            return
        if self._response is None:
            yield from self._start(None)
        self.summarize = None  # no second call for a response that failed
        item = self._open
        if item is not None and item.kind == "file_search_call":
            yield from self._item_done(item, {"id": item.id, "type": "file_search_call", "status": "failed",
                                              "queries": self._search_queries, "results": None})
        elif item is not None:
            item.status = STATUS_OF_ITEM_CUT_BY_FAILURE
            yield from self._flush_held_text()
            yield from self._close_open()
        self.finished = True
        yield self._event("error", code=code, message=message, param=None)
        yield self._event("response.failed", response=self._snapshot(
            "failed", error={"code": "rate_limit_exceeded" if code == "rate_limit_exceeded" else "server_error",
                             "message": message}))

    def _start(self, chunk: Any) -> Iterator[Event]:
        first = chunk if isinstance(chunk, dict) else {}
        upstream_id = first.get("id") if isinstance(first.get("id"), str) else ""
        response_id = self._response_id or (f"resp_{upstream_id}" if upstream_id else FALLBACK_RESPONSE_ID)
        created = self._created_at if self._created_at is not None else first.get("created")
        model = first.get("model") if isinstance(first.get("model"), str) and first.get("model") else None
        self._base = response_id.removeprefix("resp_")
        self._response = _response_object(self.request, response_id=response_id,
                                          created_at=created if isinstance(created, int) else 0,
                                          model=model or str(self.request.get("model") or ""))
        yield self._event("response.created", response=self._snapshot("in_progress"))
        yield self._event("response.in_progress", response=self._snapshot("in_progress"))

    def _snapshot(self, status: str, **fields: Any) -> dict[str, Any]:
        assert self._response is not None
        snapshot = dict(self._response)
        snapshot["status"] = status
        snapshot["output"] = list(self._output) if status != "in_progress" else []
        if status != "in_progress":
            snapshot["usage"] = self._response_usage()
        snapshot.update(fields)
        return snapshot

    def _response_usage(self) -> dict[str, Any] | None:
        u = self._usage
        if u is None:
            return None
        return {"input_tokens": u["input"], "input_tokens_details": {"cached_tokens": u["cached"]},
                "output_tokens": u["output"], "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
                "total_tokens": u["total"]}

    def _add_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            raise BadChunk(f"chunk {self._chunks}: usage is not an object")
        totals = self._usage or {"input": 0, "output": 0, "total": 0, "cached": 0, "reasoning": 0}
        prompt = _int(usage.get("prompt_tokens"))
        completion = _int(usage.get("completion_tokens"))
        total = usage.get("total_tokens")
        totals["input"] += prompt
        totals["output"] += completion
        totals["total"] += _int(total) if total is not None else prompt + completion
        totals["cached"] += _int(_object(usage.get("prompt_tokens_details")).get("cached_tokens"))
        totals["reasoning"] += _int(_object(usage.get("completion_tokens_details")).get("reasoning_tokens"))
        self._usage = totals

    def _item_id(self, prefix: str) -> str:
        return f"{prefix}_{self._base}_{len(self._output)}"

    def _event(self, type_: str, **fields: Any) -> Event:
        event = {"type": type_, "sequence_number": self._seq}
        event.update(fields)
        self._seq += 1
        return event
