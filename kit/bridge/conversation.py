"""Conversation state for the bridge, as pure functions: what a stateful Responses request means to a stateless
Chat Completions server.

Chat Completions keeps nothing between calls, so the bridge resolves `previous_response_id` and `conversation`
itself: the history a stored response (its context and its output) or a conversation (its items) holds goes
before the new input, and the state fields the request named are echoed in every response snapshot, as OpenAI
echoes them. `kit.bridge.response_store` keeps the records; this module only decides what they mean, so the
same rules serve the served bridge and its tests without a server.

OpenAI's rules followed here (API reference, "Create a model response" and "Conversation state"):
- `previous_response_id` brings in the previous response's input and output, not its `instructions`;
- `previous_response_id` and `conversation` cannot be used together;
- `store` defaults to true; `background: true` needs `store`;
- `input_items` of a response lists every item the model saw (earlier turns included), newest first by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

STATE_FIELDS = ("previous_response_id", "conversation", "store", "background")
RESPONSE_EVENTS_WITH_SNAPSHOT = frozenset({"response.created", "response.queued", "response.in_progress",
                                           "response.completed", "response.incomplete", "response.failed"})
TERMINAL_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled"})


class StateError(ValueError):
    """A stateful request the bridge must refuse (an unknown id, a contradiction): an HTTP 4xx with OpenAI's error."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None,
                 code: str | None = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code


@dataclass(frozen=True)
class StoredTurn:
    """What a stored response contributes to a later turn: every item the model saw, then what it answered."""

    context: tuple[dict[str, Any], ...]
    output: tuple[dict[str, Any], ...]

    @property
    def history(self) -> list[dict[str, Any]]:
        return [*self.context, *self.output]


@dataclass(frozen=True)
class Turn:
    """One request resolved: the stateless request to translate and what to keep and echo of it."""

    request: dict[str, Any]  # no state fields; `input` is the whole context
    new_items: list[dict[str, Any]]  # this turn's own input items, with ids
    context: list[dict[str, Any]]  # every input item the model sees: history, then new_items
    echo: dict[str, Any] = field(default_factory=dict)  # fields every response snapshot carries

    @property
    def store(self) -> bool:
        return bool(self.echo.get("store"))

    @property
    def background(self) -> bool:
        return bool(self.echo.get("background"))

    @property
    def conversation_id(self) -> str | None:
        conversation = self.echo.get("conversation")
        return conversation.get("id") if isinstance(conversation, Mapping) else None


def conversation_id_of(request: Mapping[str, Any]) -> str | None:
    """The conversation a request names: a string id or `{"id": ...}`."""
    value = request.get("conversation")
    if value is None:
        return None
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    raise StateError("conversation must be a conversation id or an object with an `id`", param="conversation")


