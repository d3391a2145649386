"""The Responses `mcp` tool over a Chat Completions model (pure): which servers, which tools, which calls.

The bridge is the MCP client, as OpenAI's servers and ogx are: it lists each server's tools (an
`mcp_list_tools` item), offers them to the chat model as functions, and when the model calls one it
either calls the MCP server (an `mcp_call` item, the result fed back to the model) or, when the
server's `require_approval` asks for it, ends the response with an `mcp_approval_request` item. The
client answers with an `mcp_approval_response` input item (in the full input, or after
`previous_response_id` on the served bridge); an approved call runs at the start of the next
response. The I/O (the `mcp` SDK's client) is `kit.bridge.mcp_client`; this module only decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kit.bridge.request import UnsupportedParameter

MCP_FIELDS = {"type", "server_label", "server_url", "headers", "allowed_tools", "require_approval",
              "server_description"}


@dataclass(frozen=True)
class McpServer:
    """One `mcp` tool of a request: a server, its label, and the tools and approvals it allows."""

    label: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    allowed: frozenset[str] | None = None  # None: every tool the server lists
    approval: Any = None  # "never", "always", {"never": {"tool_names": [...]}}, ...; None means always (OpenAI)

    def allows(self, tool: str) -> bool:
        return self.allowed is None or tool in self.allowed

    def needs_approval(self, tool: str) -> bool:
        """OpenAI's rule: approval is required unless `require_approval` says never for this tool."""
        policy = self.approval
        if policy in (None, "always"):
            return True
        if policy == "never":
            return False
        if isinstance(policy, Mapping):
            never = _names(policy.get("never"))
            always = _names(policy.get("always"))
            if tool in always:
                return True
            return tool not in never
        return True


@dataclass(frozen=True)
class McpResult:
    """What a tool call gave: its text output, or an error object (the `mcp_call` item's `error`)."""

    output: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class McpCall:
    """A call to make: the model's (or an approved one's) tool, arguments and server."""

    server: McpServer
    name: str
    arguments: str
    approval_request_id: str | None = None


class McpConnector(Protocol):
    """The I/O the bridge needs from MCP servers (`kit.bridge.mcp_client.SdkConnector` is the real one)."""

    def list_tools(self, server: McpServer) -> list[dict[str, Any]]:
        """The server's tools as `mcp_list_tools.tools` has them (name, description, input_schema, ...)."""
        ...

    def call_tool(self, server: McpServer, name: str, arguments: Mapping[str, Any]) -> McpResult:
        ...


class McpError(RuntimeError):
    """A server that could not be listed or called; the message names the server and the cause."""


def mcp_servers(request: Mapping[str, Any]) -> list[McpServer]:
    """The request's `mcp` tools, checked; what the bridge cannot do is refused naming the field."""
    servers: list[McpServer] = []
    for n, tool in enumerate(request.get("tools") or ()):
        if not (isinstance(tool, Mapping) and tool.get("type") == "mcp"):
            continue
        where = f"tools[{n}]"
        extra = set(tool) - MCP_FIELDS
        if extra:
            raise UnsupportedParameter(f"{where}.{sorted(extra)[0]}", "the bridge's MCP client does not implement it "
                                       "(connectors and OAuth are OpenAI's own)")
        label, url = tool.get("server_label"), tool.get("server_url")
        if not isinstance(label, str) or not label:
            raise UnsupportedParameter(f"{where}.server_label", "required: a label for the MCP server")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UnsupportedParameter(f"{where}.server_url", "required: the MCP server's streamable HTTP URL")
        if any(s.label == label for s in servers):
            raise UnsupportedParameter(f"{where}.server_label", f"{label!r} is used twice")
        headers = tool.get("headers") or {}
        if not isinstance(headers, Mapping):
            raise UnsupportedParameter(f"{where}.headers", "expected an object of header names and values")
        allowed = tool.get("allowed_tools")
        servers.append(McpServer(label, url, {str(k): str(v) for k, v in headers.items()},
                                 None if allowed is None else frozenset(_names(allowed)),
                                 tool.get("require_approval")))
    return servers


