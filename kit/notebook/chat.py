"""A Chat Completions stream in a notebook: its chunks as the server sent them, judged under the `chat` profile.

The chunks are read from the body's bytes (`kit.sources.ChatEvents`), not from
the openai SDK's parsed chunks, which lose the wire: `data: [DONE]`, an
unterminated last event, a payload that is not JSON. So the notebook judges a
chat stream exactly as `kit check` judges its recorded body, with the one
validator (`kit.events.validate_chat`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from kit.events import NotJSONEvent, Stream, Violation, group_violations
from kit.events.rules import CHAT_PROFILE


class ChatChunks(list[dict[str, Any]]):
    """The chunks of one chat stream as dicts (what `chat_text`, `expect_chat` and `Scenario.bridged` read), and
    the `Stream` they were read from (`stream`: every payload and the wire facts), which the scenario observed."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(event.raw for event in stream.events if type(event) is not NotJSONEvent)
        self.stream = stream


class ChatView:
    """The chunks table and, under it, the chat profile's verdict: one output, HTML in a notebook and on its page,
    text elsewhere."""

    def __init__(self, chunks: Sequence[dict[str, Any]], violations: Sequence[Violation], title: str) -> None:
        self.chunks = list(chunks)
        self.violations = list(violations)
        self.title = title

    def _repr_html_(self) -> str:
        from kit.notebook.checks import chat_table
        from kit.render.html import violations_html

        table = chat_table(self.chunks)
        table.caption = f"Chat chunks · {self.title}"
        return (f'<div class="kit-chat-stream" data-source="{escape(self.title)}">{table._repr_html_()}'
                f"{violations_html(self.violations, CHAT_PROFILE)}</div>")

    def __repr__(self) -> str:
        from kit.render.layout import verdict_title

        lines = [f"{self.title}: {len(self.chunks)} chunk{'' if len(self.chunks) == 1 else 's'}, "
                 + (verdict_title(self.violations, CHAT_PROFILE) if self.violations else f"no violations (profile {CHAT_PROFILE})")]
        lines += [f"  {group}" for group in group_violations(self.violations)]
        return "\n".join(lines)
