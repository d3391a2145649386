"""Rules across requests of the stateful Responses API: what one stream cannot show.

A server can stream a flawless response and still store a different one, resume a stream with a gap, or
lose the tool output from a turn's input items. These checks take what the client saw on each request (a
streamed final response, the stored one, a resumed stream, the items it sent and the items listed) and
return `Violation`s of catalog rules like every other check, so reports, findings and baselines treat them
alike. Pure: the caller made the requests.

- `state.stored-equals-stream`: `GET /v1/responses/{id}` returns the response the stream ended with (id,
  status, model, every output item's id, type, call id, name, arguments and text, usage);
- `state.resume-continues`: a stream resumed with `starting_after=N` starts at N + 1 and continues with no
  gap and no repeat;
- `state.input-items-complete`: `GET /v1/responses/{id}/input_items` lists every tool output the client sent
  (with the same `call_id` and output) and every message it sent, in the order sent;
- `final.stream-equals-non-streaming`: the same request sent with `stream: false` answers the response the
  stream ended with, ids and timings aside (same fields, same values, same output items and text; usage
  present in both or in neither, with the same fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kit.events.rules import RULES
from kit.events.validate import Violation

STORED = "state.stored-equals-stream"
RESUME = "state.resume-continues"
INPUT_ITEMS = "state.input-items-complete"
NON_STREAMING = "final.stream-equals-non-streaming"
ACROSS_RULES = frozenset({STORED, RESUME, INPUT_ITEMS, NON_STREAMING})  # judged here, never by validate_stream


def _violation(rule: str, profile: str, message: str, **where: Any) -> list[Violation]:
    severity = RULES[rule].severity(profile)
    return [Violation(rule, severity, message, **where)] if severity else []


def item_facts(item: Mapping[str, Any]) -> dict[str, Any]:
    """What must agree of an output item between a stream and its stored response."""
    text = None
    if isinstance(item.get("content"), list):
        text = "".join(str(p.get("text") or p.get("refusal") or "") for p in item["content"] if isinstance(p, Mapping))
    facts = {"id": item.get("id"), "type": item.get("type"), "call_id": item.get("call_id"),
             "name": item.get("name"), "arguments": item.get("arguments"), "text": text}
    return {k: v for k, v in facts.items() if v is not None}


def compare_stored(streamed: Mapping[str, Any], stored: Mapping[str, Any], *, profile: str = "openai") -> list[Violation]:
    """The stored response against the final response of its stream."""
    found: list[Violation] = []
    for field in ("id", "status", "model"):
        if streamed.get(field) != stored.get(field):
            found += _violation(STORED, profile, f"stored {field} {stored.get(field)!r} differs from the streamed "
                                                 f"{streamed.get(field)!r}", item_id=None)
    streamed_items = [item_facts(i) for i in streamed.get("output") or () if isinstance(i, Mapping)]
    stored_items = [item_facts(i) for i in stored.get("output") or () if isinstance(i, Mapping)]
    if len(streamed_items) != len(stored_items):
        found += _violation(STORED, profile, f"the stored response has {len(stored_items)} output item(s), the "
                                             f"stream ended with {len(streamed_items)}")
    for n, (a, b) in enumerate(zip(streamed_items, stored_items)):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                found += _violation(STORED, profile, f"output[{n}].{key}: stored {b.get(key)!r}, streamed "
                                                     f"{a.get(key)!r}", output_index=n, item_id=a.get("id"))
    if (streamed.get("usage") or None) != (stored.get("usage") or None):
        found += _violation(STORED, profile, f"stored usage {stored.get('usage')!r} differs from the streamed "
                                             f"{streamed.get('usage')!r}")
    return found


def check_resumed(starting_after: int, resumed: Sequence[Mapping[str, Any]], *, profile: str = "openai"
                  ) -> list[Violation]:
    """A stream resumed after sequence number `starting_after`: N + 1, N + 2, ... with nothing repeated."""
    found: list[Violation] = []
    expected = starting_after + 1
    for index, event in enumerate(resumed):
        number = event.get("sequence_number")
        if number != expected:
            kind = "repeats" if isinstance(number, int) and number < expected else "skips to"
            found += _violation(RESUME, profile, f"resumed after {starting_after}: event {index} ({event.get('type')}) "
                                                 f"{kind} sequence_number {number!r}, expected {expected}",
                                index=index, sequence_number=number if isinstance(number, int) else None)
            if not isinstance(number, int):
                break
            expected = number
        expected += 1
    return found


def check_input_items(sent: Iterable[Mapping[str, Any]], listed: Sequence[Mapping[str, Any]], *,
                      profile: str = "openai") -> list[Violation]:
    """Every tool output and message the client sent, found among the listed input items (oldest first)."""
    found: list[Violation] = []
    outputs = {i.get("call_id"): i for i in listed if i.get("type") == "function_call_output"}
    listed_texts = [message_text(i) for i in listed if i.get("type", "message") == "message"]
    position = 0
    for item in sent:
        kind = item.get("type", "message")
        if kind == "function_call_output":
            got = outputs.get(item.get("call_id"))
            if got is None:
                found += _violation(INPUT_ITEMS, profile, f"the tool output for call {item.get('call_id')!r} that "
                                                          f"was sent is not among the input items")
            elif got.get("output") != item.get("output"):
                found += _violation(INPUT_ITEMS, profile, f"the tool output for call {item.get('call_id')!r} is "
                                                          f"listed as {got.get('output')!r}, sent {item.get('output')!r}")
        elif kind == "message":
            text = message_text(item)
            try:
                position = listed_texts.index(text, position) + 1
            except ValueError:
                found += _violation(INPUT_ITEMS, profile, f"the {item.get('role', 'user')} message {text[:60]!r} "
                                                          f"that was sent is not among the input items (in order)")
    return found


def message_text(item: Mapping[str, Any]) -> str:
    """A message item's text: its string content, or its text parts joined."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return ""


