"""Files a scenario sends: as a data URL in the request (`file_data`), or uploaded through `/v1/files`."""

from __future__ import annotations

import base64
from typing import Any


# The PDF the Open Responses compliance suite's file-input test sends as `file_data` (one page; its one line
# of text reads "Title: OpenResponses File Input Fixture"): openresponses/openresponses
# src/lib/compliance-tests.ts at 18e565604fdf7a08ad3a06bbc30d1ddaee999ea4 (ISC, its package.json). Hand-written:
# it has no cross-reference table.
OPEN_RESPONSES_PDF = (
    "JVBERi0xLjEKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIgMCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9L"
    "aWRzIFszIDAgUl0gL0NvdW50IDEgPj4KZW5kb2JqCjMgMCBvYmoKPDwgL1R5cGUgL1BhZ2UgL1BhcmVudCAyIDAgUiAvTWVkaWFCb3ggWzAgMCAz"
    "MDAgMTQ0XSAvQ29udGVudHMgNCAwIFIgL1Jlc291cmNlcyA8PCAvRm9udCA8PCAvRjEgNSAwIFIgPj4gPj4gPj4KZW5kb2JqCjQgMCBvYmoKPDwg"
    "L0xlbmd0aCA3NCA+PgpzdHJlYW0KQlQKL0YxIDEyIFRmCjcyIDcyIFRkCihUaXRsZTogT3BlblJlc3BvbnNlcyBGaWxlIElucHV0IEZpeHR1cmUp"
    "IFRqCkVUCmVuZHN0cmVhbQplbmRvYmoKNSAwIG9iago8PCAvVHlwZSAvRm9udCAvU3VidHlwZSAvVHlwZTEgL0Jhc2VGb250IC9IZWx2ZXRpY2Eg"
    "Pj4KZW5kb2JqCnRyYWlsZXIKPDwgL1Jvb3QgMSAwIFIgPj4KJSVFT0Y="
)
# What a server's refusal of a file looks like, beyond a missing route: a 4xx naming the file or its type.
FILE_REFUSED = frozenset({400, 404, 405, 415, 422, 501})


def open_responses_file_input() -> dict[str, Any]:
    """The input of the Open Responses compliance suite's file-input test, as it sends it."""
    return {"input": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "Read the attached file and answer with its title only."},
        {"type": "input_file", "filename": "openresponses-fixture.pdf",
         "file_data": f"data:application/pdf;base64,{OPEN_RESPONSES_PDF}"}]}]}


def expect_open_responses_file_input(scenario: Any) -> Any:
    """The Open Responses compliance suite's file-input test, streamed: the stream judged by the rule catalog,
    then the suite's own validators, an output and status `completed` (`expect.input-accepted`, saying how the
    response ended otherwise). A server error instead of a stream misses `expect.file-read`, quoting the
    answer; a 4xx refusal of the file stops the notebook as unsupported. Returns the stream, or None."""
    from kit.notebook.checks import expect_status
    from kit.notebook.turns import expect_answered

    stream = scenario.expect_accepted(open_responses_file_input(), expectation="expect.file-read",
                                      title="input_file: the compliance suite's PDF", unsupported=FILE_REFUSED)
    if stream is None:
        return None
    scenario.check(stream)

    def validators() -> str:
        expect_status(stream, "completed")
        return expect_answered(stream)

    scenario.expect("expect.input-accepted", validators, stream)
    return stream


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
    stream = scenario.expect_accepted(request, expectation="expect.file-read", title=title, unsupported=FILE_REFUSED)
    if stream is None:
        return None
    scenario.check(stream)
    scenario.expect("expect.file-read", lambda: expect_text(stream, contains=contains), stream)
    return stream


def files_route_refused(exc: Any) -> bool:
    """A server's answer that says it has no files route configured, beyond 404/405/501: LiteLLM's proxy
    without `files_settings` answers `POST /v1/files` with HTTP 500 "files_settings is not set"."""
    return getattr(exc, "status_code", None) == 500 and "files_settings is not set" in str(exc)
