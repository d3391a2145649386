"""Recordings stay in their folder, never hang on a FIFO, say plainly when the folder is read-only, and are
flagged (and rewritten by `kit recordings scrub`) when they keep what the secrets policy drops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kit
from kit.recording.canonical import CanonicalRequest
from kit.recording.errors import NotARegularFile, OutsidePolicy, ReadOnlyRecordings, UnsafeRecordingPath
from kit.recording.store import RecordingStore, load_recording
from kit.setups.names import check_setup_name
from kit.setups.registry import UnknownSetup, get_setup, load_setups

TEXT = "responses/otel-python-contrib__gpt4o-mini-text.jsonl"
ROOT = Path(__file__).resolve().parents[2]


def run_kit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def record_one(loopback, folder: Path) -> Path:
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=folder)
    list(client.responses.create(model="gpt-4o-mini", input="one", stream=True, metadata={"fixture": TEXT}))
    return next(folder.rglob("responses/*.json"))


def bounded(action, seconds: float = 20.0):
    """Run `action` in a thread; what it returned or raised, or fail if it hangs."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"hung for {seconds} s"
    return out


@pytest.mark.parametrize("name", ["../x", "../../../x", "/tmp/x", "a/b", "..", "", "x\\y", ".hidden"])
def test_setup_names_that_are_paths_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid setup name"):
        check_setup_name(name)
    with pytest.raises(UnknownSetup, match="not a valid setup name"):
        get_setup(name)


@pytest.mark.parametrize("name", ["local", "my-setup_2", "gpt-4o.mini"])
def test_plain_setup_names_are_accepted(name: str) -> None:
    assert check_setup_name(name) == name


def test_a_setups_file_naming_a_path_is_refused_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "setups.toml"
    config.write_text('[setups."../../x"]\nbase_url = "http://127.0.0.1:9/v1"\ntext_model = "m"\n')
    with pytest.raises(ValueError, match=r"setups.toml: \[setups.../../x\]"):
        load_setups(config)
    checked = run_kit("check", "--setup", "../../x", env={"KIT_SETUPS_FILE": str(config),
                                                           "KIT_RECORDING_DIR": str(tmp_path / "rec")})
    assert checked.returncode != 0 and "not a valid setup name" in checked.stderr
    assert not (tmp_path.parent / "x").exists() and not (tmp_path / "rec").exists()


@pytest.mark.parametrize("setup", ["../x", "../../../x", "/tmp/kit-escape"])
def test_the_store_builds_no_path_outside_its_folder(tmp_path: Path, setup: str) -> None:
    store = RecordingStore(tmp_path / "rec")
    request = CanonicalRequest(setup=setup, method="POST", path="/v1/responses", body={"model": "m"},
                               content_type="application/json")
    with pytest.raises(UnsafeRecordingPath, match="outside the recording folder"):
        store.path_for(request, 0)
    with pytest.raises(UnsafeRecordingPath):
        store.occurrences(request)


def test_a_fifo_where_a_recording_should_be_is_a_named_error_everywhere(loopback, tmp_path: Path) -> None:
    path = record_one(loopback, tmp_path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(NotARegularFile, match="FIFO"):
        load_recording(path)
    replay = kit.client("gpt", "replay", recording_dir=tmp_path)
    got = bounded(lambda: list(replay.responses.create(model="gpt-4o-mini", input="one", stream=True,
                                                       metadata={"fixture": TEXT})))
    assert isinstance(got.get("error"), NotARegularFile)
    record = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    got = bounded(lambda: list(record.responses.create(model="gpt-4o-mini", input="one", stream=True,
                                                       metadata={"fixture": TEXT})))
    assert isinstance(got.get("error"), NotARegularFile)
    for command in (["recordings", "verify"], ["recordings", "ls"]):
        done = run_kit(*command, "--dir", str(tmp_path))
        assert done.returncode == 1 and "FIFO" in done.stderr and str(path) in done.stderr, done.stderr
    assert path.exists() and not path.is_file()  # left as it was


@pytest.mark.fault_injection
def test_a_read_only_folder_is_one_clear_message(loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: writes fail with EACCES (the tests run as root, whom chmod does not stop)."""
    import kit.recording.store as store_module

    def refuse(target: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(store_module, "_atomic_write", refuse)
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=tmp_path)
    with pytest.raises(ReadOnlyRecordings, match=f"cannot write recordings into {tmp_path}: Permission denied"):
        list(client.responses.create(model="gpt-4o-mini", input="one", stream=True, metadata={"fixture": TEXT}))


def test_verify_and_load_flag_recordings_outside_the_policy_and_scrub_rewrites_only_that(loopback,
                                                                                         tmp_path: Path) -> None:
    path = record_one(loopback, tmp_path)
    data = json.loads(path.read_text())
    before = dict(data)
    data["response"]["headers"] = {**data["response"]["headers"], "server": "uvicorn",
                                   "x-litellm-model-api-base": "http://user:pw@10.0.0.1/v1"}
    path.write_text(json.dumps(data, indent=1))  # an old recording, as the policy did not yet drop these
    with pytest.raises(OutsidePolicy, match="x-litellm-model-api-base") as refused:
        load_recording(path)
    assert str(path) in str(refused.value) and "kit recordings scrub" in str(refused.value)
    verified = run_kit("recordings", "verify", "--dir", str(tmp_path))
    assert verified.returncode == 1 and str(path) in verified.stderr and "server" in verified.stderr
    dry = run_kit("recordings", "scrub", "--dry-run", "--dir", str(tmp_path))
    assert dry.returncode == 0 and "would drop 2 field(s)" in dry.stdout
    assert "x-litellm-model-api-base" in path.read_text()
    scrubbed = run_kit("recordings", "scrub", "--dir", str(tmp_path))
    assert scrubbed.returncode == 0 and "1 recording(s) rewritten" in scrubbed.stdout
    after = json.loads(path.read_text())
    assert "server" not in after["response"]["headers"] and "pw@" not in path.read_text()
    assert after["request"] == before["request"] and after["response"]["sse"] == before["response"]["sse"]
    assert run_kit("recordings", "verify", "--dir", str(tmp_path)).returncode == 0
    assert load_recording(path).key == before["key"]
