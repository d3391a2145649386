"""The served bridge's door: who may ask, what a request may look like, and what may leave.

An ASGI middleware in front of every route:
- a browser's cross-site request (an `Origin`, a cross-site `Sec-Fetch-Site`)
  and, on a loopback bind, a foreign `Host` (DNS rebinding) are refused (403);
- with an API key, every route but `/health` needs `Authorization: Bearer <key>` (401);
- a POST is `application/json`, or `multipart/form-data` for uploads (415);
- a body over the cap is refused (413), by its length or as it arrives;
  a client that stalls while sending its body is dropped (408);
- every byte and header sent back has the bridge's secrets replaced (the
  upstream key, the upstream URL's credentials, the caller's own token).
Errors are OpenAI error objects, never plain text. Slow headers are the
server protocol's (`GuardedH11Protocol`): the connection is closed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from kit.servers.bridge_app.wire import REDACTED, BridgeConfig, error_body, is_loopback, scrub

log = logging.getLogger("kit.servers.bridge")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
UPLOAD_PATH = "/v1/files"


class RequestRefused(Exception):
    """A request refused while it is read (too large, too slow): its status and OpenAI error object."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param

    def body(self) -> dict[str, Any]:
        return error_body(str(self), code=self.code, param=self.param)


def error_response(status: int, body: dict[str, Any]) -> tuple[Message, Message]:
    data = json.dumps(body).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]}
    return start, {"type": "http.response.body", "body": data, "more_body": False}


class Guard:
    """The middleware; `config` says the key, the caps and the timeouts."""

    def __init__(self, app: Callable[..., Awaitable[None]], config: BridgeConfig) -> None:
        self.app = app
        self.config = config
        self.secrets = tuple(s.encode() for s in config.secrets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}
        secrets = self.secrets + _caller_token(headers)
        send = _scrubbing(send, secrets) if secrets else send
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            for message in error_response(refusal.status, refusal.body()):
                await send(message)
            return
        cap = self.config.max_upload_bytes if scope["path"] == UPLOAD_PATH else self.config.max_body_bytes
        await self.app(scope, _guarded_receive(receive, cap, self.config.body_timeout), send)

    async def socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade meets the same door: refused (the HTTP answer itself, where the server can send
        one) before it is accepted; once accepted, every text frame sent has the secrets replaced."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}
        secrets = self.secrets + _caller_token(headers)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            if (await receive())["type"] != "websocket.connect":
                return
            if "websocket.http.response" in (scope.get("extensions") or {}):
                start, body = error_response(refusal.status, refusal.body())
                await send({**start, "type": "websocket.http.response.start"})
                await send({**body, "type": "websocket.http.response.body"})
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": str(refusal)[:120]})
            return
        if secrets:
            inner, text_secrets = send, tuple(s.decode("latin-1") for s in secrets)

            async def send(message: Message) -> None:  # noqa: F811 - the same send, scrubbed
                if message["type"] == "websocket.send" and message.get("text"):
                    text = message["text"]
                    for secret in text_secrets:
                        text = text.replace(secret, REDACTED)
                    message = {**message, "text": text}
                await inner(message)

        await self.app(scope, receive, send)

    def refusal(self, scope: Scope, headers: dict[str, str]) -> RequestRefused | None:
        """Why the request is refused before its body is read, or None."""
        if headers.get("origin") or headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return RequestRefused(403, "cross-origin requests are refused: the bridge holds an upstream key and "
                                       "serves programs, not web pages", "cross_origin_refused")
        host = headers.get("host", "").rpartition(":")[0] or headers.get("host", "")
        if self.config.bind_host and is_loopback(self.config.bind_host) and not is_loopback(host):
            return RequestRefused(403, f"the Host {headers.get('host')!r} is not this loopback server's",
                                  "host_refused")
        if self.config.api_key and scope["path"] != "/health":
            given = headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                     self.config.api_key.encode()):
                return RequestRefused(401, "Incorrect or missing API key: send the bridge's key (--api-key / "
                                           "$KIT_BRIDGE_API_KEY) as `Authorization: Bearer <key>`", "invalid_api_key")
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            wanted = "multipart/form-data" if scope["path"] == UPLOAD_PATH else "application/json"
            if headers.get("content-type", "").partition(";")[0].strip().lower() != wanted:
                return RequestRefused(415, f"{scope['method']} {scope['path']} takes content-type {wanted}, not "
                                           f"{headers.get('content-type') or 'none'!r}", "unsupported_media_type")
        cap = self.config.max_upload_bytes if scope["path"] == UPLOAD_PATH else self.config.max_body_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            return RequestRefused(413, f"the request body is {int(length)} bytes; the bridge takes at most {cap}",
                                  "request_too_large")
        return None


