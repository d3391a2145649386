"""What every renderer shows, decided once: a `Document` of panels built from the accumulator and the validator.

The terminal, HTML and Jupyter views draw the same `Document`, so they cannot
disagree about structure (one panel per output item, reasoning apart from the
answer, refusals marked, tool arguments, hosted tool status, numbered citation
footnotes, violations under the stream). Nothing here decides a fact about the
stream: text, status and annotations come from `kit.events.accumulate`,
validity from `kit.events.validate_stream`. This module only arranges them.

Pure: an `AccumulatedResponse` and violations in, an immutable `Document` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Sequence

from kit.events import AccumulatedResponse, ItemView, PartView, Violation, ViolationGroup, plural, summarize
from kit.events.model import HOSTED_STATUS_ORDER

PanelKind = Literal["message", "reasoning", "tool", "hosted", "other"]
BlockRole = Literal["answer", "refusal", "summary", "reasoning", "arguments", "code", "output", "error", "note"]

# Server-executed tools: their progress is what the user waits on, so their status history is shown.
HOSTED_TYPES = frozenset(HOSTED_STATUS_ORDER) - {"compaction"} | {"tool_search_call", "tool_search_output"}
# Calls the client must execute: the arguments are the point.
CLIENT_TOOL_TYPES = frozenset(
    {"function_call", "custom_tool_call", "shell_call", "local_shell_call", "apply_patch_call", "computer_call",
     "mcp_approval_request", "program"}
)
# Fields that are opaque or huge: shown by size, never inline.
BULKY_FIELDS = frozenset({"encrypted_content", "result", "partial_image_b64", "fingerprint"})
# Fields already shown elsewhere in a panel (title, status line, blocks).
_SHOWN_ELSEWHERE = frozenset(
    {"id", "type", "status", "name", "content", "summary", "arguments", "input", "code", "output", "outputs",
     "error", "role", "phase", "action", "operation", "tools", "server_label"}
)
FIELD_VALUE_LIMIT = 160
HEADING_LIMIT = 48  # an id or name in a heading: longer ones keep their start and end (a 500-character id fills no screen)
OUTPUT_VALUE_LIMIT = 2000  # tool outputs can hold data URLs; a view is not the place for megabytes
SAFE_LINK_SCHEMES = ("https://", "http://")


@dataclass(frozen=True)
class Span:
    """A run of text: `cited_by` lists footnotes whose cited range covers it, `markers` the footnotes shown after it."""

    text: str
    cited_by: tuple[int, ...] = ()
    markers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Block:
    """One text block of a panel (an answer part, a summary part, arguments, code, ...)."""

    role: BlockRole
    label: str
    spans: tuple[Span, ...]
    language: str | None = None  # "json" when the text is pretty-printed JSON
    streaming: bool = False

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True)
class Footnote:
    """One cited source. `link` is set only for http(s) URLs, so no renderer ever links `javascript:` & co."""

    number: int
    kind: str
    label: str
    target: str | None
    link: str | None
    positioned: bool


@dataclass(frozen=True)
class Panel:
    """One output item. `flags` name what a reader must not miss: refusal, streaming, not-announced."""

    output_index: int | None
    item_id: str | None
    item_type: str
    kind: PanelKind
    title: str
    status: str | None
    done: bool
    fields: tuple[tuple[str, str], ...]
    status_history: tuple[str, ...]
    blocks: tuple[Block, ...]
    footnotes: tuple[Footnote, ...]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """A whole stream as shown: header facts, panels, violations (None: not validated yet, e.g. mid-stream)."""

    source: str
    response_id: str | None
    model: str | None
    status: str | None
    events: int
    usage: str | None
    error: str | None
    incomplete_reason: str | None
    panels: tuple[Panel, ...]
    violations: tuple[Violation, ...] | None
    final: bool
    profile: str | None = None

    @property
    def footnotes(self) -> tuple[Footnote, ...]:
        """Every distinct cited source once, by number."""
        seen: dict[int, Footnote] = {}
        for panel in self.panels:
            for note in panel.footnotes:
                seen.setdefault(note.number, note)
        return tuple(seen[number] for number in sorted(seen))


def build_document(
    response: AccumulatedResponse,
    violations: Sequence[Violation] | None,
    *,
    source: str = "<stream>",
    final: bool = True,
    profile: str | None = None,
) -> Document:
    """Arrange an accumulated response (and the validator's verdict) into panels."""
    numbering = _FootnoteNumbering()
    panels = tuple(_panel(item, numbering, final) for item in response.items)
    return Document(
        source=source,
        response_id=response.id,
        model=response.model,
        status=response.status,
        events=response.events,
        usage=_usage_line(response.usage),
        error=_error_line(response.error),
        incomplete_reason=_incomplete_reason(response.incomplete_details),
        panels=panels,
        violations=tuple(violations) if violations is not None else None,
        final=final,
        profile=profile,
    )


# --- Panels ---------------------------------------------------------------------------------------


def panel_kind(item_type: str | None) -> PanelKind:
    if item_type == "message":
        return "message"
    if item_type == "reasoning":
        return "reasoning"
    if item_type in HOSTED_TYPES:
        return "hosted"
    if item_type in CLIENT_TOOL_TYPES:
        return "tool"
    return "other"


def _panel(item: ItemView, numbering: "_FootnoteNumbering", final: bool) -> Panel:
    item_type = item.type or "unknown item"
    kind = panel_kind(item.type)
    streaming = not item.done and not final
    blocks: list[Block] = []
    footnotes: list[Footnote] = []
    flags: list[str] = []
    if kind == "message":
        blocks, footnotes = _message_blocks(item, numbering, streaming)
        if any(block.role == "refusal" for block in blocks):
            flags.append("refusal")
    elif kind == "reasoning":
        blocks = _reasoning_blocks(item, streaming)
    else:
        blocks = _tool_blocks(item, streaming)
    if streaming:
        flags.append("streaming")
    if item.implicit:
        flags.append("not announced")
    return Panel(
        output_index=item.output_index,
        item_id=item.id,
        item_type=item_type,
        kind=kind,
        title=_title(item, item_type),
        status=item.status,
        done=item.done,
        fields=tuple(_fields(item)),
        status_history=tuple(item.status_history),
        blocks=tuple(blocks),
        footnotes=tuple(footnotes),
        flags=tuple(flags),
    )


def _title(item: ItemView, item_type: str) -> str:
    words = [f"#{item.output_index}" if item.output_index is not None else "#?", shorten(item_type)]
    if item.name:
        words.append(shorten(item.name))
    phase = item.item.get("phase")
    if isinstance(phase, str):
        words.append(f"({phase})")
    server = item.item.get("server_label")
    if isinstance(server, str):
        words.append(f"@{server}")
    return " ".join(words)


def _message_blocks(item: ItemView, numbering: "_FootnoteNumbering", streaming: bool) -> tuple[list[Block], list[Footnote]]:
    blocks: list[Block] = []
    footnotes: dict[int, Footnote] = {}
    for part in item.parts:
        part_streaming = streaming and not part.done
        if part.type == "refusal":
            blocks.append(Block("refusal", "refusal", (Span(part.text),), streaming=part_streaming))
            continue
        if part.type == "reasoning_text":  # a server bug (reasoning.text-on-reasoning-item), still not the answer
            blocks.append(Block("reasoning", f"reasoning text (part {part.index})", (Span(part.text),), streaming=part_streaming))
            continue
        spans, notes = cite(part, numbering)
        for note in notes:
            footnotes.setdefault(note.number, note)
        label = "answer" if part.type == "output_text" else f"{part.type or 'untyped'} part"
        blocks.append(Block("answer", label, spans, streaming=part_streaming))
    return blocks, [footnotes[number] for number in sorted(footnotes)]


def _reasoning_blocks(item: ItemView, streaming: bool) -> list[Block]:
    blocks = [
        Block("summary", f"summary {summary.index + 1}", (Span(summary.text),), streaming=streaming and not summary.done)
        for summary in item.summary
    ]
    blocks += [
        Block("reasoning", "reasoning text", (Span(part.text),), streaming=streaming and not part.done)
        for part in item.parts
    ]
    if not blocks:
        encrypted = item.item.get("encrypted_content")
        size = f"{len(encrypted):,} characters of encrypted reasoning" if isinstance(encrypted, str) else "no reasoning text"
        blocks.append(Block("note", "note", (Span(f"{size}, no summary"),)))
    return blocks


def _tool_blocks(item: ItemView, streaming: bool) -> list[Block]:
    blocks: list[Block] = []
    raw = item.item
    if item.arguments is not None:
        label = "input" if item.type == "custom_tool_call" else "arguments"
        blocks.append(_json_block("arguments", label, item.arguments, streaming and not item.done))
    elif "arguments" in raw and raw["arguments"] is not None:  # e.g. tool_search_call sends an object
        blocks.append(_json_block("arguments", "arguments", raw["arguments"], False))
    for key in ("code",):
        if isinstance(raw.get(key), str):
            blocks.append(Block("code", key, (Span(raw[key]),), streaming=streaming))
    action = raw.get("action")
    if isinstance(action, dict):
        commands = action.get("commands") if isinstance(action.get("commands"), list) else action.get("command")
        if isinstance(commands, list):
            text = "\n".join(" ".join(c) if isinstance(c, list) else str(c) for c in commands)
            blocks.append(Block("code", "commands", (Span(text),), streaming=streaming))
        else:
            blocks.append(_json_block("arguments", "action", action, False))
    operation = raw.get("operation")
    if isinstance(operation, dict):
        diff = operation.get("diff")
        if isinstance(diff, str):
            where = " ".join(str(operation[k]) for k in ("type", "path") if isinstance(operation.get(k), str))
            blocks.append(Block("code", f"diff {where}".strip(), (Span(diff),), streaming=streaming))
    if isinstance(raw.get("tools"), list):
        names = [tool.get("name") for tool in raw["tools"] if isinstance(tool, dict) and isinstance(tool.get("name"), str)]
        blocks.append(Block("output", f"tools ({len(raw['tools'])})", (Span(", ".join(names)),)))
    for key in ("output", "outputs", "results"):
        value = raw.get(key)
        if value not in (None, [], ""):
            blocks.append(_output_block(key, value))
    if raw.get("error") not in (None, {}, ""):
        blocks.append(_json_block("error", "error", raw["error"], False))
    if item.partial_images:
        blocks.append(Block("note", "partial images", (Span(f"{item.partial_images} partial image(s) received"),)))
    return blocks


def _json_block(role: BlockRole, label: str, value: Any, streaming: bool) -> Block:
    """Pretty JSON when the value parses (or is already an object); the raw string otherwise (e.g. mid-stream)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return Block(role, label, (Span(value),), streaming=streaming)
    else:
        parsed = value
    return Block(role, label, (Span(json.dumps(parsed, indent=2, ensure_ascii=False)),), language="json", streaming=streaming)


def _output_block(key: str, value: Any) -> Block:
    if isinstance(value, str):
        return Block("output", key, (Span(_clip(value, OUTPUT_VALUE_LIMIT)),))
    if isinstance(value, list) and all(isinstance(entry, dict) for entry in value):
        lines = []
        for entry in value:  # shell output {stdout, stderr}, code interpreter {type: logs, logs}, ...
            texts = [
                _clip(v if k in ("logs", "stdout") else f"{k}: {v}", OUTPUT_VALUE_LIMIT)
                for k, v in entry.items()
                if isinstance(v, str) and k != "type"
            ]
            lines.append("\n".join(texts) if texts else json.dumps(entry, ensure_ascii=False)[:FIELD_VALUE_LIMIT])
        return Block("output", f"{key} ({len(value)})", (Span("\n".join(lines)),))
    return _json_block("output", key, value, False)


def _fields(item: ItemView) -> Iterable[tuple[str, str]]:
    """Small item fields worth a glance (call ids, queries, sizes); bulky ones by size."""
    for key, value in item.item.items():
        if key in _SHOWN_ELSEWHERE or value is None or value == [] or value == {}:
            continue
        if key in BULKY_FIELDS and isinstance(value, str):
            yield key, f"<{len(value):,} characters>"
            continue
        yield key, _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), FIELD_VALUE_LIMIT)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Citations -----------------------------------------------------------------------------------


class _FootnoteNumbering:
    """Numbers cited sources 1, 2, ... in annotation order across the response; a repeated source keeps its number."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}

    def number(self, annotation: dict[str, Any]) -> int:
        key = (str(annotation.get("type")), _target(annotation) or json.dumps(annotation, sort_keys=True))
        if key not in self._numbers:
            self._numbers[key] = len(self._numbers) + 1
        return self._numbers[key]


def _target(annotation: dict[str, Any]) -> str | None:
    for key in ("url", "file_id", "container_id"):
        if isinstance(annotation.get(key), str):
            return annotation[key]
    return None


def _footnote(number: int, annotation: dict[str, Any], positioned: bool) -> Footnote:
    kind = str(annotation.get("type") or "annotation")
    target = _target(annotation)
    label = next(
        (annotation[key] for key in ("title", "filename") if isinstance(annotation.get(key), str) and annotation[key]),
        target or json.dumps(annotation, ensure_ascii=False)[:FIELD_VALUE_LIMIT],
    )
    link = target if kind == "url_citation" and target and target.lower().startswith(SAFE_LINK_SCHEMES) else None
    return Footnote(number, kind, label, target, link, positioned)


def _index(annotation: dict[str, Any], key: str) -> int | None:
    value = annotation.get(key)
    return value if type(value) is int else None


def cite(part: PartView, numbering: "_FootnoteNumbering | None" = None) -> tuple[tuple[Span, ...], list[Footnote]]:
    """Split a text part into spans with footnote markers at its annotations' indices.

    A marker goes after `end_index` (url/container citations) or at `index` (file
    citations, file paths); a cited range `[start_index, end_index)` marks its text.
    Indices outside the text are clamped (the validator reports them under
    `annotation.bounds`); annotations without any index get their marker at the end.
    """
    numbering = numbering or _FootnoteNumbering()
    text = part.text
    size = len(text)
    markers: dict[int, list[int]] = {}
    ranges: list[tuple[int, int, int]] = []
    notes: dict[int, Footnote] = {}
    for annotation in part.annotations:
        if not isinstance(annotation, dict):
            continue
        number = numbering.number(annotation)
        end = _index(annotation, "end_index")
        at = end if end is not None else _index(annotation, "index")
        start = _index(annotation, "start_index")
        notes.setdefault(number, _footnote(number, annotation, at is not None))
        position = size if at is None else min(max(at, 0), size)
        if number not in markers.setdefault(position, []):
            markers[position].append(number)
        if start is not None and end is not None:
            low = min(max(start, 0), size)
            if low < position:
                ranges.append((low, position, number))
    cuts = sorted({0, size, *markers, *(low for low, _, _ in ranges)})
    spans: list[Span] = []
    if markers.get(0) and size > 0:
        spans.append(Span("", (), tuple(markers[0])))
    for low, high in zip(cuts, cuts[1:]):
        covering = tuple(sorted({number for start, end, number in ranges if start <= low and high <= end}))
        spans.append(Span(text[low:high], covering, tuple(markers.get(high, ()))))
    if not spans:
        spans.append(Span(text, (), tuple(markers.get(0, ()))))
    return tuple(spans), [notes[number] for number in sorted(notes)]


# --- Header lines --------------------------------------------------------------------------------


def _usage_line(usage: dict[str, Any] | None) -> str | None:
    if not usage:
        return None
    words = []
    for key, label in (("input_tokens", "in"), ("output_tokens", "out"), ("total_tokens", "total")):
        if type(usage.get(key)) is int:
            words.append(f"{label} {usage[key]:,}")
    details = usage.get("output_tokens_details")
    if isinstance(details, dict) and type(details.get("reasoning_tokens")) is int and details["reasoning_tokens"]:
        words.append(f"reasoning {details['reasoning_tokens']:,}")
    return " · ".join(words) + " tokens" if words else None


def _error_line(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    code = error.get("code")
    message = error.get("message")
    return ": ".join(str(part) for part in (code, message) if part not in (None, "")) or json.dumps(error)[:FIELD_VALUE_LIMIT]


def _incomplete_reason(details: dict[str, Any] | None) -> str | None:
    reason = details.get("reason") if details else None
    return reason if isinstance(reason, str) else None


def where(violation: Violation) -> str:
    """Where a violation points, for tables: `event 12 · seq 11 · o1 · c0`."""
    noun = "chunk" if violation.rule.startswith("chat.") else "event"
    words = [f"{noun} {violation.index}" if violation.index is not None else "stream"]
    if violation.sequence_number is not None:
        words.append(f"seq {violation.sequence_number}")
    if violation.output_index is not None:
        words.append(f"o{violation.output_index}")
    if violation.content_index is not None:
        words.append(f"c{violation.content_index}")
    return " · ".join(words)


def where_group(group: ViolationGroup) -> str:
    """Where a group points: the one violation's place, or `events 3–66` for several."""
    if group.count == 1:
        return where(group.violations[0])
    return group.where().replace("-", "–")


def verdict_title(violations: Sequence[Violation], profile: str | None) -> str:
    """`2 errors, 1 warning (profile openai)`: the one heading of a violations table."""
    counts = summarize(violations)
    suffix = f" (profile {profile})" if profile else ""
    return f"{plural(counts['errors'], 'error')}, {plural(counts['warnings'], 'warning')}{suffix}"


def shorten(text: str, limit: int = HEADING_LIMIT) -> str:
    """`text`, or its start and end around an ellipsis when longer than `limit` (for headings; full text elsewhere)."""
    if len(text) <= limit:
        return text
    tail = max(8, limit // 4)
    return f"{text[:limit - tail - 1]}…{text[-tail:]}"
