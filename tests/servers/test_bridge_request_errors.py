"""The served bridge answers the request errors of issue 20 as OpenAI does: HTTP 400 and the error object
(`error.object`), before any upstream call (the upstream here is down: a call would be a 502)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.events.error_object import error_object_violations
from kit.servers.bridge import BridgeServer
from kit.servers.bridge_app import BridgeConfig, create_app
from kit.servers.bridge_app.app import main as bridge_main

ERRORS = Path(__file__).resolve().parents[1] / "captures" / "errors"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from starlette.testclient import TestClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    config = BridgeConfig(upstream=f"http://127.0.0.1:{port}/v1", models=("smollm2-135m-instruct",),
                          stores_dir=tmp_path_factory.mktemp("stores"))
    with TestClient(create_app(config)) as test_client:
        yield test_client


CASES = [
    ({"model": "gpt-9-nowhere", "input": "hi"}, "model", "model_not_found"),
    ({"model": "smollm2-135m-instruct", "input": "hi", "temperature": 5}, "temperature", "decimal_above_max_value"),
    ({"model": "smollm2-135m-instruct", "input": "hi", "top_logprobs": 30}, "top_logprobs", "integer_above_max_value"),
    ({"model": "smollm2-135m-instruct", "input": "hi", "tools": [
        {"type": "function", "name": "w", "parameters": {"type": "object", "properties": "city"}}]},
     "tools[0].parameters", "invalid_function_parameters"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("body, param, code", CASES)
def test_request_errors_are_400_with_the_error_object_streamed_or_not(client: Any, body: dict[str, Any], param: str,
                                                                      code: str, stream: bool) -> None:
    answer = client.post("/v1/responses", json={**body, "stream": stream})
    assert answer.status_code == 400
    assert error_object_violations(answer.json(), answer.status_code) == []
    error = answer.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_the_bridge_s_answers_have_the_keys_of_openai_s_own() -> None:
    openai_keys = {tuple(json.loads(p.read_text())["error"]) for p in ERRORS.glob("*.json")}
    assert openai_keys == {("message", "type", "param", "code")}


def test_a_known_model_goes_upstream(client: Any) -> None:
    answer = client.post("/v1/responses", json={"model": "smollm2-135m-instruct", "input": "hi"})
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "connection_error"  # it tried


def test_without_a_model_list_any_model_goes_upstream(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    config = BridgeConfig(upstream="http://127.0.0.1:9/v1", stores_dir=tmp_path)
    with TestClient(create_app(config)) as test_client:
        answer = test_client.post("/v1/responses", json={"model": "gpt-9-nowhere", "input": "hi"})
    assert answer.status_code == 502


def test_the_managed_bridge_over_the_kit_s_llama_cpp_names_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    class Local:  # only what the bridge reads of a LocalServer before it spawns
        model_alias = "smollm2-135m-instruct"
        base_url = "http://127.0.0.1:9/v1"

    server = BridgeServer(local=Local())  # type: ignore[arg-type]
    monkeypatch.setattr("kit.servers.bridge.ChildProcess.start", lambda self: self)
    server._spawn(1)
    assert server.command[-2:] == ["--model", "smollm2-135m-instruct"]
    over_url = BridgeServer(upstream="http://127.0.0.1:9/v1")
    over_url._spawn(1)
    assert "--model" not in over_url.command


def test_the_command_line_takes_models(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("kit.servers.bridge_app.app.serve_forever",
                        lambda config, host, port: seen.setdefault("config", config))
    bridge_main(["--upstream", "http://127.0.0.1:9/v1", "--model", "a", "--model", "b"])
    assert seen["config"].models == ("a", "b")
    seen.clear()
    bridge_main(["--upstream", "http://127.0.0.1:9/v1"])
    assert seen["config"].models == ()
