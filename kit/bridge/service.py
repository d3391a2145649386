"""The bridge's I/O edge: Chat Completions calls in, Responses events out.

`stream_response` runs a Responses request against any Chat Completions
server through the given client (normally `kit.client(...)`, which records
or replays); `create_response` is its non-streaming form. The upstream's body is read
as bytes by the kit's one SSE decoder, as a recording or a capture is
(the native route, `kit.sources.responses_events`, is not the bridge's).

Every failure of the upstream (HTTP status, dropped connection, an error
object in the middle of the stream) becomes a chunk `{"error": {...}}` fed
to the pure translator, which turns it into `error` + `response.failed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any

import openai

from kit.bridge.file_input import FileInputError, FileLookup, resolve_file_ids
from kit.bridge.mcp import McpConnector
from kit.bridge.request import (SEARCH_TOOL_NAME, UnsupportedParameter, search_results_text, search_tools,
                                to_chat_request)
from kit.bridge.stores import VectorStoreError, VectorStores
from kit.bridge.translate import INCOMPLETE_REASONS, ChatToResponses, Chunk, Event, HostedCall, Summarizer
from kit.bridge.chunks import chunks_of
from kit.events import Event as StreamEvent
from kit.events import NotJSONEvent, SSEParser, Stream

Upstream = Callable[[Stream], None]  # gets each upstream chat body read, as a Stream with its wire facts
MAX_SEARCH_ROUNDS = 3
_SAME_CALLER = ("user", "safety_identifier", "service_tier")  # the summary call is made for the same caller
SUMMARY_PROMPTS = {
    "concise": "Summarize the following reasoning in one or two sentences, in the first person "
               "(\"I ...\"). Write only the summary.",
    "detailed": "Summarize the following reasoning in a short paragraph, in the first person (\"I ...\"), "
                "keeping the main steps. Write only the summary.",
}


def stream_response(
    client: openai.OpenAI,
    request: Mapping[str, Any],
    *,
    think_tags: bool = False,
    stores: VectorStores | None = None,
    response_id: str | None = None,
    created_at: int | None = None,
    max_search_rounds: int = MAX_SEARCH_ROUNDS,
    max_tokens_field: str = "max_tokens",
    upstream: Upstream | None = None,
    files: FileLookup | None = None,
    mcp: McpConnector | None = None,
) -> Iterator[Event]:
    """The Responses event stream for `request`, served by the client's Chat Completions endpoint.

    Raises `UnsupportedParameter` before any call when the request asks for
    something Chat Completions cannot do. A `file_search` tool searches
    `stores` (default: the stores under ~/.cache/responses-kit). `upstream` gets
    every Chat Completions body the bridge read (`chat_chunks`), the summary call's too. `files` finds
    the uploaded files an `input_file` names by `file_id` (the served bridge's);
    without it such a part is refused. `mcp` tools are served through `mcp`
    (default: the `mcp` SDK's client, `kit.bridge.mcp_client`).
    """
    from kit.bridge.mcp_loop import McpTurn

    servers = McpTurn(request, mcp)
    chat_request = _with_files(servers.chat_request() if servers else request, files)
    chat = to_chat_request(chat_request, max_tokens_field=max_tokens_field)
    searching = search_tools(request)
    if searching and stores is None:
        stores = VectorStores()
    reasoning = request.get("reasoning") or {}
    detail = reasoning.get("summary") or reasoning.get("generate_summary")
    translator = ChatToResponses(
        request=request, think_tags=think_tags,
        summarize=summarizer(client, str(request["model"]), detail,
                             {k: chat[k] for k in _SAME_CALLER if k in chat}, upstream) if detail else None,
        hosted_search_tool=SEARCH_TOOL_NAME if searching else None,
        response_id=servers.response_id(response_id), created_at=created_at)
    messages = list(chat["messages"])
    if servers:
        yield from servers.begin(translator)
        approved = yield from servers.run_approved(translator)
        messages += approved
        chat = servers.extend(chat, force=not approved)  # after an approved call the model answers
    for round_number in range(max_search_rounds + 1):
        last_round = round_number == max_search_rounds
        if last_round and (searching or servers):  # the model must answer now: no hosted tool to call
            chat = to_chat_request(chat_request, search_tool=False, max_tokens_field=max_tokens_field)
            translator.hosted_search_tool = None
            translator.hosted_tool_names = set()
        first_item = len(translator.output)
        for chunk in chat_chunks(client, {**chat, "messages": messages}, upstream):
            yield from translator.feed(chunk)
            if translator.finished:
                return
        yield from translator.end_round()
        calls = translator.hosted_calls
        if translator.finished or not calls or translator.finish_reason in INCOMPLETE_REASONS:
            break
        round_items = translator.output[first_item:]
        tool_messages = yield from _hosted_results(translator, calls, servers, stores, searching)
        if tool_messages is None:
            return
        if servers.awaiting_approval or any(item["type"] == "function_call" for item in round_items):
            break  # the client has calls of its own to run or approve: the response ends here, as OpenAI's does
        messages += [_assistant_turn(round_items, calls), *tool_messages]
        if chat.get("tool_choice") not in (None, "auto", "none"):
            chat = {**chat, "tool_choice": "auto"}  # a forced search is done: the model may answer now
        translator.next_round()
    yield from translator.finish()


def _hosted_results(translator: ChatToResponses, calls: list[HostedCall], servers: Any, stores: VectorStores | None,
                    searching: list[dict[str, Any]]) -> Generator[Event, None, list[dict[str, Any]] | None]:
    """Run a round's hosted calls (MCP tools through `servers`, file search over `stores`), streaming their
    items; the tool messages for the next round, or None when the response ended meanwhile."""
    tool_messages: list[dict[str, Any]] = []
    for call in calls:
        if call.name != SEARCH_TOOL_NAME and call.name in translator.hosted_tool_names:
            content = yield from servers.handle(translator, call)
            if content is not None:
                tool_messages.append({"role": "tool", "tool_call_id": call.call_id, "content": content})
            continue
        assert stores is not None
        results = yield from _search(translator, stores, searching, call)
        if translator.finished:
            return None
        tool_messages.append({"role": "tool", "tool_call_id": call.call_id, "content": search_results_text(results)})
    return tool_messages


def _with_files(request: Mapping[str, Any], files: FileLookup | None) -> Mapping[str, Any]:
    """The request with its `input_file` parts by `file_id` carrying the uploaded text (`kit.bridge.file_input`)."""
    if files is None:
        return request
    try:
        return resolve_file_ids(request, files)
    except FileInputError as exc:
        raise UnsupportedParameter(exc.param, exc.reason) from exc


def create_response(client: openai.OpenAI, request: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """The final Response object (completed, incomplete or failed) of `stream_response`."""
    response: dict[str, Any] = {}
    for event in stream_response(client, request, **options):
        if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
            response = event["response"]
    return response


def chat_chunks(client: openai.OpenAI, chat: Mapping[str, Any], upstream: Upstream | None = None) -> Iterator[Chunk]:
    """Streamed chunks as dicts, read from the body's bytes by the kit's one SSE decoder (`kit.events.SSEParser`).

    A payload that is not JSON becomes the same `error` chunk as in a chat
    capture read from disk (`kit.bridge.chunks`); an error object in the stream,
    an HTTP error status or a failed connection becomes a final `{"error": ...}` chunk.
    `upstream`, when given, gets the body as a `Stream` (its events and wire facts) once it was read to its end
    or to an error chunk, for whoever judges the upstream's own stream (a notebook, under the `chat` profile).
    """
    try:
        with client.chat.completions.with_streaming_response.create(
                **chat, stream=True, stream_options={"include_usage": True}) as response:
            parser = SSEParser(content_type=response.headers.get("content-type"), status=response.status_code)
            read: list[StreamEvent] = []
            for data in _body(response):
                read += (events := parser.feed(data))
                for chunk in _chunks(events):
                    if "error" in chunk:  # the consumer stops at it: hand the body over first
                        _hand_over(upstream, read, parser)
                        yield chunk
                        return
                    yield chunk
            read += (events := parser.close())
            _hand_over(upstream, read, parser)
            yield from _chunks(events)
    except openai.APIStatusError as exc:
        error = _error_body(exc.body) or {"message": exc.message}
        code = "rate_limit_exceeded" if exc.status_code == 429 else error.get("code") or f"http_{exc.status_code}"
        yield {"error": {**error, "code": code, "message": f"HTTP {exc.status_code}: {error.get('message') or exc.message}"}}
    except openai.APIConnectionError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        yield {"error": {"message": f"{exc.message}{cause}", "code": "connection_error"}}


def _hand_over(upstream: Upstream | None, events: list[StreamEvent], parser: SSEParser) -> None:
    if upstream is not None:
        upstream(Stream(events, [None] * len(events), parser.wire, UPSTREAM_SOURCE))


def _body(response: Any) -> Iterator[bytes]:
    """The body's bytes; a transport failure while reading becomes the SDK's own error, as its streams raise it."""
    try:
        from openai._httpx2 import request_exceptions, timeout_exceptions  # the SDK's mapping, kept identical
        timeouts, failures = timeout_exceptions(), request_exceptions()
    except ImportError:  # an SDK without it: every transport error is a connection error
        timeouts, failures = (), (OSError, RuntimeError)
    try:
        yield from response.iter_bytes()
    except timeouts as err:
        raise openai.APITimeoutError(request=response.http_request) from err
    except failures as err:
        raise openai.APIConnectionError(request=response.http_request) from err


UPSTREAM_SOURCE = "upstream chat stream"  # names a payload that is not JSON, live and replayed alike


def _chunks(events: Iterable[StreamEvent]) -> Iterator[Chunk]:
    """Chunk dicts of decoded chat events: one that is not JSON as `kit.bridge.chunks` says it, one carrying an
    error object as that error (the openai SDK raised it)."""
    for event in events:
        if isinstance(event, NotJSONEvent):
            yield from chunks_of(Stream([event], [None], None, UPSTREAM_SOURCE))
            continue
        raw = event.raw
        if isinstance(raw, Mapping) and raw.get("error"):
            message = raw["error"].get("message") if isinstance(raw["error"], Mapping) else None
            yield {"error": _error_body(raw["error"]) or {"message": message or "An error occurred during streaming"}}
            return
        yield dict(raw)


def summarizer(client: openai.OpenAI, model: str, detail: str = "auto",
               extra: Mapping[str, Any] | None = None, upstream: Upstream | None = None) -> Summarizer:
    """The reasoning summary: a second streamed call to the same model (`extra`: more chat parameters)."""
    prompt = SUMMARY_PROMPTS.get(detail, SUMMARY_PROMPTS["concise"])

    def summarize(reasoning: str) -> Iterator[Chunk]:
        yield from chat_chunks(client, {**(extra or {}), "model": model, "messages": [
            {"role": "system", "content": prompt}, {"role": "user", "content": reasoning}]}, upstream)

    return summarize


class embedder:  # noqa: N801 - used like a function: embedder(client, model)
    """An `Embedder` for `VectorStores` over a server's /v1/embeddings."""

    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model = model

    def __call__(self, texts: list[str]) -> list[list[float]]:
        answer = self.client.embeddings.create(model=self.model, input=texts)
        return [list(d.embedding) for d in sorted(answer.data, key=lambda d: d.index)]


def _search(translator: ChatToResponses, stores: VectorStores, tools: list[dict[str, Any]],
            call: HostedCall) -> Generator[Event, None, list[dict[str, Any]]]:
    """The events of one search; returns its results."""
    query = _query_of(call.arguments)
    yield from translator.begin_file_search(call, [query])
    if translator.finished:
        return []
    store_ids = [i for tool in tools for i in tool.get("vector_store_ids") or ()]
    limit = min((int(t.get("max_num_results") or 10) for t in tools), default=10)
    try:
        results = stores.search(store_ids, query, max_num_results=limit)
    except VectorStoreError as exc:
        yield from translator.fail(f"file_search: {exc}", code="vector_store_error")
        return []
    yield from translator.complete_file_search(results)
    return results


def _query_of(arguments: str) -> str:
    """The model's query: the `query` argument, or the raw arguments when they are not our JSON."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    if isinstance(parsed, dict):
        query = parsed.get("query") or parsed.get("queries")
        if isinstance(query, list):
            return " ".join(str(q) for q in query)
        if query:
            return str(query)
    return arguments.strip()


def _assistant_turn(items: list[dict[str, Any]], calls: list[HostedCall]) -> dict[str, Any]:
    """The assistant message that asked for the searches, as the next call must repeat it."""
    text = "".join(part.get("text", "") for item in items if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")
    return {"role": "assistant", "content": text, "tool_calls": [  # "" not None: llama-cpp-python wants a string
        {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls]}


def _error_body(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return dict(inner)
        if isinstance(inner, str):
            return {"message": inner}
    if isinstance(body, str) and body:
        return {"message": body}
    return None
