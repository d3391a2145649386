"""The bridge served over HTTP (`kit serve bridge`) is the in-process bridge, byte for byte in its events.

The upstream is the loopback server of the project's real captured chat
streams (tests/loopback.py), so the served bridge runs as a real uvicorn
subprocess over a real HTTP upstream; each capture is chosen with the
request's `user` field, which the bridge passes on. For every capture the
served stream must equal the in-process bridge's stream over the same
upstream and the same request, and pass the rule catalog (profile openai)
with 0 errors: the same acceptance the in-process bridge has
(tests/bridge/test_acceptance.py). Failures are provoked for real: a closed
port upstream, a port held by a socket, requests the bridge must refuse.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from kit.bridge import create_response, stream_response
from kit.bridge.conversation import with_state
from kit.events.parse import sse_payloads
from kit.events import parse, validate_stream
from kit.servers import LocalServerError, PortBusy, server_for_setup
from kit.servers.bridge import UPSTREAM_KEY_ENV, BridgeConfig, BridgeServer, UpstreamDown, create_app, http_status_of
from tests.bridge.helpers import chat_files, uses_think_tags
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TOOL_CALL = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
LENGTH = "chat/llama-stack__openai-gpt-4o-2024-08-06-finish-length-4a527f09.jsonl"


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="module")
def served(upstream: LoopbackServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeServer]:
    log = tmp_path_factory.mktemp("bridge") / "bridge.log"
    with BridgeServer(upstream=upstream.base_url, log_path=log) as server:
        yield server


@pytest.fixture(scope="module")
def served_think(upstream: LoopbackServer) -> Iterator[BridgeServer]:
    """The bridge for models that write <think> tags inline (a server setting, as the setup's `think_tags`)."""
    with BridgeServer(upstream=upstream.base_url, think_tags=True) as server:
        yield server


def request_for(capture: str, **extra: Any) -> dict[str, Any]:
    return {"model": "any-model", "input": "the capture decides the answer", "user": f"fixture:{capture}", **extra}


def served_events(server: BridgeServer, request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(events, the SSE `event:` names) of a streamed POST /v1/responses, read as plain HTTP."""
    with httpx.Client(timeout=60, trust_env=False) as http:
        with http.stream("POST", server.base_url + "/responses", json={**request, "stream": True}) as answer:
            assert answer.status_code == 200, answer.read()
            assert answer.headers["content-type"].startswith("text/event-stream")
            lines = list(answer.iter_lines())
    names = [line.removeprefix("event:").strip() for line in lines if line.startswith("event:")]
    return list(sse_payloads(lines)), names


def in_process(upstream: LoopbackServer, request: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    client = openai.OpenAI(base_url=upstream.base_url, api_key="none", max_retries=0)
    return list(stream_response(client, {**request, "stream": True}, **options))


def as_served(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The in-process stream as the served bridge sends it: the same events, with the state a stored response
    echoes (`store` defaults to true on OpenAI; the request named no previous response, conversation or
    background) in every snapshot (kit.bridge.conversation)."""
    echo = {"previous_response_id": None, "store": True, "background": False, "conversation": None}
    return list(with_state(events, echo))


def sent_headers(upstream: LoopbackServer) -> dict[str, str]:
    """The headers of the last request the upstream got, by lower-case name."""
    return {k.lower(): v for k, v in upstream.requests[-1]["headers"].items()}


def errors_of(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(v.rule, v.index) for v in validate_stream(parse(events), "openai") if v.severity == "error"]


# -- the acceptance of the in-process bridge, served --------------------------------------------------------------


@pytest.mark.parametrize("path", chat_files(), ids=lambda p: p.stem)
def test_every_real_chat_stream_served_equals_the_in_process_bridge_and_passes_the_catalog(
        path: Path, upstream: LoopbackServer, served: BridgeServer, served_think: BridgeServer) -> None:
    think = uses_think_tags(path)
    request = request_for(f"chat/{path.name}")
    events, names = served_events(served_think if think else served, request)
    assert errors_of(events) == []
    response_id = events[0]["response"]["id"]  # the served bridge names its responses itself (resp_<uuid>)
    assert events == as_served(in_process(upstream, request, think_tags=think, response_id=response_id))
    assert names == [e["type"] for e in events]  # each event framed under its own type, as OpenAI sends them
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")


def test_the_sdk_stream_helper_consumes_a_served_stream_to_its_final_response(served: BridgeServer,
                                                                             upstream: LoopbackServer) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="none", max_retries=0)
    with client.responses.stream(**request_for(TEXT)) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    expected = in_process(upstream, request_for(TEXT))[-1]["response"]
    assert final.status == "completed"
    assert final.output_text == "".join(p["text"] for i in expected["output"] for p in i["content"])
    assert final.output_text.strip()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_the_sdk_stream_helper_gets_the_function_call_of_a_served_tool_stream(served: BridgeServer) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="none", max_retries=0)
    with client.responses.stream(**request_for(TOOL_CALL)) as stream:
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert len(calls) == 1
    assert json.loads(calls[0].arguments)  # the captured call's JSON arguments, whole


