"""The one SSE decoder: bytes in, blocks out, byte for byte, with what the wire said.

Every reader of server-sent events in the kit goes through `SSEDecoder`: the
events parser (`kit check`, notebooks, renderers), the bridge's reader of
upstream Chat Completions bodies, and the recording codec, which stores each
block readably and must give the exact bytes back. So the decoder keeps each
block's raw bytes, and decodes the rest by the WHATWG rules: lines end with
CRLF, LF or CR (never U+2028, which `str.splitlines` would split on inside a
JSON string); `data:` lines of one block are joined with "\\n"; one space after
the colon is dropped; `:` lines are comments; a blank line dispatches. Bytes
may be split anywhere, even inside a UTF-8 character or a CRLF.

Bytes that are not UTF-8 are replaced (U+FFFD) in the decoded text and
counted in `SSEWire.invalid_utf8`, so the validator can say so (`sse.utf8`)
whether the body came from a file, stdin or a socket. A body that ends inside
a block (no blank line after it) gives that block with `terminated=False`:
the openai SDK's decoder drops such a block, so the validator reports it
(`sse.unterminated`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DONE_SENTINEL = "[DONE]"
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEBlock:
    """One block of the body: up to and including its blank line (or the body's end)."""

    raw: bytes  # exactly the bytes of the block
    data: str | None  # the joined `data:` lines, None when the block had none (comments, blank lines)
    event: str | None  # the `event:` field, if any
    start: int  # byte offset of the block in the body
    terminated: bool = True  # False: the body ended before the blank line that dispatches it
    fields: tuple[str, ...] = ()  # the field names seen, in order (data, event, id, retry, ...)
    line: int = 1  # 1-based line number of the block's first line in the body

    @property
    def is_done(self) -> bool:
        return self.data is not None and self.data.strip() == DONE_SENTINEL


@dataclass
class SSEWire:
    """What the decoder learned about the body besides its blocks."""

    invalid_utf8: list[int] = field(default_factory=list)  # byte offsets of lines holding bytes that are not UTF-8
    unterminated: bool = False  # the body ended inside a block that carried data
    size: int = 0  # bytes fed


class SSEDecoder:
    """Incremental: `feed(chunk)` returns the blocks that chunk completed; `close()` returns the rest.

    Linear in the body's size, however it is chunked: a huge line that arrives in
    many pieces is scanned once.
    """

    def __init__(self) -> None:
        self.wire = SSEWire()
        self._buffer = bytearray()
        self._scanned = 0  # the buffer before this holds no line end
        self._block_start = 0  # body offset of the current block
        self._block_raw: list[bytes] = []
        self._data: list[str] = []
        self._event: str | None = None
        self._fields: list[str] = []
        self._offset = 0  # body offset of the buffer's first byte
        self._line_number = 0  # lines seen
        self._block_line = 1
        self._started = False
        self._closed = False

    def feed(self, chunk: bytes | bytearray | memoryview | str) -> list[SSEBlock]:
        if self._closed:
            raise ValueError("this SSE decoder was closed; make a new one for another body")
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogateescape")
        self.wire.size += len(chunk)
        self._buffer += chunk
        return self._lines(final=False)

    def close(self) -> list[SSEBlock]:
        """End of body: the last line and an unterminated last block, if any."""
        if self._closed:
            return []
        blocks = self._lines(final=True)
        self._closed = True
        if self._buffer:  # a last line with no line end
            tail = bytes(self._buffer)
            self._buffer.clear()
            self._line(tail, tail, self._offset)
            self._offset += len(tail)
        if self._block_raw:
            block = self._dispatch(terminated=False)
            if block.data is not None:
                self.wire.unterminated = True
            blocks.append(block)
        return blocks

    def _lines(self, *, final: bool) -> list[SSEBlock]:
        buffer = self._buffer
        blocks: list[SSEBlock] = []
        consumed = 0
        position = self._scanned
        while True:
            match = _LINE_END.search(buffer, position)
            if match is None:
                break
            if match.group() == b"\r" and match.end() == len(buffer) and not final:
                break  # a CR at the end of a chunk: the LF of a CRLF may follow in the next one
            raw = bytes(buffer[consumed:match.end()])
            block = self._line(bytes(buffer[consumed:match.start()]), raw, self._offset + consumed)
            if block is not None:
                blocks.append(block)
            consumed = position = match.end()
        if consumed:
            del buffer[:consumed]
            self._offset += consumed
        self._scanned = max(len(buffer) - 1, 0)  # a trailing CR is looked at again
        return blocks

    def _line(self, content: bytes, raw: bytes, line_offset: int) -> SSEBlock | None:
        self._line_number += 1
        if not self._block_raw:
            self._block_start = line_offset
            self._block_line = self._line_number
        self._block_raw.append(raw)
        if not self._started:
            self._started = True
            if content.startswith(b"\xef\xbb\xbf"):
                content = content[3:]
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = content.decode("utf-8", "replace")
            self.wire.invalid_utf8.append(line_offset)
        if not text:
            return self._dispatch(terminated=True)
        if text[0] == ":":
            return None
        name, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._fields.append(name)
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None  # `id`, `retry` and unknown fields do not matter to a Responses client

    def _dispatch(self, *, terminated: bool) -> SSEBlock:
        raw = b"".join(self._block_raw)
        block = SSEBlock(raw=raw, data="\n".join(self._data) if self._data else None, event=self._event,
                         start=self._block_start, terminated=terminated, fields=tuple(self._fields),
                         line=self._block_line)
        self._block_raw = []
        self._data = []
        self._event = None
        self._fields = []
        return block


def decode_sse(body: bytes | str) -> tuple[list[SSEBlock], SSEWire]:
    """A whole body's blocks (the last one possibly unterminated) and its wire facts."""
    decoder = SSEDecoder()
    blocks = decoder.feed(body)
    blocks += decoder.close()
    return blocks, decoder.wire


def looks_like_sse(text: str | bytes) -> bool:
    """True when the first non-blank line starts with an SSE field or a comment; else it is jsonl."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text[:4096]).decode("utf-8", "replace")
    for line in re.split(r"\r\n|\r|\n", text):
        stripped = line.lstrip("\ufeff")
        if stripped.strip():
            return stripped.startswith(("data:", "event:", ":", "id:", "retry:")) or stripped == "data"
    return False
