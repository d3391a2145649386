"""Parsing: SSE per the spec, jsonl, dicts, SDK objects, recordings; typed events that never lose data."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from kit.sources import load as kit_load
from kit.events import (
    EVENT_CLASSES,
    Event,
    NotJSONEvent,
    SSEParser,
    Stream,
    UnknownEvent,
    make_event,
    parse,
    parse_jsonl,
    parse_sse,
)
from kit.events import model
from tests.events._streams import fixture_names, load, path_of, to_sse


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_parses_to_typed_events_with_raw_json_intact(name: str) -> None:
    stream = kit_load(path_of(name))
    raws = load(name)
    assert [event.raw for event in stream.events] == raws
    assert stream.offsets == [None] * len(raws)
    assert stream.wire is None
    for event in stream.events:
        assert not isinstance(event, NotJSONEvent)
        assert type(event) is EVENT_CLASSES.get(event.raw["type"], UnknownEvent)


def test_the_catalog_knows_every_event_type_of_the_sdk_union() -> None:
    from openai.types.responses import ResponseStreamEvent

    union = typing.get_args(ResponseStreamEvent)
    members = typing.get_args(union[0]) if typing.get_origin(union[0]) is typing.Union else union
    sdk_types = {typing.get_args(member.model_fields["type"].annotation)[0] for member in members}
    assert len(sdk_types) > 50
    assert sdk_types - set(EVENT_CLASSES) == set()


def test_the_catalog_knows_every_event_type_seen_in_real_openai_streams() -> None:
    seen = {event["type"] for name in fixture_names() if isinstance(name, str) for event in load(name)}
    assert seen - set(EVENT_CLASSES) == set()


def test_typed_access_is_none_for_absent_or_mistyped_fields_and_raw_keeps_them() -> None:
    event = make_event({"type": "response.output_text.delta", "sequence_number": "7", "output_index": -1,
                        "item_id": 3, "content_index": True, "delta": "hi", "vendor_extra": {"a": 1}})
    assert isinstance(event, model.OutputTextDelta) and isinstance(event, model.TextDelta)
    assert event.kind == "output_text"
    assert (event.sequence_number, event.item_id, event.content_index) == (None, None, None)
    assert event.output_index == -1  # an int, even if invalid: the validator judges it
    assert event.delta == "hi"
    assert event.raw["sequence_number"] == "7"
    assert event.unknown_fields() == ["vendor_extra"]


def test_unknown_types_are_kept_whole() -> None:
    raw = {"type": "response.reasoning_part.added", "sequence_number": 3, "output_index": 0, "part": {"x": 1}}
    event = make_event(raw)
    assert type(event) is UnknownEvent and not event.known
    assert event.raw is raw and event.part == {"x": 1}


def test_hosted_tool_status_events_say_tool_and_status() -> None:
    event = make_event({"type": "response.web_search_call.searching", "sequence_number": 1, "output_index": 0, "item_id": "ws"})
    assert isinstance(event, model.HostedToolStatus)
    assert (event.tool, event.status) == ("web_search_call", "searching")
    assert type(event).__name__ == "WebSearchCallSearching"


def test_error_event_reads_both_real_shapes() -> None:
    flat = make_event({"type": "error", "sequence_number": 1, "code": "x", "message": "boom", "param": None})
    nested = make_event({"type": "error", "sequence_number": 1, "error": {"code": "x", "message": "boom"}})
    assert isinstance(flat, model.ErrorEvent) and isinstance(nested, model.ErrorEvent)
    assert flat.message == nested.message == "boom"
    assert flat.code == nested.code == "x"


# --- SSE -----------------------------------------------------------------------------------------


def test_sse_multiline_data_is_joined_with_newline_and_comments_ids_are_ignored() -> None:
    body = (
        ": keep-alive\n"
        "id: 1\n"
        "event: response.created\n"
        'data: {"type": "response.created",\n'
        'data:  "sequence_number": 0}\n'
        "\n"
    )
    stream = parse_sse(body)
    assert [e.raw for e in stream.events] == [{"type": "response.created", "sequence_number": 0}]
    assert stream.wire is not None and stream.wire.event_names == ["response.created"]


def test_sse_without_space_after_colon_and_with_crlf_and_cr_line_ends() -> None:
    for eol in ("\r\n", "\r", "\n"):
        body = f'event:response.created{eol}data:{{"type":"response.created","sequence_number":0}}{eol}{eol}data:[DONE]{eol}{eol}'
        stream = parse_sse(body.encode())
        assert [e.type for e in stream.events] == ["response.created"], eol
        assert stream.wire is not None and stream.wire.done_index == 1


def test_a_json_string_holding_u2028_is_not_split() -> None:
    payload = json.dumps({"type": "response.output_text.delta", "delta": "a\u2028b\x85c"}, ensure_ascii=False)
    stream = parse_sse(f"data: {payload}\n\n")
    assert stream.events[0].delta == "a\u2028b\x85c"


@pytest.mark.parametrize("name", ["fantasy__gpt41-web-search", "prism__o4-mini-web-search"])
def test_any_chunking_gives_the_same_events_even_inside_utf8_and_crlf(name: str) -> None:
    raws = load(name)
    body = to_sse(raws, eol="\r\n")
    assert any(byte >= 0x80 for byte in body)  # multi-byte characters get cut by small chunks
    whole = parse_sse(body)
    assert [e.raw for e in whole.events] == raws
    for size in (1, 2, 3, 7, 64):
        chunks = [(position / 1000, body[position:position + size]) for position in range(0, len(body), size)]
        split = parse_sse(chunks)
        assert [e.raw for e in split.events] == raws, size
        assert split.wire is not None and split.wire.event_names == [r["type"] for r in raws]
        assert split.wire.done_index == len(raws) and not split.wire.after_done


def test_offsets_are_the_arrival_time_of_the_chunk_that_completed_each_event() -> None:
    raws = load("otel-python-contrib__gpt4o-mini-text")
    body = to_sse(raws[:3], names=False, done=False)
    cut = body.index(b"\n\n") + 1  # the first event's blank line arrives in the second chunk
    stream = parse_sse([(0.0, body[:cut]), (0.25, body[cut:cut + 5]), (1.5, body[cut + 5:])])
    assert stream.offsets == [0.25, 1.5, 1.5]


def test_garbage_payloads_become_not_json_events_and_never_raise() -> None:
    body = b'data: {"type":"response.created","sequence_number":0}\n\ndata: {"type": "resp\n\ndata: [1, 2]\n\ndata: \xff\xfe\n\n'
    stream = parse_sse(body)
    kinds = [type(e) for e in stream.events]
    assert kinds == [model.ResponseCreated, NotJSONEvent, NotJSONEvent, NotJSONEvent]
    assert "not an object" in stream.events[2].error  # type: ignore[attr-defined]
    assert stream.events[1].payload == '{"type": "resp'  # type: ignore[attr-defined]


def test_after_done_payloads_are_recorded_not_parsed_and_a_cut_body_is_marked() -> None:
    stream = parse_sse(b'data: {"type":"a"}\n\ndata: [DONE]\n\ndata: {"type":"b"}\n\ndata: {"type":"c"')
    assert [e.raw for e in stream.events] == [{"type": "a"}]
    assert stream.wire is not None
    assert stream.wire.done_index == 1
    assert stream.wire.after_done == ['{"type":"b"}', '{"type":"c"']
    assert stream.wire.unterminated


def test_an_unterminated_last_event_is_kept_so_truncation_is_visible() -> None:
    stream = parse_sse(b'data: {"type":"a"}\n\ndata: {"type":"b"}')
    assert [e.raw for e in stream.events] == [{"type": "a"}, {"type": "b"}]
    assert stream.wire is not None and stream.wire.unterminated


def test_incremental_parser_yields_events_as_their_blank_line_arrives() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"type":"a"}\n') == []
    assert [e.raw for e in parser.feed(b"\n")] == [{"type": "a"}]
    assert parser.close() == []


# --- other sources -------------------------------------------------------------------------------


def test_jsonl_text_and_path_and_bytes_agree(tmp_path: Path) -> None:
    text = path_of("chatlas__gpt41-web-search").read_text(encoding="utf-8")
    copy = tmp_path / "stream.jsonl"
    copy.write_text(text, encoding="utf-8")
    from_text = parse_jsonl(text)
    assert [e.raw for e in kit_load(str(copy)).events] == [e.raw for e in from_text.events]
    assert [e.raw for e in parse(text.encode()).events] == [e.raw for e in from_text.events]
    assert kit_load(copy).source == str(copy)


def test_a_json_file_holding_a_list_of_events_parses(tmp_path: Path) -> None:
    raws = load("otel-python-contrib__gpt4o-mini-text")
    saved = tmp_path / "events.json"
    saved.write_text(json.dumps(raws), encoding="utf-8")
    assert [e.raw for e in kit_load(saved).events] == raws


def test_saved_sse_file_is_detected_by_content(tmp_path: Path) -> None:
    raws = load("otel-python-contrib__gpt4o-mini-text")
    saved = tmp_path / "stream.txt"
    saved.write_bytes(to_sse(raws))
    stream = kit_load(saved)
    assert [e.raw for e in stream.events] == raws and stream.wire is not None and stream.wire.done_seen


def test_event_dicts_and_sdk_objects_parse_with_unknown_fields_kept() -> None:
    from openai.types.responses import ResponseTextDeltaEvent

    raws = load("otel-python-contrib__gpt4o-mini-text")
    delta = next(raw for raw in raws if raw["type"] == "response.output_text.delta")
    assert "obfuscation" in delta
    sdk_event = ResponseTextDeltaEvent.model_validate(delta)
    stream = parse([sdk_event])
    assert stream.events[0].raw["obfuscation"] == delta["obfuscation"]
    assert stream.events[0].raw["delta"] == delta["delta"]
    assert [e.raw for e in parse(raws).events] == raws


def test_parse_refuses_things_that_are_not_streams_by_name() -> None:
    with pytest.raises(TypeError, match="cannot parse a dict"):
        parse({"type": "response.created"})
    assert parse([]).events == []


def test_stream_checks_offsets_match_events() -> None:
    with pytest.raises(ValueError, match="1 offsets for 0 events"):
        Stream([], [None], None, "x")


def test_kit_recording_gives_exact_chunks_offsets_and_content_type(tmp_path: Path) -> None:
    store = pytest.importorskip("kit.recording.store")
    codec = pytest.importorskip("kit.recording.sse_codec")
    raws = load("otel-python-contrib__gpt4o-mini-text")
    body = to_sse(raws)
    sizes = [10, len(body) - 10]
    recording = store.Recording(
        key="k", occurrence=0, setup="openai",
        request={"method": "POST", "path": "/v1/responses", "headers": {}, "body": {"model": "m", "stream": True}},
        response={"status": 200, "headers": {"Content-Type": "text/event-stream; charset=utf-8"},
                  "sse": codec.encode_sse(body), "chunks": [[0.0, sizes[0]], [0.75, sizes[1]]]},
    )
    path = tmp_path / "rec.json"
    path.write_text(store.dump_recording(recording), encoding="utf-8")
    stream = kit_load(path)
    assert [e.raw for e in stream.events] == raws
    assert stream.offsets == [0.75] * len(raws)
    assert stream.wire is not None
    assert stream.wire.content_type == "text/event-stream; charset=utf-8" and stream.wire.status == 200
    assert isinstance(stream.events[0], Event)


def test_a_recording_cut_by_a_dropped_connection_says_so(tmp_path: Path) -> None:
    store = pytest.importorskip("kit.recording.store")
    codec = pytest.importorskip("kit.recording.sse_codec")
    from kit.events import validate_stream

    body = to_sse(load("otel-python-contrib__gpt4o-mini-text"))
    cut = body[: len(body) // 2]
    recording = store.Recording(
        key="k", occurrence=0, setup="openai",
        request={"method": "POST", "path": "/v1/responses", "headers": {}, "body": {"model": "m", "stream": True}},
        response={"status": 200, "headers": {"content-type": "text/event-stream"}, "sse": codec.encode_sse(cut),
                  "chunks": [[0.1, len(cut)]],
                  "error": {"type": "RemoteProtocolError", "message": "peer closed connection", "after_bytes": len(cut)}},
    )
    path = tmp_path / "cut.json"
    path.write_text(store.dump_recording(recording), encoding="utf-8")
    stream = kit_load(path)
    assert stream.wire is not None and stream.wire.transport_error == "peer closed connection"
    terminal = [v for v in validate_stream(stream) if v.rule == "lifecycle.one-terminal"]
    assert len(terminal) == 1 and "peer closed connection" in terminal[0].message
