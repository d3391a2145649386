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

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any

from kit.bridge.markup import Citation, CitationStripper, ThinkTagSplitter

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
    __slots__ = ("parts", "part_kind", "texts", "annotations", "length", "citations")

    def __init__(self, item_id: str, output_index: int) -> None:
        super().__init__("message", item_id, output_index)
        self.parts: list[dict[str, Any]] = []  # closed parts
        self.part_kind: str | None = None  # "output_text" | "refusal" while a part is open
        self.texts: list[str] = []
        self.annotations: list[dict[str, Any]] = []
        self.length = 0  # characters of the open part so far
        self.citations = CitationStripper()


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


class ChatToResponses:
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
        if delta:
            if not isinstance(delta, dict):
                raise BadChunk(f"chunk {self._chunks}: delta is not an object")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                if not isinstance(reasoning, str):
                    raise BadChunk(f"chunk {self._chunks}: delta reasoning is a {type(reasoning).__name__}, "
                                   "not text")
                yield from self._reasoning_text(reasoning)
            content = delta.get("content")
            if content:
                if not isinstance(content, str):
                    raise BadChunk(f"chunk {self._chunks}: delta.content is a {type(content).__name__}, not text")
                if self._think is not None:
                    for is_reasoning, piece in self._think.feed(content):
                        if is_reasoning:
                            yield from self._reasoning_text(piece)
                        else:
                            yield from self._answer_text(piece)
                        if self.finished:
                            return
                else:
                    yield from self._answer_text(content)
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

    # ------------------------------------------------------------- reasoning

    def _reasoning_text(self, text: str) -> Iterator[Event]:
        item = self._open
        if not isinstance(item, _Reasoning):
            yield from self._close_open()
            if self.finished:
                return
            item = _Reasoning(self._item_id("rs"), len(self._output))
            self._open = item
            yield self._event("response.output_item.added", output_index=item.output_index,
                              item={"id": item.id, "type": "reasoning", "summary": [], "content": [],
                                    "status": "in_progress"})
            yield self._event("response.content_part.added", item_id=item.id, output_index=item.output_index,
                              content_index=0, part={"type": "reasoning_text", "text": ""})
        item.texts.append(text)
        self._seq += 1
        yield {"type": "response.reasoning_text.delta", "sequence_number": self._seq - 1, "item_id": item.id,
               "output_index": item.output_index, "content_index": 0, "delta": text}

    def _close_reasoning(self, item: _Reasoning) -> Iterator[Event]:
        text = "".join(item.texts)
        yield self._event("response.reasoning_text.done", item_id=item.id, output_index=item.output_index,
                          content_index=0, text=text)
        yield self._event("response.content_part.done", item_id=item.id, output_index=item.output_index,
                          content_index=0, part={"type": "reasoning_text", "text": text})
        summary: list[dict[str, str]] = []
        failure: tuple[str, str | None] | None = None
        if self.summarize is not None:
            failure = yield from self._summary(item, text, summary)
        done = {"id": item.id, "type": "reasoning", "summary": summary,
                "content": [{"type": "reasoning_text", "text": text}], "status": item.status}
        yield from self._item_done(item, done)
        if failure is not None:
            yield from self.fail(*failure)

    def _summary(self, item: _Reasoning, reasoning: str,
                 summary: list[dict[str, str]]) -> Generator[Event, None, tuple[str, str | None] | None]:
        """Stream the summary part; returns (message, code) if the summary call failed."""
        assert self.summarize is not None
        yield self._event("response.reasoning_summary_part.added", item_id=item.id,
                          output_index=item.output_index, summary_index=0,
                          part={"type": "summary_text", "text": ""})
        texts: list[str] = []
        think = ThinkTagSplitter() if self.think_tags else None
        failure: tuple[str, str | None] | None = None
        for chunk in self.summarize(reasoning):
            if not isinstance(chunk, dict):
                failure = (f"summary call: a chunk is a {type(chunk).__name__}, not a JSON object", "bridge_bad_chunk")
                break
            if chunk.get("error") is not None:
                message, code = _error_fields(chunk["error"])
                failure = (f"summary call: {message}", code)
                break
            if isinstance(chunk.get("usage"), dict):
                self._add_usage(chunk["usage"])
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                if not content or not isinstance(content, str):
                    continue
                pieces = [p for r, p in think.feed(content) if not r] if think else [content]
                for piece in pieces:
                    texts.append(piece)
                    yield self._event("response.reasoning_summary_text.delta", item_id=item.id,
                                      output_index=item.output_index, summary_index=0, delta=piece)
        if think is not None and failure is None:
            for is_reasoning, piece in think.flush():
                if not is_reasoning:
                    texts.append(piece)
                    yield self._event("response.reasoning_summary_text.delta", item_id=item.id,
                                      output_index=item.output_index, summary_index=0, delta=piece)
        text = "".join(texts)
        yield self._event("response.reasoning_summary_text.done", item_id=item.id,
                          output_index=item.output_index, summary_index=0, text=text)
        yield self._event("response.reasoning_summary_part.done", item_id=item.id,
                          output_index=item.output_index, summary_index=0,
                          part={"type": "summary_text", "text": text})
        summary.append({"type": "summary_text", "text": text})
        return failure

    # --------------------------------------------------------------- message

    def _message(self, kind: str) -> Iterator[Event]:
        """Make the open item a message whose open part is of `kind`; yields what that takes."""
        item = self._open
        if not isinstance(item, _Message):
            yield from self._close_open()
            if self.finished:
                return
            item = _Message(self._item_id("msg"), len(self._output))
            self._open = item
            yield self._event("response.output_item.added", output_index=item.output_index,
                              item={"id": item.id, "type": "message", "status": "in_progress", "content": [],
                                    "role": "assistant"})
        if item.part_kind != kind:
            if item.part_kind is not None:
                yield from self._close_part(item)
            item.part_kind = kind
            part: dict[str, Any] = ({"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
                                    if kind == "output_text" else {"type": "refusal", "refusal": ""})
            yield self._event("response.content_part.added", item_id=item.id, output_index=item.output_index,
                              content_index=len(item.parts), part=part)

    def _answer_text(self, text: str) -> Iterator[Event]:
        if not text:
            return
        item = self._open
        if not (isinstance(item, _Message) and item.part_kind == "output_text"):
            yield from self._message("output_text")
            if self.finished:
                return
            item = self._open
            assert isinstance(item, _Message)
        if not self.strip_citations:
            yield self._text_delta(item, text)
            return
        stripper = item.citations
        if not stripper.held and "<" not in text and text[-1] != " ":
            stripper.raw_length += len(text)
            yield self._text_delta(item, text)
            return
        for piece in stripper.feed(text):
            if isinstance(piece, Citation):
                yield self._annotation(item, {"type": "file_citation", "file_id": piece.file_id,
                                              "filename": self.citation_files.get(piece.file_id, ""),
                                              "index": item.length})
            else:
                yield self._text_delta(item, piece)

    def _text_delta(self, item: _Message, text: str) -> Event:
        item.texts.append(text)
        item.length += len(text)
        self._seq += 1
        return {"type": "response.output_text.delta", "sequence_number": self._seq - 1, "item_id": item.id,
                "output_index": item.output_index, "content_index": len(item.parts), "delta": text,
                "logprobs": []}

    def _annotation(self, item: _Message, annotation: dict[str, Any]) -> Event:
        item.annotations.append(annotation)
        return self._event("response.output_text.annotation.added", item_id=item.id,
                           output_index=item.output_index, content_index=len(item.parts),
                           annotation_index=len(item.annotations) - 1, annotation=annotation)

    def _refusal_text(self, text: str) -> Iterator[Event]:
        yield from self._message("refusal")
        if self.finished:
            return
        item = self._open
        assert isinstance(item, _Message)
        item.texts.append(text)
        yield self._event("response.refusal.delta", item_id=item.id, output_index=item.output_index,
                          content_index=len(item.parts), delta=text)

    def _url_citations(self, annotations: Any) -> Iterator[Event]:
        if not isinstance(annotations, list):
            raise BadChunk(f"chunk {self._chunks}: annotations is not a list")
        for raw in annotations:
            citation = raw.get("url_citation", raw) if isinstance(raw, dict) else None
            if not isinstance(citation, dict) or not isinstance(citation.get("url"), str):
                raise BadChunk(f"chunk {self._chunks}: an annotation is not a url_citation with a url")
            item = self._open
            if not (isinstance(item, _Message) and item.part_kind == "output_text"):
                yield from self._message("output_text")
                if self.finished:
                    return
                item = self._open
                assert isinstance(item, _Message)
            to_clean = item.citations.to_clean_index
            yield self._annotation(item, {"type": "url_citation",
                                          "start_index": to_clean(_int(citation.get("start_index"))),
                                          "end_index": to_clean(_int(citation.get("end_index"))),
                                          "title": str(citation.get("title") or ""), "url": citation["url"]})

    def _flush_held_text(self) -> Iterator[Event]:
        """Text held back because it might have become markup: at the end it is plain text."""
        if self._think is not None:
            for is_reasoning, piece in self._think.flush():
                yield from (self._reasoning_text(piece) if is_reasoning else self._answer_text(piece))

    def _close_part(self, item: _Message) -> Iterator[Event]:
        if item.citations.held:
            yield self._text_delta(item, item.citations.flush())
        text = "".join(item.texts)
        index = len(item.parts)
        if item.part_kind == "output_text":
            yield self._event("response.output_text.done", item_id=item.id, output_index=item.output_index,
                              content_index=index, text=text, logprobs=[])
            part: dict[str, Any] = {"type": "output_text", "annotations": item.annotations, "logprobs": [],
                                    "text": text}
        else:
            yield self._event("response.refusal.done", item_id=item.id, output_index=item.output_index,
                              content_index=index, refusal=text)
            part = {"type": "refusal", "refusal": text}
        yield self._event("response.content_part.done", item_id=item.id, output_index=item.output_index,
                          content_index=index, part=part)
        item.parts.append(part)
        item.part_kind = None
        item.texts = []
        item.annotations = []
        item.length = 0
        item.citations = CitationStripper()

    # ------------------------------------------------------------ tool calls

    def _tool_call(self, call: Any) -> Iterator[Event]:
        if not isinstance(call, dict):
            raise BadChunk(f"chunk {self._chunks}: a tool call is not an object")
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise BadChunk(f"chunk {self._chunks}: tool call function is not an object")
        index = call.get("index", 0)
        if isinstance(index, bool) or not isinstance(index, (int, str, type(None))):
            raise BadChunk(f"chunk {self._chunks}: tool call index is a {type(index).__name__}, not an integer")
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise BadChunk(f"chunk {self._chunks}: tool call id is a {type(call_id).__name__}, not a string")
        if function.get("name") is not None and not isinstance(function.get("name"), str):
            raise BadChunk(f"chunk {self._chunks}: tool call function.name is a "
                           f"{type(function.get('name')).__name__}, not a string")
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a few servers send the arguments as an object
            arguments = json.dumps(arguments, ensure_ascii=False)
        current: _FunctionCall | HostedCall | None = self._hosted_open
        if current is None and isinstance(self._open, _FunctionCall):
            current = self._open
        continues = current is not None and current.index == index and (not call_id or call_id == current.call_id)
        if not continues:
            if not call_id and index in self._closed_calls:
                yield from self.fail(f"chunk {self._chunks}: arguments for tool call index {index!r} arrived "
                                     "after another tool call began; the bridge streams tool calls one after "
                                     "another and cannot reopen a closed one", code="bridge_interleaved_tool_calls")
                return
            yield from self._close_open()
            if self.finished:
                return
            if self._hosted_open is not None:
                self._closed_calls.add(self._hosted_open.index)
                self._hosted_open = None
            name = function.get("name") or ""
            output_index = len(self._output)
            call_id = call_id or f"call_{self._base}_{output_index}_{len(self.hosted_calls)}"
            if self.hosted_search_tool is not None and name == self.hosted_search_tool:
                current = HostedCall(index, call_id, name)
                self.hosted_calls.append(current)
                self._hosted_open = current
            else:
                current = _FunctionCall(self._item_id("fc"), output_index, index, call_id, name)
                self._open = current
                yield self._event("response.output_item.added", output_index=output_index,
                                  item={"id": current.id, "type": "function_call", "status": "in_progress",
                                        "arguments": "", "call_id": call_id, "name": name})
        elif function.get("name") and not current.name:
            current.name = function["name"]
        if arguments:
            current.args.append(arguments)
            if isinstance(current, _FunctionCall):
                yield self._event("response.function_call_arguments.delta", item_id=current.id,
                                  output_index=current.output_index, delta=arguments)

    def _close_function_call(self, item: _FunctionCall) -> Iterator[Event]:
        arguments = "".join(item.args)
        self._closed_calls.add(item.index)
        yield self._event("response.function_call_arguments.done", item_id=item.id,
                          output_index=item.output_index, arguments=arguments, name=item.name)
        yield from self._item_done(item, {"id": item.id, "type": "function_call", "status": item.status,
                                          "arguments": arguments, "call_id": item.call_id, "name": item.name})

    # ------------------------------------------------------- hosted search

    def begin_file_search(self, call: HostedCall, queries: list[str]) -> Iterator[Event]:
        """A search the model asked for starts: its item is added, in_progress, searching."""
        yield from self._close_open()
        item = _Item("file_search_call", self._item_id("fs"), len(self._output))
        self._open = item
        self._search_queries = queries
        yield self._event("response.output_item.added", output_index=item.output_index,
                          item={"id": item.id, "type": "file_search_call", "status": "in_progress",
                                "queries": queries, "results": None})
        yield self._event("response.file_search_call.in_progress", output_index=item.output_index, item_id=item.id)
        yield self._event("response.file_search_call.searching", output_index=item.output_index, item_id=item.id)

    def complete_file_search(self, results: list[dict[str, Any]] | None) -> Iterator[Event]:
        """The search ran: `results` go in the done item when the request's include asks for them."""
        item = self._open
        assert item is not None and item.kind == "file_search_call", "begin_file_search first"
        for result in results or ():
            if result.get("file_id") and result.get("filename"):
                self.citation_files[result["file_id"]] = result["filename"]
        shown = results if "file_search_call.results" in (self.request.get("include") or ()) else None
        yield self._event("response.file_search_call.completed", output_index=item.output_index, item_id=item.id)
        yield from self._item_done(item, {"id": item.id, "type": "file_search_call", "status": "completed",
                                          "queries": self._search_queries, "results": shown})

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
        "truncation": "disabled",
        "usage": None,
        "metadata": dict(request.get("metadata") or {}),
    }