def test_without_streaming_the_served_answer_is_the_in_process_final_response(served: BridgeServer,
                                                                             upstream: LoopbackServer) -> None:
    for capture in (TEXT, LENGTH):
        answer = httpx.post(served.base_url + "/responses", json=request_for(capture), timeout=60, trust_env=False)
        assert answer.status_code == 200, answer.text
        client = openai.OpenAI(base_url=upstream.base_url, api_key="none", max_retries=0)
        expected = create_response(client, request_for(capture), response_id=answer.json()["id"])
        assert answer.json() == {**expected, "store": True, "previous_response_id": None, "background": False,
                                 "conversation": None}
    assert answer.json()["status"] == "incomplete"  # LENGTH ends with finish_reason "length"


def test_chat_completions_and_models_are_passed_through_unchanged(served: BridgeServer,
                                                                 upstream: LoopbackServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, "user": f"fixture:{TEXT}"}
    direct = httpx.post(upstream.base_url + "/chat/completions", json=body, timeout=60, trust_env=False)
    through = httpx.post(served.base_url + "/chat/completions", json=body, timeout=60, trust_env=False)
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content
    assert through.headers["content-type"] == direct.headers["content-type"]
    assert b"data: [DONE]" in through.content
    # the loopback upstream has no /v1/models and hangs up: the bridge says so as a 502, not a traceback
    models = httpx.get(served.base_url + "/models", timeout=30, trust_env=False)
    assert models.status_code == 502
    assert models.json()["error"]["code"] == "connection_error" and upstream.base_url in models.json()["error"]["message"]


def test_a_client_that_hangs_up_mid_stream_leaves_the_bridge_serving(served: BridgeServer) -> None:
    with httpx.Client(timeout=60, trust_env=False) as http:
        for _ in range(3):  # more hang-ups than one: no thread or upstream stream is left blocking the next
            with http.stream("POST", served.base_url + "/responses",
                             json={**request_for(LENGTH), "stream": True}) as answer:
                assert next(answer.iter_lines()).startswith("event: response.created")
        events, _ = served_events(served, request_for(TEXT))
    assert events[-1]["type"] == "response.completed"
    assert "Traceback" not in served.log_text()


def test_the_upstream_key_comes_from_the_environment_and_stays_out_of_command_line_and_log(
        upstream: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = "sk-upstream-" + os.urandom(8).hex()
    monkeypatch.setenv(UPSTREAM_KEY_ENV, key)
    with BridgeServer(upstream=upstream.base_url, log_path=tmp_path / "bridge.log") as server:
        served_events(server, request_for(TEXT))
        command = " ".join(server.command)
    assert sent_headers(upstream).get("authorization") == f"Bearer {key}"  # the configured key wins over the client's
    assert key not in command and key not in (tmp_path / "bridge.log").read_text()


def test_without_an_upstream_key_the_clients_own_bearer_is_passed_on(served: BridgeServer,
                                                                    upstream: LoopbackServer) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="sk-the-clients-own", max_retries=0)
    with client.responses.stream(**request_for(TEXT)) as stream:
        stream.get_final_response()
    assert sent_headers(upstream).get("authorization") == "Bearer sk-the-clients-own"


# -- vector stores through the API, as a native client makes them ----------------------------------------------------


def test_vector_stores_made_through_the_sdk_are_searchable(served: BridgeServer) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="none", max_retries=0)
    store = client.vector_stores.create(name="harbor")
    text = b"The Old Harbor lighthouse was built in 1871. Its lamp is visible for 18 nautical miles."
    attached = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("lighthouse.txt", text))
    assert attached.status == "completed" and attached.vector_store_id == store.id
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 1
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=store.id)] == [attached.id]
    hits = client.vector_stores.search(vector_store_id=store.id, query="When was the lighthouse built?")
    assert [h.filename for h in hits.data] == ["lighthouse.txt"]
    assert hits.data[0].content[0].text == text.decode()
    again = client.vector_stores.create(name="harbor")
    assert again.id != store.id  # the n-th store of a name: a new id, the same on every run
    with pytest.raises(openai.NotFoundError, match="vs_nope"):
        client.vector_stores.retrieve("vs_nope")
    with pytest.raises(openai.BadRequestError, match="UTF-8"):
        client.files.create(file=("image.bin", b"\xff\xd8\xff\xe0 not text"), purpose="assistants")


