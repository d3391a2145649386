"""The kit's one SSE decoder: byte-exact blocks, any chunking, WHATWG line ends, and its users agree.

Expected values come from the WHATWG SSE rules (line ends CRLF/LF/CR, data
lines joined by LF, one leading space dropped, comments ignored), not from
the decoder's own output.
"""

from __future__ import annotations

import json

import pytest

from kit.bridge.chunks import chunks_from_sse
from kit.events import parse_sse
from kit.events.sse import SSEDecoder, decode_sse, looks_like_sse
from kit.recording.sse_codec import decode_sse as codec_decode, encode_sse as codec_encode
from tests.events._streams import load, to_sse

TRICKY = (b'event: a\r\ndata: {"x":1}\r\n\r\n'  # CRLF
          b": a comment\n\n"  # a block with no data
          b"data: 2\rdata: 3\r\r"  # CR line ends, two data lines
          b'data: {"t":"a\xe2\x80\xa8b"}\n\n'  # U+2028 inside a JSON string is not a line end
          b"data:no-space\n\n"
          b"\xff\xfedata: 4")  # not UTF-8, and no blank line at the end


def _by_bytes(body: bytes, cuts: list[int]) -> list:
    decoder, out, last = SSEDecoder(), [], 0
    for cut in cuts + [len(body)]:
        out += decoder.feed(body[last:cut])
        last = cut
    return out + decoder.close()


def test_blocks_follow_the_whatwg_rules() -> None:
    blocks, wire = decode_sse(TRICKY)
    assert [b.data for b in blocks] == ['{"x":1}', None, "2\n3", '{"t":"a\u2028b"}', "no-space", None]
    assert [b.event for b in blocks] == ["a", None, None, None, None, None]
    assert [b.terminated for b in blocks] == [True] * 5 + [False]
    assert wire.invalid_utf8 == [len(TRICKY) - len(b"\xff\xfedata: 4")]
    assert b"".join(b.raw for b in blocks) == TRICKY


@pytest.mark.parametrize("cut", range(0, len(TRICKY) + 1))
def test_any_split_gives_the_same_blocks(cut: int) -> None:
    whole = decode_sse(TRICKY)[0]
    assert _by_bytes(TRICKY, [cut]) == whole


def test_byte_by_byte_gives_the_same_blocks() -> None:
    assert _by_bytes(TRICKY, list(range(1, len(TRICKY)))) == decode_sse(TRICKY)[0]


def test_an_unterminated_data_block_is_flagged_and_kept() -> None:
    blocks, wire = decode_sse(b'data: {"a":1}\n\ndata: {"b":2}')
    assert [b.data for b in blocks] == ['{"a":1}', '{"b":2}'] and wire.unterminated


@pytest.mark.parametrize("body", [TRICKY, to_sse(load("otel-python-contrib__gpt4o-mini-text")),
                                  to_sse(load("otel-python-contrib__gpt4o-mini-text"), eol="\r\n"),
                                  to_sse(load("otel-python-contrib__gpt4o-mini-text"))[:-7], b"", b"\n\n\n", b"\r"])
def test_the_recording_codec_gives_the_exact_bytes_back(body: bytes) -> None:
    assert codec_decode(json.loads(json.dumps(codec_encode(body)))) == body


def test_the_events_parser_the_bridge_reader_and_the_codec_see_the_same_payloads() -> None:
    chunks = [{"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "a\u2028b"}}]}]
    body = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\r\n\r\n" for c in chunks).encode() + b"data: [DONE]\r\n\r\n"
    assert list(chunks_from_sse(body)) == chunks
    assert [e.raw for e in parse_sse(body).events] == chunks
    assert [e["data"] for e in codec_encode(body)["events"]] == [*chunks, "[DONE]"]


def test_looks_like_sse_decides_on_the_first_non_blank_line() -> None:
    assert looks_like_sse("\n\ndata: x") and looks_like_sse(b": ping\n") and looks_like_sse("id: 1")
    assert not looks_like_sse('{"type": "x"}\ndata: y') and not looks_like_sse("")
