"""`kit bridge FILE`: captured chat streams (jsonl or raw SSE, file or stdin) to Responses events on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kit.bridge import translate_chat_stream
from kit.bridge.chunks import chunks_from_sse, chunks_from_text
from kit.cli import app
from tests.bridge.helpers import CHAT, assert_valid, chat_files, load_chunks, of_type


QWEN = CHAT / "llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-d1edbcab.jsonl"
THINK = CHAT / "llama-stack__vllm-Qwen-Qwen3-0-6B-think-tag-tool-calls-65eba1be.jsonl"
CITED = CHAT / "llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-545bde72.jsonl"
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def events_of(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def as_sse(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return "".join(f"data: {line}\n\n" for line in lines) + "data: [DONE]\n\n"


def test_jsonl_file_prints_one_event_per_line() -> None:
    result = run("bridge", str(QWEN))
    assert result.exit_code == 0, result.output
    events = events_of(result.stdout)
    assert events == list(translate_chat_stream(load_chunks(QWEN)))
    assert_valid(events)


def test_raw_sse_on_stdin_gives_the_same_events() -> None:
    result = run("bridge", "-", stdin=as_sse(QWEN))
    assert result.exit_code == 0, result.output
    assert events_of(result.stdout) == events_of(run("bridge", str(QWEN)).stdout)


def test_think_tags_option_changes_the_translation() -> None:
    plain = events_of(run("bridge", str(THINK)).stdout)
    tagged = events_of(run("bridge", "--think-tags", str(THINK)).stdout)
    assert of_type(plain, "response.reasoning_text.delta") == []
    assert [e["item"]["type"] for e in of_type(tagged, "response.output_item.added")] == ["reasoning", "function_call"]


def test_keep_markers_option_leaves_the_markers() -> None:
    kept = events_of(run("bridge", "--keep-markers", str(CITED)).stdout)
    stripped = events_of(run("bridge", str(CITED)).stdout)
    assert "<|file-" in of_type(kept, "response.output_text.done")[0]["text"]
    assert len(of_type(stripped, "response.output_text.annotation.added")) == 2


def test_request_option_is_echoed_in_the_response(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "Qwen/Qwen3-0.6B", "instructions": "Be brief.", "temperature": 0.1}))
    events = events_of(run("bridge", "--request", str(request), "--response-id", "resp_x", str(QWEN)).stdout)
    assert events[0]["response"]["instructions"] == "Be brief."
    assert events[-1]["response"]["temperature"] == 0.1
    assert events[-1]["response"]["id"] == "resp_x"


def test_unreadable_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = run("bridge", str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 2
    assert "missing.jsonl" in result.output


def test_a_garbage_line_becomes_a_failed_response_naming_file_and_line(tmp_path: Path) -> None:
    lines = QWEN.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:10] + ["{not json"] + lines[10:]), encoding="utf-8")
    result = run("bridge", str(broken))
    assert result.exit_code == 0
    events = events_of(result.stdout)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert f"{broken}:11: not JSON" in events[-2]["message"]
    assert_valid(events)


def test_output_pipes_into_kit_check() -> None:
    bridged = run("bridge", str(CITED))
    checked = run("check", "-", stdin=bridged.stdout)
    assert checked.exit_code == 0, checked.output


def test_sse_parsing_joins_data_lines_skips_comments_and_stops_at_done() -> None:
    text = ': keep-alive\n\nevent: chunk\ndata: {"a":\ndata: 1}\n\ndata: [DONE]\n\ndata: {"after": 1}\n\n'
    assert list(chunks_from_sse(text)) == [{"a": 1}]
    assert list(chunks_from_text('{"b": 2}\n\n{"c": 3}\n')) == [{"b": 2}, {"c": 3}]


def test_summary_option_makes_a_second_call_through_the_kit_client(loopback: Any, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    answer = "llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "m", "user": f"fixture:chat/{answer}"}))
    monkeypatch.setenv("OLLAMA_URL", loopback.base_url)
    monkeypatch.setenv("KIT_RECORDING_DIR", str(tmp_path / "recordings"))
    monkeypatch.setenv("KIT_INFERENCE_MODE", "record")
    recorded = run("bridge", "--summary", "ollama", "--request", str(request), str(QWEN))
    assert recorded.exit_code == 0, recorded.output
    events = events_of(recorded.stdout)
    assert_valid(events)
    summary = "".join(e["delta"] for e in of_type(events, "response.reasoning_summary_text.delta"))
    assert summary == "".join(c["choices"][0]["delta"].get("content") or "" for c in load_chunks(CHAT / answer))
    sent = json.loads(loopback.requests[-1]["body"])
    assert sent["messages"][1]["content"] == of_type(events, "response.reasoning_text.done")[0]["text"]
    monkeypatch.setenv("KIT_INFERENCE_MODE", "replay")
    replayed = run("bridge", "--summary", "ollama", "--request", str(request), str(QWEN))
    assert replayed.stdout == recorded.stdout
    assert len(loopback.requests) == 1
