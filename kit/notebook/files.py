"""Files a scenario sends: as a data URL in the request (`file_data`), or uploaded through `/v1/files`."""

from __future__ import annotations

import base64
from typing import Any


def file_data_url(content: str | bytes, media_type: str = "text/plain") -> str:
    """A file's content as the base64 data URL `input_file.file_data` takes, made here so nothing is fetched."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def upload_file(client: Any, filename: str, content: str | bytes, *, purpose: str = "user_data") -> str:
    """Upload through the server's `/v1/files` (recorded like any request); the file's id.

    A server without the route answers 404 (llama.cpp under the in-process bridge): the caller's
    `refused_as_unsupported` turns that recorded answer into "unsupported".
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    return str(client.files.create(file=(filename, data), purpose=purpose).id)


def expect_file_read(scenario: Any, request: dict[str, Any], *, contains: str, title: str) -> Any:
    """Send a request carrying a file and record `expect.file-read`: the answer names `contains`.

    The stream is checked like any other. A server error (5xx) instead of a stream is the expectation
    missed, quoting the server's answer (a peer that forwards the file to a model that cannot take it);
    a refusal (4xx, 501) stops the notebook as unsupported, quoting it. Returns the stream, or None.
    """
    from kit.notebook.checks import expect_text
    stream = scenario.expect_accepted(request, expectation="expect.file-read", title=title,
                                      unsupported=frozenset({400, 404, 405, 415, 422, 501}))
    if stream is None:
        return None
    scenario.check(stream)
    scenario.expect("expect.file-read", lambda: expect_text(stream, contains=contains), stream)
    return stream


def files_route_refused(exc: Any) -> bool:
    """A server's answer that says it has no files route configured, beyond 404/405/501: LiteLLM's proxy
    without `files_settings` answers `POST /v1/files` with HTTP 500 "files_settings is not set"."""
    return getattr(exc, "status_code", None) == 500 and "files_settings is not set" in str(exc)
