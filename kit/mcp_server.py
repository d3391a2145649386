"""The kit's own MCP server: two deterministic tools over streamable HTTP, on loopback, in a thread.

Scenarios that use the Responses `mcp` tool need a real MCP server that every setup can reach: the
in-process bridge, the served bridge, LiteLLM and ogx all connect to its URL themselves. It is built
on the `mcp` SDK (`MCPServer`), served by uvicorn on 127.0.0.1 on a port the OS picks, stateless and
answering JSON (no session, no server-sent stream), so that every exchange is one POST and one
answer: what a recording can hold and a replay can give back. The tools answer the same for the same
arguments, so recorded conversations stay true.

    with McpToolsServer() as server:
        server.url  # http://127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


MCP_PATH = "/mcp"
SERVER_LABEL = "kit_tools"
FACTS = {
    "ferry": "The island ferry is called Pelican and leaves the Old Harbor at noon.",
    "lighthouse": "The Old Harbor lighthouse was built in 1871.",
}


def build_server() -> Any:
    """The `MCPServer` with the kit's tools: `add` (two integers) and `lookup_fact` (a fixed table)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("responses-kit tools", version="1", log_level="WARNING")

    @server.tool(description="Add two integers and return their sum.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Look up a fact about the Old Harbor by topic: 'ferry' or 'lighthouse'.")
    def lookup_fact(topic: str) -> str:
        return FACTS.get(topic.strip().lower(), f"No fact is known about {topic!r}.")

    return server


class McpServerStartFailed(RuntimeError):
    """The kit's MCP server did not start; the message says what to install or check."""


class McpToolsServer:
    """The kit's MCP server, started in a daemon thread of this process; a context manager."""

    def __init__(self, host: str = "127.0.0.1", start_timeout: float = 20.0) -> None:
        self.host = host
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the MCP server is not started: use `with McpToolsServer() as server:`")
        return f"http://{self.host}:{self.port}{MCP_PATH}"

    def start(self) -> McpToolsServer:
        import uvicorn

        app = build_server().streamable_http_app(streamable_http_path=MCP_PATH, json_response=True,
                                                 stateless_http=True, host=self.host)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="kit-mcp-tools", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise McpServerStartFailed(f"the kit's MCP server did not start on {self.host} within "
                                        f"{self.start_timeout:g} s (is the `mcp` package installed? "
                                        f"pip install -e '.[local]')")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.port = None

    def __enter__(self) -> McpToolsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
