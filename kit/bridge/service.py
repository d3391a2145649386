"""The bridge's I/O edge: Chat Completions calls in, Responses events out.

`stream_response` runs a Responses request against any Chat Completions
server through the given client (normally `kit.client(...)`, which records
or replays); `create_response` is its non-streaming form;
`responses_stream` picks native `/v1/responses` or the bridge from a setup,
so one server's two views can be shown side by side.

Every failure of the upstream (HTTP status, dropped connection, an error
object in the middle of the stream) becomes a chunk `{"error": {...}}` fed
to the pure translator, which turns it into `error` + `response.failed`.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any

import openai

from kit.bridge.request import SEARCH_TOOL_NAME, search_results_text, search_tools, to_chat_request
from kit.bridge.stores import VectorStoreError, VectorStores
from kit.bridge.translate import INCOMPLETE_REASONS, ChatToResponses, Chunk, Event, HostedCall, Summarizer
from kit.events import Event as StreamEvent
from kit.events import SSEParser, WireFacts

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
) -> Iterator[Event]:
    """The Responses event stream for `request`, served by the client's Chat Completions endpoint.

    Raises `UnsupportedParameter` before any call when the request asks for
    something Chat Completions cannot do. A `file_search` tool searches
    `stores` (default: the stores under ~/.cache/responses-kit).
    """
    chat = to_chat_request(request, max_tokens_field=max_tokens_field)
    searching = search_tools(request)
    if searching and stores is None:
        stores = VectorStores()
    reasoning = request.get("reasoning") or {}
    detail = reasoning.get("summary") or reasoning.get("generate_summary")
    translator = ChatToResponses(
        request=request, think_tags=think_tags,
        summarize=summarizer(client, str(request["model"]), detail,
                             {k: chat[k] for k in _SAME_CALLER if k in chat}) if detail else None,
        hosted_search_tool=SEARCH_TOOL_NAME if searching else None,
        response_id=response_id, created_at=created_at)
    messages = list(chat["messages"])
    for round_number in range(max_search_rounds + 1):
        last_round = round_number == max_search_rounds
        if last_round and searching:  # the model must answer now: no search tool to call
            chat = to_chat_request(request, search_tool=False, max_tokens_field=max_tokens_field)
            translator.hosted_search_tool = None
        first_item = len(translator.output)
        for chunk in chat_chunks(client, {**chat, "messages": messages}):
            yield from translator.feed(chunk)
            if translator.finished:
                return
        yield from translator.end_round()
        calls = translator.hosted_calls
        if translator.finished or not calls or translator.finish_reason in INCOMPLETE_REASONS:
            break
        assert stores is not None
        round_items = translator.output[first_item:]
        tool_messages = []
        for call in calls:
            results = yield from _search(translator, stores, searching, call)
            if translator.finished:
                return
            tool_messages.append({"role": "tool", "tool_call_id": call.call_id,
                                  "content": search_results_text(results)})
        if any(item["type"] == "function_call" for item in round_items):
            break  # the client has calls of its own to run: the response ends here, as OpenAI's does
        messages += [_assistant_turn(round_items, calls), *tool_messages]
        if chat.get("tool_choice") not in (None, "auto", "none"):
            chat = {**chat, "tool_choice": "auto"}  # a forced search is done: the model may answer now
        translator.next_round()
    yield from translator.finish()


def create_response(client: openai.OpenAI, request: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """The final Response object (completed, incomplete or failed) of `stream_response`."""
    response: dict[str, Any] = {}
    for event in stream_response(client, request, **options):
        if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
            response = event["response"]
    return response


def responses_stream(client: openai.OpenAI, setup: Any, request: Mapping[str, Any], **options: Any) -> Iterable[Any]:
    """Responses events for `request` from the setup's server: native /v1/responses or the bridge.

    `setup` is a `kit.setups.Setup` (its `responses`, `think_tags` and
    `text_model` are read). Native: a `NativeEvents` (the server's bytes read
    by the kit's one SSE decoder, with wire facts, errors as the SDK raises
    them); bridged: the translator's event dicts.
    """
    full = {"model": setup.text_model, **request}
    if setup.responses == "native":
        return NativeEvents(client, full)
    return stream_response(client, full, think_tags=setup.think_tags, **options)


class NativeEvents:
    """A server's own /v1/responses stream: iterate for `Event`s as bytes arrive; `wire` once iterated.

    The body goes through `kit.events.SSEParser`, the decoder `kit check` uses,
    so a notebook judges a native stream exactly as `kit check` judges the same
    bytes (`sse.*` rules included). A payload that is not JSON is an event the
    validator reports (`sse.json`), not an exception. Native errors (HTTP
    status, connection) propagate as the SDK raises them: the native view shows
    what the server did.
    """

    def __init__(self, client: openai.OpenAI, request: Mapping[str, Any]) -> None:
        self.client = client
        self.request = dict(request)
        self.wire: WireFacts | None = None

    def __iter__(self) -> Iterator[StreamEvent]:
        with self.client.responses.with_streaming_response.create(**self.request, stream=True) as response:
            parser = SSEParser(content_type=response.headers.get("content-type"), status=response.status_code)
            self.wire = parser.wire
            for chunk in response.iter_bytes():
                yield from parser.feed(chunk)
            yield from parser.close()


def chat_chunks(client: openai.OpenAI, chat: Mapping[str, Any]) -> Iterator[Chunk]:
    """Streamed chunks as dicts; any failure becomes a final `{"error": ...}` chunk."""
    try:
        stream = client.chat.completions.create(**chat, stream=True, stream_options={"include_usage": True})
        try:
            for chunk in stream:
                yield chunk.to_dict(warnings=False)  # Mistral's list content is not the SDK's str: no warning per chunk
        finally:
            stream.close()
    except openai.APIStatusError as exc:
        error = _error_body(exc.body) or {"message": exc.message}
        code = "rate_limit_exceeded" if exc.status_code == 429 else error.get("code") or f"http_{exc.status_code}"
        yield {"error": {**error, "code": code, "message": f"HTTP {exc.status_code}: {error.get('message') or exc.message}"}}
    except openai.APIConnectionError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        yield {"error": {"message": f"{exc.message}{cause}", "code": "connection_error"}}
    except openai.APIError as exc:  # an error object in the middle of the stream
        yield {"error": _error_body(exc.body) or {"message": exc.message}}


def summarizer(client: openai.OpenAI, model: str, detail: str = "auto",
               extra: Mapping[str, Any] | None = None) -> Summarizer:
    """The reasoning summary: a second streamed call to the same model (`extra`: more chat parameters)."""
    prompt = SUMMARY_PROMPTS.get(detail, SUMMARY_PROMPTS["concise"])

    def summarize(reasoning: str) -> Iterator[Chunk]:
        yield from chat_chunks(client, {**(extra or {}), "model": model, "messages": [
            {"role": "system", "content": prompt}, {"role": "user", "content": reasoning}]})

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
