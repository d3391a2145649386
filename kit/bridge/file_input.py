"""`input_file` parts as text a Chat Completions model can read (pure).

Chat servers such as llama.cpp take no files: a `file` content part makes
llama-cpp-python answer a streamed request with an empty body. So the bridge
reads the file itself and sends its text, framed with its name, where the
file was. Text files (any `text/*` type, JSON, XML, YAML, CSV, Markdown, or
bytes that decode as UTF-8 when the type says nothing) are decoded; PDFs (the
usual `input_file`, and the Open Responses compliance suite's file-input test)
have their text layer extracted with pypdf, page by page, up to OpenAI's 100
pages; any other type (images, Office files), a PDF with no text layer (the
bridge does no OCR) or one pypdf cannot read is refused naming the type or the
reason, since the bridge would otherwise send the model bytes it cannot read. `file_id` parts need the
server's uploaded files: the served bridge resolves them first
(`resolve_file_ids`); the in-process bridge has no files and refuses them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# An uploaded file: its name and text, or None when there is no such file.
FileLookup = Callable[[str], "tuple[str, str] | None"]

TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml",
                        "application/csv", "application/markdown", "application/x-ndjson", "application/jsonl"})
_UNTYPED = frozenset({"", "application/octet-stream"})
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
MAX_PDF_PAGES = 100  # OpenAI's limit for a PDF given as input_file


class FileInputError(ValueError):
    """An `input_file` the bridge cannot turn into text; `param` names the field at fault."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


def file_text(part: Mapping[str, Any], where: str) -> str:
    """The text the model reads for one `input_file` part: `[file NAME]` then its content.

    Raises `FileInputError` for a `file_url` (the bridge fetches nothing), a
    `file_id` left unresolved, a malformed data URL, or a type that is not text.
    """
    if part.get("file_url"):
        raise FileInputError(f"{where}.file_url", "the bridge fetches no URLs; send the file as file_data "
                             "(a base64 data URL) or upload it and send its file_id")
    data = part.get("file_data")
    if not data:
        if part.get("file_id"):
            raise FileInputError(f"{where}.file_id", "this bridge keeps no uploaded files (the in-process bridge "
                                 "has no /v1/files); send the file's content as file_data, a base64 data URL")
        raise FileInputError(where, "an input_file needs file_data (a base64 data URL) or a file_id")
    filename = str(part.get("filename") or "file")
    media_type, payload = _data_url(str(data), f"{where}.file_data")
    text = file_as_text(payload, media_type, filename, f"{where}.file_data")
    return f"[file {filename}]\n{text}\n[end of file {filename}]"


def resolve_file_ids(request: Mapping[str, Any], lookup: FileLookup) -> dict[str, Any]:
    """The request with every `input_file` that names a `file_id` carrying that file's text as `file_data`.

    An unknown id raises `FileInputError` naming the part, as OpenAI answers 400 for it.
    """
    input_ = request.get("input")
    if not isinstance(input_, list):
        return dict(request)
    items: list[Any] = []
    for n, item in enumerate(input_):
        content = item.get("content") if isinstance(item, Mapping) else None
        if not isinstance(content, list):
            items.append(item)
            continue
        parts = []
        for k, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") == "input_file" and part.get("file_id") \
                    and not part.get("file_data"):
                found = lookup(str(part["file_id"]))
                if found is None:
                    raise FileInputError(f"input[{n}].content[{k}].file_id",
                                         f"no uploaded file {part['file_id']!r}: upload it first with POST /v1/files")
                filename, text = found
                encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
                part = {"type": "input_file", "filename": part.get("filename") or filename,
                        "file_data": f"data:text/plain;base64,{encoded}"}
            parts.append(part)
        items.append({**item, "content": parts})
    return {**request, "input": items}


def _data_url(data: str, where: str) -> tuple[str, bytes]:
    """The media type and bytes of a `data:<type>;base64,<payload>` URL."""
    if not data.startswith("data:") or "," not in data:
        raise FileInputError(where, "expected a data URL, `data:<media type>;base64,<content>`")
    header, payload = data[5:].split(",", 1)
    fields = header.split(";")
    if "base64" not in fields[1:]:
        raise FileInputError(where, "the data URL must be base64 (`data:<media type>;base64,...`)")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FileInputError(where, f"the data URL's content is not valid base64 ({exc})") from exc
    return fields[0].strip().lower(), raw


def file_as_text(payload: bytes, media_type: str, filename: str, where: str) -> str:
    """The text a model reads for a file's bytes (also what an upload to the served bridge keeps), or
    `FileInputError` saying why there is none."""
    media_type = media_type.split(";")[0].strip().lower()
    if media_type in PDF_TYPES or (media_type in _UNTYPED and payload.startswith(b"%PDF-")):
        return pdf_text(payload, filename, where)
    if media_type and media_type not in _UNTYPED and not (media_type.startswith("text/") or media_type in TEXT_TYPES):
        raise FileInputError(where, f"{filename}: files of type {media_type} cannot be read by a Chat Completions "
                             "model through the bridge; it reads text files (text/*, JSON, XML, YAML, CSV) and "
                             "the text of PDFs")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileInputError(where, f"{filename}: the bridge reads text files and PDFs, and this one is not UTF-8 "
                             f"({media_type or 'no media type'}: {exc.reason} at byte {exc.start})") from exc


def pdf_text(payload: bytes, filename: str, where: str) -> str:
    """A PDF's text layer, its pages separated by a blank line (pypdf's extraction: reading order as the PDF
    draws it, no OCR)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        try:
            reader = PdfReader(io.BytesIO(payload))
        except PyPdfError as exc:
            if "startxref" not in str(exc):
                raise
            # No cross-reference table (a hand-written PDF, such as the Open Responses compliance suite's): a
            # zero `startxref` makes pypdf rebuild the table by scanning the objects, as viewers do.
            end = payload.rfind(b"%%EOF")
            with _quiet("pypdf"):  # its repair notes ("incorrect startxref pointer") are this repair, asked for
                reader = PdfReader(io.BytesIO((payload[:end] if end >= 0 else payload) + b"\nstartxref\n0\n%%EOF\n"))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise FileInputError(where, f"{filename}: a PDF of {len(reader.pages)} pages; the bridge reads up to "
                                 f"{MAX_PDF_PAGES}, as OpenAI does")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except FileInputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise FileInputError(where, f"{filename}: not a PDF the bridge can read ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise FileInputError(where, f"{filename}: a PDF of {len(pages)} page(s) with no text layer (scanned pages?); "
                             "the bridge extracts text and does no OCR")
    return text


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """The logger's warnings held back for the block (they would reach a notebook's stderr as noise). Another
    thread's warnings from the same logger meanwhile are held back too."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
