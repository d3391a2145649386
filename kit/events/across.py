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
  (with the same `call_id` and output) and every message it sent, in the order sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kit.events.rules import RULES
from kit.events.validate import Violation

STORED = "state.stored-equals-stream"
RESUME = "state.resume-continues"
INPUT_ITEMS = "state.input-items-complete"
ACROSS_RULES = frozenset({STORED, RESUME, INPUT_ITEMS})  # judged here, never by validate_stream


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
