"""A recording that was interrupted never passes as whole (issue 12, item 2).

Ctrl-C is a real SIGINT sent to a real recording process; the cancelled task is a real
asyncio task; the server is the loopback server pacing a real capture (`slow:`).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

import kit
from kit.recording import RecordingError, load_recording
from kit.recording.store import interruption_of

TEXT = "responses/otel-python-contrib__gpt4o-mini-text.jsonl"  # 13 events
ROOT = Path(__file__).resolve().parents[2]


def run_kit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def _replay_all(folder: Path) -> list[dict]:
    client = kit.client("gpt", "replay", recording_dir=folder)
    return [e.to_dict() for e in client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                                         metadata={"fixture": TEXT, "fault": "slow:0.25"})]


def _assert_marked_and_refused(folder: Path, by: str) -> None:
    [path] = list(folder.rglob("*.json"))
    recording = load_recording(path)
    closed = recording.response["closed_early"]
    assert closed["by"] == by and 0 < closed["after_chunks"] < 13 and closed["after_bytes"] > 0
    assert interruption_of(recording)
    verify = run_kit("recordings", "verify", "--dir", str(folder))
    assert verify.returncode == 1 and "interrupted while recording" in verify.stderr and str(path) in verify.stderr
    got: list[dict] = []
    with pytest.raises(RecordingError, match="interrupted"):
        client = kit.client("gpt", "replay", recording_dir=folder)
        for event in client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                             metadata={"fixture": TEXT, "fault": "slow:0.25"}):
            got.append(event.to_dict())
    assert 0 < len(got) < 13  # what was recorded, then the news that the rest never was


SCRIPT = """
import sys, kit
client = kit.client("gpt", "record", base_url=sys.argv[1], api_key="k", recording_dir=sys.argv[2])
for event in client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                     metadata={"fixture": %r, "fault": "slow:0.25"}):
    print(event.type, flush=True)
""" % TEXT


def test_ctrl_c_while_recording_leaves_a_recording_marked_interrupted(loopback, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, loopback.base_url, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "response.created"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in err
    _assert_marked_and_refused(tmp_path, "KeyboardInterrupt")


def test_an_exception_in_the_consumer_marks_the_recording(loopback, tmp_path):
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    with pytest.raises(ZeroDivisionError):
        with client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                     metadata={"fixture": TEXT, "fault": "slow:0.25"}) as stream:
            for n, _ in enumerate(stream):
                if n == 3:
                    1 / 0
    _assert_marked_and_refused(tmp_path, "ZeroDivisionError")


def test_a_cancelled_async_task_marks_the_recording(loopback, tmp_path):
    async def consume() -> None:
        client = kit.async_client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
        async for _ in await client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                                     metadata={"fixture": TEXT, "fault": "slow:0.25"}):
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    _assert_marked_and_refused(tmp_path, "CancelledError")


def test_record_if_missing_records_an_interrupted_recording_again(loopback, tmp_path):
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    with pytest.raises(ZeroDivisionError):
        with client.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                     metadata={"fixture": TEXT, "fault": "slow:0.25"}) as stream:
            for n, _ in enumerate(stream):
                if n == 2:
                    1 / 0
    again = kit.client("gpt", "record-if-missing", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    events = list(again.responses.create(model="gpt-4o-mini", input="slow", stream=True,
                                         metadata={"fixture": TEXT, "fault": "slow:0.25"}))
    assert len(events) == 13 and len(loopback.requests) == 2
    [path] = list(tmp_path.rglob("*.json"))
    assert "closed_early" not in load_recording(path).response
    assert len(_replay_all(tmp_path)) == 13


def test_a_consumer_that_closes_on_purpose_is_marked_but_replays_what_it_read(loopback, tmp_path):
    """Closing a stream after what one needs (the SDK does so after chat's [DONE]) is no interruption."""
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    stream = client.responses.create(model="gpt-4o-mini", input="x", stream=True, metadata={"fixture": TEXT})
    first = next(iter(stream))
    stream.close()
    [path] = list(tmp_path.rglob("*.json"))
    recording = load_recording(path)
    assert recording.response["closed_early"]["by"] == "consumer" and interruption_of(recording) is None
    replayed = kit.client("gpt", "replay", recording_dir=tmp_path).responses.create(
        model="gpt-4o-mini", input="x", stream=True, metadata={"fixture": TEXT})
    assert next(iter(replayed)).to_dict() == first.to_dict()
    assert run_kit("recordings", "verify", "--dir", str(tmp_path)).returncode == 0


def test_a_legacy_closed_early_true_still_loads(loopback, tmp_path):
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    list(client.responses.create(model="gpt-4o-mini", input="x", stream=True, metadata={"fixture": TEXT}))
    [path] = list(tmp_path.rglob("*.json"))
    data = json.loads(path.read_text())
    data["response"]["closed_early"] = True  # as the chat recordings in recordings/ hold it
    path.write_text(json.dumps(data))
    assert interruption_of(load_recording(path)) is None and isinstance(openai.OpenAIError("x"), Exception)


def test_a_chat_stream_read_to_done_inside_an_except_block_is_no_interruption(loopback, tmp_path):
    """The SDK closes a chat stream at [DONE]; an exception being handled around it is not the reason."""
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    try:
        raise LookupError("handled elsewhere")
    except LookupError:
        chunks = list(client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True,
            user="fixture:chat/llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-3420e208.jsonl"))
    assert chunks
    [path] = list(tmp_path.rglob("*.json"))
    recording = load_recording(path)
    assert recording.response["closed_early"]["by"] == "consumer" and interruption_of(recording) is None