def chat_functions(tools: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The listed MCP tools (by server label) as Chat Completions function tools."""
    functions = []
    for listed in tools.values():
        for tool in listed:
            function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or
                                        {"type": "object", "properties": {}}}
            if tool.get("description"):
                function["description"] = tool["description"]
            functions.append({"type": "function", "function": function})
    return functions


def tool_owner(servers: list[McpServer], tools: Mapping[str, list[dict[str, Any]]], name: str) -> McpServer | None:
    """The server whose listed tools include `name` (None: not an MCP tool)."""
    for server in servers:
        if any(t["name"] == name for t in tools.get(server.label, ())):
            return server
    return None


def approved_calls(request: Mapping[str, Any], servers: list[McpServer]) -> list[McpCall]:
    """Calls the client approved (`mcp_approval_response`, approve true) that no `mcp_call` has run yet.

    The approval names an `mcp_approval_request` item of the input (sent back in full, or kept by the
    served bridge for `previous_response_id`); one that names none, or a server the request no longer
    has, is refused naming it.
    """
    items = [i for i in request.get("input") or () if isinstance(i, Mapping)] \
        if isinstance(request.get("input"), list) else []
    asked = {i.get("id"): i for i in items if i.get("type") == "mcp_approval_request"}
    done = {i.get("approval_request_id") for i in items if i.get("type") == "mcp_call"}
    calls = []
    for n, item in enumerate(items):
        if item.get("type") != "mcp_approval_response" or not item.get("approve"):
            continue
        request_id = item.get("approval_request_id")
        if request_id in done:
            continue
        asked_for = asked.get(request_id)
        if asked_for is None:
            raise UnsupportedParameter(f"input[{n}].approval_request_id", f"no mcp_approval_request {request_id!r} "
                                       "in the input (send it back with the response, or use previous_response_id)")
        server = next((s for s in servers if s.label == asked_for.get("server_label")), None)
        if server is None:
            raise UnsupportedParameter(f"input[{n}].approval_request_id", f"its server "
                                       f"{asked_for.get('server_label')!r} is not among this request's mcp tools")
        calls.append(McpCall(server, str(asked_for.get("name")), str(asked_for.get("arguments") or "{}"),
                             str(request_id)))
    return calls


def parse_arguments(arguments: str) -> dict[str, Any]:
    """The model's arguments as an object; what is not a JSON object is an error the call reports."""
    parsed = json.loads(arguments or "{}")
    if not isinstance(parsed, dict):
        raise ValueError(f"the arguments are a JSON {type(parsed).__name__}, not an object")
    return parsed


# A loopback MCP server (the kit's own, kit.mcp_server) listens on a port the OS picks on every run.
_LOOPBACK_URL = re.compile(r"^(https?://(?:127\.0\.0\.1|localhost|\[::1\])):\d+(?=/|$)")


def without_loopback_port(url: str) -> str:
    """`http://127.0.0.1:41234/mcp` -> `http://127.0.0.1:<port>/mcp`: what stays the same from run to run
    (recording keys and the ids the bridge derives from a request use it); other URLs are unchanged."""
    return _LOOPBACK_URL.sub(r"\1:<port>", url)


def stable_tools(tools: Any) -> Any:
    """A request's `tools` with each `mcp` tool's loopback `server_url` port-free (`without_loopback_port`)."""
    if not isinstance(tools, list):
        return tools
    return [{**tool, "server_url": without_loopback_port(tool["server_url"])}
            if isinstance(tool, Mapping) and tool.get("type") == "mcp" and isinstance(tool.get("server_url"), str)
            else tool for tool in tools]


def _names(value: Any) -> list[str]:
    """Tool names from `["a", "b"]` or `{"tool_names": [...]}` (the two shapes the API takes)."""
    if isinstance(value, Mapping):
        value = value.get("tool_names")
    return [str(v) for v in value or ()] if isinstance(value, (list, tuple)) else []
