"""A small proxy in front of llama-cpp-python's server that lets ogx talk to it.

ogx sends what OpenAI accepts and llama-cpp-python does not:
- message `content` as a list of text parts (its file_search tool results,
  for one): llama-cpp-python answers 422 (or, streamed, HTTP 200 with an empty
  body). The proxy joins the text parts into one string.
- `max_completion_tokens`, which llama-cpp-python ignores (only `max_tokens`
  limits output). ogx's vLLM provider sends both: its config's `max_tokens`
  and the request's budget as `max_completion_tokens`. The proxy applies vLLM's
  own rule, `max_completion_tokens` wins, so `max_output_tokens` takes effect.
Everything else passes through unchanged, streams chunk by chunk. It runs in
the kit's own environment: `python -m kit.servers.ogx_proxy --upstream URL --port N`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def flatten_content(content: Any) -> Any:
    """A list of text parts becomes one string; anything with a non-text part stays as it is."""
    if not isinstance(content, list) or not content:
        return content
    if not all(isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text") for part in content):
        return content
    return "\n".join(str(part.get("text") or "") for part in content)


def normalize_chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """The Chat Completions request llama-cpp-python understands, with the same meaning."""
    body = dict(body)
    if isinstance(body.get("messages"), list):
        body["messages"] = [
            {**message, "content": flatten_content(message.get("content"))} if isinstance(message, dict) else message
            for message in body["messages"]
        ]
    budget = body.pop("max_completion_tokens", None)
    if budget is not None:  # vLLM: `max_completion_tokens or max_tokens`
        body["max_tokens"] = budget
    return body


def create_app(upstream: str) -> Any:
    """The ASGI app: every request goes to `upstream` (a base URL ending in /v1), chat requests normalised."""
    from starlette.requests import Request

    from kit.servers.relay import passed_headers, proxy_app, relay_raw, send_on, upstream_client

    root = upstream.rstrip("/").removesuffix("/v1")
    client = upstream_client()

    async def forward(request: Request) -> Any:
        body = await request.body()
        if request.method == "POST" and request.url.path.endswith("/chat/completions") and body:
            try:
                body = json.dumps(normalize_chat_request(json.loads(body))).encode()
            except ValueError:
                pass  # not JSON: let llama.cpp say so
        answer = await send_on(client, request, root, body)
        return relay_raw(answer, passed_headers(answer))

    return proxy_app(client, forward)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="llama-cpp-python's base URL (…/v1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.upstream), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
