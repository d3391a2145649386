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

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from kit.events.model import (
    HOSTED_STATUS_ORDER,
    IDX,
    INT,
    LIST,
    OBJ,
    STR,
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
    OutputTextDelta,
    OutputTextDone,
    ReasoningSummaryEvent,
    ReasoningSummaryPartAdded,
    ReasoningSummaryPartDone,
    ReasoningSummaryTextDelta,
    ReasoningSummaryTextDone,
    ResponseCreated,
    ResponseLifecycleEvent,
    Stream,
    TerminalEvent,
    TextDelta,
    TextDone,
    UnknownEvent,
    _COMMON_OPTIONAL,
)
from kit.events.parse import parse
from kit.events.rules import DEFAULT_PROFILE, RULES, Severity, enabled_rules

RESPONSE_STATUSES = frozenset({"completed", "failed", "in_progress", "cancelled", "queued", "incomplete"})
PART_TYPES = frozenset({"output_text", "refusal", "reasoning_text"})
TEXT_FIELD = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text"}
ANNOTATION_FIELDS: dict[str, dict[str, str]] = {
    "url_citation": {"url": STR, "title": STR, "start_index": INT, "end_index": INT},
    "file_citation": {"file_id": STR, "filename": STR, "index": INT},
    "container_file_citation": {"container_id": STR, "file_id": STR, "filename": STR, "start_index": INT, "end_index": INT},
    "file_path": {"file_id": STR, "index": INT},
}
# Tool-call markup that models emit when a server fails to parse their tool calls.
TOOL_MARKUP = re.compile(
    r"<tool_call>|</tool_call>|<\|tool_call|<function=|<\|python_tag\|>|\[TOOL_CALLS\]|<\|channel\|>[^<]*to=functions\."
    r"|<\|start\|>assistant<\|channel\|>commentary|^\s*\{\s*\"(?:name|function)\"\s*:\s*\"[^\"]+\"\s*,\s*\"(?:arguments|parameters)\"\s*:"
)
_ARG_ITEM_FIELD = {"function_call": "arguments", "mcp_call": "arguments", "custom_tool_call": "input"}


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
        where = [f"event {self.index}" if self.index is not None else "stream"]
        for name in ("sequence_number", "output_index", "item_id", "content_index"):
            value = getattr(self, name)
            if value is not None:
                where.append(f"{name.replace('_number', '').replace('_index', '')}={value}")
        return f"{self.severity.upper():7} {self.rule:32} {' '.join(where)}: {self.message}"


