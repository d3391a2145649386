"""A server's refusal of a route becomes "unsupported" quoting its answer; any other error stays an error.

The answers come from a real openai SDK client against a loopback httpx MockTransport
(fault injection: a server that lacks a route), so the exception is the one the SDK raises.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from kit.notebook.checks import CapabilityMissing
from kit.notebook.refusals import refused_as_unsupported

pytestmark = pytest.mark.fault_injection


def _client(status: int, body: dict) -> openai.OpenAI:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0,
                         http_client=httpx.Client(transport=transport))


def test_a_404_is_unsupported_and_quotes_the_answer() -> None:
    client = _client(404, {"detail": "Not Found"})
    with pytest.raises(CapabilityMissing) as caught:
        with refused_as_unsupported("stored responses", setup="setup 'peer'"):
            client.responses.retrieve("resp_123")
    text = str(caught.value)
    assert "setup 'peer' does not support stored responses" in text
    assert "404 GET /v1/responses/resp_123: Not Found" in text  # FastAPI's `detail` (llama-cpp-python's server)


def test_an_error_object_message_is_quoted() -> None:
    client = _client(400, {"error": {"message": "background is not supported", "type": "invalid_request_error"}})
    with pytest.raises(CapabilityMissing, match="400 POST /v1/responses: background is not supported"):
        with refused_as_unsupported("background mode", refused=lambda exc: "background" in str(exc.body)):
            client.responses.create(model="m", input="hi", background=True)


def test_other_statuses_stay_errors() -> None:
    client = _client(500, {"error": {"message": "boom"}})
    with pytest.raises(openai.InternalServerError):
        with refused_as_unsupported("stored responses"):
            client.responses.retrieve("resp_1")


def test_the_in_process_bridge_refusal_is_unsupported() -> None:
    from kit.bridge.request import to_chat_request

    with pytest.raises(CapabilityMissing, match="in-process bridge refused it: .*previous_response_id"):
        with refused_as_unsupported("previous_response_id"):
            to_chat_request({"model": "m", "input": "hi", "previous_response_id": "resp_1"})


def test_a_very_long_id_in_the_route_is_quoted_cut_in_the_middle() -> None:
    long_id = "resp_" + "A" * 300 + "tail0123"
    client = _client(500, {"error": {"message": "GET responses is not supported for llamafile"}})
    with pytest.raises(CapabilityMissing) as caught:
        with refused_as_unsupported("stored responses", refused=lambda exc: True):
            client.responses.retrieve(long_id)
    assert f"500 GET /v1/responses/resp_{'A' * 19}…tail0123 (313 characters): GET responses is not " \
           f"supported for llamafile" in str(caught.value)
