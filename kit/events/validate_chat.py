"""Judge a Chat Completions stream (`chat.completion.chunk`s) against the `chat` rules of the catalog.

The basis is OpenAI's Chat Completions streaming reference ("each chunk has the
same ID", "the same timestamp"; the usage chunk comes last, before
`data: [DONE]`) and what openai-python does with the chunks: its
`ChatCompletionChunk` types, its SSE decoder (comment lines are ignored: a
keep-alive `: ping` is legal SSE and no violation) and its stream helper,
which takes id and model from the first chunk and merges deltas with
`accumulate_delta` (strings concatenated, list entries placed by `index`).

Decisions, and why:

- An error chunk (`{"error": {...}}`, Groq and OpenRouter send one mid-stream)
  is the server failing the stream: openai-python raises `APIError` with its
  message. It is judged by `chat.error-chunk` only, and a stream that ends in
  one needs no `finish_reason`.
- Azure's prompt-filter chunk (empty id, model and object, no choices) is one
  `chat.prompt-filter-chunk` warning, not also schema or identity breaches.
- A repeated `finish_reason` with nothing after it is a warning; deltas after
  it are reported in the same rule's message, since a client that stops at the
  first `finish_reason` loses them.
"""

from __future__ import annotations

import json
from typing import Any

from kit.events.model import NotJSONEvent, Stream
from kit.events.rules import CHAT_PROFILE, Severity, enabled_rules
from kit.events.text import plural
from kit.events.validate_state import _MISSING, _describe
from kit.events.validate_wire import WireRules

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
ROLES = frozenset({"developer", "system", "user", "assistant", "tool"})
CHUNK_OBJECT = "chat.completion.chunk"


def is_chat_stream(stream: Stream) -> bool:
    """True when the stream's first JSON object is a Chat Completions chunk rather than a Responses event."""
    first = next((event.raw for event in stream.events if event.raw), None)
    if first is None:
        return False
    if first.get("object") == CHUNK_OBJECT:
        return True
    return "type" not in first and ("choices" in first or "prompt_filter_results" in first)


def is_error_chunk(raw: dict[str, Any]) -> bool:
    return raw.get("error") is not None


def _is_prompt_filter(raw: dict[str, Any]) -> bool:
    """Azure's first chunk: prompt_filter_results, no choices, and an empty model (its id is empty too, unless a
    recorder rewrote ids)."""
    return raw.get("choices") == [] and not raw.get("model") and raw.get("usage") is None and (
        "prompt_filter_results" in raw or not raw.get("id"))


class _Choice:
    __slots__ = ("index", "first", "finish", "finish_at", "after_finish", "calls")

    def __init__(self, index: int, first: int) -> None:
        self.index = index
        self.first = first
        self.finish: str | None = None
        self.finish_at: int | None = None
        self.after_finish = 0
        self.calls: dict[int, _Call] = {}


class _Call:
    __slots__ = ("index", "at", "id", "name", "arguments", "flagged")

    def __init__(self, index: int, at: int) -> None:
        self.index = index
        self.at = at
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []
        self.flagged = False


