"""One response's MCP work for the bridge's tool loop (`kit.bridge.service.stream_response`).

The request's `mcp` tools are taken out before the request is translated (Chat Completions has no
such tool) and come back as the functions the servers list; the model's calls of them are held back
by the translator (`hosted_tool_names`) and run here through a `McpConnector`, or turned into
approval requests. Event order follows OpenAI's captured streams: the listings first, then an
approved call, then the model's turn(s).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator, Mapping
from typing import Any

from kit.bridge.mcp import (McpCall, McpConnector, McpError, McpServer, approved_calls, chat_functions,
                            mcp_servers, parse_arguments, stable_tools, tool_owner)
from kit.bridge.request import UnsupportedParameter
from kit.bridge.translate import ChatToResponses, Event, HostedCall


class McpTurn:
    """The MCP servers of one response: listed once, their calls run or held for approval."""

    def __init__(self, request: Mapping[str, Any], connector: McpConnector | None) -> None:
        self.servers: list[McpServer] = mcp_servers(request)
        self.request = request
        self._connector = connector
        self.tools: dict[str, list[dict[str, Any]]] = {}
        self.awaiting_approval = False

    @property
    def connector(self) -> McpConnector:
        if self._connector is None:
            from kit.bridge.mcp_client import SdkConnector

            self._connector = SdkConnector()
        return self._connector

    def __bool__(self) -> bool:
        return bool(self.servers)

    def chat_request(self) -> dict[str, Any]:
        """The request without its `mcp` tools (and an `mcp` tool_choice), for `to_chat_request`."""
        out = dict(self.request)
        out["tools"] = [t for t in self.request.get("tools") or () if not _is_mcp(t)]
        if not out["tools"]:
            out.pop("tools")
        choice = self.request.get("tool_choice")
        if _is_mcp(choice) or (not out.get("tools") and choice in ("required", "auto")):
            out.pop("tool_choice", None)
        return out

    def response_id(self, response_id: str | None) -> str | None:
        """A response whose first events come before any upstream chunk needs its id now: derived from the
        request when the caller gave none (the in-process bridge), so replays give the same ids."""
        if response_id is not None or not self.servers:
            return response_id
        stable = {**self.request, "tools": stable_tools(self.request.get("tools"))}
        digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()
        return f"resp_mcp{digest[:24]}"

    def begin(self, translator: ChatToResponses) -> Iterator[Event]:
        """The opening events and one `mcp_list_tools` item per server; the listed tools become hosted."""
        yield from translator.begin()
        for server in self.servers:
            try:
                listed = self.connector.list_tools(server)
                error = None
            except McpError as exc:
                listed, error = [], str(exc)
            names = {t["name"] for t in listed}
            clash = names & {n for tools in self.tools.values() for n in (t["name"] for t in tools)}
            if clash:
                raise UnsupportedParameter("tools", f"MCP tool {sorted(clash)[0]!r} is listed by two servers; "
                                           "narrow them with allowed_tools")
            self.tools[server.label] = listed
            translator.hosted_tool_names |= names
            yield from translator.mcp_list_tools(server.label, listed, error)

    def extend(self, chat: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        """The chat request with the listed tools as functions, and the request's tool_choice for them."""
        functions = chat_functions(self.tools)
        if not functions:
            return chat
        chat = {**chat, "tools": [*(chat.get("tools") or []), *functions]}
        choice = self.request.get("tool_choice")
        if force and isinstance(choice, Mapping) and choice.get("type") == "mcp" and choice.get("name"):
            chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        elif force and choice in ("required", "auto", "none"):
            chat["tool_choice"] = choice
        if self.request.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = self.request["parallel_tool_calls"]
        return chat

    def run_approved(self, translator: ChatToResponses) -> Generator[Event, None, list[dict[str, Any]]]:
        """Calls the client approved in its input run first; returns the chat messages that tell the model."""
        messages: list[dict[str, Any]] = []
        for call in approved_calls(self.request, self.servers):
            output = yield from self._run(translator, call)
            call_id = f"call_{call.approval_request_id}"
            messages += [{"role": "assistant", "content": "", "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}]},
                {"role": "tool", "tool_call_id": call_id, "content": output}]
        return messages

    def handle(self, translator: ChatToResponses, call: HostedCall) -> Generator[Event, None, str | None]:
        """A model's call of an MCP tool: run it (its output for the model), or ask for approval (None)."""
        server = tool_owner(self.servers, self.tools, call.name)
        assert server is not None, f"{call.name} is not an MCP tool"
        if server.needs_approval(call.name):
            self.awaiting_approval = True
            yield from translator.mcp_approval_request(server.label, call.name, call.arguments)
            return None
        return (yield from self._run(translator, McpCall(server, call.name, call.arguments)))

    def _run(self, translator: ChatToResponses, call: McpCall) -> Generator[Event, None, str]:
        yield from translator.begin_mcp_call(call.server.label, call.name, call.arguments, call.approval_request_id)
        try:
            result = self.connector.call_tool(call.server, call.name, parse_arguments(call.arguments))
        except ValueError as exc:
            result_output, error = None, {"type": "mcp_protocol_error", "code": -32602,
                                          "message": f"invalid arguments for {call.name!r}: {exc}"}
        else:
            result_output, error = result.output, result.error
        yield from translator.complete_mcp_call(result_output, error)
        if error:
            return f"The tool call failed: {error.get('message') or json.dumps(error, ensure_ascii=False)}"
        return result_output or ""


def _is_mcp(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "mcp"
