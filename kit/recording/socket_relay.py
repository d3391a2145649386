"""Record and replay Responses WebSocket mode (`client.responses.connect()`), sync and async, with no patching.

The SDK opens its socket with the `websockets` package, which no HTTP transport sees. So the kit serves it: a
kit client's `websocket_base_url` points at one loopback WebSocket server per process (`SocketRelay`), under a
path naming the client's record/replay session (`/kit/<route>/v1`). Per connection, by mode:

- `replay`: the first client message (a `response.create`) is the key, as a request body is for HTTP; the
  recording's server frames that followed each client message are sent back after it, at their recorded pace
  (`realtime`) or at once; each later client message must equal the recorded one, else the client gets an `error`
  frame saying which recording, which message and what differs (and the session keeps the `ReplayMiss`);
- `record`: the relay opens the real server's socket during the client's upgrade (a refusal of the upgrade is
  recorded and answered as it came), passes every frame both ways as it arrives and writes the session, each
  frame with its direction, order and arrival time, when the connection closes;
- `record-if-missing`: replays what is recorded, records the rest (the real socket is opened on the first message);
- `live`: no relay: the SDK talks to the server itself.

The layout is HTTP's: `recordings/<setup>/responses/<key[:16]>.<n>.json`, method `WEBSOCKET`. Secrets follow the
HTTP policy: handshake headers by allow-list, credential-named fields of client messages redacted (and hunted in
the server's frames), a credential-shaped value anywhere refused before anything is written.
"""

from __future__ import annotations

import base64
import json
import secrets as _random
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kit.recording.canonical import CanonicalRequest, canonical_body, canonical_path
from kit.recording.errors import ReplayMiss
from kit.recording.scrub import header_secrets, query_secrets, scrub_headers, scrub_text
from kit.recording.session import RecordReplaySession, _sorted, _versions, encode_body
from kit.recording.store import Recording
from kit.setups.modes import InferenceMode, ReplayStyle

METHOD = "WEBSOCKET"
REPLAY_MISS_CODE = "kit_replay_miss"  # the `error.code` of the frame a replay miss sends the client
_HANDSHAKE = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
              "sec-websocket-extensions", "content-length", "origin"}
_UNSENDABLE = {1005, 1006, 1015}  # close codes that describe a close and are never sent


class ReplayDiverged(ReplayMiss):
    """A replayed WebSocket session whose client sent another message than the recorded one at turn `turn`."""

    def __init__(self, *, path: Any, turn: int, diff: str, setup: str, mode: str) -> None:
        self.recording, self.turn = path, turn
        lines = [f"{path}: client message {turn} of this WebSocket session differs from the recorded one "
                 f"(mode={mode}, setup={setup}); the recording answers only the messages it was recorded with.",
                 "  message diff (recorded -> this session):", *("    " + line for line in diff.splitlines()),
                 f"  to record it again: `kit run --setup {setup} --inference-mode record` (or delete the file "
                 f"and use record-if-missing)"]
        Exception.__init__(self, "\n".join(lines))
        self.mode, self.setup, self.method, self.path, self.model, self.key = mode, setup, METHOD, "", None, ""
        self.nearest, self.diff = path, diff

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(eq=False)
class Route:
    """One kit client's way in: its session and, for record modes, the real server's WebSocket base URL."""

    session: RecordReplaySession
    upstream: str | None  # ws(s)://host:port/v1
    id: str = field(default_factory=lambda: _random.token_hex(8))
    errors: list[Exception] = field(default_factory=list)

    def raise_error(self) -> None:
        """Raise the last replay miss or recording refusal of this client's sockets: a socket cannot raise in its
        caller's thread, so the kit's consumers call this on a kit error frame (or after the session closed)."""
        if self.errors:
            raise self.errors[-1]


def socket_message(message: str | bytes) -> dict[str, Any]:
    """A frame's payload as stored: its JSON, else its text, else base64."""
    if isinstance(message, bytes):
        return {"base64": base64.b64encode(message).decode("ascii")}
    try:
        return {"json": json.loads(message)}
    except ValueError:
        return {"text": message}


def frame_payload(frame: dict[str, Any]) -> str | bytes:
    """The exact message a stored frame sends (JSON compact, as the kit's and OpenAI's servers send it)."""
    if "json" in frame:
        return json.dumps(frame["json"], separators=(",", ":"), ensure_ascii=False)
    if "text" in frame:
        return frame["text"]
    return base64.b64decode(frame["base64"])


