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
GROUP_KEYS = {"rule", "severity", "message", "count", "first_index", "last_index"}
CHAT = Path(__file__).resolve().parents[1] / "captures" / "chat"


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
    assert "broken.jsonl: FAIL: 12 events, 1 error, 0 warnings" in lines[1]
    assert "part.one-done" in lines[2] and lines[2].lstrip().startswith("ERROR")


def test_warnings_alone_exit_0_and_identical_ones_are_one_line_with_a_count() -> None:
    path = path_of("prism__gpt4-0613-text")  # logprobs missing on 61 events: warnings only, under openresponses
    result = runner.invoke(app, ["check", "--profile", "openresponses", str(path)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "0 errors, 61 warnings" in lines[0]
    assert len(lines) == 2 and "event.logprobs" in lines[1] and "×61 events 4-" in lines[1]


def test_one_error_and_one_warning_are_singular(tmp_path: Path) -> None:
    events = load("otel-python-contrib__gpt4o-mini-text")
    events = renumber([e for e in events if e["type"] != "response.output_text.done"])
    next(e for e in events if e["type"] == "response.output_text.delta")["logprobs"] = None
    path = tmp_path / "one-each.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    first = runner.invoke(app, ["check", str(path)]).output.splitlines()[0]
    assert first.endswith("FAIL: 12 events, 1 error, 1 warning (profile openai)"), first


def test_non_json_input_is_not_called_events_and_the_verdict_does_not_contradict_itself() -> None:
    result = runner.invoke(app, ["check", "-"], input=b"hello\nworld\n")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "-: FAIL: 0 events, 2 payloads not JSON, 3 errors, 0 warnings (profile openai)"
    assert "none of its 2 payloads is a JSON event" in result.output and "the stream has no events" not in result.output
    record = json.loads(runner.invoke(app, ["check", "--json", "-"], input=b"hello\nworld\n").output)
    assert (record["events"], record["not_json"]) == (0, 2)


def test_messages_name_no_python_exception() -> None:
    import re

    result = runner.invoke(app, ["check", "/nonexistent/dir/x.jsonl", "-"], input=b"data: {oops\n\n")
    assert "no such file or directory: /nonexistent/dir/x.jsonl" in result.output
    assert not re.search(r"\b[A-Z][a-z]+(Error|Exception)\b", result.output), result.output


def test_an_unreadable_file_exits_2_even_if_others_have_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(_broken_file(tmp_path)), str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "missing.jsonl: cannot read: no such file or directory" in result.output


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
        assert set(record) == {"file", "profile", "events", "not_json", "errors", "warnings", "groups", "violations"}
        assert record["profile"] == "openai" and record["not_json"] == 0
        assert all(set(v) == VIOLATION_KEYS for v in record["violations"])
        assert all(set(g) == GROUP_KEYS for g in record["groups"])
        assert record["errors"] == sum(v["severity"] == "error" for v in record["violations"])
        assert sum(g["count"] for g in record["groups"]) == len(record["violations"])
    assert (records[0]["events"], records[0]["errors"], records[0]["violations"]) == (26, 0, [])
    broken = records[1]["violations"][0]
    assert broken["rule"] == "part.one-done" and broken["severity"] == "error"
    assert isinstance(broken["index"], int) and broken["output_index"] == 0 and broken["item_id"].startswith("msg_")
    assert records[2]["events"] is None and "no such file or directory" in records[2]["read_error"]


def test_json_groups_identical_violations_with_count_first_and_last() -> None:
    path = path_of("vercel-ai__github-copilot-id-rotation")  # a new item_id on 62 events
    record = json.loads(runner.invoke(app, ["check", "--json", str(path)]).output)
    [group] = [g for g in record["groups"] if g["rule"] == "item.id-matches"]
    singles = [v for v in record["violations"] if v["rule"] == "item.id-matches"]
    assert group["count"] == len(singles) == 62
    assert (group["first_index"], group["last_index"]) == (singles[0]["index"], singles[-1]["index"])
    assert group["message"] == singles[0]["message"]
    text = runner.invoke(app, ["check", str(path)]).output
    assert sum("item.id-matches" in line for line in text.splitlines()) == 1


@pytest.mark.parametrize("path", sorted(CHAT.glob("*.jsonl")), ids=lambda p: p.stem)
def test_kit_check_judges_every_real_chat_capture_by_the_chat_rules(path: Path) -> None:
    from kit.events import enabled_rules

    result = runner.invoke(app, ["check", "--json", str(path)])
    record = json.loads(result.output)
    assert record["profile"] == "chat" and record["not_json"] == 0
    assert all(v["rule"] in enabled_rules("chat") for v in record["violations"]), record["violations"]
    assert not any(v["rule"].startswith(("event.", "lifecycle.")) for v in record["violations"])
    text = runner.invoke(app, ["check", str(path)]).output
    assert f"chunks, " in text.splitlines()[0] and "(profile chat)" in text.splitlines()[0]
    assert "event.schema" not in text and "terminal event" not in text


def test_kit_check_names_the_chat_rules_a_broken_real_chat_stream_breaks() -> None:
    path = CHAT / "req_llm-vkryukov__openrouter-gemini-flash-lite-reasoning-error.jsonl"
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert "chat.tool-call-delta" in result.output and "ERROR" in result.output and "chunk 3" in result.output


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
