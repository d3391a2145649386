"""Rebuild the final response from the events alone, live or at once.

The terminal event's `response.output` is what the server *claims*; this module
computes what the server *streamed*, so the two can be compared (the validator
does, rule `item.final-output`). Unlike the SDK's accumulator it keeps
reasoning text, reasoning summaries, refusals, annotations, hosted tool status
and every item type, known or not.

Precedence, per field: what the deltas streamed; if nothing was streamed, the
field's `.done` event; then the `content_part.done`/`added` part; then the item
from `output_item.done`/`added`. Fields that are never streamed (ids, call_id,
encrypted_content, results, ...) come from the latest item event.

`Accumulator.feed(event)` is cheap (appends); `snapshot()` builds immutable
views and may be called as often as a live renderer redraws.
"""

from __future__ import annotations

from typing import Any, Iterable

from kit.events.model import (
    ApplyPatchCallOperationDiffDelta,
    ApplyPatchCallOperationDiffDone,
    ArgumentsDelta,
    ArgumentsDone,
    CodeInterpreterCallCodeDelta,
    CodeInterpreterCallCodeDone,
    ContentPartAdded,
    ContentPartDone,
    ErrorEvent,
    Event,
    HostedToolStatus,
    ImageGenerationCallPartialImage,
    OutputItemAdded,
    OutputItemDone,
    OutputTextAnnotationAdded,
    ReasoningSummaryPartAdded,
    ReasoningSummaryPartDone,
    ReasoningSummaryTextDelta,
    ReasoningSummaryTextDone,
    ResponseLifecycleEvent,
    ShellCallCommandAdded,
    ShellCallCommandDelta,
    ShellCallCommandDone,
    ShellCallOutputContentDelta,
    ShellCallOutputContentDone,
    Stream,
    TerminalEvent,
    TextDelta,
    TextDone,
    make_event,
)

from kit.events.accumulate_views import (
    AccumulatedResponse,
    _output_order,
    _opt_str,
    _view,
)

# Which item type an orphan sub-event implies (the item was never announced).
_IMPLIED_ITEM_TYPE = {
    "output_text": "message",
    "refusal": "message",
    "reasoning_text": "reasoning",
}


# --- Mutable state (what feed() updates) ---------------------------------------------------------


def streamed_text(deltas: list[str], done_text: str | None) -> str | None:
    """What a text field streamed, decided once for the accumulator and the validator.

    The deltas when there are any (that is what a client showed as it went);
    else the `.done` value (a server may send only that, as LM Studio does for
    arguments); else None. The validator checks `.done` against the deltas
    (`part.text-consistent`), so a disagreement is reported, never hidden.
    """
    if deltas:
        return "".join(deltas)
    return done_text


class _TextState:
    """Deltas of one text (joined lazily: feeding stays O(1) per delta)."""

    __slots__ = ("deltas", "done_text", "done")

    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.done_text: str | None = None
        self.done = False

    def value(self, fallback: str | None = None) -> str:
        text = streamed_text(self.deltas, self.done_text)
        return text if text is not None else fallback or ""


class _PartState(_TextState):
    __slots__ = ("part", "annotations", "kind", "part_done")

    def __init__(self, kind: str | None = None) -> None:
        super().__init__()
        self.part: dict[str, Any] | None = None
        self.annotations: list[dict[str, Any]] = []
        self.kind = kind
        self.part_done = False


class _ItemState:
    __slots__ = (
        "output_index", "added", "done_item", "parts", "summaries", "args", "name", "history",
        "partial_images", "implicit", "code", "diff", "commands", "shell_output", "type_hint",
    )

    def __init__(self, output_index: int | None, added: dict[str, Any] | None, implicit: bool = False) -> None:
        self.output_index = output_index
        self.added = added
        self.done_item: dict[str, Any] | None = None
        self.parts: dict[int, _PartState] = {}
        self.summaries: dict[int, _TextState] = {}
        self.args = _TextState()
        self.name: str | None = None
        self.history: list[str] = []
        self.partial_images = 0
        self.implicit = implicit
        self.code = _TextState()
        self.diff = _TextState()
        self.commands: dict[int, _TextState] = {}
        self.shell_output: dict[int, dict[str, list[str]]] = {}
        self.type_hint: str | None = None

    @property
    def base(self) -> dict[str, Any]:
        return self.done_item if self.done_item is not None else (self.added or {})

    @property
    def id(self) -> str | None:
        value = self.base.get("id")
        return value if isinstance(value, str) else None


