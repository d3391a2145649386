"""Rules on response lifecycle and output items: identity, terminal, usage, final output, errors, item open/close."""

from __future__ import annotations

import json
from typing import Any, TYPE_CHECKING

from kit.events.event_base import STATUS_OPTIONAL
from kit.events.text import plural
from kit.events.model import (
    ITEM_FIELDS,
    Event,
    ResponseCreated,
    TerminalEvent,
)
from kit.events.validate_state import (
    INCOMPLETE_REASONS,
    RESPONSE_STATUSES,
    TEXT_FIELD,
    TOOL_MARKUP,
    _ARG_ITEM_FIELD,
    _Item,
    _Part,
    _describe,
    _final_projection,
    _kind_ok,
    _len_or,
)

if TYPE_CHECKING:  # the mixin's `self` is the validator: its state and `emit` are typed there
    from kit.events.validate import _Validator as _Base
else:
    _Base = object


class ItemRules(_Base):
    """Handlers of one rule family, mixed into `kit.events.validate._Validator` (which holds the state and `emit`)."""

    def on_lifecycle(self, index: int, event: Event) -> None:
        response = event.raw.get("response")
        is_terminal = isinstance(event, TerminalEvent)
        if type(response) is dict:
            self.check_identity(index, response)
            status = response.get("status")
            if status is not None and (type(status) is not str or status not in RESPONSE_STATUSES):
                self.emit("event.schema", index, f"response.status {status!r} is not one of {sorted(RESPONSE_STATUSES)}")
        if type(event) is ResponseCreated:
            if self.created_seen:
                self.emit("lifecycle.created-first", index, "a second response.created: only the first event may be response.created")
            elif index != self.first_json:
                self.emit("lifecycle.created-first", index,
                          f"response.created comes as event {index}, after {plural(index - (self.first_json or 0), 'other event')}: "
                          "it must be the first")
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
            elif details["reason"] not in INCOMPLETE_REASONS:
                self.emit("lifecycle.terminal-status", index,
                          f"incomplete_details.reason {details['reason']!r} is not one of the API's "
                          f"({', '.join(sorted(INCOMPLETE_REASONS))})")
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
            self.emit("item.sequential", index, f"item {output_index} starts while {plural(self.open_items, 'earlier item')} {'is' if self.open_items == 1 else 'are'} still open")
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
        required = ("id", "type") if self.profile == "openai" and type(item.get("type")) is str and item["type"] in STATUS_OPTIONAL else ("id", "type", "status")
        missing = [name for name in required if type(item.get(name)) is not str]
        if missing:
            self.once(state, "item.fields", index, f"{item.get('type', 'item')} item lacks {', '.join(missing)}")
        fields = ITEM_FIELDS.get(item.get("type")) if self.schema_on and type(item.get("type")) is str else None
        if fields:
            problems = [f"{name} {_describe(item[name])} (expected {kind}{' or null' if nullable else ''})"
                        for name, (kind, nullable) in fields.items()
                        if name in item and not (_kind_ok(kind, item[name]) or (nullable and item[name] is None))]
            if problems:
                self.emit("event.schema", index, f"{item['type']} item: " + "; ".join(problems), item_id=state.id,
                          output_index=state.index)

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
                      f"{where} has {_len_or(annotations)} annotations, {len(part.annotations)} were streamed"
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