# -- refusals and failures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dead_upstream() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens here
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def app_client(dead_upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The same app in-process (Starlette's TestClient), over an upstream that is down."""
    from starlette.testclient import TestClient

    app = create_app(BridgeConfig(upstream=dead_upstream, stores_dir=tmp_path_factory.mktemp("stores")))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("body, code, param", [
    (b"{not json", "invalid_json", None),
    (b"[1, 2]", "invalid_json", None),
    (json.dumps({"input": "hi"}).encode(), "missing_required_parameter", "model"),
    (json.dumps({"model": "m"}).encode(), "missing_required_parameter", "input"),
    (json.dumps({"model": "m", "input": "hi", "background": True, "store": False}).encode(),
     "invalid_request", "background"),
    (json.dumps({"model": "m", "input": "hi", "previous_response_id": "resp_1", "conversation": "conv_1"}).encode(),
     "invalid_request", "conversation"),
])
def test_requests_the_bridge_cannot_serve_are_http_400_before_any_upstream_call(app_client: Any, body: bytes,
                                                                                code: str, param: str | None) -> None:
    answer = app_client.post("/v1/responses", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]


def test_an_upstream_that_is_down_ends_the_stream_with_error_and_failed(app_client: Any, dead_upstream: str) -> None:
    with app_client.stream("POST", "/v1/responses", json={"model": "m", "input": "hi", "stream": True}) as answer:
        assert answer.status_code == 200
        events = list(sse_payloads(answer.iter_lines()))
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert events[-2]["code"] == "connection_error"
    assert errors_of(events) == []


def test_an_upstream_that_is_down_without_streaming_is_a_502(app_client: Any) -> None:
    answer = app_client.post("/v1/responses", json={"model": "m", "input": "hi"})
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "connection_error"


def test_http_status_of_a_failed_response_is_the_upstreams_when_known() -> None:
    assert http_status_of({"code": "http_400"}) == 400
    assert http_status_of({"code": "rate_limit_exceeded"}) == 429
    assert http_status_of({"code": "connection_error"}) == 502
    # an upstream failure the bridge cannot map is a bad gateway (502): a 500 would say the bridge itself failed
    assert http_status_of({"code": "model_overloaded"}) == 502
    assert http_status_of(None) == 502
    assert http_status_of({"code": "invalid_api_key", "message": "HTTP 401: Incorrect API key"}) == 401
    assert http_status_of({"code": "upstream_timeout"}) == 504


def test_starting_over_an_upstream_that_is_down_says_so(dead_upstream: str) -> None:
    with pytest.raises(UpstreamDown, match=dead_upstream.replace(".", r"\.")) as info:
        BridgeServer(upstream=dead_upstream).start()
    assert "--upstream" in str(info.value)


def test_a_busy_port_says_which_and_what_to_do(upstream: LoopbackServer) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortBusy, match=f"port {port}.*already in use"):
            BridgeServer(upstream=upstream.base_url, port=port).start()


def test_a_bridge_that_dies_while_starting_shows_its_log(upstream: LoopbackServer, tmp_path: Path) -> None:
    stores = tmp_path / "not-a-folder"
    stores.write_text("a file where the stores folder should be")
    server = BridgeServer(upstream=upstream.base_url, stores_dir=stores, log_path=tmp_path / "bridge.log")
    with pytest.raises(LocalServerError, match="exited with code") as info:
        server.start()
    assert "not-a-folder" in str(info.value)  # the tail of the log names what went wrong
    assert not server.running


def test_the_bridge_setup_is_managed_and_takes_an_upstream(upstream: LoopbackServer) -> None:
    server = server_for_setup("bridge", upstream=upstream.base_url, threads=1)
    assert isinstance(server, BridgeServer) and server.local is None
    assert server.upstream == upstream.base_url
    managed = server_for_setup("bridge")
    assert managed.local is not None and managed.local.model_alias == "smollm2-135m-instruct"


def kit_cli(*args: str, **options: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kit", *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}, **options)


def test_kit_serve_bridge_upstream_serves_until_sigterm(upstream: LoopbackServer) -> None:
    process = kit_cli("serve", "bridge", "--upstream", upstream.base_url)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("serving "):
                url = line.split(" at ")[1].split(" ")[0]
        assert url and url.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        events = list(sse_payloads(httpx.post(url + "/responses", json={**request_for(TEXT), "stream": True},
                                              timeout=60, trust_env=False).text.splitlines()))
        assert events[-1]["type"] == "response.completed"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped." in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(url.removesuffix("/v1") + "/health", timeout=5, trust_env=False)


def test_kit_serve_local_refuses_an_upstream() -> None:
    process = kit_cli("serve", "local", "--upstream", "http://127.0.0.1:9/v1")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--upstream" in err and "'local'" in err