def summarize(violations: Iterable[Violation]) -> dict[str, Any]:
    """Counts for reports: errors, warnings, and per rule id."""
    violations = list(violations)
    return {
        "errors": sum(v.severity == "error" for v in violations),
        "warnings": sum(v.severity == "warning" for v in violations),
        "by_rule": dict(Counter(v.rule for v in violations)),
    }


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == IDX:
        return type(value) is int and value >= 0
    if kind == STR:
        return type(value) is str
    if kind == OBJ:
        return type(value) is dict
    if kind == INT:
        return type(value) is int
    if kind == LIST:
        return type(value) is list
    if kind == STR_OR_OBJ:
        return type(value) in (str, dict)
    return True


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    text = json.dumps(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


_MISSING = object()


class _Part:
    __slots__ = ("kind", "added_at", "phantom", "deltas", "kind_done", "kind_done_text", "done_at", "done_part",
                 "annotations", "text_reported", "ann_reported", "kind_reported")

    def __init__(self, kind: str | None, added_at: int | None, phantom: bool = False) -> None:
        self.kind = kind
        self.added_at = added_at
        self.phantom = phantom
        self.deltas: list[str] = []
        self.kind_done = 0
        self.kind_done_text: str | None = None
        self.done_at: int | None = None
        self.done_part: dict[str, Any] | None = None
        self.annotations: list[dict[str, Any]] = []
        self.text_reported = False
        self.ann_reported = False
        self.kind_reported = False

    def streamed_text(self) -> str | None:
        """The text as the stream settled it: the .done text, else the deltas, else None."""
        if self.kind_done_text is not None:
            return self.kind_done_text
        if self.deltas:
            return "".join(self.deltas)
        return None


class _Summary:
    __slots__ = ("deltas", "text_done", "text", "part_done", "phantom", "reported", "consistent_reported")

    def __init__(self, phantom: bool = False) -> None:
        self.deltas: list[str] = []
        self.text_done = 0
        self.text: str | None = None
        self.part_done = False
        self.phantom = phantom
        self.reported = False
        self.consistent_reported = False


class _Item:
    __slots__ = ("index", "id", "type", "added_at", "done_at", "parts", "parts_added", "summaries", "summaries_added",
                 "args", "args_done", "args_value", "args_name", "args_reported", "hosted_pos", "flags", "done_item")

    def __init__(self, index: int, item: dict[str, Any], added_at: int) -> None:
        self.index = index
        item_id = item.get("id")
        item_type = item.get("type")
        self.id = item_id if type(item_id) is str else None
        self.type = item_type if type(item_type) is str else None
        self.added_at = added_at
        self.done_at: int | None = None
        self.done_item: dict[str, Any] | None = None
        self.parts: dict[int, _Part] = {}
        self.parts_added = 0
        self.summaries: dict[int, _Summary] = {}
        self.summaries_added = 0
        self.args: list[str] = []
        self.args_done = 0
        self.args_value: str | None = None
        self.args_name: str | None = None
        self.args_reported = False
        self.hosted_pos = -1
        self.flags: set[str] = set()  # rule ids already reported for this item (once-per-item rules)


class _Validator:
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

    def on_lifecycle(self, index: int, event: Event) -> None:
        response = event.raw.get("response")
        is_terminal = isinstance(event, TerminalEvent)
        if type(response) is dict:
            self.check_identity(index, response)
            status = response.get("status")
            if status is not None and (type(status) is not str or status not in RESPONSE_STATUSES):
                self.emit("event.schema", index, f"response.status {status!r} is not one of {sorted(RESPONSE_STATUSES)}")
        if type(event) is ResponseCreated:
            if self.created_seen or index != self.first_json:
                self.emit("lifecycle.created-first", index, "a second response.created: only the first event may be response.created")
            self.created_seen = True
        elif not is_terminal:
            if (not self.created_seen and not self.resumed) or self.item_event_seen:
                where = "before any item event" if self.item_event_seen else "after response.created"
                self.emit("lifecycle.in-progress-order", index, f"{event.TYPE} must come {where}")
        if is_terminal:
            self.on_terminal(index, event, response if type(response) is dict else None)

    def check_identity(self, index: int, response: dict[str, Any]) -> None:
        if self.identity is None:
            self.identity = (index, response)
            return
        first_index, first = self.identity
        changed = [name for name in ("id", "created_at", "model") if response.get(name) != first.get(name)]
        if changed:
            details = ", ".join(f"{name} {first.get(name)!r} -> {response.get(name)!r}" for name in changed)
            self.emit("lifecycle.stable-response", index, f"response {details} (first seen at event {first_index})")

    def on_terminal(self, index: int, event: Event, response: dict[str, Any] | None) -> None:
        self.terminals.append(index)
        if len(self.terminals) > 1:
            self.emit("lifecycle.one-terminal", index, f"a second terminal event ({event.TYPE}); the first was event {self.terminals[0]}")
            return
        expected = type(event).status  # type: ignore[attr-defined]
        if self.error_pending is not None and expected != "failed" and not self.error_reported:
            self.error_reported = True
            self.emit("lifecycle.error-then-failed", index, f"the error event {self.error_pending} is followed by {event.TYPE}, not response.failed")
        self.error_pending = None
        if response is None:
            return
        status = response.get("status")
        if status != expected:
            self.emit("lifecycle.terminal-status", index, f"{event.TYPE} carries response.status {status!r}")
        if expected == "failed" and type(response.get("error")) is not dict:
            self.emit("lifecycle.terminal-status", index, "response.failed without response.error")
        if expected == "incomplete":
            details = response.get("incomplete_details")
            if type(details) is not dict or type(details.get("reason")) is not str:
                self.emit("lifecycle.terminal-status", index, "response.incomplete without incomplete_details.reason")
        if expected == "completed":
            self.check_usage(index, response.get("usage"))
        self.check_final_output(index, response)

    def check_usage(self, index: int, usage: Any) -> None:
        if type(usage) is not dict:
            self.emit("final.usage", index, "response.completed without usage")
            return
        total, given_in, given_out = usage.get("total_tokens"), usage.get("input_tokens"), usage.get("output_tokens")
        if not all(type(value) is int for value in (total, given_in, given_out)) or total != given_in + given_out:
            self.emit("final.usage", index, f"usage total_tokens {total!r} != input_tokens {given_in!r} + output_tokens {given_out!r}")

    def check_final_output(self, index: int, response: dict[str, Any]) -> None:
        if "output" not in response or response["output"] is None:
            return  # the SDK rebuilds a missing output from the done items
        output = response["output"]
        if type(output) is not list:
            self.emit("item.final-output", index, f"response.output is {_describe(output)}, not a list")
            return
        if self.resumed and self.index_base:
            output = output[self.index_base:]
        # The k-th announced item is compared with output[k]; items never done are item.closed-once's business.
        done_count = sum(item.done_item is not None for item in self.items)
        if len(output) != len(self.items) or (done_count and len(output) < done_count):
            self.emit("item.final-output", index,
                      f"response.output has {len(output)} items, the stream announced {len(self.items)} and finished {done_count}")
        for item, final in zip(self.items, output):
            if item.done_item is None:
                continue
            expected = _final_projection(item.done_item)  # type: ignore[arg-type]
            actual = _final_projection(final) if type(final) is dict else {"<not an object>": final}
            if expected != actual:
                fields = sorted(name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name))
                self.emit("item.final-output", index,
                          f"response.output[{item.index}] differs from output_item.done in {', '.join(fields)}",
                          output_index=item.index, item_id=item.id)

    def on_error(self, index: int, event: Event) -> None:
        raw = event.raw
        nested = raw.get("error")
        if type(nested) is dict:
            shape_ok = type(nested.get("message")) is str
        else:
            shape_ok = nested is None and type(raw.get("message")) is str and all(
                raw.get(name) is None or type(raw.get(name)) is str for name in ("code", "param"))
        if not shape_ok:
            self.emit("event.error-shape", index, "error event is neither flat {code, message, param} nor nested {error: {message, ...}}")
        if self.error_pending is None:
            self.error_pending = index
            self.error_reported = False

    def on_item_added(self, index: int, event: Event) -> None:
        raw = event.raw
        output_index = raw.get("output_index")
        item = raw.get("item")
        self.item_event(index)
        if type(output_index) is not int or type(item) is not dict:
            return
        if self.index_base is None:
            self.index_base = output_index
        expected = self.index_base + len(self.items)
        if output_index != expected:
            self.emit("item.index-order", index, f"output_item.added number {len(self.items)} has output_index {output_index}, expected {expected}")
        if self.open_items:
            self.emit("item.sequential", index, f"item {output_index} starts while {self.open_items} earlier item(s) are still open")
        state = _Item(output_index, item, index)
        self.check_item_fields(index, state, item)
        if state.id is not None:
            if state.id in self.item_ids:
                self.once(state, "item.fields", index, f"item id {state.id!r} is used by an earlier item")
            self.item_ids.add(state.id)
        self.items.append(state)
        self.by_index[output_index] = state
        self.open_items += 1

    def check_item_fields(self, index: int, state: _Item, item: dict[str, Any]) -> None:
        missing = [name for name in ("id", "type", "status") if type(item.get(name)) is not str]
        if missing:
            self.once(state, "item.fields", index, f"{item.get('type', 'item')} item lacks {', '.join(missing)}")

    def on_item_done(self, index: int, event: Event) -> None:
        raw = event.raw
        output_index = raw.get("output_index")
        done = raw.get("item")
        self.item_event(index)
        if type(output_index) is not int or type(done) is not dict:
            return
        item = self.by_index.get(output_index)
        if item is None:
            if not (self.resumed and (self.index_base is None or output_index < self.index_base)):
                self.emit("item.closed-once", index, f"output_item.done for output_index {output_index}, which was never added")
            return
        if item.done_at is not None:
            self.emit("item.closed-once", index, f"a second output_item.done for item {output_index} (first at event {item.done_at})")
            return
        if done.get("id") != item.id or done.get("type") != item.type:
            self.emit("item.same-identity", index,
                      f"added as {item.type} {item.id!r}, done as {done.get('type')} {done.get('id')!r}")
        status = done.get("status")
        if status == "in_progress":
            self.emit("item.done-terminal", index, "output_item.done carries status in_progress")
        self.check_item_fields(index, item, done)
        item.done_at = index
        item.done_item = done
        self.open_items -= 1
        if status == "incomplete":
            self.incomplete_items.append(item)
        self.close_parts(index, item, done)
        self.close_summaries(index, item, done)
        self.close_args(index, item, done)
        if item.type == "message":
            self.check_tool_markup(index, item, done)

    def close_parts(self, index: int, item: _Item, done: dict[str, Any]) -> None:
        content = done.get("content")
        content = content if type(content) is list else []
        for content_index, part in item.parts.items():
            if part.phantom:
                continue
            where = {"content_index": content_index}
            if part.kind in TEXT_FIELD and part.kind_done == 0:
                self.emit("part.one-done", index, f"{part.kind} part {content_index} never got its response.{part.kind}.done", **where)
            if part.done_at is None:
                self.emit("part.closed-once", index, f"content part {content_index} never got content_part.done before the item's done", **where)
                self.check_bounds(index, part, content_index)
            final = content[content_index] if 0 <= content_index < len(content) and type(content[content_index]) is dict else None
            if final is None:
                continue
            streamed = part.streamed_text()
            field = TEXT_FIELD.get(part.kind or "", "text")
            if streamed is not None and not part.text_reported and final.get(field) != streamed:
                part.text_reported = True
                self.emit("part.text-consistent", index,
                          f"output_item.done content[{content_index}].{field} differs from the streamed text "
                          f"({_len_or(final.get(field))} vs {len(streamed)} chars)", **where)
            if part.kind == "output_text" and not part.ann_reported:
                self.compare_annotations(index, part, final.get("annotations"), "output_item.done", content_index)

    def compare_annotations(self, index: int, part: _Part, annotations: Any, where: str, content_index: int) -> None:
        if annotations is None:
            annotations = []
        if annotations != part.annotations:
            part.ann_reported = True
            self.emit("annotation.consistent", index,
                      f"{where} has {_len_or(annotations)} annotation(s), {len(part.annotations)} were streamed"
                      + ("" if _len_or(annotations) != len(part.annotations) else " (with different content)"),
                      content_index=content_index)
            if type(annotations) is list and not part.annotations:
                for annotation in annotations:
                    self.check_annotation_type(index, annotation)

    def close_summaries(self, index: int, item: _Item, done: dict[str, Any]) -> None:
        summary = done.get("summary")
        summary = summary if type(summary) is list else []
        for summary_index, state in item.summaries.items():
            if state.phantom:
                continue
            if not state.part_done and not state.reported:
                state.reported = True
                self.emit("reasoning.summary-lifecycle", index, f"summary part {summary_index} never got reasoning_summary_part.done")
            final = summary[summary_index] if 0 <= summary_index < len(summary) and type(summary[summary_index]) is dict else None
            streamed = state.text if state.text is not None else ("".join(state.deltas) if state.deltas else None)
            if final is not None and streamed is not None and final.get("text") != streamed and not state.consistent_reported:
                state.consistent_reported = True
                self.emit("reasoning.summary-consistent", index, f"output_item.done summary[{summary_index}].text differs from the streamed summary")
        if item.type == "reasoning" and item.summaries and len(summary) != len(item.summaries):
            self.emit("reasoning.summary-consistent", index, f"the done item has {len(summary)} summary parts, {len(item.summaries)} were streamed")

    def close_args(self, index: int, item: _Item, done: dict[str, Any]) -> None:
        field = _ARG_ITEM_FIELD.get(item.type or "")
        if field is None:
            return
        if item.args_done == 0 and item.args and not item.args_reported:
            self.emit("args.lifecycle", index, f"{len(item.args)} {field} deltas but no .done event before the item's done")
        streamed = item.args_value if item.args_value is not None else ("".join(item.args) if item.args else None)
        final = done.get(field)
        if streamed is not None and final != streamed and not item.args_reported:
            item.args_reported = True
            self.emit("args.lifecycle", index, f"item {field} differs from the streamed {field}")
        if item.args_name is not None and item.args_name != done.get("name") and not item.args_reported:
            item.args_reported = True
            self.emit("args.lifecycle", index, f"the .done event names {item.args_name!r}, the item {done.get('name')!r}")
        if item.type == "function_call" and type(final) is str:
            try:
                parsed = json.loads(final)
            except ValueError:
                parsed = None
            if type(parsed) is not dict:
                self.emit("args.json", index, f"function_call arguments are not a JSON object: {final[:80]!r}")

    def check_tool_markup(self, index: int, item: _Item, done: dict[str, Any]) -> None:
        content = done.get("content")
        if type(content) is not list:
            return
        for content_index, part in enumerate(content):
            text = part.get("text") if type(part) is dict and part.get("type") == "output_text" else None
            if type(text) is str and TOOL_MARKUP.search(text):
                self.emit("tool.not-as-text", index, f"tool-call markup inside output_text: {TOOL_MARKUP.search(text).group(0)[:40]!r}",  # type: ignore[union-attr]
                          content_index=content_index)

    def on_part_added(self, index: int, event: Event) -> None:
        item = self.ref(index, event)
        raw = event.raw
        content_index = raw.get("content_index")
        part = raw.get("part")
        if item is None or type(content_index) is not int or type(part) is not dict:
            return
        if content_index != item.parts_added or content_index in item.parts:
            self.emit("part.index-order", index, f"part number {item.parts_added} of item {item.index} has content_index {content_index}")
        kind = part.get("type")
        if type(kind) is not str or kind not in PART_TYPES:
            self.emit("event.schema", index, f"part.type {kind!r} is not one of {sorted(PART_TYPES)}")
        elif kind == "reasoning_text" and item.type != "reasoning":
            self.once(item, "reasoning.text-on-reasoning-item", index, f"a reasoning_text part on a {item.type} item")
        elif kind != "reasoning_text" and item.type != "message":
            self.emit("part.kind-matches", index, f"a {kind} part on a {item.type} item (only messages hold {kind})")
        item.parts[content_index] = _Part(kind if type(kind) is str else None, index)
        item.parts_added += 1

    def on_part_done(self, index: int, event: Event) -> None:
        found = self.part_ref(index, event, opening_rule="part.closed-once")
        part_raw = event.raw.get("part")
        if found is None or type(part_raw) is not dict:
            return
        item, part = found
        content_index = event.raw["content_index"]
        if part.phantom:
            return
        if part.done_at is not None:
            self.emit("part.closed-once", index, f"a second content_part.done for part {content_index} (first at event {part.done_at})")
            return
        part.done_at = index
        part.done_part = part_raw
        field = TEXT_FIELD.get(part.kind or "", "text")
        streamed = part.streamed_text()
        if streamed is not None and part_raw.get(field) != streamed and not part.text_reported:
            part.text_reported = True
            self.emit("part.text-consistent", index, f"content_part.done part.{field} differs from the streamed text "
                      f"({_len_or(part_raw.get(field))} vs {len(streamed)} chars)")
        if part.kind == "output_text":
            self.compare_annotations(index, part, part_raw.get("annotations"), "content_part.done", content_index)
        self.check_bounds(index, part, content_index)

    def check_bounds(self, index: int, part: _Part, content_index: int) -> None:
        text = part.streamed_text()
        if text is None and part.done_part is not None:
            text = part.done_part.get("text") if type(part.done_part.get("text")) is str else None
        if text is None or not part.annotations:
            return
        length = len(text)
        for position, annotation in enumerate(part.annotations):
            kind = annotation.get("type")
            if kind in ("url_citation", "container_file_citation"):
                start, end = annotation.get("start_index"), annotation.get("end_index")
                if type(start) is int and type(end) is int and not 0 <= start <= end <= length:
                    self.emit("annotation.bounds", index, f"annotation {position}: [{start}, {end}] is outside the text (length {length})",
                              content_index=content_index)
            elif kind in ("file_citation", "file_path"):
                at = annotation.get("index")
                if type(at) is int and not 0 <= at <= length:
                    self.emit("annotation.bounds", index, f"annotation {position}: index {at} is outside the text (length {length})",
                              content_index=content_index)

    def on_text_delta(self, index: int, event: Event) -> None:
        found = self.part_ref(index, event)
        if found is None:
            return
        item, part = found
        kind = event.kind  # type: ignore[attr-defined]
        self.check_kind(index, item, part, kind, event)
        if part.kind_done or part.done_at is not None:
            self.emit("part.one-done", index, f"{event.TYPE} after the part's {'done' if part.kind_done else 'content_part.done'}")
        delta = event.raw.get("delta")
        if type(delta) is str:
            part.deltas.append(delta)
        if type(event) is OutputTextDelta:
            self.check_logprobs(index, event)

    def check_kind(self, index: int, item: _Item, part: _Part, kind: str, event: Event) -> None:
        if kind == "reasoning_text" and item.type != "reasoning":
            self.once(item, "reasoning.text-on-reasoning-item", index, f"{event.TYPE} on a {item.type} item")
        if part.kind is not None and part.kind != kind and not part.kind_reported:
            part.kind_reported = True
            self.emit("part.kind-matches", index, f"{event.TYPE} on a {part.kind} part")

    def check_logprobs(self, index: int, event: Event) -> None:
        logprobs = event.raw.get("logprobs", _MISSING)
        if type(logprobs) is not list:
            self.emit("event.logprobs", index, f"logprobs is {_describe(logprobs)}, expected a list")

    def on_text_done(self, index: int, event: Event) -> None:
        found = self.part_ref(index, event)
        if found is None:
            return
        item, part = found
        kind = event.kind  # type: ignore[attr-defined]
        self.check_kind(index, item, part, kind, event)
        if type(event) is OutputTextDone:
            self.check_logprobs(index, event)
        if part.kind_done:
            self.emit("part.one-done", index, f"a second {event.TYPE} for this part")
            return
        part.kind_done += 1
        text = event.raw.get(event.done_field)  # type: ignore[attr-defined]
        part.kind_done_text = text if type(text) is str else None
        if part.done_at is not None and not part.phantom:
            self.emit("part.closed-once", index, f"content_part.done (event {part.done_at}) came before {event.TYPE}")
        if part.deltas and type(text) is str and not part.text_reported:
            joined = "".join(part.deltas)
            if joined != text:
                part.text_reported = True
                self.emit("part.text-consistent", index, f"{event.TYPE} text differs from the concatenated deltas ({len(text)} vs {len(joined)} chars)")

    def on_annotation(self, index: int, event: Event) -> None:
        found = self.part_ref(index, event)
        if found is None:
            return
        item, part = found
        raw = event.raw
        if not part.phantom and (item.type != "message" or part.kind != "output_text" or part.done_at is not None):
            state = "closed" if part.done_at is not None else f"a {part.kind} part of a {item.type} item"
            self.emit("annotation.in-open-part", index, f"annotation.added targets {state}")
        annotation_index = raw.get("annotation_index")
        if type(annotation_index) is int and annotation_index != len(part.annotations):
            self.emit("annotation.index-order", index, f"annotation_index {annotation_index}, expected {len(part.annotations)}")
        annotation = raw.get("annotation")
        self.check_annotation_type(index, annotation)
        if type(annotation) is dict:
            part.annotations.append(annotation)

    def check_annotation_type(self, index: int, annotation: Any) -> None:
        if type(annotation) is not dict:
            self.emit("annotation.type", index, f"annotation is {_describe(annotation if annotation is not None else _MISSING)}")
            return
        kind = annotation.get("type")
        fields = ANNOTATION_FIELDS.get(kind) if type(kind) is str else None
        if fields is None:
            self.emit("annotation.type", index, f"annotation type {kind!r} is not one of {sorted(ANNOTATION_FIELDS)}")
            return
        bad = [name for name, field_kind in fields.items() if not _kind_ok(field_kind, annotation.get(name, _MISSING))]
        if bad:
            self.emit("annotation.type", index, f"{kind} lacks or mistypes {', '.join(bad)}")

    def on_summary(self, index: int, event: Event) -> None:
        item = self.ref(index, event)
        summary_index = event.raw.get("summary_index")
        if item is None or type(summary_index) is not int:
            return
        if item.type != "reasoning":
            self.once(item, "reasoning.summary-lifecycle", index, f"{event.TYPE} on a {item.type} item")
        state = item.summaries.get(summary_index)
        cls = type(event)
        if cls is ReasoningSummaryPartAdded:
            if state is not None or summary_index != item.summaries_added:
                self.emit("reasoning.summary-lifecycle", index, f"summary part number {item.summaries_added} has summary_index {summary_index}")
            item.summaries[summary_index] = _Summary()
            item.summaries_added += 1
            return
        if state is None:
            self.emit("reasoning.summary-lifecycle", index, f"{event.TYPE} for summary part {summary_index}, which was never added")
            state = item.summaries[summary_index] = _Summary(phantom=True)
        if cls is ReasoningSummaryTextDelta:
            if state.text_done or state.part_done:
                self.emit("reasoning.summary-lifecycle", index, "a summary delta after the summary text's done")
            delta = event.raw.get("delta")
            if type(delta) is str:
                state.deltas.append(delta)
        elif cls is ReasoningSummaryTextDone:
            if state.text_done or state.part_done:
                self.emit("reasoning.summary-lifecycle", index, "reasoning_summary_text.done repeated or after the part's done")
                return
            state.text_done += 1
            text = event.raw.get("text")
            state.text = text if type(text) is str else None
            if state.deltas and state.text is not None and "".join(state.deltas) != state.text and not state.consistent_reported:
                state.consistent_reported = True
                self.emit("reasoning.summary-consistent", index, "reasoning_summary_text.done text differs from the concatenated deltas")
        elif cls is ReasoningSummaryPartDone:
            if state.part_done:
                self.emit("reasoning.summary-lifecycle", index, "a second reasoning_summary_part.done")
                return
            if not state.text_done and not state.phantom:
                self.emit("reasoning.summary-lifecycle", index, "reasoning_summary_part.done before reasoning_summary_text.done")
            state.part_done = True
            part = event.raw.get("part")
            streamed = state.text if state.text is not None else ("".join(state.deltas) if state.deltas else None)
            if type(part) is dict:
                if part.get("type") != "summary_text":
                    self.emit("event.schema", index, f"summary part.type {part.get('type')!r} is not 'summary_text'")
                if streamed is not None and part.get("text") != streamed and not state.consistent_reported:
                    state.consistent_reported = True
                    self.emit("reasoning.summary-consistent", index, "reasoning_summary_part.done part.text differs from the streamed summary")

    def on_args(self, index: int, event: Event) -> None:
        item = self.ref(index, event)
        if item is None:
            return
        expected_type = event.item_type  # type: ignore[attr-defined]
        if item.type != expected_type:
            self.once(item, "args.lifecycle", index, f"{event.TYPE} on a {item.type} item")
        if isinstance(event, ArgumentsDelta):
            if item.args_done:
                self.emit("args.lifecycle", index, f"{event.TYPE} after the .done event")
            delta = event.raw.get("delta")
            if type(delta) is str:
                item.args.append(delta)
            return
        if item.args_done:
            self.emit("args.lifecycle", index, f"a second {event.TYPE}")
            return
        item.args_done += 1
        value = event.raw.get(event.item_field)  # type: ignore[attr-defined]
        item.args_value = value if type(value) is str else None
        name = event.raw.get("name")
        item.args_name = name if type(name) is str else None
        if item.args and item.args_value is not None and "".join(item.args) != item.args_value and not item.args_reported:
            item.args_reported = True
            self.emit("args.lifecycle", index, f"{event.TYPE} value differs from the concatenated deltas")

    def on_hosted(self, index: int, event: Event) -> None:
        item = self.ref(index, event)
        if item is None:
            return
        tool, status = event.tool, event.status  # type: ignore[attr-defined]
        if item.type != tool:
            self.emit("hosted.status-order", index, f"{event.TYPE} on a {item.type} item")
            return
        steps = HOSTED_STATUS_ORDER[tool]
        position = next(position for position, step in enumerate(steps) if status in step.split("|"))
        repeatable = status == "partial_image"
        if position < item.hosted_pos or (position == item.hosted_pos and not repeatable):
            self.emit("hosted.status-order", index, f"{tool} status {status!r} after {steps[item.hosted_pos]!r}: status moves forward only, once each")
        item.hosted_pos = max(item.hosted_pos, position)

    # -- end of stream --

    def finish(self) -> None:
        events = self.events
        last = len(events) - 1 if events else None
        if self.json_events == 0:
            wire = self.stream.wire
            status = f" (HTTP {wire.status})" if wire is not None and wire.status not in (None, 200) else ""
            self.emit("lifecycle.created-first", None, f"the stream has no events{status}")
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
                self.emit("lifecycle.one-terminal", after[0], f"{len(after)} event(s) follow the terminal event {first}")
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

    def check_wire(self) -> None:
        wire = self.stream.wire
        if wire is None:
            return
        if wire.invalid_utf8:
            self.emit("sse.utf8", None, f"{len(wire.invalid_utf8)} line(s) are not UTF-8 (replaced by U+FFFD), "
                                        f"the first at byte {wire.invalid_utf8[0]}")
        if wire.framing != "sse":
            return  # a one-event-per-line file: no SSE framing to judge
        if wire.unterminated:
            last = len(self.events) - 1 if self.events else None
            self.emit("sse.unterminated", last, "the body ends inside the last event (no blank line after it): "
                                               "the openai SDK drops that event")
        if wire.content_type is not None and (wire.status is None or wire.status == 200):
            media_type = wire.content_type.split(";")[0].strip().lower()
            if media_type != "text/event-stream":
                self.emit("sse.content-type", None, f"Content-Type is {wire.content_type!r}, not text/event-stream")
        for index, name in enumerate(wire.event_names):
            if index >= len(self.events):
                break
            if name is not None:
                actual = self.events[index].raw.get("type")
                if name != actual:
                    self.emit("sse.event-name", index, f"event: {name!r} but the JSON type is {actual!r}")
        if not wire.done_seen:
            self.emit("sse.done-sentinel", None, "the stream does not end with data: [DONE]")
        if wire.after_done:
            self.emit("sse.after-done", None, f"{len(wire.after_done)} payload(s) after data: [DONE], first: {wire.after_done[0][:80]!r}")


