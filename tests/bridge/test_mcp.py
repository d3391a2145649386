"""The bridge's MCP decisions (kit.bridge.mcp, pure): which servers and tools, when to ask for approval, which
approved calls to run; and the input items of an MCP conversation as chat messages."""

from __future__ import annotations

from typing import Any

import pytest

from kit.bridge import UnsupportedParameter, to_chat_request
from kit.bridge.mcp import (McpServer, approved_calls, chat_functions, mcp_servers, parse_arguments, stable_tools,
                            tool_owner, without_loopback_port)

URL = "http://127.0.0.1:40123/mcp"


def mcp(**fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "kit_tools", "server_url": URL, **fields}


def test_mcp_tools_become_servers_with_their_allowed_tools_and_approval_policy() -> None:
    [server] = mcp_servers({"tools": [{"type": "function", "name": "f"}, mcp(allowed_tools=["add"],
                                                                               require_approval="never")]})
    assert (server.label, server.url, server.allowed, server.approval) == ("kit_tools", URL, frozenset({"add"}), "never")
    assert server.allows("add") and not server.allows("lookup_fact")
    [named] = mcp_servers({"tools": [mcp(allowed_tools={"tool_names": ["add"]})]})
    assert named.allowed == frozenset({"add"})


@pytest.mark.parametrize("policy, needs", [
    (None, {"add": True, "lookup_fact": True}),  # OpenAI's default: approval required
    ("always", {"add": True, "lookup_fact": True}),
    ("never", {"add": False, "lookup_fact": False}),
    ({"never": {"tool_names": ["add"]}}, {"add": False, "lookup_fact": True}),
    ({"always": {"tool_names": ["add"]}, "never": {"tool_names": ["add", "lookup_fact"]}},
     {"add": True, "lookup_fact": False}),
])
def test_approval_follows_require_approval(policy: Any, needs: dict[str, bool]) -> None:
    server = McpServer("s", URL, approval=policy)
    assert {tool: server.needs_approval(tool) for tool in needs} == needs


@pytest.mark.parametrize("tool, param", [
    (mcp(connector_id="connector_gmail"), "tools[0].connector_id"),
    (mcp(server_label=""), "tools[0].server_label"),
    (mcp(server_url="stdio:./server"), "tools[0].server_url"),
    (mcp(headers=["Authorization"]), "tools[0].headers"),
])
def test_what_the_bridges_mcp_client_cannot_do_is_refused_naming_the_field(tool: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        mcp_servers({"tools": [tool]})
    assert info.value.param == param


def test_two_servers_with_one_label_are_refused() -> None:
    with pytest.raises(UnsupportedParameter, match="used twice"):
        mcp_servers({"tools": [mcp(), mcp()]})


def test_listed_tools_are_offered_as_functions_and_found_by_name() -> None:
    listed = {"kit_tools": [{"name": "add", "description": "Add.", "input_schema": {"type": "object"}}],
              "other": [{"name": "lookup_fact", "input_schema": None}]}
    assert chat_functions(listed) == [
        {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}, "description": "Add."}},
        {"type": "function", "function": {"name": "lookup_fact", "parameters": {"type": "object", "properties": {}}}}]
    servers = [McpServer("kit_tools", URL), McpServer("other", URL)]
    assert tool_owner(servers, listed, "lookup_fact") is servers[1]
    assert tool_owner(servers, listed, "get_weather") is None


ASKED = {"type": "mcp_approval_request", "id": "mcpr_1", "server_label": "kit_tools", "name": "add",
         "arguments": '{"a": 12, "b": 30}'}


def test_an_approved_request_is_run_once_and_a_declined_one_never() -> None:
    servers = mcp_servers({"tools": [mcp()]})
    user = {"role": "user", "content": "What is 12 plus 30?"}
    approve = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True}
    [call] = approved_calls({"input": [user, ASKED, approve]}, servers)
    assert (call.name, call.arguments, call.approval_request_id, call.server.label) == (
        "add", '{"a": 12, "b": 30}', "mcpr_1", "kit_tools")
    ran = {"type": "mcp_call", "id": "mcp_1", "approval_request_id": "mcpr_1", "name": "add", "output": "42"}
    assert approved_calls({"input": [user, ASKED, approve, ran]}, servers) == []
    assert approved_calls({"input": [user, ASKED, {**approve, "approve": False}]}, servers) == []


def test_an_approval_of_nothing_known_is_refused_naming_it() -> None:
    servers = mcp_servers({"tools": [mcp()]})
    approve = {"type": "mcp_approval_response", "approval_request_id": "mcpr_9", "approve": True}
    with pytest.raises(UnsupportedParameter, match="mcpr_9") as info:
        approved_calls({"input": [approve]}, servers)
    assert info.value.param == "input[0].approval_request_id"
    with pytest.raises(UnsupportedParameter, match="'elsewhere'"):
        approved_calls({"input": [{**ASKED, "server_label": "elsewhere"}, {**approve, "approval_request_id": "mcpr_1"}]},
                       servers)


def test_mcp_items_in_the_input_become_what_the_model_saw() -> None:
    chat = to_chat_request({"model": "m", "input": [
        {"role": "user", "content": "What is 12 plus 30?"},
        {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "kit_tools", "tools": []},
        {"type": "mcp_call", "id": "mcp_1", "server_label": "kit_tools", "name": "add", "arguments": '{"a":12,"b":30}',
         "output": "42", "error": None},
        {"type": "mcp_call", "id": "mcp_2", "server_label": "kit_tools", "name": "add", "arguments": "{}",
         "output": None, "error": {"type": "mcp_protocol_error", "code": -32602, "message": "missing a"}},
        ASKED, {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False}]})
    assert chat["messages"] == [
        {"role": "user", "content": "What is 12 plus 30?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "mcp_1", "type": "function", "function": {"name": "add", "arguments": '{"a":12,"b":30}'}}]},
        {"role": "tool", "tool_call_id": "mcp_1", "content": "42"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "mcp_2", "type": "function", "function": {"name": "add", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "mcp_2", "content": "The tool call failed: missing a"}]


def test_arguments_must_be_a_json_object() -> None:
    assert parse_arguments('{"a": 1}') == {"a": 1}
    assert parse_arguments("") == {}
    for bad in ("[1]", "nope"):
        with pytest.raises(ValueError):
            parse_arguments(bad)


@pytest.mark.parametrize("url, stable", [
    ("http://127.0.0.1:40123/mcp", "http://127.0.0.1:<port>/mcp"),
    ("http://localhost:8000", "http://localhost:<port>"),
    ("http://[::1]:9/mcp", "http://[::1]:<port>/mcp"),
    ("https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp"),  # not loopback: kept
    ("http://127.0.0.1/mcp", "http://127.0.0.1/mcp"),
])
def test_only_a_loopback_servers_port_is_left_out(url: str, stable: str) -> None:
    assert without_loopback_port(url) == stable
    assert stable_tools([mcp(server_url=url), {"type": "function", "name": "f"}]) == [
        mcp(server_url=stable), {"type": "function", "name": "f"}]
