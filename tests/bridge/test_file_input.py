"""`input_file` through the bridge: text files read as text, other types and unresolved ids refused by name."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from kit.bridge import UnsupportedParameter, to_chat_request
from kit.bridge.file_input import MAX_PDF_PAGES, FileInputError, file_text, resolve_file_ids
from kit.notebook.files import OPEN_RESPONSES_PDF

NOTES = "The harbour master's cat is called Biscuit.\n"


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def user_with_file(part: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "What is the cat called?"}, {"type": "input_file", **part}]}]}


def test_a_text_file_by_file_data_is_sent_as_text_in_one_string() -> None:
    chat = to_chat_request(user_with_file({"filename": "notes.txt",
                                           "file_data": data_url(NOTES.encode(), "text/plain")}))
    # one string (llama.cpp streams nothing back for list content), the file framed by its name
    assert chat["messages"] == [{"role": "user", "content":
                                 "What is the cat called?\n\n[file notes.txt]\n" + NOTES + "\n[end of file notes.txt]"}]


@pytest.mark.parametrize("media_type", ["text/markdown", "application/json", "text/csv; charset=utf-8",
                                        "application/octet-stream", ""])
def test_text_like_types_and_untyped_utf8_are_read(media_type: str) -> None:
    text = file_text({"filename": "f", "file_data": data_url("é ok".encode(), media_type)}, "input[0].content[1]")
    assert "é ok" in text and text.startswith("[file f]\n")


@pytest.mark.parametrize("part, param, says", [
    ({"filename": "paper.pdf", "file_data": data_url(b"%PDF-1.4\n%\xe2\xe3", "application/pdf")},
     "input[0].content[1].file_data", "paper.pdf: not a PDF the bridge can read"),
    ({"filename": "photo.png", "file_data": data_url(b"\x89PNG\r\n", "image/png")},
     "input[0].content[1].file_data", "image/png"),
    ({"filename": "blob.bin", "file_data": data_url(b"\xff\xfe\x00", "application/octet-stream")},
     "input[0].content[1].file_data", "not UTF-8"),
    ({"filename": "x.txt", "file_data": "data:text/plain,plain"}, "input[0].content[1].file_data", "base64"),
    ({"filename": "x.txt", "file_data": "aGVsbG8="}, "input[0].content[1].file_data", "data URL"),
    ({"filename": "x.txt", "file_data": "data:text/plain;base64,@@@"}, "input[0].content[1].file_data",
     "not valid base64"),
    ({"file_id": "file-abc"}, "input[0].content[1].file_id", "file_data"),
    ({"file_url": "https://example.com/a.txt"}, "input[0].content[1].file_url", "fetches no URLs"),
    ({}, "input[0].content[1]", "needs file_data"),
])
def test_what_the_bridge_cannot_read_is_refused_naming_the_field(part: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        to_chat_request(user_with_file(part))
    assert info.value.param == param
    assert says in info.value.reason


COMPLIANCE_PDF = OPEN_RESPONSES_PDF  # the compliance suite's file-input PDF (kit/notebook/files.py: source, license)
COMPLIANCE_TITLE = "Title: OpenResponses File Input Fixture"  # the PDF's one text-drawing operator, read by eye


@pytest.mark.parametrize("media_type", ["application/pdf", "application/octet-stream", ""])
def test_the_compliance_suites_pdf_is_read_as_its_text(media_type: str) -> None:
    chat = to_chat_request(user_with_file({"filename": "openresponses-fixture.pdf",
                                           "file_data": f"data:{media_type};base64,{COMPLIANCE_PDF}"}))
    assert chat["messages"] == [{"role": "user", "content": (
        "What is the cat called?\n\n[file openresponses-fixture.pdf]\n" + COMPLIANCE_TITLE
        + "\n[end of file openresponses-fixture.pdf]")}]


def _pdf(pages: int) -> bytes:
    """A PDF of blank pages (no text layer), made with pypdf's writer."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("pages, says", [(1, "no text layer"), (MAX_PDF_PAGES + 1, f"{MAX_PDF_PAGES + 1} pages")])
def test_a_pdf_without_text_or_too_long_is_refused_saying_so(pages: int, says: str) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        to_chat_request(user_with_file({"filename": "scan.pdf", "file_data": data_url(_pdf(pages), "application/pdf")}))
    assert info.value.param == "input[0].content[1].file_data"
    assert says in info.value.reason and "scan.pdf" in info.value.reason


def test_file_ids_are_resolved_from_the_servers_uploads() -> None:
    uploads = {"file-1": ("notes.txt", NOTES)}
    request = user_with_file({"file_id": "file-1"})
    resolved = resolve_file_ids(request, uploads.get)
    assert request["input"][0]["content"][1] == {"type": "input_file", "file_id": "file-1"}  # not changed in place
    chat = to_chat_request(resolved)
    assert chat["messages"][0]["content"].endswith("[file notes.txt]\n" + NOTES + "\n[end of file notes.txt]")
    with pytest.raises(FileInputError, match="file-2.*POST /v1/files") as info:
        resolve_file_ids(user_with_file({"file_id": "file-2"}), uploads.get)
    assert info.value.param == "input[0].content[1].file_id"


def test_string_input_and_messages_without_files_are_left_alone() -> None:
    assert resolve_file_ids({"model": "m", "input": "hi"}, {}.get) == {"model": "m", "input": "hi"}
    chat = to_chat_request({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]}]})
    assert chat["messages"] == [{"role": "user", "content": "a"}]  # text alone goes as a string (test_request.py)


def test_reading_the_compliance_pdf_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """The repair of its missing cross-reference table is the bridge's own doing: pypdf's notes about it
    ("incorrect startxref pointer") would reach a notebook's stderr as noise."""
    with caplog.at_level(logging.DEBUG, logger="pypdf"):
        assert COMPLIANCE_TITLE in file_text({"filename": "f.pdf", "file_data": f"data:application/pdf;base64,"
                                                                                 f"{COMPLIANCE_PDF}"}, "w")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
