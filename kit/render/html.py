"""The HTML view: one self-contained fragment, the same structure as the terminal view.

No JavaScript, no external resources, styles inline on each element (JupyterLab
and GitHub strip `<style>` blocks from untrusted outputs; inline styles survive a
static export). Every string that came from a stream is escaped, and only http(s)
citation URLs become links. Class names (`kit-item`, `kit-role-answer`, ...) and
`data-*` attributes are stable hooks for reports and tests.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any, Iterable

from kit.events import Stream, Violation, group_violations, plural
from kit.render.layout import Block, Document, Footnote, Panel, shorten, verdict_title, where, where_group
from kit.render.live import document_of

ACCENT = {"message": "#2e9e5b", "reasoning": "#9b59b6", "tool": "#1f9bb4", "hosted": "#3b6fd8", "other": "#888888"}
REFUSAL_ACCENT = "#d64545"
STATUS_COLOR = {"completed": "#2e9e5b", "failed": "#d64545", "incomplete": "#c98a00"}
MAX_VIOLATION_ROWS = 500

ROOT_STYLE = "font-family:ui-sans-serif,system-ui,sans-serif;font-size:13px;line-height:1.45;max-width:100%"
HEADER_STYLE = "padding:6px 8px;margin-bottom:6px;border-bottom:1px solid rgba(127,127,127,.35);overflow-wrap:anywhere"
SECTION_STYLE = (
    "margin:6px 0;padding:6px 10px;border:1px solid rgba(127,127,127,.35);border-left:4px solid {accent};"
    "border-radius:4px;background:rgba(127,127,127,.04);overflow-wrap:anywhere"
)
TITLE_STYLE = "display:flex;justify-content:space-between;gap:12px;margin-bottom:4px"
LABEL_STYLE = "font-size:11px;text-transform:uppercase;letter-spacing:.04em;opacity:.65;margin-top:4px"
TEXT_STYLE = "white-space:pre-wrap;word-break:break-word;margin:2px 0"
CODE_STYLE = (
    "white-space:pre-wrap;word-break:break-word;margin:2px 0;padding:4px 6px;font-family:ui-monospace,monospace;"
    "font-size:12px;background:rgba(127,127,127,.10);border-radius:3px"
)
ROLE_STYLE = {
    "answer": "",
    "refusal": f"color:{REFUSAL_ACCENT};font-weight:600",
    "summary": "font-style:italic;opacity:.75",
    "reasoning": "font-style:italic;opacity:.75",
    "note": "opacity:.65",
    "error": f"color:{REFUSAL_ACCENT}",
}
FLAG_STYLE = "font-size:11px;font-weight:700;padding:0 5px;border-radius:3px;margin-left:6px;color:#fff;background:{color}"
MARKER_STYLE = "font-size:.75em;font-weight:600;margin-left:1px"
CITED_STYLE = "text-decoration:underline dotted;text-underline-offset:2px"
TABLE_STYLE = "border-collapse:collapse;margin-top:6px;font-size:12px"
CELL_STYLE = "border:1px solid rgba(127,127,127,.35);padding:2px 6px;text-align:left;vertical-align:top"


def render_html(
    stream: Stream | Any,
    violations: Iterable[Violation] | None = None,
    *,
    profile: str | None = "openai",
    id_prefix: str | None = None,
) -> str:
    """A whole stream as one HTML fragment; violations from `validate_stream(stream, profile)` unless given."""
    return document_html(document_of(stream, violations, profile=profile), id_prefix=id_prefix)


class HTMLView:
    """A stream for notebooks: Jupyter calls `_repr_html_`; `str(view)` is the same HTML."""

    def __init__(self, document: Document, *, id_prefix: str | None = None) -> None:
        self.document = document
        self.id_prefix = id_prefix

    @classmethod
    def of(cls, stream: Stream | Any, violations: Iterable[Violation] | None = None, *, profile: str | None = "openai") -> "HTMLView":
        return cls(document_of(stream, violations, profile=profile))

    def _repr_html_(self) -> str:
        return document_html(self.document, id_prefix=self.id_prefix)

    def __str__(self) -> str:
        return self._repr_html_()


def document_html(document: Document, *, id_prefix: str | None = None) -> str:
    """The HTML of a `Document` (what the live Jupyter view redraws)."""
    prefix = id_prefix or _default_prefix(document)
    parts = [f'<div class="kit-stream" style="{ROOT_STYLE}">', _header(document)]
    parts.extend(_section(panel, prefix, position) for position, panel in enumerate(document.panels))
    parts.append(_violations(document))
    parts.append("</div>")
    return "\n".join(parts)


def _default_prefix(document: Document) -> str:
    """Anchor ids unique per stream, so two views in one notebook do not link into each other."""
    key = f"{document.source}\0{document.response_id}\0{document.events}".encode("utf-8", "replace")
    return "kit-" + hashlib.sha1(key).hexdigest()[:8]


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _header(document: Document) -> str:
    response_id = document.response_id or "response ?"
    words = [f'<strong class="kit-response-id" title="{_e(response_id)}">{_e(shorten(response_id))}</strong>']
    words += [_e(word) for word in (document.model, f"{document.events:,} events", document.usage) if word]
    words.append(f'<span style="opacity:.65">{_e(document.source)}</span>')
    status = document.status or ("streaming…" if not document.final else "unknown (no terminal event)")
    color = STATUS_COLOR.get(status, "#c98a00")
    lines = [
        " · ".join(words),
        f'status: <strong class="kit-status" data-status="{_e(status)}" style="color:{color}">{_e(status)}</strong>'
        + (f' <span class="kit-incomplete-reason">reason: {_e(document.incomplete_reason)}</span>' if document.incomplete_reason else ""),
    ]
    if document.error:
        lines.append(f'<span class="kit-error" style="color:{REFUSAL_ACCENT};font-weight:600">error: {_e(document.error)}</span>')
    return f'<div class="kit-header" style="{HEADER_STYLE}">' + "<br>".join(lines) + "</div>"


def _section(panel: Panel, prefix: str, position: int) -> str:
    accent = REFUSAL_ACCENT if "refusal" in panel.flags else ACCENT[panel.kind]
    anchor = f"{prefix}-item-{position}"  # by position: broken streams repeat output indices
    flags = ""
    if "refusal" in panel.flags:
        flags += f'<span class="kit-flag kit-flag-refusal" style="{FLAG_STYLE.format(color=REFUSAL_ACCENT)}">REFUSAL</span>'
    if "not announced" in panel.flags:
        flags += f'<span class="kit-flag kit-flag-not-announced" style="{FLAG_STYLE.format(color="#c98a00")}">never announced by output_item.added</span>'
    state = "streaming…" if "streaming" in panel.flags else (panel.status or ("done" if panel.done else "?"))
    body = []
    if panel.fields:
        body.append('<div class="kit-fields" style="font-size:12px;opacity:.75">'
                    + " · ".join(f"<b>{_e(key)}</b>: {_e(value)}" for key, value in panel.fields) + "</div>")
    if panel.status_history:
        steps = [_e(step) for step in panel.status_history]
        steps[-1] = f"<b>{steps[-1]}</b>"
        body.append(f'<div class="kit-status-history" style="font-size:12px">status: {" → ".join(steps)}</div>')
    body.extend(_block(block, prefix) for block in panel.blocks)
    if panel.footnotes:
        body.append(_footnotes(panel.footnotes, prefix))
    if not panel.blocks and not panel.fields and not panel.status_history:
        body.append(f'<div style="opacity:.65">{"(empty)" if panel.done else "(nothing streamed yet)"}</div>')
    content = "\n".join(body)
    if panel.kind == "reasoning":  # set apart and collapsible, still visible in a static export
        content = f'<details open><summary style="cursor:pointer;opacity:.65">reasoning</summary>\n{content}\n</details>'
    return (
        f'<section class="kit-item kit-kind-{panel.kind}" id="{_e(anchor)}" data-kind="{panel.kind}" '
        f'data-item-type="{_e(panel.item_type)}" data-output-index="{_e("" if panel.output_index is None else panel.output_index)}" '
        f'data-item-id="{_e(panel.item_id or "")}" style="{SECTION_STYLE.format(accent=accent)}">\n'
        f'<div class="kit-title" style="{TITLE_STYLE}"><span><strong>{_e(panel.title)}</strong>{flags}</span>'
        f'<span class="kit-item-status" style="opacity:.7;font-style:italic">{_e(state)}</span></div>\n'
        f"{content}\n</section>"
    )


def _block(block: Block, prefix: str) -> str:
    text_style = CODE_STYLE if block.role in ("arguments", "code", "output") else TEXT_STYLE
    text_style += ";" + ROLE_STYLE.get(block.role, "")
    label = "REFUSAL" if block.role == "refusal" else block.label
    if block.streaming:
        label += " …"
    return (
        f'<div class="kit-block kit-role-{block.role}" data-role="{block.role}">'
        f'<div class="kit-label" style="{LABEL_STYLE}">{_e(label)}</div>'
        f'<div class="kit-text" style="{text_style}">{_spans(block, prefix)}</div></div>'
    )


def _spans(block: Block, prefix: str) -> str:
    out: list[str] = []
    for span in block.spans:
        text = _e(span.text)
        if span.cited_by:
            cited = ", ".join(f"[{n}]" for n in span.cited_by)
            text = f'<span class="kit-cited" title="cited: {cited}" style="{CITED_STYLE}">{text}</span>'
        out.append(text)
        for number in span.markers:
            out.append(
                f'<sup class="kit-marker" data-footnote="{number}" style="{MARKER_STYLE}">'
                f'<a href="#{prefix}-fn-{number}">[{number}]</a></sup>'
            )
    return "".join(out)


def _footnotes(footnotes: tuple[Footnote, ...], prefix: str) -> str:
    rows = []
    for note in footnotes:
        label = _e(note.label)
        if note.link:
            label = f'<a href="{_e(note.link)}" rel="noopener noreferrer nofollow">{label}</a>'
        extra = ""
        if note.target and note.target != note.label:
            extra += f' <span style="opacity:.65;word-break:break-all">{_e(note.target)}</span>'
        if not note.positioned:
            extra += ' <span style="opacity:.65;font-style:italic">(no position in the text)</span>'
        rows.append(
            f'<li class="kit-footnote" id="{prefix}-fn-{note.number}" data-footnote="{note.number}" '
            f'data-kind="{_e(note.kind)}" style="list-style:none">[{note.number}] {label}{extra}</li>'
        )
    return '<ol class="kit-footnotes" style="margin:6px 0 2px;padding-left:0;font-size:12px">' + "".join(rows) + "</ol>"


def violations_html(violations: Iterable[Violation], profile: str | None) -> str:
    """The grouped violations table alone (a chat stream judged as chunks, under its chunks table)."""
    return _violations(Document(source="", response_id=None, model=None, status=None, events=0, usage=None, error=None,
                                incomplete_reason=None, panels=(), violations=tuple(violations), final=True,
                                profile=profile))


def _violations(document: Document) -> str:
    if document.violations is None:
        note = "violations: checked when the stream ends" if not document.final else "not validated"
        return f'<div class="kit-violations-pending" style="opacity:.65;font-style:italic">{note}</div>'
    profile = f" (profile {_e(document.profile)})" if document.profile else ""
    if not document.violations:
        return f'<div class="kit-violations-none" style="color:#2e9e5b">no violations{profile}</div>'
    groups = group_violations(document.violations)
    rows = []
    for group in groups[:MAX_VIOLATION_ROWS]:
        color = REFUSAL_ACCENT if group.severity == "error" else "#c98a00"
        count = f"×{group.count}" if group.count > 1 else ""
        rows.append(
            f'<tr class="kit-violation" data-rule="{_e(group.rule)}" data-severity="{_e(group.severity)}" data-count="{group.count}">'
            f'<td style="{CELL_STYLE};color:{color};font-weight:600">{_e(group.severity)}</td>'
            f'<td style="{CELL_STYLE};font-family:ui-monospace,monospace;overflow-wrap:anywhere">{_e(group.rule)}</td>'
            f'<td style="{CELL_STYLE};text-align:right;font-weight:600">{count}</td>'
            f'<td style="{CELL_STYLE}">{_e(where_group(group))}</td>'
            f'<td style="{CELL_STYLE};overflow-wrap:anywhere">{_e(group.message)}{" <em>(the first of them)</em>" if group.count > 1 else ""}</td></tr>'
        )
    hidden = len(groups) - MAX_VIOLATION_ROWS
    more = f'<div style="opacity:.65">… and {plural(hidden, "more group")}</div>' if hidden > 0 else ""
    head = "".join(f'<th style="{CELL_STYLE}">{name}</th>' for name in ("severity", "rule", "count", "where", "message"))
    every = ""
    if len(groups) < len(document.violations):  # the individual violations, out of the way
        items = "".join(
            f'<li class="kit-violation-item" data-rule="{_e(v.rule)}">{_e(v.severity)} {_e(v.rule)} · {_e(where(v))}: {_e(v.message)}</li>'
            for v in document.violations[:MAX_VIOLATION_ROWS])
        every = (f'<details class="kit-violations-all"><summary>every violation ({len(document.violations)})</summary>'
                 f'<ul style="font-size:12px;overflow-wrap:anywhere">{items}</ul></details>')
    return (
        f'<div class="kit-violations"><strong>{_e(verdict_title(document.violations, document.profile))}</strong>'
        f'<table style="{TABLE_STYLE};table-layout:auto;max-width:100%"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'{more}{every}</div>'
    )
