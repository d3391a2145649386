"""The 19 credential placements of issue 12, each recorded for real, then the whole folder grepped.

The server here is a real HTTP server on loopback that serves a real capture and, as
real servers do, echoes what it was sent: the request's `metadata` in `response.created`
and `response.completed` (the Responses API does this), and, as fault injection of a
careless gateway, every request header and the query string in `x-echo-*` response
headers. `metadata.fault` asks for the two hostile answers: `401` (an Azure-style error
that quotes the key it got, in its body and a header) and `leak` (a key of the server's
own in the answer text and a header). All keys are fake.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest

import kit
from kit.recording import RecordingError, load_recording
from kit.recording.errors import RefusedToRecord

CAPTURE = Path(__file__).resolve().parents[1] / "captures" / "responses" / "otel-python-contrib__gpt4o-mini-text.jsonl"


def fake(tag: str, body: str = "") -> str:
    """A distinct fake secret per placement (split so that scanners of this file skip it)."""
    return body + tag.upper() + "x" * 4 + "9f3b2c7d1e"


SK = "sk-" + "proj-"
SERVER_KEY = SK + fake("serverownkey0leakedintext")


class EchoServer:
    def __init__(self) -> None:
        events = [json.loads(line) for line in CAPTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                owner.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                meta = body.get("metadata") or {}
                echo = [(f"x-echo-{k.lower()}", v) for k, v in self.headers.items()]
                echo.append(("x-echo-query", urlsplit(self.path).query or "-"))
                if meta.get("fault") == "401":
                    key = self.headers.get("api-key", "")
                    data = json.dumps({"error": {"code": "401", "message": f"Access denied due to invalid subscription "
                                                 f"key {key}. Make sure to provide a valid key."}}).encode()
                    self.send_response(401)
                    if meta.get("gzip"):  # whatever the client accepts: some gateways do
                        data = gzip.compress(data)
                        self.send_header("content-encoding", "gzip")
                    for name, value in echo:
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("x-request-id", "req_echo")
                for name, value in echo:
                    self.send_header(name, value)
                if meta.get("fault") == "leak":
                    self.send_header("x-debug-upstream-key", SERVER_KEY)
                self.end_headers()
                for event in events:
                    event = json.loads(json.dumps(event))
                    if event["type"] in ("response.created", "response.completed"):
                        event["response"]["metadata"] = meta  # the API echoes the request's metadata
                    if event["type"] == "response.output_text.delta" and meta.get("fault") == "leak":
                        event["delta"] = f"my key is {SERVER_KEY} " + event["delta"]
                    data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "EchoServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echo_server():
    with EchoServer() as server:
        yield server


def _client(server: EchoServer, folder: Path, *, api_key: str = "placeholder-not-secret", mode: str = "record",
            **kw: Any) -> openai.OpenAI:
    return kit.client("gpt", mode, base_url=server.base_url, api_key=api_key, recording_dir=folder, **kw)


def _stream(client: openai.OpenAI, **kw: Any) -> list[dict[str, Any]]:
    return [e.to_dict() for e in client.responses.create(model="gpt-4o-mini", input=kw.pop("input", "hi"),
                                                         stream=True, **kw)]


# (placement, the secret, how to send it): the 10 that issue 12 found stored, then the 9 it found kept off.
PLACEMENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("Ocp-Apim-Subscription-Key header", fake("ocpapim"), {"header": "Ocp-Apim-Subscription-Key"}),
    ("x-functions-key header", fake("functions"), {"header": "x-functions-key"}),
    ("x-auth-token header", fake("authtoken"), {"header": "x-auth-token"}),
    ("?code= query parameter", fake("querycode"), {"query": "code"}),
    ("metadata.user_token (echoed in events)", fake("usertoken"), {"metadata": "user_token"}),
    ("body field password", fake("password"), {"body": "password"}),
    ("hex Azure key echoed in a 401 body and header", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", {"azure401": True}),
    ("sk-proj key in metadata.api_key (echoed)", SK + fake("metadatakey0abcdefghij"), {"metadata": "api_key"}),
    ("sk-proj key in the prompt text", SK + fake("promptkey0abcdefghijkl"), {"prompt": True}),
    ("sk-proj key echoed in the answer text and a header", SERVER_KEY, {"leak": True}),
    ("Authorization header (api_key)", SK + fake("authorization0abcdefghij"), {"api_key": True}),
    ("api-key header", fake("apikeyheader"), {"header": "api-key"}),
    ("x-api-key header", fake("xapikey"), {"header": "x-api-key"}),
    ("x-goog-api-key header", fake("googkey"), {"header": "x-goog-api-key"}),
    ("?key= query parameter", fake("querykey"), {"query": "key"}),
    ("?api_key= query parameter", fake("queryapikey"), {"query": "api_key"}),
    ("OpenAI-Organization header", "org-" + fake("organization"), {"organization": True}),
    ("OpenAI-Project header", "proj_" + fake("project"), {"project": True}),
    ("cookies", fake("cookie"), {"cookie": True}),
]


def _send(server: EchoServer, folder: Path, secret: str, how: dict[str, Any]) -> None:
    """Record one request carrying `secret` as `how` says; refusals are checked to name the field."""
    client_kw: dict[str, Any] = {}
    call_kw: dict[str, Any] = {"metadata": {}}
    if "header" in how:
        client_kw["default_headers"] = {how["header"]: secret}
    if "query" in how:
        client_kw["default_query"] = {how["query"]: secret}
    if "metadata" in how:
        call_kw["metadata"] = {how["metadata"]: secret}
    if "body" in how:
        call_kw["extra_body"] = {how["body"]: secret}
    if how.get("api_key"):
        client_kw["api_key"] = secret
    if how.get("organization"):
        client_kw["organization"] = secret
    if how.get("project"):
        client_kw["project"] = secret
    if how.get("cookie"):
        client_kw["default_headers"] = {"Cookie": f"session={secret}; theme=dark"}
    client = _client(server, folder, **client_kw)
    if how.get("azure401"):
        with pytest.raises(openai.AuthenticationError) as info:
            _client(server, folder, default_headers={"api-key": secret}).responses.create(
                model="gpt-4o-mini", input="hi", stream=True, metadata={"fault": "401"})
        assert secret in str(info.value)  # the caller sees the server's answer as it was; the disk does not
        return
    if how.get("prompt"):
        with pytest.raises(RefusedToRecord) as refused:
            _stream(client, input=f"please use {secret}")
        assert "request.body.input" in str(refused.value)
        return
    if how.get("leak"):
        with pytest.raises(RefusedToRecord) as refused:
            _stream(client, metadata={"fault": "leak"})
        assert "response." in str(refused.value)
        return
    assert len(_stream(client, **call_kw)) == 13


@pytest.mark.parametrize("placement,secret,how", PLACEMENTS, ids=[p[0] for p in PLACEMENTS])
def test_placement_reaches_no_file_of_the_recording_folder(echo_server, tmp_path, placement, secret, how):
    _send(echo_server, tmp_path, secret, how)
    sent = json.dumps(echo_server.requests)
    assert secret in sent or how.get("prompt") or how.get("leak")  # the server did get it
    kit.recording.RecordingStore(tmp_path).index().refresh()  # the index and its WAL, up to date
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in files) or how.get("prompt") or how.get("leak")
    assert any(".index.sqlite" in p.name for p in files)
    found = [str(p) for p in files if secret.encode() in p.read_bytes()]
    assert found == [], f"{placement}: stored in {found}"


def test_all_19_placements_in_one_folder_leave_no_trace(echo_server, tmp_path):
    for _, secret, how in PLACEMENTS:
        _send(echo_server, tmp_path, secret, how)
    blobs = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert [name for name, secret, _ in PLACEMENTS if secret.encode() in blobs] == []
    recorded = list(tmp_path.rglob("*.json"))  # headers take no part in the key: those share one file
    assert len(recorded) >= 5 and all(load_recording(p) for p in recorded)


def test_prompt_with_a_key_is_refused_before_it_is_sent(echo_server, tmp_path):
    secret = SK + fake("promptkey0abcdefghijkl")
    with pytest.raises(RefusedToRecord) as info:
        _stream(_client(echo_server, tmp_path), input=[{"role": "user", "content": f"key {secret}"}])
    assert "request.body.input[0].content" in str(info.value) and "nothing was written" in str(info.value)
    assert echo_server.requests == [] and list(tmp_path.rglob("*.json")) == []


def test_an_answer_with_a_key_is_refused_naming_where(echo_server, tmp_path):
    with pytest.raises(RefusedToRecord) as info:
        _stream(_client(echo_server, tmp_path), metadata={"fault": "leak"})
    assert "response.sse.events[" in str(info.value) and "delta" in str(info.value)
    assert isinstance(info.value, RecordingError) and list(tmp_path.rglob("*.json")) == []


def test_echoed_values_are_redacted_in_events_and_the_key_ignores_the_secret(echo_server, tmp_path):
    _stream(_client(echo_server, tmp_path), metadata={"user_token": fake("first"), "purpose": "demo"})
    [path] = list(tmp_path.rglob("*.json"))
    recording = load_recording(path)
    assert recording.request["body"]["metadata"] == {"purpose": "demo", "user_token": "REDACTED"}
    created = recording.response["sse"]["events"][0]["data"]
    assert created["response"]["metadata"] == {"purpose": "demo", "user_token": "REDACTED"}
    # another token value is the same request: it replays, with the echo redacted
    replay = kit.client("gpt", "replay", recording_dir=tmp_path)
    events = _stream(replay, metadata={"user_token": fake("second"), "purpose": "demo"})
    assert events[-1]["response"]["metadata"]["user_token"] == "REDACTED" and len(events) == 13
    # the replayed bytes still parse as whole events: chunk sizes follow the shortened text
    assert all(c.endswith(b"\n\n") for _, c in recording.response_chunks())


def test_headers_are_kept_by_allow_list(echo_server, tmp_path):
    _stream(_client(echo_server, tmp_path, default_headers={"x-custom-thing": "harmless"}))
    [path] = list(tmp_path.rglob("*.json"))
    recording = load_recording(path)
    assert set(recording.response["headers"]) == {"content-type", "x-request-id"}
    assert set(recording.request["headers"]) == {"content-type"}


def test_a_recording_holding_a_credential_named_body_field_is_refused_on_load(echo_server, tmp_path):
    _stream(_client(echo_server, tmp_path), metadata={"user_token": fake("third")})
    [path] = list(tmp_path.rglob("*.json"))
    data = json.loads(path.read_text())
    data["request"]["body"]["metadata"]["user_token"] = "a-real-looking-value"
    path.write_text(json.dumps(data))
    with pytest.raises(kit.recording.SecretInRecording, match="request.body.metadata.user_token"):
        load_recording(path)


def test_a_key_echoed_inside_a_compressed_body_is_scrubbed_and_still_replays(echo_server, tmp_path):
    secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f0"
    with pytest.raises(openai.AuthenticationError):
        _client(echo_server, tmp_path, default_headers={"api-key": secret}).responses.create(
            model="gpt-4o-mini", input="hi", metadata={"fault": "401", "gzip": "1"})
    [path] = list(tmp_path.rglob("*.json"))
    recording = load_recording(path)
    assert recording.response["headers"]["content-encoding"] == "gzip"
    assert secret.encode() not in gzip.decompress(recording.body_bytes())
    with pytest.raises(openai.AuthenticationError) as replayed:
        kit.client("gpt", "replay", recording_dir=tmp_path).responses.create(
            model="gpt-4o-mini", input="hi", metadata={"fault": "401", "gzip": "1"})
    assert "invalid subscription key REDACTED" in str(replayed.value)


@pytest.mark.parametrize("where,edit", [
    ("request.headers.ocp-apim-subscription-key", lambda d: d["request"]["headers"].update(
        {"ocp-apim-subscription-key": fake("oldocp")})),
    ("request.headers.x-functions-key", lambda d: d["request"]["headers"].update({"x-functions-key": fake("oldfn")})),
    ("response.headers.x-auth-token", lambda d: d["response"]["headers"].update({"x-auth-token": fake("oldauth")})),
    ("request.path?code", lambda d: d["request"].update(path=d["request"]["path"] + "?code=" + fake("oldcode"))),
    ("request.body.password", lambda d: d["request"]["body"].update(password=fake("oldpassword"))),
])
def test_a_secret_stored_before_the_policy_is_refused_on_load(echo_server, tmp_path, where, edit):
    """Recordings written by an older kit may hold what issue 12 found stored: they are refused, by field."""
    _stream(_client(echo_server, tmp_path))
    [path] = list(tmp_path.rglob("*.json"))
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(kit.recording.SecretInRecording) as info:
        load_recording(path)
    assert where in str(info.value) and str(path) in str(info.value)
