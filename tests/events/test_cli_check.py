"""`kit check` through its CLI: exit codes, stdin, profiles and the stable --json shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.cli import app
from tests.events._streams import load, path_of, renumber, to_sse

runner = CliRunner()
VIOLATION_KEYS = {"rule", "severity", "message", "index", "sequence_number", "output_index", "item_id", "content_index"}


def _broken_file(tmp_path: Path) -> Path:
    """A real stream whose output_text.done was dropped (ogx #5309): a part.one-done error."""
    events = renumber([e for e in load("otel-python-contrib__gpt4o-mini-text") if e["type"] != "response.output_text.done"])
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    return path


def test_a_clean_stream_exits_0_with_one_summary_line() -> None:
    path = path_of("chatlas__gpt41-web-search")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{path}: ok: 26 events, 0 errors, 0 warnings (profile openai)"]


def test_an_error_exits_1_and_lists_the_violation(tmp_path: Path) -> None:
    clean = path_of("chatlas__gpt41-web-search")
    result = runner.invoke(app, ["check", str(clean), str(_broken_file(tmp_path))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("ok: 26 events, 0 errors, 0 warnings (profile openai)")
    assert "broken.jsonl: FAIL: 12 events, 1 errors" in lines[1]
    assert "part.one-done" in lines[2] and lines[2].lstrip().startswith("ERROR")


def test_warnings_alone_exit_0() -> None:
    result = runner.invoke(app, ["check", str(path_of("prism__gpt4-0613-text"))])  # logprobs missing: warnings only
    assert result.exit_code == 0
    assert "0 errors, 61 warnings" in result.output and "event.logprobs" in result.output


def test_an_unreadable_file_exits_2_even_if_others_have_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(_broken_file(tmp_path)), str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "missing.jsonl: cannot read: FileNotFoundError" in result.output


def test_a_corrupt_recording_exits_2_naming_the_file(tmp_path: Path) -> None:
    pytest.importorskip("kit.recording.store")
    path = tmp_path / "rec.json"
    path.write_text('{"kit_recording": 1}', encoding="utf-8")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}: cannot read" in result.output and "corrupt recording" in result.output


def test_no_file_is_a_usage_error() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2 and "give one or more FILEs" in result.output


def test_stdin_accepts_sse_and_jsonl() -> None:
    events = load("otel-python-contrib__gpt4o-mini-text")
    sse = runner.invoke(app, ["check", "-"], input=to_sse(events))
    assert sse.exit_code == 0, sse.output
    assert sse.output.startswith("-: ok: 13 events")
    jsonl = runner.invoke(app, ["check", "-"], input="\n".join(json.dumps(e) for e in events))
    assert jsonl.exit_code == 0 and jsonl.output.startswith("-: ok: 13 events")
    garbage = runner.invoke(app, ["check", "-"], input=to_sse(events[:3], done=False) + b"data: {oops\n\n")
    assert garbage.exit_code == 1 and "sse.json" in garbage.output


def test_json_output_is_one_object_per_file_with_the_stable_shape(tmp_path: Path) -> None:
    clean = path_of("chatlas__gpt41-web-search")
    result = runner.invoke(app, ["check", "--json", str(clean), str(_broken_file(tmp_path)), str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["file"] for r in records] == [str(clean), str(tmp_path / "broken.jsonl"), str(tmp_path / "nope.jsonl")]
    for record in records[:2]:
        assert set(record) == {"file", "events", "errors", "warnings", "violations"}
        assert all(set(v) == VIOLATION_KEYS for v in record["violations"])
        assert record["errors"] == sum(v["severity"] == "error" for v in record["violations"])
    assert (records[0]["events"], records[0]["errors"], records[0]["violations"]) == (26, 0, [])
    broken = records[1]["violations"][0]
    assert broken["rule"] == "part.one-done" and broken["severity"] == "error"
    assert isinstance(broken["index"], int) and broken["output_index"] == 0 and broken["item_id"].startswith("msg_")
    assert records[2]["events"] is None and "FileNotFoundError" in records[2]["read_error"]


def test_profile_changes_the_verdict() -> None:
    path = str(path_of("fantasy__o4-mini-reasoning-summary"))  # a reasoning item without status: item.fields
    assert runner.invoke(app, ["check", path]).exit_code == 0
    strict = runner.invoke(app, ["check", "--profile", "openresponses", path])
    assert strict.exit_code == 1 and "item.fields" in strict.output
    assert runner.invoke(app, ["check", "--profile", "bogus", path]).exit_code == 2


def test_starting_after_validates_a_resumed_stream() -> None:
    path = str(path_of("openai-dotnet__gpt41-mini-background-resumed-get"))
    assert runner.invoke(app, ["check", path]).exit_code == 1
    assert runner.invoke(app, ["check", "--starting-after", "1", path]).exit_code == 0


def test_list_rules_prints_the_catalog_for_a_profile() -> None:
    result = runner.invoke(app, ["check", "--list-rules", "--profile", "lenient"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 14 and all("error" in line for line in result.output.splitlines())
