"""`kit recordings` against a folder recorded from the loopback server, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import kit

TEXT = "responses/otel-python-contrib__gpt4o-mini-text.jsonl"


def run_kit(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def record_two(loopback, folder):
    client = kit.client("gpt", "record", base_url=loopback.base_url, api_key="k", recording_dir=folder)
    client.responses.create(model="gpt-4o-mini", input="one", stream=True, metadata={"fixture": TEXT}).close()
    list(client.responses.create(model="gpt-4o-mini", input="two", stream=True, metadata={"fixture": TEXT}))
    list(client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "x"}], stream=True,
                                        user="fixture:chat/llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-3420e208.jsonl"))


def test_ls_filters_and_show_prints_events(loopback, tmp_path):
    record_two(loopback, tmp_path)
    out = run_kit("recordings", "ls", "--dir", str(tmp_path)).stdout
    assert "3 recording(s)" in out
    out = run_kit("recordings", "ls", "--dir", str(tmp_path), "--endpoint", "chat-completions").stdout
    assert "1 recording(s)" in out and "qwen" in out
    key = next(tmp_path.rglob("chat-completions/*.json")).name.split(".")[0]
    shown = run_kit("recordings", "show", key, "--dir", str(tmp_path))
    assert shown.returncode == 0 and "POST /v1/chat/completions" in shown.stdout and "chat.completion.chunk" in shown.stdout
    missing = run_kit("recordings", "show", "ffffffff", "--dir", str(tmp_path))
    assert missing.returncode == 2 and "no recording matches" in missing.stderr


def test_verify_passes_then_names_each_broken_file(loopback, tmp_path):
    record_two(loopback, tmp_path)
    ok = run_kit("recordings", "verify", "--dir", str(tmp_path))
    assert ok.returncode == 0 and "3 recording(s) checked" in ok.stdout and "0 problem(s)" in ok.stdout
    files = sorted(tmp_path.rglob("*.json"))
    edited = json.loads(files[0].read_text())
    edited["request"]["body"]["input"] = "edited by hand"
    files[0].write_text(json.dumps(edited))
    secret = json.loads(files[1].read_text())
    secret["response"]["headers"]["x-leak"] = "sk-" + "proj-abcdefghijklmnopqrstuvwxyz0123"
    files[1].write_text(json.dumps(secret))
    files[2].write_text("{not json")
    bad = run_kit("recordings", "verify", "--dir", str(tmp_path))
    assert bad.returncode == 1 and "3 problem(s)" in bad.stdout
    for f in files:
        assert str(f) in bad.stderr
    assert "does not match its request" in bad.stderr and "response.headers.x-leak" in bad.stderr


def test_reindex_rebuilds_a_deleted_index(loopback, tmp_path):
    record_two(loopback, tmp_path)
    (tmp_path / ".index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f".index.sqlite{suffix}").unlink(missing_ok=True)
    out = run_kit("recordings", "reindex", "--dir", str(tmp_path))
    assert out.returncode == 0 and "indexed 3 recording(s)" in out.stdout
    assert "3 recording(s)" in run_kit("recordings", "ls", "--dir", str(tmp_path)).stdout


def test_prune_lists_unused_and_deletes_only_with_yes(loopback, tmp_path):
    record_two(loopback, tmp_path)
    (tmp_path / ".index.sqlite").unlink()  # a fresh checkout: nothing known to be used
    for suffix in ("-wal", "-shm"):
        (tmp_path / f".index.sqlite{suffix}").unlink(missing_ok=True)
    with kit.client("gpt", "replay", recording_dir=tmp_path) as client:  # usage is written when a client closes
        list(client.responses.create(model="gpt-4o-mini", input="two", stream=True, metadata={"fixture": TEXT}))
    listed = run_kit("recordings", "prune", "--dir", str(tmp_path))
    assert "2 recording(s) no run used" in listed.stdout
    assert len(list(tmp_path.rglob("*.json"))) == 3
    deleted = run_kit("recordings", "prune", "--yes", "--dir", str(tmp_path))
    assert "deleted 2" in deleted.stdout
    [kept] = list(tmp_path.rglob("*.json"))
    assert json.loads(kept.read_text())["request"]["body"]["input"] == "two"


def test_usage_of_a_replay_in_another_process_is_saved_at_its_exit(loopback, tmp_path):
    record_two(loopback, tmp_path)
    script = ("import kit; c = kit.client('gpt', 'replay', recording_dir=%r); "
              "list(c.responses.create(model='gpt-4o-mini', input='two', stream=True, metadata={'fixture': %r}))"
              % (str(tmp_path), TEXT))
    (tmp_path / ".index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f".index.sqlite{suffix}").unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)  # never closes its client
    assert "2 recording(s) no run used" in run_kit("recordings", "prune", "--dir", str(tmp_path)).stdout
