"""Fuzz of the served bridge's HTTP request surface: whatever a client sends, never a 500.

Hypothesis writes requests (routes, methods, content types, raw bodies and
Responses requests whose fields hold values of every JSON type); each goes
over real HTTP to the bridge in this process, over an upstream that answers
every chat request with one short valid stream (a mock: `fault_injection`).
Every answer must be below 500, and every 4xx an OpenAI error object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.servers.bridge_app import BridgeConfig
from kit.servers.bridge_app.upstream import UpstreamTimeouts
from tests.servers.hostile import HostileUpstream, bridge_in_process

pytestmark = pytest.mark.fault_injection

FIELDS = ("model", "input", "instructions", "stream", "temperature", "top_p", "max_output_tokens", "tools",
          "tool_choice", "parallel_tool_calls", "previous_response_id", "reasoning", "text", "metadata", "store",
          "include", "truncation", "background", "service_tier", "prompt_cache_key", "safety_identifier",
          "top_logprobs", "max_tool_calls", "stream_options", "conversation", "prompt", "user")
ROUTES = ("/v1/responses", "/v1/files", "/v1/files/file-x", "/v1/vector_stores", "/v1/vector_stores/vs_x",
          "/v1/vector_stores/vs_x/files", "/v1/vector_stores/vs_x/search", "/v1/chat/completions", "/v1/models",
          "/v1/embeddings", "/health", "/v1/nothing", "/v1/responses/x")

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=12)
typed_items = st.fixed_dictionaries({"type": st.sampled_from(["message", "function_call", "function_call_output",
                                                              "reasoning", "input_text", "bogus"])},
                                    optional={"role": values, "content": values, "call_id": values,
                                              "arguments": values, "output": values, "name": values})
field_values = values | st.lists(typed_items, max_size=3) | st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["function", "file_search", "web_search", "x"])},
                          optional={"name": values, "parameters": values, "vector_store_ids": values}), max_size=2)
responses_bodies = st.fixed_dictionaries({"model": st.just("m"), "input": st.just("hi")}).flatmap(
    lambda base: st.dictionaries(st.sampled_from(FIELDS), field_values, min_size=1, max_size=4).map(
        lambda extra: {**base, **extra}))
raw_bodies = st.binary(max_size=64) | st.sampled_from([b"", b"null", b"[]", b"{", b'{"model": NaN}',
                                                       b'{"input": "\\udc00", "model": "m"}', b"\xff\xfe"])
CONTENT_TYPES = ("application/json", "text/plain", "multipart/form-data; boundary=x", "", "application/json; charset=utf-16")


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    timeouts = UpstreamTimeouts(connect=2.0, first_byte=5.0, idle=5.0)
    with HostileUpstream() as upstream, bridge_in_process(BridgeConfig(upstream=upstream.base_url,
                                                                       timeouts=timeouts)) as url:
        yield url.removesuffix("/v1")


def _check(answer: httpx.Response, what: Any) -> None:
    assert answer.status_code < 500, (what, answer.status_code, answer.text[:500])
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], (what, answer.text[:300])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=responses_bodies)
def test_responses_requests_with_fields_of_any_type_never_get_a_500(bridge: str, body: dict[str, Any]) -> None:
    with httpx.Client(timeout=30) as http:
        answer = http.post(bridge + "/v1/responses", content=json.dumps(body).encode(),
                           headers={"content-type": "application/json"})
    _check(answer, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
       content_type=st.sampled_from(CONTENT_TYPES), body=raw_bodies | responses_bodies.map(
           lambda b: json.dumps(b).encode()))
def test_any_route_method_content_type_and_body_never_get_a_500(bridge: str, route: str, method: str,
                                                                 content_type: str, body: bytes) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with httpx.Client(timeout=30) as http:
        answer = http.request(method, bridge + route, content=body, headers=headers)
    if route in ("/v1/models", "/v1/chat/completions", "/v1/embeddings") and answer.status_code < 400:
        return  # passed through: the upstream's own answer
    _check(answer, (method, route, content_type, body))


def test_a_deeply_nested_body_is_a_400(bridge: str) -> None:
    with httpx.Client(timeout=30) as http:
        answer = http.post(bridge + "/v1/responses", content=b'{"model":"m","input":' + b"[" * 100_000 + b"]" * 100_000
                           + b"}", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"
