"""The comparison of setups, in replay from the committed recordings (no server).

Expected timings are read from the recording files themselves: the time to
the first event is the recorded arrival time of the first chunk, the total
the arrival time of the last.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kit.compare import REQUESTS, Comparison, Result, chosen_setups, compare
from kit.recording import ReplayMiss

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


def _recorded_chunk_times(first_message: str) -> list[float]:
    """Arrival times of the chunks of local's recorded chat stream whose first message is `first_message`."""
    for path in sorted((RECORDINGS / "local").rglob("*.json")):
        data = json.loads(path.read_text())
        if data["request"]["body"]["messages"][0]["content"] == first_message:
            return [t for t, _ in data["response"]["chunks"]]
    raise AssertionError(f"no local recording for {first_message!r}")


@pytest.fixture(scope="module")
def local() -> Comparison:
    return compare(["local"], run={"mode": "replay", "recording_dir": str(RECORDINGS)})


def test_each_request_is_compared_with_its_items_events_and_answer(local: Comparison) -> None:
    text, tool = (next(r for r in local.results if r.request == q.name) for q in REQUESTS)
    assert text.status == tool.status == "compared"
    assert text.items == ["message"] and tool.items == ["function_call"]
    assert text.event_types["response.created"] == 1 and text.event_types["response.output_text.delta"] > 0
    assert text.events == sum(text.event_types.values())
    assert tool.answer.startswith("get_weather(") and "Paris" in tool.answer
    assert len(text.answer) > 10 and text.model == "smollm2-135m-instruct" and text.route == "bridge"


def test_timings_are_the_recorded_arrival_times(local: Comparison) -> None:
    for request, message in (("text", "Write one short sentence about the sea."), ("function tool", "What is the weather in Paris?")):
        result = next(r for r in local.results if r.request == request)
        times = _recorded_chunk_times(message)
        assert result.first_event_s == pytest.approx(times[0], abs=1e-6)
        assert result.total_s == pytest.approx(times[-1], abs=1e-6)


def test_views_put_setups_side_by_side(local: Comparison) -> None:
    assert list(local.events("text").columns) == ["local"]
    assert list(local.events("text").index)[0] == "response.created"  # stream order, not alphabetical
    assert local.violations().loc["final.usage", "local"] == "W 2"  # llama-cpp-python streams no usage
    assert list(local.answers()["agrees with"]) == ["local: yes", "local: yes"]
    assert local.agreement("text") is None  # one setup: nothing to agree with
    assert local.finish() == {"compared": ["local"], "mode": "replay", "not_compared": {}}


def test_a_setup_without_recordings_is_shown_as_not_recorded(tmp_path: Path) -> None:
    shutil.copytree(RECORDINGS / "local", tmp_path / "local")
    result = compare(["local", "ollama", "gpt"], run={"mode": "replay", "recording_dir": str(tmp_path)})
    statuses = {(r.setup, r.request): r.status for r in result.results}
    assert statuses[("ollama", "text")] == statuses[("gpt", "function tool")] == "not recorded"
    assert result.compared() == ["local"]
    assert result.summary()["not_compared"]["ollama · text"] == "not recorded"


def test_nothing_compared_is_not_recorded(tmp_path: Path) -> None:
    result = compare(["ollama"], run={"mode": "replay", "recording_dir": str(tmp_path)})
    with pytest.raises(ReplayMiss, match="no recording for this request \\(mode=replay, setup=ollama\\)"):
        result.finish()


def test_answers_agree_up_to_whitespace() -> None:
    def one(setup: str, answer: str) -> Result:
        return Result(setup=setup, request="text", status="compared", answer=answer)

    assert Comparison(["a", "b"], [one("a", "The sea  is\nblue."), one("b", "The sea is blue.")]).agreement("text")
    assert Comparison(["a", "b"], [one("a", "The sea."), one("b", "The sky.")]).agreement("text") is False


def test_the_default_setups_are_those_recorded_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_COMPARE_SETUPS", raising=False)
    (tmp_path / "local" / "x").mkdir(parents=True)
    (tmp_path / "local" / "x" / "r.json").write_text("{}")
    (tmp_path / "not-a-setup" / "r.json").parent.mkdir()
    (tmp_path / "not-a-setup" / "r.json").write_text("{}")
    assert chosen_setups(None, tmp_path, ["local", "gpt"]) == ["local"]
    (tmp_path / "gpt" / "r.json").parent.mkdir()
    (tmp_path / "gpt" / "r.json").write_text("{}")
    assert chosen_setups(None, tmp_path, ["local", "gpt"]) == ["gpt", "local"]  # sorted
    assert chosen_setups(None, tmp_path, ["local", "gpt"], first="local") == ["local", "gpt"]  # the notebook's own first
    monkeypatch.setenv("KIT_COMPARE_SETUPS", "gpt, local")
    assert chosen_setups(None, tmp_path, ["local", "gpt"]) == ["gpt", "local"]
    with pytest.raises(ValueError, match="unknown setup\\(s\\) nope"):
        chosen_setups("nope", tmp_path, ["local"])