def _len_or(value: Any) -> int | str:
    return len(value) if isinstance(value, (str, list)) else repr(value)


def _final_projection(item: dict[str, Any]) -> dict[str, Any]:
    """The fields item.final-output compares: ids, types, status, text, arguments, annotations.

    Not compared: fields the API legitimately re-issues (encrypted_content,
    fingerprints), tool results and lists only filled in the final response.
    """
    projection: dict[str, Any] = {name: item.get(name) for name in ("id", "type", "status")}
    content = item.get("content")
    if type(content) is list:
        projection["content"] = [
            (part.get("type"), part.get("text"), part.get("refusal"), part.get("annotations") or [])
            if type(part) is dict else part
            for part in content
        ]
    summary = item.get("summary")
    if type(summary) is list:
        projection["summary"] = [part.get("text") if type(part) is dict else part for part in summary]
    for name in ("arguments", "input", "name", "call_id"):
        if name in item:
            projection[name] = item[name]
    return projection


_PYTHON_TYPE = {IDX: int, INT: int, STR: str, OBJ: dict, LIST: list, STR_OR_OBJ: str}
_SCHEMA_CHECKS: dict[type, tuple[tuple[str, type, bool, str], ...]] = {}


def _schema_checks(cls: type[Event]) -> tuple[tuple[str, type, bool, str], ...]:
    """(field, exact Python type, must be >= 0, kind) per required field; sequence_number is checked apart."""
    checks = tuple(
        (name, _PYTHON_TYPE[kind], kind == IDX, kind)
        for name, kind in cls.REQUIRED.items()
        if name != "sequence_number" and kind in _PYTHON_TYPE
    )
    _SCHEMA_CHECKS[cls] = checks
    return checks


def _known_fields_uncached(cls: type[Event]) -> frozenset[str]:
    return frozenset(cls.REQUIRED) | cls.OPTIONAL | _COMMON_OPTIONAL | {"type"}


_KNOWN_FIELDS: dict[type, frozenset[str]] = {}


def _known_fields(cls: type[Event]) -> frozenset[str]:
    known = _KNOWN_FIELDS.get(cls)
    if known is None:
        known = _KNOWN_FIELDS[cls] = _known_fields_uncached(cls)
    return known


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


def validate_stream(stream: Stream | Any, profile: str = DEFAULT_PROFILE, *, starting_after: int | None = None) -> list[Violation]:
    """Every breach of the rule catalog under `profile` ("openai", "openresponses", "lenient").

    `stream` is a `Stream` or anything `kit.events.parse` accepts. `starting_after`
    is the sequence number a resumed stream was requested after (see the module
    docstring). Raises only for an unknown profile.
    """
    if not isinstance(stream, Stream):
        stream = parse(stream)
    return _Validator(stream, profile, starting_after).run()


__all__ = ["RULES", "Violation", "summarize", "validate_stream"]
