"""The run context a notebook receives, and the observation under every view."""

from __future__ import annotations

from pathlib import Path

import pytest

import kit.notebook as nb
from kit.events import parse, parse_sse, validate_stream
from kit.events.observe import consume
from kit.setups.context import ContextError, RunContext
from kit.setups.modes import InferenceMode

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "tests" / "captures" / "responses" / "pydantic-ai__gpt4o-function-call-2025-03-no-seqnum.jsonl"


def test_start_reads_no_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIT_INFERENCE_MODE", "record")
    monkeypatch.setenv("KIT_RECORDING_DIR", str(tmp_path))
    monkeypatch.setenv("KIT_REPLAY_STYLE", "split")
    monkeypatch.chdir(ROOT / "kit" / "suites" / "responses")
    scenario = nb.start({})  # JupyterLab's `run = {}`
    assert scenario.mode is InferenceMode.REPLAY and scenario.setup.name == "local"
    assert scenario.recording_dir == ROOT / "recordings"  # the project's, found from the notebook's folder
    assert scenario.context.replay_style.value == "fast"


def test_the_context_round_trips_as_the_one_parameter_and_refuses_unknown_keys() -> None:
    context = RunContext(setup="litellm", mode=InferenceMode.RECORD, base_url="http://127.0.0.1:1/v1",
                         notebook="responses/basic_streaming", setups=("local", "litellm"))
    parameters = context.to_parameters()
    assert list(parameters) == ["run"] and parameters["run"]["mode"] == "record"
    assert RunContext.from_parameters(parameters["run"]) == context
    with pytest.raises(ContextError, match="unknown key.*inference_mode"):
        RunContext.from_parameters({"inference_mode": "replay"})
    with pytest.raises(ContextError, match="run\\['mode'\\] = 'fast'"):
        RunContext.from_parameters({"mode": "fast"})
    with pytest.raises(ContextError, match="kit serve local"):
        RunContext(base_url="server:local")


def test_consume_observes_once_what_the_validator_and_the_decoder_say() -> None:
    stream = parse(CAPTURE.read_text(), source_name="capture")
    observation = consume(stream)
    assert observation.events == stream.events and observation.stream.offsets == stream.offsets
    assert [v.rule for v in observation.violations or ()] == [v.rule for v in validate_stream(stream)]
    assert observation.response.output == consume(stream.events, profile=None).response.output
    assert consume(stream.events, profile=None).violations is None


def test_consume_keeps_a_live_sources_wire_facts_and_stamps_offsets_with_the_callers_clock() -> None:
    body = b'event: response.created\ndata: {"type": "response.created", "sequence_number": 0}\n\ndata: {oops'
    decoded = parse_sse(body, source_name="cut")
    ticks = iter([10.0, 10.5, 11.25])
    observation = consume(decoded.events, source_name="cut", clock=lambda: next(ticks))
    assert observation.stream.offsets == [0.5, 1.25]
    assert observation.wire is None  # a plain list has no wire
    kept = consume(decoded)
    assert kept.wire is decoded.wire and kept.wire.unterminated  # type: ignore[union-attr]
    assert "sse.unterminated" in {v.rule for v in kept.violations or ()}
