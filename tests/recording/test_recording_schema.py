"""Badly typed recordings and a damaged index (issue 12, items 3 and 4), as a user meets them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import kit
from kit.recording import CorruptRecording, ReplayMiss, load_recording
from kit.recording.schema import schema_problems

TEXT = "responses/otel-python-contrib__gpt4o-mini-text.jsonl"
ROOT = Path(__file__).resolve().parents[2]


def run_kit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def record(loopback, folder: Path, text: str = "hi") -> Path:
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=folder)
    list(client.responses.create(model="gpt-4o-mini", input=text, stream=True, metadata={"fixture": TEXT}))
    return next(p for p in folder.rglob("*.json") if text in p.read_text())


def _set(data: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        data = data[name]
    data[last] = value


# The wrong types issue 12 lists, and the field and expectation each error must name.
WRONG = [
    ("response.status", "OK", "response.status", "HTTP status"),
    ("response.status", None, "response.status", "HTTP status"),
    ("response.chunks", [["a", "b"]], "response.chunks[0]", "seconds"),
    ("response.headers", [1, 2], "response.headers", "object of strings"),
    ("meta", [1], "meta", "an object"),
    ("request", "GET /", "request", "an object"),
    ("response.sse.events", "nope", "response.sse.events", "list of event objects"),
    ("occurrence", "zero", "occurrence", "integer"),
]


@pytest.mark.parametrize("field,value,named,expected", WRONG, ids=[f"{w[0]}={w[1]!r}" for w in WRONG])
def test_a_wrong_type_is_refused_on_load_and_by_verify_naming_file_and_field(loopback, tmp_path, field, value, named,
                                                                             expected):
    path = record(loopback, tmp_path)
    data = json.loads(path.read_text())
    _set(data, field, value)
    path.write_text(json.dumps(data))
    with pytest.raises(CorruptRecording) as info:
        load_recording(path)
    message = str(info.value)
    assert str(path) in message and named in message and expected in message
    with pytest.raises(CorruptRecording):  # replay says the same, not a bare TypeError
        list(kit.client("gpt", "replay", recording_dir=tmp_path).responses.create(
            model="gpt-4o-mini", input="hi", stream=True, metadata={"fixture": TEXT}))
    verify = run_kit("recordings", "verify", "--dir", str(tmp_path))
    assert verify.returncode == 1 and "1 problem(s)" in verify.stdout and named in verify.stderr


def test_ls_lists_what_it_can_and_names_the_rest(loopback, tmp_path):
    record(loopback, tmp_path, "one")
    bad = record(loopback, tmp_path, "two")
    data = json.loads(bad.read_text())
    data["response"]["headers"] = [1, 2]
    bad.write_text(json.dumps(data))
    (bad.parent / "0000000000000000.0.json").write_text("{not json")
    out = run_kit("recordings", "ls", "--dir", str(tmp_path))
    assert "Traceback" not in out.stderr
    assert "1 recording(s)" in out.stdout and out.returncode == 1
    assert str(bad) in out.stderr and "0000000000000000.0.json" in out.stderr and "2 file(s)" in out.stderr


def test_schema_accepts_every_recording_the_project_carries():
    files = sorted((ROOT / "recordings").rglob("*.json"))
    assert files
    for path in files:
        assert schema_problems(json.loads(path.read_text())) == [], path


def _garbage_index(folder: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (folder / f".index.sqlite{suffix}").unlink(missing_ok=True)
    (folder / ".index.sqlite").write_bytes(b"this is not a database" * 100)


def test_reindex_and_ls_rebuild_a_garbage_index(loopback, tmp_path):
    for text in ("a", "b", "c", "d"):
        record(loopback, tmp_path, text)
    _garbage_index(tmp_path)
    out = run_kit("recordings", "reindex", "--dir", str(tmp_path))
    assert out.returncode == 0 and "indexed 4 recording(s)" in out.stdout and "Traceback" not in out.stderr
    _garbage_index(tmp_path)
    out = run_kit("recordings", "ls", "--dir", str(tmp_path))
    assert out.returncode == 0 and "4 recording(s)" in out.stdout and "Traceback" not in out.stderr


def test_a_replay_miss_with_a_garbage_index_still_names_the_nearest(loopback, tmp_path):
    for text in ("weather in Paris", "b", "c", "d"):
        record(loopback, tmp_path, text)
    _garbage_index(tmp_path)
    with pytest.raises(ReplayMiss) as info:
        list(kit.client("gpt", "replay", recording_dir=tmp_path).responses.create(
            model="gpt-4o-mini", input="weather in Rome", stream=True, metadata={"fixture": TEXT}))
    assert "nearest recording" in str(info.value) and "no recording exists" not in str(info.value)
