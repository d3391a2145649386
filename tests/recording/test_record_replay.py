"""Record from a real loopback HTTP server, replay from disk, through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

import kit
from kit.recording import CorruptRecording, InferenceMode, ReplayMiss, SecretInRecording, load_recording, session_of
from kit.setups.modes import resolve_mode

FN_CALL = "responses/openai-dotnet__gpt4o-mini-function-call.jsonl"
TEXT = "responses/otel-python-contrib__gpt4o-mini-text.jsonl"
CHAT_REASONING = "chat/vercel-ai__azure-deepseek-v4-pro-reasoning-content.jsonl"  # has multi-byte characters
SECRET_KEY = "sk-" + "proj-THISISATESTKEYTHATMUSTNEVERBESTORED0000"  # a fake key, split so scanners skip it


def rec_client(server, tmp_path, mode="record", **kw):
    return kit.client("gpt", mode, base_url=server.base_url, api_key=SECRET_KEY, recording_dir=tmp_path, **kw)


def replay_client(tmp_path, **kw):
    # no base_url and no key: replay must need neither, and touch no network
    return kit.client("gpt", "replay", recording_dir=tmp_path, **kw)


def stream_events(client, fixture=FN_CALL, text="hi"):
    stream = client.responses.create(model="gpt-4o-mini", input=text, stream=True, metadata={"fixture": fixture})
    return [event.to_dict() for event in stream]


def test_recorded_stream_replays_to_identical_sdk_events(loopback, tmp_path, fixtures_dir):
    live = stream_events(rec_client(loopback, tmp_path))
    replayed = stream_events(replay_client(tmp_path))
    assert replayed == live
    # and these are the captured events themselves, not something the kit made up
    captured = [json.loads(line) for line in (fixtures_dir / FN_CALL).read_text().splitlines() if line.strip()]
    assert [e["type"] for e in replayed] == [e["type"] for e in captured]
    assert replayed[-1]["response"]["id"] == captured[-1]["response"]["id"]


def test_replayed_bytes_and_chunk_boundaries_are_exact(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path))
    [path] = list(tmp_path.rglob("*.0.json"))
    recording = load_recording(path)
    chunks = recording.response_chunks()
    # the server wrote one event per chunk; each stored chunk is one exact event block
    assert all(c.startswith(b"event: ") and c.endswith(b"\n\n") for _, c in chunks)
    assert [t for t, _ in chunks] == sorted(t for t, _ in chunks)
    events = recording.response["sse"]["events"]
    assert isinstance(events[0]["data"], dict) and events[0]["data"]["type"] == "response.created"
    assert all("raw" not in e for e in events)  # readable: no event needed its raw text kept


def test_async_client_records_and_replays(loopback, tmp_path):
    async def run(client):
        stream = await client.responses.create(model="gpt-4o-mini", input="hi", stream=True, metadata={"fixture": TEXT})
        return [event.to_dict() async for event in stream]

    live = asyncio.run(run(kit.async_client("gpt", "record", base_url=loopback.base_url, api_key=SECRET_KEY,
                                            recording_dir=tmp_path)))
    replayed = asyncio.run(run(kit.async_client("gpt", "replay", recording_dir=tmp_path)))
    assert replayed == live and len(live) > 3


@pytest.mark.parametrize("http", [httpx, httpx2], ids=["legacy-httpx", "httpx2"])
def test_wrapping_a_user_built_http_client(loopback, tmp_path, http):
    own = kit.wrap_http_client(http.Client(timeout=30), setup="gpt", mode="record", recording_dir=tmp_path)
    live = stream_events(openai.OpenAI(api_key=SECRET_KEY, base_url=loopback.base_url, http_client=own))
    own_replay = kit.wrap_http_client(http.Client(), setup="gpt", mode="replay", recording_dir=tmp_path)
    replayed = stream_events(openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1", http_client=own_replay))
    assert replayed == live


def test_first_chunk_reaches_caller_before_server_sends_the_rest(loopback, tmp_path):
    client = rec_client(loopback, tmp_path)
    stream = client.responses.create(model="gpt-4o-mini", input="hi", stream=True,
                                     metadata={"fixture": TEXT, "fault": "gate"})
    first = next(iter(stream))
    # the server is still blocked on its gate: nothing after the first event has been sent
    assert first.type == "response.created" and not loopback.gate.is_set()
    loopback.gate.set()
    rest = list(stream)
    assert rest[-1].type == "response.completed"
    replayed = replay_client(tmp_path).responses.create(model="gpt-4o-mini", input="hi", stream=True,
                                                        metadata={"fixture": TEXT, "fault": "gate"})
    assert [e.to_dict() for e in replayed] == [first.to_dict()] + [e.to_dict() for e in rest]


def test_split_replay_yields_identical_events_from_tiny_pieces(loopback, tmp_path):
    live = stream_events(rec_client(loopback, tmp_path))
    client = replay_client(tmp_path, replay_style="split")
    with client.responses.with_streaming_response.create(model="gpt-4o-mini", input="hi", stream=True,
                                                         metadata={"fixture": FN_CALL}) as raw:
        pieces = list(raw.http_response.iter_raw())
    assert max(len(p) for p in pieces) <= 21 and min(len(p) for p in pieces) == 1
    assert stream_events(replay_client(tmp_path, replay_style="split")) == live


def test_split_pieces_cut_inside_utf8_characters(loopback, tmp_path):
    # this capture holds multi-byte characters; some piece must end inside one
    chat = rec_client(loopback, tmp_path).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True, user=f"fixture:{CHAT_REASONING}")
    live = [c.to_dict() for c in chat]
    client = replay_client(tmp_path, replay_style="split")
    with client.chat.completions.with_streaming_response.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True, user=f"fixture:{CHAT_REASONING}") as raw:
        pieces = list(raw.http_response.iter_raw())
    assert any(b >= 0x80 for b in b"".join(pieces))
    cut_inside = any(_ends_inside_utf8(p) for p in pieces)
    assert cut_inside
    again = replay_client(tmp_path, replay_style="split").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True, user=f"fixture:{CHAT_REASONING}")
    assert [c.to_dict() for c in again] == live


def _ends_inside_utf8(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"


def test_fault_injection_mid_stream_drop_replays_same_exception_at_same_event(loopback, tmp_path):
    def consume(client):
        got = []
        with pytest.raises(openai.APIConnectionError) as info:
            for event in client.responses.create(model="gpt-4o-mini", input="hi", stream=True,
                                                 metadata={"fixture": FN_CALL, "fault": "drop-after:5"}):
                got.append(event.to_dict())
        return got, info.value

    live_events, live_error = consume(rec_client(loopback, tmp_path))
    replay_events, replay_error = consume(replay_client(tmp_path))
    assert len(live_events) == 5 and replay_events == live_events
    assert type(replay_error) is type(live_error)
    assert type(replay_error.__cause__).__name__ == type(live_error.__cause__).__name__
    [path] = list(tmp_path.rglob("*.json"))
    assert load_recording(path).error["type"] == type(live_error.__cause__).__name__


def test_fault_injection_http_500_is_recorded_and_replayed(loopback, tmp_path):
    def call(client):
        with pytest.raises(openai.InternalServerError) as info:
            client.responses.create(model="gpt-4o-mini", input="hi", metadata={"fixture": TEXT, "fault": "status:500"})
        return info.value

    live = call(rec_client(loopback, tmp_path))
    replayed = call(replay_client(tmp_path))
    assert replayed.status_code == live.status_code == 500
    assert replayed.body == live.body == {"message": "injected fault", "type": "server_error", "param": None, "code": None}


def test_non_streaming_json_replays(loopback, tmp_path):
    live = rec_client(loopback, tmp_path).responses.create(model="gpt-4o-mini", input="hi", metadata={"fixture": TEXT})
    replayed = replay_client(tmp_path).responses.create(model="gpt-4o-mini", input="hi", metadata={"fixture": TEXT})
    assert replayed.to_dict() == live.to_dict() and replayed.output_text == live.output_text != ""


def test_multipart_upload_matches_without_its_random_boundary(loopback, tmp_path):
    rec_client(loopback, tmp_path).files.create(file=("notes.txt", b"hello world\n"), purpose="assistants")
    replayed = replay_client(tmp_path).files.create(file=("notes.txt", b"hello world\n"), purpose="assistants")
    assert replayed.id == "file-loopback"
    with pytest.raises(ReplayMiss):  # different content is a different request
        replay_client(tmp_path).files.create(file=("notes.txt", b"other\n"), purpose="assistants")


def test_identical_requests_replay_in_recorded_order(loopback, tmp_path):
    both = f"{TEXT}|{FN_CALL}"
    client = rec_client(loopback, tmp_path)
    first, second = stream_events(client, both), stream_events(client, both)
    assert first != second
    replay = replay_client(tmp_path)
    assert stream_events(replay, both) == first
    assert stream_events(replay, both) == second


def test_host_port_and_volatile_headers_take_no_part_in_the_key(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path))
    other = kit.client("gpt", "replay", base_url="http://10.255.255.1:4444/v1", recording_dir=tmp_path,
                       default_headers={"user-agent": "something-else/9", "x-stainless-os": "Plan9"})
    assert len(stream_events(other)) > 3


def test_replay_miss_names_the_nearest_recording_with_a_diff(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path), text="What is the weather in Paris?")
    client = kit.client("gpt", "replay", recording_dir=tmp_path, max_retries=3)
    with pytest.raises(ReplayMiss) as info:
        stream_events(client, text="What is the weather in Rome?")
    message = str(info.value)
    assert isinstance(info.value, openai.OpenAIError)
    assert "mode=replay" in message and "setup=gpt" in message and "POST /v1/responses" in message
    assert "model=gpt-4o-mini" in message and info.value.key in message
    assert "Paris" in message and "Rome" in message and str(info.value.nearest) in message
    assert "record-if-missing" in message


def test_no_secret_reaches_disk(loopback, tmp_path):
    client = kit.client("gpt", "record", base_url=loopback.base_url + "?api_key=sk-querysecret", api_key=SECRET_KEY,
                        recording_dir=tmp_path, organization="org-SECRETORG", project="proj_SECRETPROJECT")
    stream_events(client)
    client.responses.create(model="gpt-4o-mini", input="hi", metadata={"fixture": TEXT})  # JSON answer with openai-project
    text = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    sent = {k.lower(): v for k, v in loopback.requests[0]["headers"].items()}
    assert sent["authorization"] == f"Bearer {SECRET_KEY}"  # the server did get it
    for secret in (SECRET_KEY, "org-SECRETORG", "proj_SECRETPROJECT", "sk-querysecret", "should-never-be-stored",
                   "proj_should_never_be_stored", "x-stainless", "user-agent"):
        assert secret not in text


def test_loading_a_recording_with_a_credential_is_refused_naming_file_and_field(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path))
    [path] = list(tmp_path.rglob("*.json"))
    data = json.loads(path.read_text())
    data["request"]["headers"]["authorization"] = "Bearer " + "sk-" + "proj-abcdefghijklmnopqrstuvwxyz123456"
    path.write_text(json.dumps(data))
    with pytest.raises(SecretInRecording) as info:
        stream_events(replay_client(tmp_path))
    assert str(path) in str(info.value) and "request.headers.authorization" in str(info.value)


def test_corrupt_recording_is_reported_and_never_overwritten(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path))
    [path] = list(tmp_path.rglob("*.json"))
    path.write_text('{"kit_recording": 1, "key": "trunc')
    with pytest.raises(CorruptRecording) as info:
        stream_events(replay_client(tmp_path))
    assert str(path) in str(info.value) and "not valid JSON" in str(info.value)
    with pytest.raises(CorruptRecording):
        stream_events(rec_client(loopback, tmp_path))  # record mode too refuses to replace it
    assert path.read_text() == '{"kit_recording": 1, "key": "trunc'


def test_replay_mode_needs_no_key_and_no_server(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = kit.client("gpt", "replay", recording_dir=tmp_path)
    with pytest.raises(ReplayMiss):
        client.responses.create(model="gpt-4o-mini", input="hi")
    assert session_of(client).store.root == tmp_path


def test_record_mode_without_the_setups_key_says_which_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        kit.client("gpt", "record", recording_dir=tmp_path)


def test_mode_choice_order(monkeypatch):
    monkeypatch.delenv("KIT_INFERENCE_MODE", raising=False)
    assert resolve_mode() is InferenceMode.REPLAY
    monkeypatch.setenv("KIT_INFERENCE_MODE", "record-if-missing")
    assert resolve_mode() is InferenceMode.RECORD_IF_MISSING
    assert resolve_mode(flag="live") is InferenceMode.LIVE
    assert resolve_mode("record", flag="live") is InferenceMode.RECORD
    with pytest.raises(ValueError, match="choose one of"):
        resolve_mode("recrod")


def test_record_if_missing_replays_what_exists_and_records_the_rest(loopback, tmp_path):
    stream_events(rec_client(loopback, tmp_path), TEXT)
    client = rec_client(loopback, tmp_path, mode="record-if-missing")
    stream_events(client, TEXT)
    assert len(loopback.requests) == 1  # answered from disk
    stream_events(client, FN_CALL)
    assert len(loopback.requests) == 2 and len(list(tmp_path.rglob("*.json"))) == 2


def _record_in_process(base_url: str, folder: str, worker: int) -> None:
    client = kit.client("gpt", "record", base_url=base_url, api_key="k", recording_dir=folder)
    for i in range(4):
        stream_events(client, TEXT, text=f"worker {worker} request {i}")  # distinct requests
        stream_events(client, TEXT, text="the same request from every worker")  # identical across workers


def test_two_processes_recording_into_one_folder_lose_nothing(loopback, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_in_process, args=(loopback.base_url, str(tmp_path), w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 16 == len(loopback.requests)
    assert all(load_recording(f) for f in files)  # every file whole
    shared = [f for f in files if "the same request" in json.dumps(load_recording(f).request)]
    assert sorted(load_recording(f).occurrence for f in shared) == list(range(8))


def test_fast_replay_keeps_the_recorded_arrival_times_on_its_clock(loopback, tmp_path):
    """Views timestamp replayed events with the recorded times, not the (near zero) replay times."""
    stream_events(rec_client(loopback, tmp_path), TEXT, text="paced")
    [path] = list(tmp_path.rglob("*.json"))
    recorded = [t for t, _ in load_recording(path).response_chunks()]
    client = replay_client(tmp_path)
    session = session_of(client)
    seen = []
    for _ in client.responses.create(model="gpt-4o-mini", input="paced", stream=True, metadata={"fixture": TEXT}):
        seen.append(session.replay_clock)
    # one event per chunk in this capture: each event's clock is its chunk's recorded offset
    assert seen == recorded[: len(seen)] and len(seen) == len(recorded)
    list(client.responses.create(model="gpt-4o-mini", input="paced", stream=True, metadata={"fixture": TEXT}))
    assert session.replay_clock == recorded[-1] * 2  # a second request runs on from the first


def test_a_compressed_answer_replays_compressed_with_its_header(loopback, tmp_path):
    live = rec_client(loopback, tmp_path).responses.create(model="gpt-4o-mini", input="hi",
                                                           metadata={"fixture": TEXT, "gzip": "1"})
    [path] = list(tmp_path.rglob("*.json"))
    stored = load_recording(path).response
    assert "base64" in stored and stored["headers"]["content-encoding"] == "gzip"
    replayed = replay_client(tmp_path).responses.create(model="gpt-4o-mini", input="hi",
                                                        metadata={"fixture": TEXT, "gzip": "1"})
    assert replayed.to_dict() == live.to_dict() and replayed.output_text


def test_json_answers_are_stored_parsed_whatever_their_keys():
    from kit.recording.transport import encode_body

    assert encode_body(b'{"text": "x"}', {"content-type": "application/json"}) == {"json": {"text": "x"}}
    assert encode_body(b"plain", {"content-type": "text/plain"}) == {"text": "plain"}
    assert encode_body(b"\xff\x00", {"content-type": "application/octet-stream"}) == {"base64": "/wA="}
    assert encode_body(b"", {"content-type": "application/json"}) == {}