def canonical_message(setup: str, path: str, message: str | bytes | None, removed: list[str] | None = None
                      ) -> CanonicalRequest:
    """A client message as the store matches it (credential-named fields redacted); None: the upgrade itself."""
    raw, query = path.partition("?")[0], path.partition("?")[2]
    body = None if message is None else canonical_body(
        message if isinstance(message, bytes) else message.encode("utf-8"), "application/json", removed)
    return CanonicalRequest(setup=setup, method=METHOD, path=canonical_path(raw, query), body=body,
                            content_type="application/json", secrets=tuple(removed or ()))


class SocketRelay:
    """The process's one loopback WebSocket server for kit clients; started on first use, a daemon thread."""

    _instance: SocketRelay | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.routes: weakref.WeakValueDictionary[str, Route] = weakref.WeakValueDictionary()
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.server = serve(self._handle, sock=listener, process_request=self._upgrade, max_size=None,
                            compression=None, ping_interval=None, server_header=None)
        threading.Thread(target=self.server.serve_forever, name="kit-socket-relay", daemon=True).start()

    @classmethod
    def shared(cls) -> SocketRelay:
        with cls._lock:
            if cls._instance is None:
                cls._instance = SocketRelay()
            return cls._instance

    def register(self, session: RecordReplaySession, upstream_base_url: str | None) -> tuple[Route, str]:
        """A route for one client (kept alive by the client) and the `websocket_base_url` to give its SDK."""
        upstream = None
        if upstream_base_url:
            parts = urlsplit(upstream_base_url)
            scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
            upstream = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        route = Route(session, upstream)
        self.routes[route.id] = route
        base_path = urlsplit(upstream_base_url).path.rstrip("/") if upstream_base_url else "/v1"
        return route, f"ws://127.0.0.1:{self.port}/kit/{route.id}{base_path or ''}"

    # -- the upgrade -----------------------------------------------------------------------------------
    def _route_of(self, path: str) -> tuple[Route | None, str]:
        parts = path.split("/", 3)  # "", "kit", id, rest
        if len(parts) < 4 or parts[1] != "kit":
            return None, path
        return self.routes.get(parts[2]), "/" + parts[3]

    def _upgrade(self, connection: Any, request: Any) -> Any:
        """Before accepting: refuse browsers and unknown routes; replay a recorded refusal; in record mode, open
        the real socket now, so that its refusal of the upgrade reaches the client as it came."""
        route, path = self._route_of(request.path)
        if request.headers.get("origin"):
            return connection.respond(403, "the kit's socket relay serves programs on this machine, not web pages\n")
        if route is None:
            return connection.respond(404, "no kit client owns this socket path (the client was closed)\n")
        connection.kit = Relayed(route, path, dict(request.headers.raw_items()))
        session = route.session
        refusal = session.store.find(canonical_message(session.setup, path, None), 0) \
            if session.mode is not InferenceMode.RECORD else None
        if refusal is not None:
            return _replayed_refusal(connection, refusal)
        if session.mode is InferenceMode.RECORD:
            return connection.kit.open_upstream(connection)
        return None

    def _handle(self, connection: Any) -> None:
        relayed: Relayed = connection.kit
        try:
            relayed.serve(connection)
        except Exception as exc:  # noqa: BLE001 - told to the client as an error frame; never a silent hang
            relayed.route.errors.append(exc)
            relayed.tell(connection, ws_error(f"the kit's socket relay failed: {type(exc).__name__}: {exc}",
                                              code="kit_relay_error"))
        finally:
            connection.close()


def ws_error(message: str, *, code: str, status: int = 500) -> dict[str, Any]:
    return {"type": "error", "status": status, "error": {"type": "kit_error", "code": code, "message": message,
                                                         "param": None}}


def _replayed_refusal(connection: Any, recording: Recording) -> Any:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    body = recording.body_bytes()
    headers = Headers({k: v for k, v in recording.response_headers.items() if k.lower() != "content-length"})
    headers["Content-Length"] = str(len(body))
    return Response(recording.status, _reason(recording.status), headers, body)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Refused"