# Ids and timings: what two answers to the same request may not share. Usage counts are compared by shape only.
VOLATILE_RESPONSE_FIELDS = frozenset({"id", "created_at", "completed_at", "call_id"})
MAX_DIFFERENCES = 20


def compare_non_streaming(streamed: Mapping[str, Any], non_streamed: Mapping[str, Any], *, profile: str = "openai"
                          ) -> list[Violation]:
    """The response of a `stream: false` request against the final response of the same request streamed.

    Every field is compared, in depth, except ids and timings (`VOLATILE_RESPONSE_FIELDS`, at any depth); a
    field that is null on one side and absent on the other is the same (a client reads None either way);
    `usage` must be present in both or in neither, with the same fields (its counts may differ).
    """
    differences = _differences(_structure(streamed), _structure(non_streamed), "response")
    found: list[Violation] = []
    for path, message in differences[:MAX_DIFFERENCES]:
        found += _violation(NON_STREAMING, profile, f"{path}: {message}", item_id=None)
    if len(differences) > MAX_DIFFERENCES:
        found += _violation(NON_STREAMING, profile, f"and {len(differences) - MAX_DIFFERENCES} more difference(s)")
    return found


def _structure(value: Any, key: str | None = None) -> Any:
    """The value with ids and timings dropped and usage counts replaced by their type."""
    if key == "usage" and isinstance(value, Mapping):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {k: _structure(v, k) for k, v in value.items() if k not in VOLATILE_RESPONSE_FIELDS}
    if isinstance(value, list):
        return [_structure(v) for v in value]
    return value


def _shape(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _shape(v) for k, v in value.items()}
    return None if value is None else type(value).__name__


def _differences(a: Any, b: Any, path: str) -> list[tuple[str, str]]:
    """Where two JSON values differ: (path, what), the streamed value first."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[tuple[str, str]] = []
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) is None and b.get(key) is None:
                continue  # null and absent read alike (the SDK's None)
            if key not in b:
                out.append((f"{path}.{key}", f"in the streamed response ({_short(a[key])}), absent without streaming"))
            elif key not in a:
                out.append((f"{path}.{key}", f"absent from the streamed response, {_short(b[key])} without streaming"))
            else:
                out += _differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(path, f"{len(a)} entries streamed, {len(b)} without streaming")]
        return [d for n, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{n}]")]
    if a != b or type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return [(path, f"streamed {_short(a)}, without streaming {_short(b)}")]
    return []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
