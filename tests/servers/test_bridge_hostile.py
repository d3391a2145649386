"""The served bridge under a hostile upstream and hostile clients (loopback only, every wait bounded).

Fault injection: the upstream is `tests.servers.hostile.HostileUpstream`, a
mock that stalls, breaks its stream or echoes the caller's key. The bridge
runs in this process so that its response threads can be counted; the
upstream counts the connections the bridge left open.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from kit.events.parse import sse_payloads
from kit.servers.bridge_app import BridgeConfig
from kit.servers.bridge_app.app import NeedsApiKey, check_exposure, main
from kit.servers.bridge_app.upstream import UpstreamTimeouts
from tests.servers.hostile import HostileUpstream, bridge_in_process, wait_threads

pytestmark = pytest.mark.fault_injection

KEY = "sk-" + "upstream-secret-0123456789abcdefXYZ"  # made at run time: no key-shaped literal in the tree
CLIENT_KEY = "bridge-client-key-42"
SHORT = UpstreamTimeouts(connect=2.0, first_byte=1.0, idle=1.0)
LONG = UpstreamTimeouts(connect=2.0, first_byte=60.0, idle=60.0)


def _request(fault: str, stream: bool = True) -> dict[str, object]:
    return {"model": "m", "input": "hello", "stream": stream, "user": fault}


@pytest.fixture
def upstream() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server


def _events(response: httpx.Response) -> list[dict[str, object]]:
    return list(sse_payloads(response.iter_lines()))


@pytest.mark.parametrize("fault", ["stall", "stall-mid"])
def test_a_stalled_upstream_ends_every_client_within_the_timeout_and_leaves_nothing(upstream: HostileUpstream,
                                                                                   fault: str) -> None:
    config = BridgeConfig(upstream=upstream.base_url, upstream_key=KEY, timeouts=SHORT)
    results: list[tuple[float, int, list[dict[str, object]]]] = []

    def client(url: str) -> None:
        began = time.monotonic()
        with httpx.Client(timeout=10) as http, http.stream("POST", url + "/responses", json=_request(fault)) as answer:
            if answer.status_code == 200:
                events = _events(answer)
            else:
                answer.read()
                events = []
            results.append((time.monotonic() - began, answer.status_code, events))

    with bridge_in_process(config) as url:
        clients = [threading.Thread(target=client, args=(url,)) for _ in range(4)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(15)
        assert len(results) == 4
        for seconds, status, events in results:
            assert seconds < SHORT.first_byte + SHORT.idle + 1.5, seconds
            if fault == "stall":  # nothing streamed yet: a 504
                assert status == 504
            else:  # the stream had begun: it ends with error, then response.failed
                assert status == 200
                assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
                assert events[-2]["code"] == "upstream_timeout"
        assert wait_threads(3.0) == 0
        assert upstream.wait_closed(3.0) == 0
    assert upstream.accepted >= 4


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_leaves_a_stalled_upstream_cancels_it_at_once(upstream: HostileUpstream, stream: bool) -> None:
    config = BridgeConfig(upstream=upstream.base_url, upstream_key=KEY, timeouts=LONG)
    with bridge_in_process(config) as url:
        port = int(url.split(":")[2].split("/")[0])
        body = json.dumps(_request("stall-mid" if stream else "stall", stream)).encode()
        sockets = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                      b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            sockets.append(s)
        deadline = time.monotonic() + 5
        while upstream.accepted < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.accepted == 20
        for s in sockets:
            s.close()
        assert upstream.wait_closed(2.0) == 0  # not the 60 s timeouts: the disconnect itself
        assert wait_threads(2.0) == 0


def test_invalid_json_mid_stream_ends_with_error_then_response_failed(upstream: HostileUpstream) -> None:
    with bridge_in_process(BridgeConfig(upstream=upstream.base_url, timeouts=SHORT)) as url:
        with httpx.Client(timeout=10) as http, http.stream("POST", url + "/responses",
                                                           json=_request("bad-json")) as answer:
            events = _events(answer)
    types = [e["type"] for e in events]
    assert types[0] == "response.created"
    assert types[-2:] == ["error", "response.failed"]
    assert types.count("response.failed") == 1 and "response.completed" not in types
    assert events[-1]["response"]["status"] == "failed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_an_upstream_that_echoes_the_key_never_relays_it_and_its_401_stays_a_401() -> None:
    with HostileUpstream(always="echo-auth") as upstream, \
            bridge_in_process(BridgeConfig(upstream=upstream.base_url, upstream_key=KEY, timeouts=SHORT)) as url, \
            httpx.Client(timeout=10) as http:
        answers = [http.post(url + "/responses", json=_request("echo-auth", stream=False)),
                   http.post(url + "/chat/completions", json={"model": "m", "messages": []}),
                   http.get(url + "/models")]
        with http.stream("POST", url + "/responses", json=_request("echo-auth")) as streamed:
            streamed_text = streamed.read().decode()
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert KEY not in answer.text and "REDACTED" in answer.text
        assert "error" in answer.json()
    assert KEY not in streamed_text and "response.failed" in streamed_text


def test_client_authentication_and_what_health_shows(upstream: HostileUpstream) -> None:
    with_userinfo = upstream.base_url.replace("http://", "http://alice:pw-secret-99@")
    config = BridgeConfig(upstream=with_userinfo, api_key=CLIENT_KEY, timeouts=SHORT)
    with bridge_in_process(config) as url, httpx.Client(timeout=10) as http:
        missing = http.post(url + "/responses", json=_request("ok", False))
        wrong = http.post(url + "/responses", json=_request("ok", False), headers={"authorization": "Bearer nope"})
        right = http.post(url + "/responses", json=_request("ok", False),
                          headers={"authorization": f"Bearer {CLIENT_KEY}"})
        health = http.get(url.removesuffix("/v1") + "/health")
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == 200 and right.json()["status"] == "completed"
    assert health.status_code == 200 and "pw-secret-99" not in health.text and "alice" not in health.text
    assert "repr" and "pw-secret-99" not in repr(config)


def test_binding_beyond_loopback_needs_a_client_key() -> None:
    with pytest.raises(NeedsApiKey, match="--api-key"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", "k")
    check_exposure("127.0.0.1", None)
    with pytest.raises(SystemExit) as exit_:
        main(["--upstream", "http://127.0.0.1:9/v1", "--host", "0.0.0.0"])
    assert exit_.value.code == 2


def test_browser_shaped_and_malformed_requests_are_refused_before_the_upstream(upstream: HostileUpstream) -> None:
    config = BridgeConfig(upstream=upstream.base_url, upstream_key=KEY, bind_host="127.0.0.1", timeouts=SHORT,
                          max_body_bytes=1000, max_upload_bytes=2000)
    body = json.dumps(_request("ok", False))
    with bridge_in_process(config) as url, httpx.Client(timeout=10) as http:
        cases = {
            "cross-site": http.post(url + "/responses", content=body,
                                    headers={"content-type": "text/plain", "origin": "http://evil.example"}),
            "foreign host": http.post(url + "/responses", content=body,
                                      headers={"content-type": "application/json", "host": "evil.example"}),
            "text/plain": http.post(url + "/responses", content=body, headers={"content-type": "text/plain"}),
            "too large": http.post(url + "/responses", json={"model": "m", "input": "x" * 2000}),
            "too large, chunked": http.post(url + "/responses", content=iter([b"{" + b" " * 600] * 3),
                                            headers={"content-type": "application/json"}),
            "upload too large": http.post(url + "/files", files={"file": ("a.txt", b"x" * 3000)}),
            "NaN": http.post(url + "/responses", content=b'{"model":"m","input":"x","temperature":NaN}',
                             headers={"content-type": "application/json"}),
            "surrogate": http.post(url + "/responses", content=b'{"model":"m","input":"\\ud800"}',
                                   headers={"content-type": "application/json"}),
            "deep": http.post(url + "/responses", content=b"[" * 100_000 + b"]" * 100_000,
                              headers={"content-type": "application/json"}),
        }
    expected = {"cross-site": 403, "foreign host": 403, "text/plain": 415, "too large": 413,
                "too large, chunked": 413, "upload too large": 413, "NaN": 400, "surrogate": 400, "deep": 413}
    assert {k: v.status_code for k, v in cases.items()} == expected
    for name, answer in cases.items():
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], name
    assert upstream.accepted == 0


def test_uploads_live_on_disk_and_can_be_deleted(upstream: HostileUpstream) -> None:
    with bridge_in_process(BridgeConfig(upstream=upstream.base_url, timeouts=SHORT)) as url, \
            httpx.Client(timeout=10) as http:
        made = http.post(url + "/files", files={"file": ("notes.txt", b"the sea is blue")}, data={"purpose": "assistants"})
        file_id = made.json()["id"]
        assert http.get(url + f"/files/{file_id}").status_code == 200
        deleted = http.delete(url + f"/files/{file_id}")
        again = http.delete(url + f"/files/{file_id}")
        gone = http.get(url + f"/files/{file_id}")
    assert made.status_code == 200
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert again.status_code == gone.status_code == 404


def test_half_sent_requests_are_dropped(upstream: HostileUpstream) -> None:
    config = BridgeConfig(upstream=upstream.base_url, timeouts=SHORT, header_timeout=0.5, body_timeout=0.5)
    with bridge_in_process(config) as url:
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow_headers:
            slow_headers.sendall(b"POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            began = time.monotonic()
            assert slow_headers.recv(100) == b""  # closed by the bridge
            assert time.monotonic() - began < 3
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow_body:
            slow_body.sendall(b"POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                              b"content-length: 100\r\n\r\n{\"model\"")
            answer = slow_body.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408")
    assert upstream.accepted == 0


def test_a_stalled_upstream_behind_the_passthrough_is_a_504_in_time_and_a_leaving_client_closes_it(
        upstream: HostileUpstream) -> None:
    with bridge_in_process(BridgeConfig(upstream=upstream.base_url, timeouts=SHORT)) as url, \
            httpx.Client(timeout=10) as http:
        began = time.monotonic()
        stalled = http.post(url + "/chat/completions", json={"model": "m", "messages": [], "user": "stall"})
        assert stalled.status_code == 504 and stalled.json()["error"]["code"] == "upstream_timeout"
        assert time.monotonic() - began < SHORT.first_byte + 1.5
        with http.stream("POST", url + "/chat/completions",
                         json={"model": "m", "messages": [], "user": "stall-mid", "stream": True}) as mid:
            assert mid.status_code == 200
            body = mid.read()  # the upstream goes quiet after one chunk: the body ends after `idle`
        assert body.startswith(b"data: ") and time.monotonic() - began < SHORT.first_byte + SHORT.idle + 3
        assert upstream.wait_closed(3.0) == 0
