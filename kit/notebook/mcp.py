"""The kit's MCP server for a scenario, and the recorded MCP client the in-process bridge uses.

In record and live mode the scenario starts the kit's MCP server (`kit.mcp_server`) on loopback and
every setup connects to it: the in-process bridge through a client whose HTTP goes through the
scenario's record/replay session (so `recordings/<setup>/mcp/` holds its exchanges), the served
bridge and the peers on their own. In replay no MCP server runs: the recorded answers stand in, and
the URL's port is any (the recording key ignores a loopback `server_url`'s port,
`kit.recording.canonical`).
"""

from __future__ import annotations

from typing import Any

REPLAY_URL = "http://127.0.0.1:9/mcp"  # nothing listens: in replay the recordings answer


def start_server(mode: Any) -> tuple[Any, str]:
    """(the running server or None, its URL) for a scenario in `mode`."""
    from kit.recording import InferenceMode

    if mode is InferenceMode.REPLAY:
        return None, REPLAY_URL
    from kit.mcp_server import McpToolsServer

    server = McpToolsServer().start()
    return server, server.url


def recorded_connector(client: Any) -> Any:
    """An `McpConnector` whose HTTP goes through `client`'s record/replay session (a kit client)."""
    from kit.bridge.mcp_client import SdkConnector

    def http_client() -> Any:
        import httpx2

        from kit.recording import session_of
        from kit.recording.transport import AsyncRecordReplayTransport

        http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0))
        http._transport = AsyncRecordReplayTransport(session_of(client), http._transport)
        http._mounts = {}  # proxy mounts would bypass the recording transport
        return http

    return SdkConnector(http_client=http_client)


SERVER_LABEL = "kit_tools"


def mcp_tool(url: str, *, require_approval: str, allowed_tools: tuple[str, ...] = ("add",)) -> dict[str, Any]:
    """The Responses `mcp` tool for the kit's MCP server at `url`."""
    return {"type": "mcp", "server_label": SERVER_LABEL, "server_url": url, "allowed_tools": list(allowed_tools),
            "require_approval": require_approval}


def output_items(stream: Any, kind: str) -> list[dict[str, Any]]:
    """The finished output items of one type (the accumulated response's)."""
    from kit.events import accumulate

    return [item for item in accumulate(stream).output if item.get("type") == kind]


def check_mcp_call(stream: Any, *, name: str, output: str, approval_request_id: str | None = None) -> dict[str, Any]:
    """The stream listed the server's tools and ran `name` through an `mcp_call` whose output holds `output`
    (after the approval `approval_request_id`, when given); raises `StreamCheckFailed` otherwise."""
    from kit.notebook.checks import _fail

    listed = output_items(stream, "mcp_list_tools")
    if not any(t.get("name") == name for item in listed for t in item.get("tools") or ()):
        _fail(stream, f"expected an mcp_list_tools item listing {name!r}, got {listed}")
    calls = [c for c in output_items(stream, "mcp_call") if c.get("name") == name]
    if not calls:
        _fail(stream, f"expected an mcp_call of {name!r}, got items "
                      f"{[i.get('type') for i in output_items(stream, 'mcp_call')] or 'none'}")
    call = calls[0]
    if call.get("error") or output not in str(call.get("output") or ""):
        _fail(stream, f"expected the mcp_call's output to hold {output!r}, got output {call.get('output')!r}, "
                      f"error {call.get('error')!r}")
    if approval_request_id is not None and call.get("approval_request_id") != approval_request_id:
        _fail(stream, f"expected the mcp_call to name its approval {approval_request_id!r}, got "
                      f"{call.get('approval_request_id')!r}")
    return call


def check_approval_request(stream: Any, *, name: str) -> dict[str, Any]:
    """The stream ended asking to approve a call of `name` (an `mcp_approval_request` item), and ran none."""
    from kit.notebook.checks import _fail

    asked = [a for a in output_items(stream, "mcp_approval_request") if a.get("name") == name]
    if not asked:
        _fail(stream, f"expected an mcp_approval_request for {name!r}, got items "
                      f"{[i.get('type') for i in output_items(stream, 'mcp_call')]}")
    if output_items(stream, "mcp_call"):
        _fail(stream, "a call that needs approval ran before it was approved")
    return asked[0]


def approval_request(first: dict[str, Any], asked: dict[str, Any], *, approve: bool = True) -> dict[str, Any]:
    """The follow-up request that answers an approval request, the whole conversation sent as `input`
    (the user's turn, the `mcp_approval_request` item, the `mcp_approval_response`): every setup can take
    it, with or without stored responses."""
    user = first["input"] if isinstance(first["input"], list) else [{"role": "user", "content": first["input"]}]
    return {**first, "input": [*user, {k: asked[k] for k in ("type", "id", "server_label", "name", "arguments")},
                               {"type": "mcp_approval_response", "approval_request_id": asked["id"],
                                "approve": approve}]}
