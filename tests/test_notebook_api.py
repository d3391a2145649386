"""kit.notebook outside the matrix: the playground form and the capture inspector, replaying real recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

import kit.notebook as nb

ROOT = Path(__file__).resolve().parents[1]


def test_playground_streams_a_recorded_answer(capsys, monkeypatch):
    monkeypatch.delenv("KIT_INFERENCE_MODE", raising=False)
    form = nb.playground(recording_dir=str(ROOT / "recordings"))
    form.fields["prompt"].value = "Write one short sentence about the sea."  # as basic_streaming recorded it
    form.fields["send"].click()
    out = capsys.readouterr().out
    assert "The sea is" in out and "completed" in out  # the recorded SmolLM2 answer, shown by the view


def test_playground_reports_a_miss_instead_of_raising(capsys):
    form = nb.playground(recording_dir=str(ROOT / "recordings"))
    form.fields["prompt"].value = "a prompt nobody recorded"
    form.fields["send"].click()
    out = capsys.readouterr().out
    assert "ReplayMiss" in out and "record-if-missing" in out


def test_inspect_capture_bridges_a_chat_capture(fixtures_dir, capsys):
    stream = nb.inspect_capture(fixtures_dir / "chat" / "llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-1dbd102b.jsonl")
    assert stream.source.endswith("(bridged)")
    citations = [a for item in nb.accumulate(stream).output if item.get("type") == "message"
                 for part in item["content"] for a in part.get("annotations", [])]
    assert citations and all(a["type"] == "file_citation" for a in citations)
    assert "a Chat Completions stream" in capsys.readouterr().out


def test_inspect_capture_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such capture"):
        nb.inspect_capture(tmp_path / "nope.jsonl")


def test_scenario_require_raises_capability_missing_with_the_reason():
    scenario = nb.start("local")
    with pytest.raises(nb.CapabilityMissing, match="lacks refusal"):
        scenario.require("tools", "refusal")
    scenario.require("tools", "file_search")  # what it has passes


def test_solid_png_is_a_real_png_of_that_color():
    import base64
    import io

    from PIL import Image

    url = nb.solid_png(8, 4, (220, 30, 30))
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (8, 4) and image.getpixel((5, 2)) == (220, 30, 30)