class Relayed:
    """One client connection through the relay: replayed from a recording, or relayed to the server and recorded."""

    def __init__(self, route: Route, path: str, headers: dict[str, str]) -> None:
        self.route, self.path, self.headers = route, path, headers
        self.session = route.session
        self.upstream: Any = None
        self.upstream_headers: dict[str, str] = {}
        self.frames: list[dict[str, Any]] = []
        self.start = time.perf_counter()
        self.lock = threading.Lock()
        self.close: dict[str, Any] | None = None

    # -- record --------------------------------------------------------------------------------------
    def open_upstream(self, connection: Any) -> Any:
        """Open the real server's socket with the client's headers; its refusal is recorded and answered as is."""
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        if self.route.upstream is None:
            raise RuntimeError("this kit client was built for replay only; it has no server to record")
        url = self.route.upstream + self.path.removeprefix(urlsplit(self.route.upstream).path)
        forwarded = {k: v for k, v in self.headers.items() if k.lower() not in _HANDSHAKE}
        began = time.perf_counter()
        try:
            self.upstream = connect(url, additional_headers=forwarded, user_agent_header=None, max_size=None,
                                    compression=None, ping_interval=None, open_timeout=30, proxy=None)
        except InvalidStatus as exc:
            self._keep_refusal(exc.response, time.perf_counter() - began)
            return _replayed_refusal(connection, Recording("", 0, "", {}, self._refusal_stored(exc.response)))
        self.upstream_headers = dict(self.upstream.response.headers.raw_items())
        self.start = time.perf_counter()
        return None

    def _refusal_stored(self, response: Any) -> dict[str, Any]:
        headers = scrub_headers(dict(response.headers.raw_items()), self.secrets())
        return {"status": response.status_code, "headers": headers, **encode_body(bytes(response.body or b""),
                                                                                    headers)}

    def _keep_refusal(self, response: Any, duration: float) -> None:
        canonical = canonical_message(self.session.setup, self.path, None, self.secrets())
        stored = self._refusal_stored(response)
        self.session.keep(canonical, 0, self._stored_request(canonical), stored, duration, _versions(None, "websockets"))

    def _stored_request(self, canonical: CanonicalRequest) -> dict[str, Any]:
        headers = scrub_headers(self.headers, canonical.secrets)
        headers.pop("accept", None)
        return {"method": METHOD, "path": canonical.path, "headers": headers, "body": _sorted(canonical.body)}

    def log(self, side: str, message: str | bytes) -> None:
        with self.lock:
            self.frames.append({"t": round(time.perf_counter() - self.start, 6), "from": side,
                                **socket_message(message)})

    def relay(self, connection: Any, first: str | bytes | None = None) -> None:
        """Pass frames both ways until either side closes, then write the session."""
        upstream = self.upstream
        if first is not None:
            self.log("client", first)
            upstream.send(first)
        sender = threading.Thread(target=self._pass, args=(connection, upstream, "client"),
                                  name="kit-socket-relay-client", daemon=True)
        sender.start()
        self._pass(upstream, connection, "server")
        sender.join(10)
        self._keep_session()

    def _pass(self, source: Any, target: Any, side: str) -> None:
        """Every message from `source` logged and sent on; the side that closes first is how the session ended,
        and the other side is closed with its code (one that can be sent)."""
        from websockets.exceptions import ConnectionClosed

        try:
            for message in source:
                self.log(side, message)
                target.send(message)
        except ConnectionClosed:
            pass
        with self.lock:
            first = self.close is None
            if first:
                self.close = {"by": side, "code": source.close_code, "reason": source.close_reason or ""}
        if first:
            code = source.close_code
            target.close(code if code and code not in _UNSENDABLE else 1011, source.close_reason or "")

    def secrets(self) -> list[str]:
        """What the policy drops from the upgrade request (its key, a credential in its query), to hunt in frames."""
        own = {k: v for k, v in self.headers.items() if k.lower() not in _HANDSHAKE
               and not k.lower().startswith("sec-websocket-")}
        return [*header_secrets(own), *query_secrets(parse_qsl(self.path.partition("?")[2], keep_blank_values=True))]

    def _keep_session(self) -> None:
        clients = [f for f in self.frames if f["from"] == "client"]
        if not clients:
            return  # nothing was asked: nothing to replay
        secrets = self.secrets()
        first = canonical_message(self.session.setup, self.path, frame_payload(clients[0]), secrets)
        bodies = {id(f): canonical_message("", self.path, frame_payload(f), secrets).body for f in clients}
        frames = []
        for frame in self.frames:  # the client's redacted values known first: hunted in every server frame
            if frame["from"] == "client":
                frames.append({"t": frame["t"], "from": "client", **_as_payload(bodies[id(frame)])})
            elif "base64" in frame or not secrets:
                frames.append(dict(frame))
            else:
                frames.append({"t": frame["t"], "from": "server",
                               **socket_message(scrub_text(str(frame_payload(frame)), secrets))})
        canonical = CanonicalRequest(first.setup, METHOD, first.path, first.body, first.content_type, tuple(secrets))
        headers = scrub_headers(self.upstream_headers, secrets)
        stored = {"status": 101, "headers": headers, "frames": frames, "close": self.close}
        occurrence = self.session.next_occurrence(canonical.key)
        self.session.keep(canonical, occurrence, self._stored_request(canonical), stored,
                          frames[-1]["t"] if frames else 0.0, _versions(None, "websockets"))

    # -- replay --------------------------------------------------------------------------------------
    def serve(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.upstream is not None:  # record mode: the real socket was opened at the upgrade
            self.relay(connection)
            return
        try:
            first = connection.recv()
        except ConnectionClosed:
            return
        canonical = canonical_message(self.session.setup, self.path, first)
        occurrence = self.session.next_occurrence(canonical.key)
        recording = self.session.lookup(canonical, occurrence)
        if recording is None and self.session.mode is InferenceMode.RECORD_IF_MISSING:
            refused = self.open_upstream(connection)
            if refused is not None:
                self.tell(connection, ws_error(f"the server refused the WebSocket upgrade: HTTP {refused.status_code}"
                                               f" {refused.body.decode('utf-8', 'replace')}", code="upgrade_refused",
                                               status=refused.status_code))
                return
            self.relay(connection, first)
            return
        if recording is None:
            self.missed(connection, self.session.miss(canonical))
            return
        self.replay(connection, recording)

    def missed(self, connection: Any, miss: ReplayMiss) -> None:
        self.route.errors.append(miss)
        self.tell(connection, ws_error(str(miss), code=REPLAY_MISS_CODE, status=404))

    @staticmethod
    def tell(connection: Any, frame: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            connection.send(json.dumps(frame))
        except ConnectionClosed:
            pass

    def replay(self, connection: Any, recording: Recording) -> None:
        """The recorded server frames after each recorded client message, once the client has sent it again."""
        from websockets.exceptions import ConnectionClosed

        frames = recording.response.get("frames") or []
        session, turn = self.session, 0
        position = 1  # the first client message has been matched by its key
        base = session.replay_clock
        while True:
            released = frames[position - 1]["t"] if position else 0.0
            received = time.perf_counter()
            while position < len(frames) and frames[position]["from"] == "server":
                frame = frames[position]
                if session.style is ReplayStyle.REALTIME:
                    delay = (frame["t"] - released) / session.speed - (time.perf_counter() - received)
                    if delay > 0:
                        time.sleep(delay)
                session.replay_clock = base + frame["t"]
                connection.send(frame_payload(frame))
                position += 1
            if position >= len(frames):
                break
            try:
                message = connection.recv()
            except ConnectionClosed:
                return
            turn += 1
            recorded = frames[position]
            sent = canonical_message(session.setup, self.path, message)
            if sent.key != canonical_message(session.setup, self.path, frame_payload(recorded)).key:  # as HTTP keys
                self.missed(connection, ReplayDiverged(path=recording.path, turn=turn, setup=session.setup,
                                                       mode=session.mode.value, diff=_diff(_body_of(recorded), sent.body)))
                return
            position += 1
        close = recording.response.get("close") or {}
        if close.get("by") == "server":
            code = close.get("code")
            connection.close(code if code and code not in _UNSENDABLE else 1011, close.get("reason") or "")
            return
        try:  # the client closed it when it was recorded: anything more it sends is not recorded
            message = connection.recv()
        except ConnectionClosed:
            return
        turn += 1
        self.missed(connection, ReplayDiverged(path=recording.path, turn=turn, setup=session.setup,
                                               mode=session.mode.value,
                                               diff=_diff(None, canonical_message("", self.path, message).body)))


def _as_payload(body: Any) -> dict[str, Any]:
    """A canonical client message as a stored frame: its JSON (redacted, keys sorted), or its text/base64."""
    if isinstance(body, dict) and set(body) == {"text"}:
        return {"text": body["text"]}
    if isinstance(body, dict) and set(body) == {"base64"}:
        return {"base64": body["base64"]}
    return {"json": _sorted(body)}


def _body_of(frame: dict[str, Any]) -> Any:
    return canonical_message("", "/", frame_payload(frame)).body


def _diff(recorded: Any, sent: Any) -> str:
    import difflib

    have = json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    want = json.dumps(sent, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(have, want, "recorded", "sent", lineterm="", n=1))
