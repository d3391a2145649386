"""Judge a Responses stream against the rule catalog (conformance-rules.md) in one linear pass.

`validate_stream(stream, profile)` returns `Violation`s, never raises on bad
input: garbage payloads, truncated streams, wrong types and unknown events all
become violations. Rule ids, severities and profiles come from `kit.events.rules`.

Decisions the catalog leaves open, and why:

- Garbage payloads (`NotJSONEvent`) are reported as `sse.json` whatever the
  source, not only when the raw SSE is known: a jsonl line is a `data:` payload
  too, and silently skipping garbage would hide a broken stream. The other wire
  rules need `Stream.wire` and are skipped without it.
- A stream where *no* event carries `sequence_number` (OpenAI before mid-2025)
  gets one `event.schema` error for the whole stream, not one per event, and the
  `seq.*` rules are skipped: the breach is one fact (the field did not exist yet),
  and the current SDK's resume logic does need it. When only some events lack it,
  each of them is reported.
- Resumed streams (`GET /responses/{id}?stream=true&starting_after=N`) start
  mid-sequence without `response.created`. By default that is a
  `lifecycle.created-first` error: from the events alone a resumption cannot be
  told apart from a server that lost its first events. Pass `starting_after=N`
  (what the client asked for) to validate it as a resumption: then created-first
  is not required, sequence numbers must start at N+1, output indices may start
  where the first `output_item.added` says, and only that tail of the terminal
  output is compared.
- A value sent only in its `.done` event, with no deltas at all (LM Studio's
  `function_call_arguments.done`), is accepted: "deltas" in the catalog is
  `delta*`, and clients read the `.done` value. With deltas, concat(deltas) must
  equal the done value.
- One defect, one violation where the catalog overlaps: a terminal output that
  differs from the done items is reported once, under `item.final-output` (whose
  field list includes text and annotations), not again under
  `part.text-consistent` / `annotation.consistent`, which compare the streamed
  levels up to `output_item.done`. A part event for an item never announced is
  `item.opened` only (not also `part.opened`); `output_item.done` without an
  `added` is `item.closed-once` (the catalog's "no done without added"); items
  left open at the end get `item.closed-once`, not also part-level errors;
  a decreasing or repeated sequence number is `seq.increasing` only, a gap is
  `seq.contiguous`.
- Unknown top-level fields of known event types are reported once per
  (type, field) as `event.unknown-type` warnings (kept intact, never errors).
- `annotation.bounds` counts characters (Python `str` length), as the real
  OpenAI streams in the fixtures do.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from kit.events.model import (
    IDX,
    STR_OR_OBJ,
    ArgumentsDelta,
    ArgumentsDone,
    ContentPartAdded,
    ContentPartDone,
    ErrorEvent,
    Event,
    HostedToolStatus,
    NotJSONEvent,
    OutputItemAdded,
    OutputItemDone,
    OutputTextAnnotationAdded,
    ReasoningSummaryEvent,
    ResponseCreated,
    ResponseLifecycleEvent,
    Stream,
    TextDelta,
    TextDone,
    UnknownEvent,
)
from kit.events.parse import parse
from kit.events.rules import CHAT_PROFILE, DEFAULT_PROFILE, RULES, Severity, enabled_rules
from kit.events.text import plural
from kit.events.validate_chat import is_chat_stream, validate_chat_stream
from kit.events.validate_content import ContentRules
from kit.events.validate_items import ItemRules
from kit.events.validate_state import (
    _Item,
    _MISSING,
    _Part,
    _SCHEMA_CHECKS,
    _describe,
    _known_fields,
    _schema_checks,
)
from kit.events.validate_wire import WireRules


@dataclass(frozen=True)
class Violation:
    """One breach of one rule, and where: `index` is the event's position in `Stream.events`.

    Location fields are None when they do not apply (a wire fact, a whole-stream fact).
    """

    rule: str
    severity: Severity
    message: str
    index: int | None = None
    sequence_number: int | None = None
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        noun = "chunk" if self.rule.startswith("chat.") else "event"
        where = [f"{noun} {self.index}" if self.index is not None else "stream"]
        for name in ("sequence_number", "output_index", "item_id", "content_index"):
            value = getattr(self, name)
            if value is not None:
                where.append(f"{name.replace('_number', '').replace('_index', '')}={value}")
        return f"{self.severity.upper():7} {self.rule:32} {' '.join(where)}: {self.message}"


def summarize(violations: Iterable[Violation]) -> dict[str, Any]:
    """The one count of violations (views, reports, the battery, the comparison): errors, warnings, per rule id,
    and per rule id by severity."""
    violations = list(violations)
    error_rules = Counter(v.rule for v in violations if v.severity == "error")
    warning_rules = Counter(v.rule for v in violations if v.severity == "warning")
    return {
        "errors": sum(error_rules.values()),
        "warnings": sum(warning_rules.values()),
        "by_rule": dict(Counter(v.rule for v in violations)),
        "error_rules": dict(error_rules),
        "warning_rules": dict(warning_rules),
    }


_LITERALS = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ViolationGroup:
    """Violations of one rule that say the same thing but for numbers and quoted values: one line with a count.

    `message` is the first one's; `first`/`last` are the event indices of the first and last (None: the stream).
    """

    rule: str
    severity: Severity
    message: str
    count: int
    first: int | None
    last: int | None
    violations: tuple[Violation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "count": self.count,
                "first_index": self.first, "last_index": self.last}

    def where(self) -> str:
        """"event 4", "events 4-93" ("chunk"s for chat rules), or "stream"."""
        if self.first is None:
            return "stream"
        noun = "chunk" if self.rule.startswith("chat.") else "event"
        return f"{noun} {self.first}" if self.count == 1 or self.first == self.last else f"{noun}s {self.first}-{self.last}"

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.violations[0])
        return f"{self.severity.upper():7} {self.rule:32} ×{self.count} {self.where()}, first: {self.message}"


def group_violations(violations: Iterable[Violation]) -> list[ViolationGroup]:
    """The violations grouped (errors first, then in stream order of each group's first violation)."""
    groups: dict[tuple[str, str, str], list[Violation]] = {}
    for violation in violations:
        key = (violation.rule, violation.severity, _LITERALS.sub("#", violation.message))
        groups.setdefault(key, []).append(violation)
    out = []
    for (rule, severity, _), members in groups.items():
        located = [v.index for v in members if v.index is not None]
        out.append(ViolationGroup(rule, severity, members[0].message, len(members), min(located, default=None),
                                  max(located, default=None), tuple(members)))
    order = {"error": 0, "warning": 1}
    out.sort(key=lambda g: (order.get(g.severity, 2), -1 if g.first is None else g.first))
    return out


class _Validator(ItemRules, ContentRules, WireRules):
    """One linear pass: the state and the reporting are here; each rule family's handlers are in its mixin."""

    def __init__(self, stream: Stream, profile: str, starting_after: int | None) -> None:
        self.stream = stream
        self.events = stream.events
        self.enabled = enabled_rules(profile)
        self.profile = profile
        self.resumed = starting_after is not None
        self.starting_after = starting_after
        self.out: list[Violation] = []
        self.items: list[_Item] = []
        self.by_index: dict[int, _Item] = {}
        self.item_ids: set[str] = set()
        self.open_items = 0
        self.index_base: int | None = None if self.resumed else 0
        self.last_seq: int | None = None
        self.missing_seq: list[int] = []
        self.json_events = 0
        self.first_json: int | None = None
        self.created_seen = False
        self.item_event_seen = False
        self.terminals: list[int] = []
        self.identity: tuple[int, dict[str, Any]] | None = None
        self.error_pending: int | None = None
        self.error_reported = False
        self.unknown_reported: set[tuple[str, str]] = set()
        self.incomplete_items: list[_Item] = []
        self.schema_on = "event.schema" in self.enabled
        self.unknown_on = "event.unknown-type" in self.enabled

    # -- reporting --

    def emit(self, rule: str, index: int | None, message: str, *, severity: Severity | None = None,
             output_index: int | None | object = _MISSING, item_id: str | None | object = _MISSING,
             content_index: int | None | object = _MISSING) -> None:
        default = self.enabled.get(rule)
        if default is None:
            return
        raw = self.events[index].raw if index is not None and 0 <= index < len(self.events) else {}
        seq = raw.get("sequence_number")
        if output_index is _MISSING:
            value = raw.get("output_index")
            output_index = value if type(value) is int else None
        if item_id is _MISSING:
            value = raw.get("item_id")
            if value is None and type(raw.get("item")) is dict:
                value = raw["item"].get("id")
            item_id = value if type(value) is str else None
        if content_index is _MISSING:
            value = raw.get("content_index")
            content_index = value if type(value) is int else None
        self.out.append(Violation(rule, severity or default, message, index, seq if type(seq) is int else None,
                                  output_index, item_id, content_index))  # type: ignore[arg-type]

    def once(self, item: _Item, rule: str, index: int | None, message: str, **where: Any) -> None:
        if rule not in item.flags:
            item.flags.add(rule)
            self.emit(rule, index, message, **where)

    # -- the pass --

    def run(self) -> list[Violation]:
        handlers = _HANDLERS
        for index, event in enumerate(self.events):
            cls = type(event)
            if cls is NotJSONEvent:
                self.emit("sse.json", index, f"payload is not one JSON object ({event.error}): {event.payload[:120]!r}")  # type: ignore[attr-defined]
                continue
            self.json_events += 1
            if self.first_json is None:
                self.first_json = index
                self.check_first(index, event)
            self.check_common(index, event)
            handler = handlers.get(cls)
            if handler is None:
                handler = _handler_for(cls)
            handler(self, index, event)
        self.finish()
        self.out.sort(key=lambda v: -1 if v.index is None else v.index)
        return self.out

    def check_first(self, index: int, event: Event) -> None:
        if self.resumed:
            return
        if type(event) is not ResponseCreated:
            self.emit("lifecycle.created-first", index,
                      f"the first event is {event.get('type')!r}, not response.created (a resumed stream? pass starting_after)")

    def check_common(self, index: int, event: Event) -> None:
        raw = event.raw
        seq = raw.get("sequence_number", _MISSING)
        if type(seq) is int:
            last = self.last_seq
            if last is None:
                expected = 0 if self.starting_after is None else self.starting_after + 1
                if seq != expected:
                    self.emit("seq.contiguous", index, f"the first sequence_number is {seq}, expected {expected}")
                self.last_seq = seq
            elif seq <= last:
                self.emit("seq.increasing", index, f"sequence_number {seq} after {last}: not strictly increasing")
            else:
                if seq != last + 1:
                    self.emit("seq.contiguous", index, f"sequence_number jumps from {last} to {seq}")
                self.last_seq = seq
        else:
            self.missing_seq.append(index)
            if seq is not _MISSING and self.schema_on:
                self.emit("event.schema", index, f"sequence_number is {_describe(seq)}, not an integer")
        if self.schema_on:
            checks = _SCHEMA_CHECKS.get(type(event))
            if checks is None:
                checks = _schema_checks(type(event))
            problems = None
            for name, expected_type, non_negative, kind in checks:
                value = raw.get(name, _MISSING)
                if type(value) is not expected_type or (non_negative and value < 0):
                    if expected_type is str and kind == STR_OR_OBJ and type(value) is dict:
                        continue
                    if problems is None:
                        problems = []
                    problems.append(f"{name} {_describe(value)}" + (" (expected an integer >= 0)" if kind == IDX else f" (expected {kind})"))
            if problems:
                self.emit("event.schema", index, f"{event.TYPE}: " + "; ".join(problems))
        if self.unknown_on and event.known:
            known = _known_fields(type(event))
            for key in raw:
                if key not in known and (event.TYPE, key) not in self.unknown_reported:
                    self.unknown_reported.add((event.TYPE, key))  # type: ignore[arg-type]
                    self.emit("event.unknown-type", index,
                              f"unknown field {key!r} on {event.TYPE} (kept; reported once per type)", severity="warning")

    # -- item lookup shared by sub-events --

    def ref(self, index: int, event: Event) -> _Item | None:
        """The item an event refers to by output_index, reporting opened/after-done/id problems."""
        raw = event.raw
        output_index = raw.get("output_index")
        if type(output_index) is not int:
            return None
        self.item_event(index)
        item = self.by_index.get(output_index)
        if item is None:
            if self.resumed and (self.index_base is None or output_index < self.index_base):
                return None  # announced before the resume point
            self.emit("item.opened", index, f"{event.get('type')} refers to output_index {output_index}, which no output_item.added announced")
            return None
        if item.done_at is not None:
            self.once(item, "item.no-update-after-done", index,
                      f"{event.get('type')} refers to item {output_index} after its output_item.done (event {item.done_at})")
        item_id = raw.get("item_id")
        if item_id is not None and item.id is not None and item_id != item.id:
            self.emit("item.id-matches", index, f"item_id {item_id!r} but the item at output_index {output_index} is {item.id!r}")
        return item

    def item_event(self, index: int) -> None:
        self.item_event_seen = True
        if self.error_pending is not None and not self.error_reported:
            self.error_reported = True
            self.emit("lifecycle.error-then-failed", index,
                      f"an item event follows the error event {self.error_pending} before response.failed")

    def part_ref(self, index: int, event: Event, opening_rule: str = "part.opened") -> tuple[_Item, _Part] | None:
        item = self.ref(index, event)
        content_index = event.raw.get("content_index")
        if item is None or type(content_index) is not int:
            return None
        part = item.parts.get(content_index)
        if part is None:
            self.emit(opening_rule, index, f"{event.get('type')} for content part {content_index} of item {item.index}, "
                      "which no content_part.added opened")
            part = item.parts[content_index] = _Part(None, None, phantom=True)
        return item, part

    # -- handlers --

    def on_other(self, index: int, event: Event) -> None:
        """Known events without their own checks, and unknown events: item references only."""
        if type(event) is UnknownEvent:
            self.unknown_type(index, event)
        if "output_index" in event.raw:
            self.ref(index, event)

    def unknown_type(self, index: int, event: Event) -> None:
        event_type = event.raw.get("type", _MISSING)
        if type(event_type) is not str:
            self.emit("event.schema", index, f"type is {_describe(event_type)}, not a string")
            return
        if self.profile == "openresponses" and ":" not in event_type:
            self.emit("event.unknown-type", index, f"unknown event type {event_type!r} is not slug-prefixed (vendor:name)", severity="error")
        else:
            self.emit("event.unknown-type", index, f"unknown event type {event_type!r} (kept)", severity="warning")

    def finish(self) -> None:
        events = self.events
        last = len(events) - 1 if events else None
        if self.json_events == 0:
            wire = self.stream.wire
            status = f" (HTTP {wire.status})" if wire is not None and wire.status not in (None, 200) else ""
            payloads = len(events)
            what = (f"none of its {plural(payloads, 'payload')} is a JSON event" if payloads else "the stream has no events")
            self.emit("lifecycle.created-first", None, f"{what}{status}")
        if self.missing_seq and self.schema_on:
            if len(self.missing_seq) == self.json_events:
                self.emit("event.schema", None, f"no event carries sequence_number ({self.json_events} events; "
                          "OpenAI streams before mid-2025 lacked it, the current SDK needs it)")
            else:
                for index in self.missing_seq:
                    if "sequence_number" not in events[index].raw:
                        self.emit("event.schema", index, "sequence_number is missing")
        if not self.terminals:
            wire = self.stream.wire
            cause = f" (the connection failed: {wire.transport_error})" if wire is not None and wire.transport_error else ""
            if self.json_events or cause:
                self.emit("lifecycle.one-terminal", last,
                          f"no response.completed/failed/incomplete: the stream ends without a terminal event{cause}")
        else:
            first = self.terminals[0]
            terminals = set(self.terminals)
            after = [index for index in range(first + 1, len(events)) if type(events[index]) is not NotJSONEvent and index not in terminals]
            if after:
                self.emit("lifecycle.one-terminal", after[0], f"{plural(len(after), 'event')} follow{'s' if len(after) == 1 else ''} the terminal event {first}")
        for item in self.items:
            if item.done_at is None:
                self.emit("item.closed-once", item.added_at, f"item {item.index} ({item.type}) never got output_item.done")
        terminal_type = events[self.terminals[0]].raw.get("type") if self.terminals else None
        for item in self.incomplete_items:
            later = [other for other in self.items if other.added_at > item.added_at]
            if later:
                self.emit("lifecycle.incomplete-item-last", item.done_at, f"item {item.index} ended incomplete but item {later[0].index} follows it")
            if terminal_type != "response.incomplete":
                self.emit("lifecycle.incomplete-item-last", item.done_at, f"item {item.index} ended incomplete but the response ends with {terminal_type}")
        if self.error_pending is not None and not self.error_reported:
            self.emit("lifecycle.error-then-failed", self.error_pending, "the error event is not followed by response.failed")
        self.check_wire()



_Handler = Callable[[_Validator, int, Event], None]
_FAMILY_HANDLERS: tuple[tuple[type, _Handler], ...] = (
    (ResponseLifecycleEvent, _Validator.on_lifecycle),
    (ErrorEvent, _Validator.on_error),
    (OutputItemAdded, _Validator.on_item_added),
    (OutputItemDone, _Validator.on_item_done),
    (ContentPartAdded, _Validator.on_part_added),
    (ContentPartDone, _Validator.on_part_done),
    (TextDelta, _Validator.on_text_delta),
    (TextDone, _Validator.on_text_done),
    (OutputTextAnnotationAdded, _Validator.on_annotation),
    (ReasoningSummaryEvent, _Validator.on_summary),
    (ArgumentsDelta, _Validator.on_args),
    (ArgumentsDone, _Validator.on_args),
    (HostedToolStatus, _Validator.on_hosted),
)
_HANDLERS: dict[type, _Handler] = {}


def _handler_for(cls: type) -> _Handler:
    for family, handler in _FAMILY_HANDLERS:
        if issubclass(cls, family):
            break
    else:
        handler = _Validator.on_other
    _HANDLERS[cls] = handler
    return handler


def profile_for(stream: Stream, profile: str | None = None) -> str:
    """The profile a stream is judged under: `profile` when given, else `chat` for a Chat Completions stream, else openai."""
    if profile is not None:
        return profile
    return CHAT_PROFILE if is_chat_stream(stream) else DEFAULT_PROFILE


def validate_stream(stream: Stream | Any, profile: str | None = None, *, starting_after: int | None = None) -> list[Violation]:
    """Every breach of the rule catalog under `profile` ("openai", "openresponses", "lenient", "chat").

    `stream` is a `Stream` or anything `kit.events.parse` accepts. Without a
    profile a Chat Completions stream is judged under `chat`, anything else under
    `openai`. A stream judged under a profile of the other API gets one
    stream-level violation saying so, not one per event. `starting_after` is the
    sequence number a resumed stream was requested after (see the module
    docstring). Raises only for an unknown profile.
    """
    if not isinstance(stream, Stream):
        stream = parse(stream)
    profile = profile_for(stream, profile)
    enabled_rules(profile)  # an unknown profile raises here, whatever the stream
    chat = is_chat_stream(stream)
    if profile == CHAT_PROFILE:
        if stream.events and not chat and any(type(e) is not NotJSONEvent for e in stream.events):
            return [Violation("chat.schema", "error", "this is not a Chat Completions stream (its first JSON object is "
                              "not a chat.completion.chunk): judge it under a Responses profile (openai)")]
        return validate_chat_stream(stream)
    if chat:
        rule = "event.schema"
        return [Violation(rule, "error", f"this is a Chat Completions stream ({len(stream.events)} chunks), not Responses "
                          f"events: judge it under the chat profile (`kit check` picks it when no --profile is given)")]
    return _Validator(stream, profile, starting_after).run()


__all__ = ["RULES", "Violation", "ViolationGroup", "group_violations", "plural", "profile_for", "summarize", "validate_stream"]
