"""The served bridge over the real llama.cpp server, with the kit's real MCP server: an `mcp` tool run, an
approval asked and then given through `previous_response_id` (the served bridge keeps the response), and
a text file read by `file_id` after `POST /v1/files`. Every stream passes the rule catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from kit.events import accumulate, parse, validate_stream
from kit.events.parse import sse_payloads
from kit.mcp_server import McpToolsServer
from kit.notebook.mcp import mcp_tool
from kit.servers import LocalServer
from kit.servers.bridge import BridgeServer

pytestmark = pytest.mark.live
MODEL = "smollm2-135m-instruct"
FORCED = {"type": "mcp", "server_label": "kit_tools", "name": "add"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BridgeServer, McpToolsServer]]:
    folder = tmp_path_factory.mktemp("mcp-live")
    with LocalServer(log_path=folder / "llama.log") as upstream, \
            BridgeServer(upstream=upstream.base_url, log_path=folder / "bridge.log") as bridge, \
            McpToolsServer() as tools:
        yield bridge, tools


@pytest.fixture
def client(served: tuple[BridgeServer, McpToolsServer]) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0].base_url, api_key="no-key", max_retries=0, timeout=300)


def streamed(client: openai.OpenAI, request: dict[str, Any]) -> list[dict[str, Any]]:
    with client.responses.with_streaming_response.create(**request, stream=True) as answer:
        events = list(sse_payloads(answer.iter_lines()))
    assert [str(v) for v in validate_stream(parse(events), "openai") if v.severity == "error"] == []
    return events


def test_an_mcp_call_runs_through_the_served_bridge(client: openai.OpenAI,
                                                    served: tuple[BridgeServer, McpToolsServer]) -> None:
    events = streamed(client, {"model": MODEL, "input": "What is 12 plus 30? Use the add tool.", "temperature": 0,
                               "tools": [mcp_tool(served[1].url, require_approval="never")], "tool_choice": FORCED,
                               "max_output_tokens": 32})
    listed, call, message = accumulate(events).output
    assert (listed["type"], call["type"], call["output"], message["type"]) == ("mcp_list_tools", "mcp_call", "42",
                                                                              "message")


def test_an_approval_given_through_previous_response_id_runs_the_call(
        client: openai.OpenAI, served: tuple[BridgeServer, McpToolsServer]) -> None:
    tools = [mcp_tool(served[1].url, require_approval="always")]
    first = streamed(client, {"model": MODEL, "input": "What is 12 plus 30? Use the add tool.", "temperature": 0,
                              "tools": tools, "tool_choice": FORCED, "max_output_tokens": 32})
    asked = accumulate(first).output[-1]
    assert asked["type"] == "mcp_approval_request" and asked["name"] == "add"
    then = streamed(client, {"model": MODEL, "previous_response_id": first[-1]["response"]["id"], "tools": tools,
                             "temperature": 0, "max_output_tokens": 32,
                             "input": [{"type": "mcp_approval_response", "approval_request_id": asked["id"],
                                        "approve": True}]})
    kinds = {item["type"]: item for item in accumulate(then).output}
    assert kinds["mcp_call"]["approval_request_id"] == asked["id"] and kinds["mcp_call"]["output"] == "42"
    assert "message" in kinds


def test_a_file_uploaded_then_named_by_id_is_read(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("notes.txt", b"The ferry's name is Pelican.\n"), purpose="user_data")
    events = streamed(client, {"model": MODEL, "temperature": 0, "max_output_tokens": 16, "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "What is the ferry's name? Answer with the name."},
                                     {"type": "input_file", "file_id": uploaded.id}]}]})
    assert "pelican" in accumulate(events).text.lower()
    with pytest.raises(openai.BadRequestError, match="file-nope"):
        client.responses.create(model=MODEL, input=[{"role": "user", "content": [
            {"type": "input_file", "file_id": "file-nope"}]}])
    assert client.files.delete(uploaded.id).deleted


def test_the_open_responses_file_input_test_passes(client: openai.OpenAI) -> None:
    """The compliance suite's file-input request as it sends it (non-streaming, its PDF as file_data) and its
    two validators: an output, and status completed. The model is SmolLM2; what it says of the title is its own."""
    from tests.bridge.test_file_input import COMPLIANCE_PDF

    answer = client.responses.create(model=MODEL, input=[{"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Read the attached file and answer with its title only."},
                    {"type": "input_file", "filename": "openresponses-fixture.pdf",
                     "file_data": f"data:application/pdf;base64,{COMPLIANCE_PDF}"}]}])
    assert answer.output and answer.status == "completed", answer
