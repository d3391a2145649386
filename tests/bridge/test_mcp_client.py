"""The bridge's MCP client (kit.bridge.mcp_client) on the kit's real MCP server, and the whole bridge with it:
the chat model's side replayed from the `local` setup's real recordings (SmolLM2 on llama.cpp, made by
`responses/mcp_tools`), the MCP side live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.bridge import stream_response
from kit.bridge.mcp import McpError, McpServer
from kit.bridge.mcp_client import SdkConnector
from kit.events import accumulate, validate_stream
from kit.mcp_server import FACTS, McpToolsServer
from kit.notebook.mcp import approval_request, mcp_tool

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"


@pytest.fixture(scope="module")
def server() -> Any:
    with McpToolsServer() as running:
        yield running


def test_listing_keeps_only_the_allowed_tools_with_their_schemas(server: McpToolsServer) -> None:
    connector = SdkConnector()
    every = connector.list_tools(McpServer("kit_tools", server.url))
    assert [t["name"] for t in every] == ["add", "lookup_fact"]
    assert every[0]["input_schema"]["required"] == ["a", "b"] and every[0]["description"].startswith("Add two")
    only = connector.list_tools(McpServer("kit_tools", server.url, allowed=frozenset({"lookup_fact"})))
    assert [t["name"] for t in only] == ["lookup_fact"]


def test_calls_give_the_tools_text_or_their_error(server: McpToolsServer) -> None:
    connector, tools = SdkConnector(), McpServer("kit_tools", server.url)
    assert connector.call_tool(tools, "add", {"a": 12, "b": 30}).output == "42"
    assert connector.call_tool(tools, "lookup_fact", {"topic": "ferry"}).output == FACTS["ferry"]
    failed = connector.call_tool(tools, "add", {"a": "twelve"})
    assert failed.output is None and failed.error["type"] == "mcp_tool_execution_error"


def test_a_server_that_is_gone_is_named_not_raised_from_the_stream() -> None:
    gone = McpToolsServer().start()
    url = gone.url
    gone.stop()
    connector, where = SdkConnector(timeout=10), McpServer("gone", url)
    with pytest.raises(McpError, match=f"'gone' \\({url}\\): listing its tools failed"):
        connector.list_tools(where)
    result = connector.call_tool(where, "add", {"a": 1, "b": 2})
    assert result.error["type"] == "mcp_protocol_error" and "'gone'" in result.error["message"]


def test_it_works_from_inside_a_running_event_loop_as_in_a_jupyter_cell(server: McpToolsServer) -> None:
    async def cell() -> str | None:
        return SdkConnector().call_tool(McpServer("kit_tools", server.url), "add", {"a": 1, "b": 2}).output

    assert asyncio.run(cell()) == "3"


QUESTION = "What is 12 plus 30? Use the add tool."
FORCED = {"type": "mcp", "server_label": "kit_tools", "name": "add"}


def request(url: str, approval: str) -> dict[str, Any]:
    return {"model": "smollm2-135m-instruct", "input": QUESTION, "tools": [mcp_tool(url, require_approval=approval)],
            "tool_choice": FORCED, "temperature": 0, "max_output_tokens": 32}


def errors(events: list[dict[str, Any]]) -> set[str]:
    return {v.rule for v in validate_stream(events) if v.severity == "error"}


def test_the_bridge_lists_calls_and_answers_with_a_real_server(server: McpToolsServer) -> None:
    client = kit.client("local", "replay", recording_dir=RECORDINGS)
    events = list(stream_response(client, request(server.url, "never"), mcp=SdkConnector()))
    assert errors(events) == set()
    listed, call, message = accumulate(events).output
    assert listed["type"] == "mcp_list_tools" and [t["name"] for t in listed["tools"]] == ["add"]
    assert (call["type"], call["name"], call["output"], call["status"]) == ("mcp_call", "add", "42", "completed")
    assert message["type"] == "message" and "42" in accumulate(events).text


def test_the_bridge_asks_for_approval_then_runs_the_approved_call(server: McpToolsServer) -> None:
    client = kit.client("local", "replay", recording_dir=RECORDINGS)
    first = request(server.url, "always")
    asking = list(stream_response(client, first, mcp=SdkConnector()))
    assert errors(asking) == set()
    output = accumulate(asking).output
    assert [item["type"] for item in output] == ["mcp_list_tools", "mcp_approval_request"]
    assert asking[-1]["type"] == "response.completed"
    approved = list(stream_response(client, approval_request(first, output[1]), mcp=SdkConnector()))
    assert errors(approved) == set()
    listed, call, message = accumulate(approved).output
    assert (call["type"], call["output"], call["approval_request_id"]) == ("mcp_call", "42", output[1]["id"])
    assert message["type"] == "message"