def _caller_token(headers: dict[str, str]) -> tuple[bytes, ...]:
    """The caller's bearer token (the bridge may pass it on upstream): never echoed back either."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return (token.encode("latin-1"),) if scheme.lower() == "bearer" and len(token) >= 8 else ()


def _guarded_receive(receive: Receive, cap: int, timeout: float) -> Receive:
    """`receive` with the body capped and each part of it awaited at most `timeout` seconds."""
    state = {"bytes": 0, "done": False}

    async def guarded() -> Message:
        if state["done"]:
            return await receive()  # past the body: only the disconnect is left to wait for, however long
        try:
            message = await asyncio.wait_for(receive(), timeout)
        except asyncio.TimeoutError:
            raise RequestRefused(408, f"the client sent no part of its request body for {timeout:.0f} s",
                                 "request_timeout") from None
        if message["type"] == "http.request":
            state["bytes"] += len(message.get("body", b""))
            if state["bytes"] > cap:
                raise RequestRefused(413, f"the request body is over {cap} bytes, the bridge's cap",
                                     "request_too_large")
            state["done"] = not message.get("more_body", False)
        else:
            state["done"] = True
        return message

    return guarded


def _scrubbing(send: Send, secrets: tuple[bytes, ...]) -> Send:
    """`send` with every secret taken out of headers and body (a secret split across two writes included)."""
    keep = max(len(s) for s in secrets) - 1
    state: dict[str, Any] = {"start": None, "held": b""}

    async def scrubbed(message: Message) -> None:
        if message["type"] == "http.response.start":
            state["start"] = {**message, "headers": [(k, scrub(v, secrets)) for k, v in message.get("headers") or ()]}
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        data = scrub(state["held"] + message.get("body", b""), secrets)
        more = message.get("more_body", False)
        state["held"] = b""
        if more and keep:  # hold back what could begin a secret: at most its length, never past a line's end
            cut = max(data.rfind(b"\n") + 1, len(data) - keep)
            data, state["held"] = data[:cut], data[cut:]
        start, state["start"] = state["start"], None
        if start is not None:
            if not more:  # the whole body at once: its length may have changed
                start["headers"] = [(k, str(len(data)).encode() if k.lower() == b"content-length" else v)
                                    for k, v in start["headers"]]
            await send(start)
        await send({**message, "body": data})

    return scrubbed


def guarded_protocol(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol that closes a connection whose request headers take over `header_timeout` s."""

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _header_cycle: Any = None

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_cycle = self.cycle
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is self._header_cycle and not self.transport.is_closing():
                log.info("closed a connection that sent no complete request headers in %.0f s", header_timeout)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._header_timer is not None and self.cycle is not self._header_cycle:
                self._header_timer.cancel()
                self._header_timer = None

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # before: a pipelined request the parent starts now is a new cycle
            super().on_response_complete()

        def handle_websocket_upgrade(self, event: Any) -> None:
            if self._header_timer is not None:  # the headers came: the socket now lives as long as it is used
                self._header_timer.cancel()
                self._header_timer = None
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

    return GuardedH11Protocol