class Accumulator:
    """Feed events one at a time; `snapshot()` gives the response as streamed so far.

    Never raises on bad events: an event it cannot place is counted in `unplaced`
    (the validator says why).
    """

    def __init__(self) -> None:
        self._items: list[_ItemState] = []
        self._by_index: dict[int, _ItemState] = {}
        self._by_id: dict[str, _ItemState] = {}
        self._response: dict[str, Any] | None = None
        self._terminal_type: str | None = None
        self._error: dict[str, Any] | None = None
        self.events = 0
        self.unplaced = 0

    def feed_all(self, events: Iterable[Event | dict[str, Any]]) -> "Accumulator":
        for event in events:
            self.feed(event)
        return self

    def feed(self, event: Event | dict[str, Any]) -> None:
        """Apply one event (an `Event` or a raw dict)."""
        if not isinstance(event, Event):
            event = make_event(event)
        self.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is None:
            for cls in type(event).__mro__[1:]:
                handler = _HANDLERS.get(cls)
                if handler is not None:
                    _HANDLERS[type(event)] = handler
                    break
            else:
                _HANDLERS[type(event)] = _ignore
                return
        handler(self, event)

    # -- locating the item an event belongs to --

    def _item_for(self, event: Event, implied_type: str | None = None) -> _ItemState | None:
        item_id = event.item_id
        if item_id is not None:
            state = self._by_id.get(item_id)
            if state is not None:
                return state
        index = event.output_index
        if index is not None:
            state = self._by_index.get(index)
            if state is not None:  # an unknown item_id on a known index: the id is wrong, not the item
                return state
        if index is None and item_id is None:
            self.unplaced += 1
            return None
        # Never announced: keep the content anyway, under an implicit item.
        state = _ItemState(index, None, implicit=True)
        state.type_hint = implied_type
        if item_id is not None:
            state.added = {"id": item_id}
            self._by_id[item_id] = state
        self._items.append(state)
        if index is not None and index not in self._by_index:
            self._by_index[index] = state
        return state

    # -- handlers --

    def _lifecycle(self, event: Event) -> None:
        response = event.response
        if response is not None:
            self._response = response
        if isinstance(event, TerminalEvent) and self._terminal_type is None:
            self._terminal_type = event.type

    def _error_event(self, event: Event) -> None:
        assert isinstance(event, ErrorEvent)
        self._error = event.error

    def _item_added(self, event: Event) -> None:
        item = event.item
        if item is None:
            self.unplaced += 1
            return
        state = _ItemState(event.output_index, item)
        self._items.append(state)
        if event.output_index is not None:
            self._by_index[event.output_index] = state
        if state.id is not None:
            self._by_id[state.id] = state

    def _item_done(self, event: Event) -> None:
        item = event.item
        if item is None:
            self.unplaced += 1
            return
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        state = self._by_id.get(item_id) if item_id is not None else None
        if state is None and event.output_index is not None:
            state = self._by_index.get(event.output_index)
            if state is not None and state.done_item is not None:
                state = None  # a second item at this index
        if state is None:
            state = _ItemState(event.output_index, None, implicit=True)
            self._items.append(state)
            if event.output_index is not None:
                self._by_index.setdefault(event.output_index, state)
        state.done_item = item
        if item_id is not None:
            self._by_id[item_id] = state

    def _part(self, event: Event, kind: str | None) -> _PartState | None:
        state = self._item_for(event, _IMPLIED_ITEM_TYPE.get(kind or ""))
        index = event.content_index
        if state is None or index is None:
            self.unplaced += state is not None
            return None
        part = state.parts.get(index)
        if part is None:
            part = state.parts[index] = _PartState(kind)
        return part

    def _part_added(self, event: Event) -> None:
        raw_part = event.part
        kind = raw_part.get("type") if raw_part is not None else None
        part = self._part(event, kind if isinstance(kind, str) else None)
        if part is not None and raw_part is not None:
            part.part = raw_part
            part.kind = part.kind or raw_part.get("type")

    def _part_done(self, event: Event) -> None:
        raw_part = event.part
        kind = raw_part.get("type") if raw_part is not None else None
        part = self._part(event, kind if isinstance(kind, str) else None)
        if part is not None:
            part.part_done = True
            if raw_part is not None:
                part.part = raw_part

    def _text_delta(self, event: Event) -> None:
        assert isinstance(event, TextDelta)
        part = self._part(event, event.kind)
        delta = event.delta
        if part is not None and delta is not None:
            part.deltas.append(delta)

    def _text_done(self, event: Event) -> None:
        assert isinstance(event, TextDone)
        part = self._part(event, event.kind)
        if part is not None:
            part.done = True
            part.done_text = event.final_text

    def _annotation(self, event: Event) -> None:
        part = self._part(event, "output_text")
        annotation = event.annotation
        if part is not None and annotation is not None:
            part.annotations.append(annotation)

    def _summary(self, event: Event) -> _TextState | None:
        state = self._item_for(event, "reasoning")
        index = event.summary_index
        if state is None or index is None:
            return None
        summary = state.summaries.get(index)
        if summary is None:
            summary = state.summaries[index] = _TextState()
        return summary

    def _summary_part(self, event: Event) -> None:
        summary = self._summary(event)
        part = event.part
        if summary is not None and isinstance(event, ReasoningSummaryPartDone):
            summary.done = True
            if summary.done_text is None and part is not None and isinstance(part.get("text"), str):
                summary.done_text = part["text"]

    def _summary_delta(self, event: Event) -> None:
        summary = self._summary(event)
        if summary is not None and event.delta is not None:
            summary.deltas.append(event.delta)

    def _summary_done(self, event: Event) -> None:
        summary = self._summary(event)
        if summary is not None:
            summary.done_text = event.text

    def _args_delta(self, event: Event) -> None:
        assert isinstance(event, ArgumentsDelta)
        state = self._item_for(event, event.item_type)
        if state is not None and event.delta is not None:
            state.args.deltas.append(event.delta)

    def _args_done(self, event: Event) -> None:
        assert isinstance(event, ArgumentsDone)
        state = self._item_for(event, event.item_type)
        if state is not None:
            state.args.done = True
            state.args.done_text = event.final_value
            state.name = event.name or state.name

    def _code(self, event: Event) -> None:
        state = self._item_for(event, "code_interpreter_call")
        if state is None:
            return
        if isinstance(event, CodeInterpreterCallCodeDelta) and event.delta is not None:
            state.code.deltas.append(event.delta)
        elif isinstance(event, CodeInterpreterCallCodeDone):
            code = event.get("code")
            state.code.done_text = code if isinstance(code, str) else None

    def _diff(self, event: Event) -> None:
        state = self._item_for(event, "apply_patch_call")
        if state is None:
            return
        if isinstance(event, ApplyPatchCallOperationDiffDelta) and event.delta is not None:
            state.diff.deltas.append(event.delta)
        elif isinstance(event, ApplyPatchCallOperationDiffDone):
            diff = event.get("diff")
            state.diff.done_text = diff if isinstance(diff, str) else None

    def _command(self, event: Event) -> None:
        state = self._item_for(event, "shell_call")
        index = event.get("command_index")
        if state is None or type(index) is not int:
            return
        command = state.commands.get(index)
        if command is None:
            command = state.commands[index] = _TextState()
        value = event.get("command")
        if isinstance(event, ShellCallCommandDelta) and event.delta is not None:
            command.deltas.append(event.delta)
        elif isinstance(event, ShellCallCommandAdded) and isinstance(value, str) and value:
            command.deltas.append(value)
        elif isinstance(event, ShellCallCommandDone) and isinstance(value, str):
            command.done_text = value

    def _shell_output(self, event: Event) -> None:
        state = self._item_for(event, "shell_call_output")
        index = event.get("command_index")
        if state is None or type(index) is not int:
            return
        streams = state.shell_output.setdefault(index, {})
        if isinstance(event, ShellCallOutputContentDelta):
            delta = event.get("delta")
            if isinstance(delta, dict):
                for key, value in delta.items():
                    if isinstance(value, str):
                        streams.setdefault(key, []).append(value)

    def _hosted(self, event: Event) -> None:
        assert isinstance(event, HostedToolStatus)
        state = self._item_for(event, event.tool)
        if state is None:
            return
        if isinstance(event, ImageGenerationCallPartialImage):
            state.partial_images += 1
        state.history.append(event.status)

    # -- snapshot --

    def snapshot(self) -> AccumulatedResponse:
        """Immutable views of everything streamed so far (safe to keep while feeding continues)."""
        response = self._response or {}
        items = sorted(self._items, key=_output_order)
        terminal = self._terminal_type
        status = response.get("status") if isinstance(response.get("status"), str) else None
        if terminal is not None and status is None:
            status = terminal.removeprefix("response.")
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else None
        error = self._error or (response.get("error") if isinstance(response.get("error"), dict) else None)
        incomplete = response.get("incomplete_details")
        return AccumulatedResponse(
            id=_opt_str(response.get("id")),
            model=_opt_str(response.get("model")),
            status=status,
            usage=usage,
            error=error,
            incomplete_details=incomplete if isinstance(incomplete, dict) else None,
            items=[_view(state) for state in items],
            response=self._response,
            terminal_type=terminal,
            events=self.events,
        )


