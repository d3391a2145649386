"""The translator's MCP steps: `mcp_list_tools`, `mcp_call` and `mcp_approval_request` items, in the order
OpenAI streams them (tests/captures/responses/*mcp*). Mixed into `ChatToResponses`; the bridge's MCP
client (`kit.bridge.service`) says when each happens. Pure: the I/O is the caller's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kit.bridge.translate_items import Event, TranslatorState, _Item


class McpSteps(TranslatorState):
    hosted_tool_names: set[str]

    def begin(self) -> Iterator[Event]:
        """`response.created` and `in_progress` now, before any upstream chunk (the MCP listing comes first)."""
        if getattr(self, "_response", None) is None:
            yield from self._start(None)

    def _start(self, chunk: Any) -> Iterator[Event]:
        raise NotImplementedError

    def mcp_list_tools(self, server_label: str, tools: list[dict[str, Any]], error: str | None = None
                       ) -> Iterator[Event]:
        """A server's tools listed (or not: `error`), as one `mcp_list_tools` item."""
        yield from self._close_open()
        item = _Item("mcp_list_tools", self._item_id("mcpl"), len(self._output))
        yield self._event("response.output_item.added", output_index=item.output_index,
                          item={"id": item.id, "type": "mcp_list_tools", "server_label": server_label, "tools": []})
        yield self._event("response.mcp_list_tools.in_progress", output_index=item.output_index, item_id=item.id)
        yield self._event(f"response.mcp_list_tools.{'failed' if error else 'completed'}",
                          output_index=item.output_index, item_id=item.id)
        done: dict[str, Any] = {"id": item.id, "type": "mcp_list_tools", "server_label": server_label,
                                "tools": [] if error else tools}
        if error:
            done["error"] = error
        yield from self._item_done(item, done)

    def begin_mcp_call(self, server_label: str, name: str, arguments: str,
                       approval_request_id: str | None = None) -> Iterator[Event]:
        """An MCP call starts: its item is added, in progress, and its arguments stream (whole, once known)."""
        yield from self._close_open()
        item = _Item("mcp_call", self._item_id("mcp"), len(self._output))
        self._mcp_open = (item, {"server_label": server_label, "name": name, "arguments": arguments,
                                 "approval_request_id": approval_request_id})
        yield self._event("response.output_item.added", output_index=item.output_index, item={
            "id": item.id, "type": "mcp_call", "status": "in_progress", "approval_request_id": approval_request_id,
            "arguments": "", "error": None, "name": name, "output": None, "server_label": server_label})
        yield self._event("response.mcp_call.in_progress", output_index=item.output_index, item_id=item.id)
        if arguments:
            yield self._event("response.mcp_call_arguments.delta", output_index=item.output_index, item_id=item.id,
                              delta=arguments)
        yield self._event("response.mcp_call_arguments.done", output_index=item.output_index, item_id=item.id,
                          arguments=arguments)

    def complete_mcp_call(self, output: str | None, error: dict[str, Any] | None = None) -> Iterator[Event]:
        """The call returned (`output`) or failed (`error`, the item's error object)."""
        item, fields = self._mcp_open
        self._mcp_open = None
        status = "failed" if error else "completed"
        yield self._event(f"response.mcp_call.{status}", output_index=item.output_index, item_id=item.id)
        yield from self._item_done(item, {"id": item.id, "type": "mcp_call", "status": status,
                                          "approval_request_id": fields["approval_request_id"],
                                          "arguments": fields["arguments"], "error": error, "name": fields["name"],
                                          "output": output, "server_label": fields["server_label"]})

    def mcp_approval_request(self, server_label: str, name: str, arguments: str) -> Iterator[Event]:
        """A call that needs the client's approval: one `mcp_approval_request` item (its id is what the
        client's `mcp_approval_response` names)."""
        yield from self._close_open()
        item = _Item("mcp_approval_request", self._item_id("mcpr"), len(self._output))
        body = {"id": item.id, "type": "mcp_approval_request", "arguments": arguments, "name": name,
                "server_label": server_label}
        yield self._event("response.output_item.added", output_index=item.output_index, item=dict(body))
        yield from self._item_done(item, body)
