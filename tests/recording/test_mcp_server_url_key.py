"""A loopback MCP server's port (the kit's own picks a free one each run) takes no part in a recording's key,
so `responses/mcp_tools` replays whatever port it was recorded on; anything else in the body still does."""

from __future__ import annotations

from typing import Any

from kit.recording.canonical import CanonicalRequest


def key(server_url: str, **extra: Any) -> str:
    body = {"model": "m", "input": "What is 12 plus 30?", "tools": [
        {"type": "mcp", "server_label": "kit_tools", "server_url": server_url, "require_approval": "never"},
        {"type": "function", "name": "f", "parameters": {}}], **extra}
    return CanonicalRequest("ogx", "POST", "/v1/responses", body, "application/json").key


def test_the_port_of_a_loopback_mcp_server_is_not_part_of_the_key() -> None:
    assert key("http://127.0.0.1:41234/mcp") == key("http://127.0.0.1:9/mcp") == key("http://127.0.0.1:55001/mcp")


def test_everything_else_about_the_server_and_the_request_still_is() -> None:
    base = key("http://127.0.0.1:41234/mcp")
    assert key("http://127.0.0.1:41234/other") != base
    assert key("http://localhost:41234/mcp") != base
    assert key("https://mcp.example.com:8443/mcp") != key("https://mcp.example.com:9443/mcp")  # not loopback
    assert key("http://127.0.0.1:41234/mcp", temperature=0) != base


def test_the_stored_body_keeps_the_real_url() -> None:
    request = CanonicalRequest("ogx", "POST", "/v1/responses",
                               {"tools": [{"type": "mcp", "server_url": "http://127.0.0.1:41234/mcp"}]}, None)
    assert request.body["tools"][0]["server_url"] == "http://127.0.0.1:41234/mcp"
