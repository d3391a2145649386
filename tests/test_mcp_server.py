"""The kit's MCP server (kit.mcp_server), for real: started on a free loopback port, spoken to by the `mcp` SDK's
own client over streamable HTTP, and gone when stopped."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from kit.mcp_server import FACTS, MCP_PATH, McpToolsServer


def with_client(url: str, work: Any) -> Any:
    from mcp import Client

    async def run() -> Any:
        async with Client(url, mode="legacy", cache=None) as client:
            return await work(client)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def server() -> Any:
    with McpToolsServer() as running:
        yield running


def test_it_listens_on_loopback_on_a_port_the_os_picked(server: McpToolsServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}{MCP_PATH}"
    assert server.port and server.port > 1024


def test_its_two_tools_are_listed_with_their_schemas(server: McpToolsServer) -> None:
    tools = with_client(server.url, lambda c: c.list_tools()).tools
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"add", "lookup_fact"}
    assert by_name["add"].input_schema["required"] == ["a", "b"]
    assert by_name["add"].input_schema["properties"]["a"]["type"] == "integer"
    assert by_name["lookup_fact"].input_schema["required"] == ["topic"]


@pytest.mark.parametrize("name, arguments, text", [
    ("add", {"a": 12, "b": 30}, "42"),
    ("add", {"a": -5, "b": 2}, "-3"),
    ("lookup_fact", {"topic": "Ferry "}, FACTS["ferry"]),
    ("lookup_fact", {"topic": "castle"}, "No fact is known about 'castle'."),
])
def test_the_tools_answer_the_same_for_the_same_arguments(server: McpToolsServer, name: str,
                                                          arguments: dict[str, Any], text: str) -> None:
    for _ in range(2):
        result = with_client(server.url, lambda c: c.call_tool(name, arguments))
        assert not result.is_error
        assert [part.text for part in result.content] == [text]


def test_a_call_with_bad_arguments_is_a_tool_error_not_a_crash(server: McpToolsServer) -> None:
    result = with_client(server.url, lambda c: c.call_tool("add", {"a": "twelve", "b": 30}))
    assert result.is_error
    assert "a" in result.content[0].text


def test_stopping_frees_the_port() -> None:
    running = McpToolsServer().start()
    port = running.port
    running.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nothing answers on the port once stopped"
    with pytest.raises(RuntimeError, match="not started"):
        _ = running.url
