"""`kit show`: a stream in the terminal, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEA = ROOT / "recordings" / "local" / "chat-completions" / "4b7709fc802d9998.0.json"


def kit(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=ROOT,
                          input=stdin, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "100"})


def recorded_answer() -> str:
    events = json.loads(SEA.read_text())["response"]["sse"]["events"]
    return "".join((e["data"]["choices"][0]["delta"].get("content") or "") for e in events
                   if isinstance(e["data"], dict) and e["data"].get("choices"))


def test_show_renders_a_responses_capture_with_its_reasoning_summary(fixtures_dir):
    capture = fixtures_dir / "responses" / "pydantic-ai__o3-mini-reasoning-summary.jsonl"
    out = kit("show", str(capture)).stdout
    summary_first = json.loads(next(l for l in capture.read_text().splitlines()
                                    if '"response.reasoning_summary_text.done"' in l))["text"].splitlines()[0]
    assert "#0 reasoning" in out and summary_first in out and "status: completed" in out


def test_show_live_replays_a_recording_and_ends_with_the_whole_answer():
    answer = recorded_answer()
    result = kit("show", str(SEA), "--live", "--speed", "50")
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split()).replace("│", "").replace("  ", " ")
    assert " ".join(answer.split()[:6]) in " ".join(flat.split())  # a chat capture, shown bridged
    assert "(bridged)" in result.stdout


def test_show_reads_stdin_and_names_unreadable_files(fixtures_dir):
    text = (fixtures_dir / "responses" / "vercel-ai__azure-text.jsonl").read_text()
    assert kit("show", "-", stdin=text).returncode == 0
    missing = kit("show", "/nonexistent/stream.jsonl")
    assert missing.returncode == 2 and "cannot read /nonexistent/stream.jsonl" in missing.stderr


def test_bridged_view_keeps_the_recorded_arrival_time_of_each_chunk():
    from kit.bridge import bridge_capture, translate_chat_stream
    from kit.sources import load

    chunks = load(SEA)
    view = bridge_capture(chunks, source_name="sea")
    assert [e.raw for e in view.events] == list(translate_chat_stream([e.raw for e in chunks.events]))
    assert view.offsets == sorted(view.offsets) and view.offsets[0] == chunks.offsets[0]
    assert view.offsets[-1] == max(o for o in chunks.offsets if o is not None)