def _ignore(accumulator: Accumulator, event: Event) -> None:
    return None


_HANDLERS: dict[type, Any] = {
    ResponseLifecycleEvent: Accumulator._lifecycle,
    ErrorEvent: Accumulator._error_event,
    OutputItemAdded: Accumulator._item_added,
    OutputItemDone: Accumulator._item_done,
    ContentPartAdded: Accumulator._part_added,
    ContentPartDone: Accumulator._part_done,
    TextDelta: Accumulator._text_delta,
    TextDone: Accumulator._text_done,
    OutputTextAnnotationAdded: Accumulator._annotation,
    ReasoningSummaryPartAdded: Accumulator._summary_part,
    ReasoningSummaryPartDone: Accumulator._summary_part,
    ReasoningSummaryTextDelta: Accumulator._summary_delta,
    ReasoningSummaryTextDone: Accumulator._summary_done,
    ArgumentsDelta: Accumulator._args_delta,
    ArgumentsDone: Accumulator._args_done,
    CodeInterpreterCallCodeDelta: Accumulator._code,
    CodeInterpreterCallCodeDone: Accumulator._code,
    ApplyPatchCallOperationDiffDelta: Accumulator._diff,
    ApplyPatchCallOperationDiffDone: Accumulator._diff,
    ShellCallCommandAdded: Accumulator._command,
    ShellCallCommandDelta: Accumulator._command,
    ShellCallCommandDone: Accumulator._command,
    ShellCallOutputContentDelta: Accumulator._shell_output,
    ShellCallOutputContentDone: Accumulator._shell_output,
    HostedToolStatus: Accumulator._hosted,
}


def accumulate(stream_or_events: Stream | Iterable[Event | dict[str, Any]]) -> AccumulatedResponse:
    """The final response as streamed (see the module docstring for field precedence)."""
    events = stream_or_events.events if isinstance(stream_or_events, Stream) else stream_or_events
    return Accumulator().feed_all(events).snapshot()
