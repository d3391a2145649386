"""The bridge's MCP client: the `mcp` SDK's `Client` over streamable HTTP (the I/O edge of `kit.bridge.mcp`).

The bridge's core is synchronous, the SDK is async: each operation runs in an event loop and a thread
of its own. Every operation is one short session
(the initialize handshake, then the request), so the HTTP exchanges are the same on every run and the
kit's record/replay transport can hold them: `http_client` makes the `httpx2.AsyncClient` each
session uses (`kit.wrap_http_client` wraps one for the in-process bridge; None: the SDK's default).
A server that cannot be reached or answers an error is an `McpError` naming it (listing), or a
failed call's error object (calling), never an exception out of the bridge's stream.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from kit.bridge.mcp import McpError, McpResult, McpServer

# The SDK's client loads trio, which warns once, inside a Jupyter kernel, that it leaves IPython's exception
# handler alone: noise in every notebook that uses the mcp tool, about nothing the kit does.
warnings.filterwarnings("ignore", message="IPython detected, but you already have a custom exception handler",
                        category=RuntimeWarning)

CLIENT_NAME = "responses-kit-bridge"  # what the bridge calls itself in the initialize handshake (fixed, so
CLIENT_VERSION = "1"                  # recorded handshakes replay whatever the SDK's version)


class SdkConnector:
    """`McpConnector` over the `mcp` SDK."""

    def __init__(self, http_client: Callable[[], Any] | None = None, timeout: float = 30.0) -> None:
        self.http_client = http_client
        self.timeout = timeout

    def list_tools(self, server: McpServer) -> list[dict[str, Any]]:
        try:
            listed = self._run(server, lambda client: client.list_tools())
        except Exception as exc:  # noqa: BLE001 - any failure to list is the item's error, named
            raise McpError(f"MCP server {server.label!r} ({server.url}): listing its tools failed: "
                           f"{_describe(exc)}") from exc
        tools = []
        for tool in listed.tools:
            if not server.allows(tool.name):
                continue
            entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.input_schema,
                                     "description": tool.description, "annotations": None}
            if tool.annotations is not None:
                entry["annotations"] = tool.annotations.model_dump(exclude_none=True)
            tools.append(entry)
        return tools

    def call_tool(self, server: McpServer, name: str, arguments: Mapping[str, Any]) -> McpResult:
        try:
            result = self._run(server, lambda client: client.call_tool(name, dict(arguments)))
        except Exception as exc:  # noqa: BLE001 - a call that could not be made is a failed mcp_call
            return McpResult(error={"type": "mcp_protocol_error", "code": -32603,
                                    "message": f"calling {name!r} on {server.label!r} failed: {_describe(exc)}"})
        text = "".join(getattr(part, "text", "") or "" for part in result.content)
        if result.is_error:
            return McpResult(error={"type": "mcp_tool_execution_error",
                                    "content": [part.model_dump(exclude_none=True) for part in result.content]})
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False)
        return McpResult(output=text)

    def _run(self, server: McpServer, operation: Callable[[Any], Any]) -> Any:
        """The operation in an event loop of its own, in a thread of its own: the caller may be inside a
        running loop (a Jupyter kernel runs its cells in one), where `asyncio.run` is refused."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="kit-mcp-client") as pool:
            return pool.submit(asyncio.run, asyncio.wait_for(self._session(server, operation), self.timeout)).result()

    async def _session(self, server: McpServer, operation: Callable[[Any], Any]) -> Any:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.types import Implementation

        http = self.http_client() if self.http_client is not None else None
        if http is not None and server.headers:
            http.headers.update(server.headers)
        if http is None and server.headers:
            import httpx2

            http = httpx2.AsyncClient(headers=dict(server.headers))
        transport = streamable_http_client(server.url, http_client=http)
        try:
            async with Client(transport, mode="legacy", cache=None,
                              client_info=Implementation(name=CLIENT_NAME, version=CLIENT_VERSION)) as client:
                return await operation(client)
        finally:
            if http is not None:
                await http.aclose()


def _describe(exc: BaseException) -> str:
    """An exception in one line; an exception group (anyio's task groups raise them) by its first cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
