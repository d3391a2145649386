"""Rules on content parts, text, annotations, reasoning summaries, arguments and hosted tool steps."""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

from kit.events.model import (
    HOSTED_STATUS_ORDER,
    ArgumentsDelta,
    Event,
    OutputTextDelta,
    OutputTextDone,
    ReasoningSummaryPartAdded,
    ReasoningSummaryPartDone,
    ReasoningSummaryTextDelta,
    ReasoningSummaryTextDone,
)
from kit.events.validate_state import (
    ANNOTATION_FIELDS,
    PART_TYPES,
    TEXT_FIELD,
    _Item,
    _MISSING,
    _Part,
    _Summary,
    _describe,
    _kind_ok,
    _len_or,
)

if TYPE_CHECKING:  # the mixin's `self` is the validator: its state and `emit` are typed there
    from kit.events.validate import _Validator as _Base
else:
    _Base = object


class ContentRules(_Base):
    """Handlers of one rule family, mixed into `kit.events.validate._Validator` (which holds the state and `emit`)."""

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
        if logprobs is _MISSING and self.profile == "openai":
            return  # OpenAI itself omits the field (gpt-4-0613 in June 2025, gpt-5.3-codex): only null or a non-list is wrong
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