def resolve_turn(request: Mapping[str, Any], *, previous: StoredTurn | None = None,
                 conversation_items: Iterable[Mapping[str, Any]] | None = None, item_prefix: str = "msg_in") -> Turn:
    """The stateless request for `request`, given the stored turn its `previous_response_id` names (if any) and
    the items of the conversation it names (if any); the caller looked both up and raises a 404 when missing."""
    previous_id = request.get("previous_response_id")
    conversation_id = conversation_id_of(request)
    if previous_id is not None and not (isinstance(previous_id, str) and previous_id):
        raise StateError("previous_response_id must be a response id", param="previous_response_id")
    if previous_id and conversation_id:
        raise StateError("previous_response_id and conversation cannot both be set: a conversation keeps its own "
                         "history", param="conversation")
    store = request.get("store", True)
    background = request.get("background", False)
    for name, value in (("store", store), ("background", background)):
        if not isinstance(value, bool):
            raise StateError(f"{name} must be true or false, got {value!r}", param=name)
    if background and not store:
        raise StateError("a background response must be stored: background=true cannot be used with store=false",
                         param="background")
    if request.get("input") is None:
        raise StateError("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    history: list[dict[str, Any]] = []
    if previous is not None:
        history = previous.history
    elif conversation_items is not None:
        history = [dict(item) for item in conversation_items]
    new_items = input_items(request["input"], item_prefix)
    context = [*history, *new_items]
    stateless = {k: v for k, v in request.items() if k not in STATE_FIELDS}
    stateless["input"] = [as_input(item) for item in context]
    echo = {"previous_response_id": previous_id or None, "store": store, "background": background,
            "conversation": {"id": conversation_id} if conversation_id else None}
    return Turn(request=stateless, new_items=new_items, context=context, echo=echo)


def input_items(input_: Any, item_prefix: str) -> list[dict[str, Any]]:
    """The request's `input` as the items `GET /v1/responses/{id}/input_items` lists: a string is one user
    message; every item gets an id (kept when the client gave one) and messages get content parts."""
    if isinstance(input_, str):
        input_ = [{"type": "message", "role": "user", "content": input_}]
    if not isinstance(input_, list):
        raise StateError(f"input must be a string or a list of items, got {type(input_).__name__}", param="input")
    items: list[dict[str, Any]] = []
    for n, raw in enumerate(input_):
        if not isinstance(raw, Mapping):
            raise StateError(f"input[{n}] must be an object", param=f"input[{n}]")
        item = dict(raw)
        item.setdefault("type", "message")
        if item["type"] == "message":
            item["content"] = _content_parts(item.get("content"), item.get("role"))
            item.setdefault("status", "completed")
        item.setdefault("id", f"{item_prefix}_{n}")
        items.append(item)
    return items


def _content_parts(content: Any, role: Any) -> Any:
    if isinstance(content, str):
        return [{"type": "output_text" if role == "assistant" else "input_text", "text": content,
                 **({"annotations": []} if role == "assistant" else {})}]
    return content


def as_input(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as it goes back in as input: what the model said or called, without the server's bookkeeping."""
    kept = dict(item)
    if kept.get("type") == "message":
        kept.pop("id", None)
        kept.pop("status", None)
        content = kept.get("content")
        if isinstance(content, list) and content and all(
                isinstance(p, Mapping) and p.get("type") in ("input_text", "output_text") for p in content):
            kept["content"] = "".join(str(p.get("text") or "") for p in content)  # text alone goes as a string:
            # what every chat template takes (SmolLM2's on llama.cpp fails on a list of text parts)
    return kept


def conversation_items_after(turn: Turn, response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a response adds to its conversation: the turn's new input items, then its output items."""
    return [*turn.new_items, *(dict(item) for item in response.get("output") or ())]


def with_state(events: Iterable[dict[str, Any]], echo: Mapping[str, Any], *, queued: bool = False,
               response_id: str | None = None) -> Iterator[dict[str, Any]]:
    """The bridge's events with the state fields echoed in every response snapshot (and, for a background
    response, `queued` first: `response.created` says queued and a `response.queued` event follows, as OpenAI
    streams them); sequence numbers are renumbered so they stay gapless."""
    sequence = 0
    for event in events:
        event = dict(event)
        out = [event]
        if isinstance(event.get("response"), Mapping):
            snapshot = {**event["response"], **echo}
            if response_id:
                snapshot["id"] = response_id
            event["response"] = snapshot
            if queued and event.get("type") == "response.created":
                snapshot["status"] = "queued"
                out.append({"type": "response.queued", "response": dict(snapshot)})
        for item in out:
            if "sequence_number" in event:
                item["sequence_number"] = sequence
                sequence += 1
            yield item


def item_list(items: list[dict[str, Any]], *, order: str = "desc", limit: int = 20, after: str | None = None
              ) -> dict[str, Any]:
    """A page of items as OpenAI lists them (`object: list`, `first_id`, `last_id`, `has_more`)."""
    if order not in ("asc", "desc"):
        raise StateError(f"order must be 'asc' or 'desc', got {order!r}", param="order")
    if not 1 <= limit <= 100:
        raise StateError(f"limit must be between 1 and 100, got {limit}", param="limit")
    ordered = list(items) if order == "asc" else list(reversed(items))
    if after is not None:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise StateError(f"no item {after!r} in this list", param="after")
        ordered = ordered[ids.index(after) + 1:]
    page = ordered[:limit]
    return {"object": "list", "data": page, "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None, "has_more": len(ordered) > limit}
