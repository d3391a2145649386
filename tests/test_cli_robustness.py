"""No tracebacks from the CLI (issue 12, items 7, 8 and 9), run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kit.events import parse, validate_stream
from kit.sources import load

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT / "tests" / "captures" / "responses" / "otel-python-contrib__gpt4o-mini-text.jsonl"
FN_CALL = ROOT / "tests" / "captures" / "responses" / "openai-dotnet__gpt4o-mini-function-call.jsonl"


def kit(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=ROOT,
                          input=stdin, timeout=300, env={"PATH": "/usr/bin:/bin", "COLUMNS": "100"})


@pytest.fixture(scope="module")
def deep(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deep")
    paths = {}
    for suffix in (".jsonl", ".json", ".txt"):
        paths[suffix] = folder / f"deep{suffix}"
        paths[suffix].write_text("[" * 100_000 + "\n")
    return paths


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".txt"])
def test_check_json_on_deep_nesting_prints_one_json_line(deep, suffix):
    out = kit("check", "--json", str(deep[suffix]))
    assert "Traceback" not in out.stderr and out.returncode in (1, 2)
    [line] = out.stdout.splitlines()
    record = json.loads(line)
    assert record["file"] == str(deep[suffix])
    assert record.get("read_error") or record["errors"]


def test_bridge_on_deep_nesting_fails_the_response_instead_of_raising(deep):
    out = kit("bridge", str(deep[".jsonl"]))  # one unreadable chunk in a capture: the response fails
    assert "Traceback" not in out.stderr and out.returncode == 0
    last = json.loads(out.stdout.splitlines()[-1])
    assert last["type"] == "response.failed" and "nested too deeply" in last["response"]["error"]["message"]


def test_bridge_on_a_deeply_nested_json_file_names_it(deep):
    out = kit("bridge", str(deep[".json"]))  # a .json is a recording or a list of events: unreadable as a whole
    assert "Traceback" not in out.stderr and out.returncode == 2
    assert str(deep[".json"]) in out.stderr and "nested too deeply" in out.stderr


def test_show_on_deep_nesting_names_the_file(deep):
    out = kit("show", str(deep[".json"]))
    assert "Traceback" not in out.stderr and out.returncode == 2 and str(deep[".json"]) in out.stderr


def _huge_delta(tmp_path: Path, chars: int) -> Path:
    events = [json.loads(line) for line in TEXT.read_text().splitlines() if line.strip()]
    delta = next(e for e in events if e["type"] == "response.output_text.delta")
    delta["delta"] = "word " * (chars // 5)
    path = tmp_path / f"huge{chars}.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def test_show_renders_a_capped_preview_of_a_huge_delta_and_says_so(tmp_path):
    small, huge = kit("show", str(_huge_delta(tmp_path, 300_000))), kit("show", str(_huge_delta(tmp_path, 3_000_000)))
    assert small.returncode == huge.returncode == 0
    assert "preview: 20,000 of 3,000,011 characters shown" in " ".join(huge.stdout.split()).replace("│ ", "")
    # the view is the same size whatever the delta's length: rendering work does not grow with it
    assert abs(len(huge.stdout.splitlines()) - len(small.stdout.splitlines())) <= 2
    # and the verdict is of the whole stream: the done text differs from the 3 MB of deltas
    assert "part.text-consistent" in huge.stdout


def _function_call_with(field: str, value: object) -> list[dict]:
    events = [json.loads(line) for line in FN_CALL.read_text().splitlines() if line.strip()]
    for event in events:
        item = event.get("item")
        if event["type"] in ("response.output_item.added", "response.output_item.done") and \
                isinstance(item, dict) and item.get("type") == "function_call":
            item[field] = value
    return events


@pytest.mark.parametrize("field,value", [("call_id", 5), ("name", 3), ("arguments", {"location": "Paris"})])
def test_function_call_item_fields_are_type_checked(field, value):
    well_typed = _function_call_with(field, "{}" if field == "arguments" else "ok")
    assert not [v for v in validate_stream(parse(well_typed), "openai") if v.rule == "event.schema"]
    violations = [v for v in validate_stream(parse(_function_call_with(field, value)), "openai")
                  if v.rule == "event.schema"]
    assert violations and all(field in v.message and "function_call item" in v.message for v in violations)
    assert violations[0].severity == "error" and violations[0].item_id is not None


def test_no_real_capture_trips_the_item_field_checks():
    for path in sorted((ROOT / "tests" / "captures" / "responses").glob("*.jsonl")):
        found = [v for v in validate_stream(load(path), "openai") if v.rule == "event.schema" and " item: " in v.message]
        assert found == [], path


def test_show_live_caps_its_preview_like_the_static_view(tmp_path):
    live = kit("show", "--live", str(_huge_delta(tmp_path, 3_000_000)))
    assert live.returncode == 0 and "Traceback" not in live.stderr
    assert "preview: 20,000 of 3,000,011 characters shown" in " ".join(live.stdout.split()).replace("│ ", "")


def test_kit_bridge_reads_invalid_utf8_alike_from_a_file_and_from_stdin(tmp_path):
    """A chat capture with one byte that is not UTF-8: the same events from FILE and from `-`, each saying so."""
    chat = sorted((ROOT / "tests" / "captures" / "chat").glob("*.jsonl"))[0].read_bytes()
    broken = chat.replace(b'"content":"', b'"content":"\xff', 1)
    assert broken != chat
    path = tmp_path / "latin.jsonl"
    path.write_bytes(broken)
    from_file = subprocess.run([sys.executable, "-m", "kit", "bridge", str(path)], capture_output=True, cwd=ROOT,
                               timeout=300, env={"PATH": "/usr/bin:/bin"})
    from_stdin = subprocess.run([sys.executable, "-m", "kit", "bridge", "-"], capture_output=True, cwd=ROOT,
                                input=broken, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout and from_file.stdout.decode("utf-8")  # valid UTF-8 out, both ways
    assert b"not UTF-8" in from_file.stderr and b"not UTF-8" in from_stdin.stderr
