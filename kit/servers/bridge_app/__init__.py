"""The kit's bridge as an ASGI app: `POST /v1/responses` over any Chat Completions server.

Any Responses client (the openai SDK, openai-agents, the Vercel AI SDK,
Codex) can then use the bridge, not only Python in-process, and every bridge
the kit compares is reached the same way: over HTTP by the same client.

The HTTP edge is Starlette on uvicorn; the translation is the in-process
bridge's own (`kit.bridge.stream_response`), so both serve the same events.
Its parts: `wire` (config, framing, error objects: pure), `state` (what the
routes share), `pump` (the sync bridge in a thread), `app` (put together),
and one module per concern of routes:

- `responses`: `POST /v1/responses`, streaming (SSE, `event:` + `data:` per event, as
  OpenAI sends them) and not. A request the bridge cannot express is HTTP 400
  before any upstream call; an upstream failure during a stream is the
  bridge's `error` + `response.failed`; without streaming, a failed response
  is the HTTP error it maps to.
- `websocket`: the same `/v1/responses` in WebSocket mode (`client.responses.connect()`): one
  `response.create` per turn, one JSON text frame per event, `previous_response_id` held per connection,
  `stream_id` lanes, error frames in OpenAI's WebSocket shape; the same door and upstream path.
- `files`: files and vector stores (`/v1/files`, `/v1/vector_stores[...]`) over
  `kit.bridge.VectorStores`, so hosted `file_search` works for a client that
  creates its stores through the API, as it would on OpenAI.
- `passthrough`: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models` passed through to
  the upstream unchanged (clients probe /v1/models; chat notebooks stream).
  and `GET /health`: the bridge itself is up (the managed server waits on it).

`python -m kit.servers.bridge_app --upstream URL` serves it in this process;
`kit.servers.bridge.BridgeServer` runs that as a managed server. The upstream
key is read from $KIT_BRIDGE_UPSTREAM_KEY only (never a flag); without one,
the client's own bearer token is passed on.
"""

from kit.servers.bridge_app.app import create_app, main, serve_forever
from kit.servers.bridge_app.pump import EventPump
from kit.servers.bridge_app.wire import (
    UPSTREAM_KEY_ENV,
    BridgeConfig,
    derived_id,
    error_body,
    http_status_of,
    sse_event,
    stream_failure_event,
    v1_url,
)

__all__ = ["UPSTREAM_KEY_ENV", "BridgeConfig", "EventPump", "create_app", "derived_id", "error_body",
           "http_status_of", "main", "serve_forever", "sse_event", "stream_failure_event", "v1_url"]
