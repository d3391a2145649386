"""A route or parameter the server refuses is "unsupported", said from the server's own recorded answer.

A peer that lacks a stateful route (`GET /v1/responses/{id}`, `/v1/conversations`, ...) answers 404,
405 or 501, or 400 naming the parameter it does not take. In record mode that answer is recorded like
any other; in replay the same answer comes back. `refused_as_unsupported` turns it into the notebook's
typed early stop (`CapabilityMissing`: unsupported), quoting the status, the route and the server's
message, so the report says what the server said, not what the kit guessed. The in-process bridge's own
refusal (`UnsupportedParameter`, before any request: the `local` setup keeps no state) counts too and is
quoted as the bridge's. Any other error propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai

from kit.bridge.request import UnsupportedParameter
from kit.notebook.checks import CapabilityMissing

ROUTE_MISSING = frozenset({404, 405, 501})


def refusal_text(exc: openai.APIStatusError) -> str:
    """`404 GET /v1/responses/resp_1: Not Found`: the status, the request and the server's own message."""
    request = exc.response.request
    body = exc.body
    message = (body.get("message") or body.get("detail")) if isinstance(body, dict) else None  # detail: FastAPI's
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message") or message
    path = "/".join(_short(part) for part in request.url.path.split("/"))
    return f"{exc.status_code} {request.method} {path}: {message or exc.message}"


def _short(part: str, keep: int = 40) -> str:
    """A path segment as quoted: an id of hundreds of characters (LiteLLM encodes its routing in its response
    ids) cut in the middle, with its length."""
    return part if len(part) <= keep else f"{part[:24]}…{part[-8:]} ({len(part)} characters)"


@contextmanager
def refused_as_unsupported(
    feature: str,
    *,
    statuses: frozenset[int] = ROUTE_MISSING,
    refused: Callable[[openai.APIStatusError], bool] | None = None,
    setup: str = "the server",
) -> Iterator[None]:
    """Inside the block, an answer with one of `statuses` (or one `refused` accepts) stops the notebook as
    unsupported for `feature`, naming the recorded answer."""
    try:
        yield
    except openai.APIStatusError as exc:
        if exc.status_code in statuses or (refused is not None and refused(exc)):
            raise CapabilityMissing(f"{setup} does not support {feature}: it answered {refusal_text(exc)}") from exc
        raise
    except UnsupportedParameter as exc:
        raise CapabilityMissing(f"{setup} does not support {feature}: the kit's in-process bridge refused it: {exc}") from exc