class ChatValidator(WireRules):
    """One linear pass over the chunks; `emit` has the signature the wire rules expect."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.events = stream.events
        self.enabled: dict[str, Severity] = enabled_rules(CHAT_PROFILE)
        self.out: list[Any] = []
        self.choices: dict[int, _Choice] = {}
        self.identity: tuple[int, dict[str, Any]] | None = None
        self.identity_reported: set[str] = set()
        self.usage_at: list[int] = []
        self.error_at: int | None = None
        self.chunks = 0

    def emit(self, rule: str, index: int | None, message: str, **_: Any) -> None:
        from kit.events.validate import Violation

        severity = self.enabled.get(rule)
        if severity is not None:
            self.out.append(Violation(rule, severity, message, index))

    def run(self) -> list[Any]:
        for index, event in enumerate(self.events):
            if type(event) is NotJSONEvent:
                self.emit("sse.json", index, f"payload is not one JSON object ({event.error}): {event.payload[:120]!r}")
                continue
            self.chunks += 1
            raw = event.raw
            if self.error_at is not None:
                self.emit("chat.error-chunk", index, f"a chunk follows the error chunk {self.error_at}: "
                                                     "the openai SDK stops at the error and never reads it")
                self.error_at = None  # reported once
            if is_error_chunk(raw):
                self.on_error(index, raw)
                if "choices" not in raw:
                    continue
            if _is_prompt_filter(raw) and self.identity is None:
                self.emit("chat.prompt-filter-chunk", index,
                          "the first chunk has no choices and an empty model and object (Azure's prompt filter "
                          "results): a client taking id and model from the first chunk gets empty ones")
                continue
            self.on_chunk(index, raw)
        self.finish()
        self.out.sort(key=lambda v: -1 if v.index is None else v.index)
        return self.out

    def on_error(self, index: int, raw: dict[str, Any]) -> None:
        error = raw.get("error")
        message = error.get("message") if type(error) is dict else None
        if type(message) is not str:
            self.emit("chat.error-chunk", index, f"the error chunk's error.message is {_describe(message)}: "
                                                 "clients show only \"An error occurred during streaming\"")
        self.error_at = index

    def on_chunk(self, index: int, raw: dict[str, Any]) -> None:
        problems = []
        for name, kind in (("id", str), ("created", int), ("model", str), ("choices", list)):
            if type(raw.get(name)) is not kind:
                problems.append(f"{name} {_describe(raw.get(name, _MISSING))}")
        if raw.get("object") != CHUNK_OBJECT:
            self.emit("chat.object", index, f"object is {raw.get('object', 'missing')!r}, not {CHUNK_OBJECT!r}")
        self.check_identity(index, raw)
        usage = raw.get("usage")
        if usage is not None:
            if type(usage) is not dict:
                problems.append(f"usage {_describe(usage)}")
            self.usage_at.append(index)
        if type(raw.get("choices")) is list:
            for position, choice in enumerate(raw["choices"]):
                self.on_choice(index, position, choice, problems)
        if problems:
            self.emit("chat.schema", index, "; ".join(problems))

    def check_identity(self, index: int, raw: dict[str, Any]) -> None:
        if self.identity is None:
            self.identity = (index, {name: raw.get(name) for name in ("id", "created", "model")})
            return
        first, values = self.identity
        for name, value in values.items():
            if name in raw and raw[name] != value and name not in self.identity_reported:  # a missing one is chat.schema
                self.identity_reported.add(name)
                self.emit("chat.stable-identity", index,
                          f"{name} changes from {value!r} (chunk {first}) to {raw.get(name)!r}; "
                          "every chunk of a completion carries the same one")

    def on_choice(self, index: int, position: int, choice: Any, problems: list[str]) -> None:
        where = f"choices[{position}]"
        if type(choice) is not dict:
            problems.append(f"{where} {_describe(choice)}")
            return
        number = choice.get("index")
        if type(number) is not int or number < 0:
            problems.append(f"{where}.index {_describe(choice.get('index', _MISSING))} (expected an integer >= 0)")
            return
        delta = choice.get("delta")
        if type(delta) is not dict:
            problems.append(f"{where}.delta {_describe(choice.get('delta', _MISSING))} (expected an object)")
            delta = {}
        reason = choice.get("finish_reason")
        if reason is not None and (type(reason) is not str or reason not in FINISH_REASONS):
            problems.append(f"{where}.finish_reason {reason!r} is not one of {sorted(FINISH_REASONS)}")
        for name in ("content", "refusal"):
            if delta.get(name) is not None and type(delta[name]) is not str:
                problems.append(f"{where}.delta.{name} {_describe(delta[name])}")
        if delta.get("role") is not None and (type(delta["role"]) is not str or delta["role"] not in ROLES):
            problems.append(f"{where}.delta.role {delta['role']!r} is not one of {sorted(ROLES)}")
        state = self.choices.get(number)
        if state is None:
            state = self.choices[number] = _Choice(number, index)
        carries = any(delta.get(name) not in (None, "", []) for name in delta if name != "role")
        if state.finish_at is not None and (carries or reason):
            state.after_finish += 1
            if state.after_finish == 1:
                what = "another finish_reason" if reason and not carries else "more deltas"
                self.emit("chat.finish-once", index,
                          f"choice {number} already ended with finish_reason {state.finish!r} (chunk {state.finish_at}), "
                          f"then {what}: a client that stops at the first finish_reason loses what follows")
        tool_calls = delta.get("tool_calls")
        if tool_calls is not None:
            if type(tool_calls) is not list:
                problems.append(f"{where}.delta.tool_calls {_describe(tool_calls)}")
            else:
                for call in tool_calls:
                    self.on_tool_call(index, state, call, f"{where}.delta.tool_calls", problems)
        if reason and state.finish_at is None:
            state.finish, state.finish_at = reason, index

    def on_tool_call(self, index: int, choice: _Choice, call: Any, where: str, problems: list[str]) -> None:
        if type(call) is not dict or type(call.get("index")) is not int or call["index"] < 0:
            problems.append(f"{where}: tool call {_describe(call)} without an integer index >= 0")
            return
        function = call.get("function")
        if function is not None and type(function) is not dict:
            problems.append(f"{where}.function {_describe(function)}")
            function = None
        function = function or {}
        for name in ("name", "arguments"):
            if function.get(name) is not None and type(function[name]) is not str:
                problems.append(f"{where}.function.{name} {_describe(function[name])}")
        if call.get("type") is not None and call.get("type") != "function":
            problems.append(f"{where}.type {call['type']!r} is not 'function'")
        number = call["index"]
        state = choice.calls.get(number)
        call_id = call.get("id") if type(call.get("id")) is str and call.get("id") else None
        name = function.get("name") if type(function.get("name")) is str and function.get("name") else None
        if state is None:
            expected = len(choice.calls)
            if number != expected:
                self.emit("chat.tool-index", index, f"choice {choice.index}'s tool call {expected} is numbered {number}: "
                                                    "the openai SDK's accumulator puts it in the wrong place")
            state = choice.calls[number] = _Call(number, index)
            state.id, state.name = call_id, name
            missing = [label for label, value in (("id", call_id), ("function.name", name)) if value is None]
            if missing:
                self.emit("chat.tool-call-delta", index, f"the first delta of tool call {number} lacks {' and '.join(missing)}")
        elif not state.flagged and (call_id is not None or name is not None):
            if call_id is not None and call_id != state.id:
                state.flagged = True
                self.emit("chat.tool-call-delta", index,
                          f"tool call {number} gets a second id {call_id!r} (first {state.id!r}): two calls share one "
                          "index, and the SDK merges them into one with concatenated arguments")
            else:
                state.flagged = True
                what, value = ("id", call_id) if call_id is not None else ("function.name", name)
                self.emit("chat.tool-call-delta", index,
                          f"a later delta of tool call {number} sends its {what} {value!r} again: the SDK's accumulator "
                          f"concatenates strings, so the call's {what} becomes {(state.name or '') + value if what != 'id' else (state.id or '') + value!r}")
        arguments = function.get("arguments")
        if type(arguments) is str:
            state.arguments.append(arguments)

    def finish(self) -> None:
        if self.chunks == 0:
            count = len(self.events)
            detail = f" ({plural(count, 'payload')}, none JSON)" if count else ""
            self.emit("chat.schema", None, f"the stream has no chunks{detail}")
        failed = self.error_at is not None or any(is_error_chunk(event.raw) for event in self.events)
        last = len(self.events) - 1 if self.events else None
        for choice in self.choices.values():
            if choice.finish_at is None and not failed:
                self.emit("chat.finish-reason", last, f"choice {choice.index} never gets a finish_reason: "
                                                      "a client cannot tell a complete answer from a cut stream")
            for call in choice.calls.values():
                text = "".join(call.arguments)
                if not text:
                    continue
                try:
                    value = json.loads(text)
                except ValueError:
                    value = None
                    whole = [piece for piece in call.arguments if _json_object(piece)]
                    hint = (" (a single fragment is a whole JSON object: the server resent the arguments)"
                            if whole and len(call.arguments) > 1 else "")
                    self.emit("chat.tool-arguments", call.at, f"tool call {call.index}'s arguments are not JSON{hint}: {text[:80]!r}")
                    continue
                if type(value) is not dict:
                    self.emit("chat.tool-arguments", call.at, f"tool call {call.index}'s arguments are JSON {_describe(value)}, not an object")
        if self.usage_at:
            real_last = max((i for i, e in enumerate(self.events) if type(e) is not NotJSONEvent), default=None)
            if len(self.usage_at) > 1:
                self.emit("chat.usage-last", self.usage_at[1], f"usage is sent {len(self.usage_at)} times "
                                                               f"(chunks {self.usage_at[0]} and {self.usage_at[1]}...)")
            elif self.usage_at[0] != real_last:
                self.emit("chat.usage-last", self.usage_at[0], f"usage comes in chunk {self.usage_at[0]}, not in the last one ({real_last})")
        self.check_wire()


def _json_object(text: str) -> bool:
    try:
        return type(json.loads(text)) is dict
    except ValueError:
        return False


def validate_chat_stream(stream: Stream) -> list[Any]:
    """Every breach of the chat rules (`Violation`s, sorted by chunk)."""
    return ChatValidator(stream).run()
