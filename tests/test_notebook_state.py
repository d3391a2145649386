"""The stateful helpers notebooks call (kit.notebook.state): polling, the background status path, where a
dropped stream is cut, and how the checks across requests reach the runner's result.

Expected statuses follow OpenAI's API reference (background mode: `queued`, then `in_progress`, then a
terminal status). The record/replay test records a poll from a loopback server whose background response
moves on (fault injection: a mocked server), then replays it: the same answers in the same order, no
sleeping; a poll beyond the recording gets the last answer again (the store's rule), another id is a miss.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import kit.notebook as nb
from kit.events.across import check_resumed, compare_stored
from kit.findings import EXPECTATIONS
from kit.notebook.state import head_until, poll, says_not_supported, sleeper, state_of, status_path_problem
from kit.recording import ReplayMiss
from kit.recording.client import make_session
from kit.recording.transport import RecordReplayTransport
from kit.setups.modes import InferenceMode, ReplayStyle

# -- polling, pure ---------------------------------------------------------------------------------------------


def test_poll_stops_at_the_first_terminal_status_and_sleeps_only_between_answers() -> None:
    answers = iter([{"status": "queued"}, {"status": "in_progress"}, {"status": "completed"}, {"status": "x"}])
    slept: list[float] = []
    got = poll(lambda: next(answers), sleep=slept.append, interval=0.25)
    assert [a["status"] for a in got] == ["queued", "in_progress", "completed"]
    assert slept == [0.25, 0.25]


def test_poll_gives_up_after_max_polls_with_every_answer() -> None:
    slept: list[float] = []
    got = poll(lambda: {"status": "queued"}, sleep=slept.append, interval=1.0, max_polls=4)
    assert len(got) == 4 and len(slept) == 3
    assert "never reached 'completed', last seen 'queued' after 4 answer(s): queued ×4" in \
        str(status_path_problem([a["status"] for a in got]))


@pytest.mark.parametrize("statuses", [
    ["queued", "in_progress", "completed"],
    ["queued", "queued", "in_progress", "in_progress", "completed"],
    ["queued", "completed"],  # a fast response finishes between two polls
    ["in_progress", "completed"],  # OpenAI may answer in_progress at once
])
def test_a_background_status_path_that_moves_forward_to_completed_is_fine(statuses: list[str]) -> None:
    assert status_path_problem(statuses) is None


@pytest.mark.parametrize("statuses, problem", [
    (["queued", "in_progress", "queued", "completed"], "went back from 'in_progress' to 'queued' (answer 2)"),
    (["queued", "in_progress"], "never reached 'completed'"),
    (["completed"], "the create answer is already 'completed': the response ran in the foreground"),
    (["queued", "failed"], "status 'failed' (answer 1) is not one of queued → in_progress → completed"),
    (["queued", "incomplete"], "status 'incomplete'"),
    ([], "no status was seen"),
])
def test_a_background_status_path_that_stalls_goes_back_or_fails_is_named(statuses: list[str],
                                                                           problem: str | None) -> None:
    found = status_path_problem(statuses)
    assert (found is None) if problem is None else (problem in str(found))


def test_a_dropped_stream_is_cut_after_the_first_events_and_the_rest_is_not_read() -> None:
    read: list[int] = []

    def events() -> Any:
        for n in itertools.count():
            read.append(n)
            yield {"sequence_number": n}

    assert [e["sequence_number"] for e in head_until(events(), 4)] == [0, 1, 2, 3]
    assert read == [0, 1, 2, 3]
    assert head_until(iter([{"sequence_number": 0}]), 4) == [{"sequence_number": 0}]


def test_a_poll_waits_for_real_against_a_server_and_in_a_realtime_replay_only() -> None:
    import time

    assert sleeper(InferenceMode.RECORD, ReplayStyle.FAST) is time.sleep
    assert sleeper(InferenceMode.LIVE, ReplayStyle.FAST) is time.sleep
    assert sleeper(InferenceMode.REPLAY, ReplayStyle.REALTIME) is time.sleep
    assert sleeper(InferenceMode.REPLAY, ReplayStyle.FAST) is not time.sleep
    assert sleeper(InferenceMode.REPLAY, ReplayStyle.SPLIT)(5.0) is None


# -- a recorded poll replays in order, without sleeping ---------------------------------------------------------


def _moving_server() -> httpx.MockTransport:
    """A background response that is queued, then in progress twice, then completed, one status per GET."""
    statuses = iter(["queued", "in_progress", "in_progress", "completed", "completed"])
    return httpx.MockTransport(lambda request: httpx.Response(
        200, json={"id": "resp_1", "object": "response", "status": next(statuses)}))


def _client(mode: str, folder: Path, transport: httpx.BaseTransport) -> openai.OpenAI:
    session = make_session("poller", mode, recording_dir=folder)  # MockTransport is sync and async: say which
    http = httpx.Client(transport=RecordReplayTransport(session, transport))
    return openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0, http_client=http)


def _get(client: openai.OpenAI) -> dict[str, Any]:
    return client.responses.with_raw_response.retrieve("resp_1").http_response.json()


@pytest.mark.fault_injection  # a mocked server whose response moves on between polls
def test_a_recorded_poll_replays_the_same_answers_in_order_without_sleeping(tmp_path: Path) -> None:
    recorder = _client("record", tmp_path, _moving_server())
    recorded = [a["status"] for a in poll(lambda: _get(recorder), sleep=lambda s: None, interval=0.01)]
    assert recorded == ["queued", "in_progress", "in_progress", "completed"]
    files = sorted(p.name for p in tmp_path.rglob("*.json") if p.parent.name == "responses")
    assert [name.split(".")[1] for name in files] == ["0", "1", "2", "3"]  # one GET, four occurrences

    unreachable = httpx.MockTransport(lambda request: pytest.fail("replay reached the network"))
    replayer = _client("replay", tmp_path, unreachable)
    waits: list[float] = []
    fast = sleeper(InferenceMode.REPLAY, ReplayStyle.FAST)
    replayed = [a["status"] for a in poll(lambda: _get(replayer), sleep=lambda s: waits.append(fast(s) or s),
                                          interval=5.0)]
    assert replayed == recorded and waits == [5.0, 5.0, 5.0]  # asked to wait three times, fast() returned at once
    assert _get(replayer)["status"] == "completed"  # one poll more than was recorded: the last answer again
    with pytest.raises(ReplayMiss):  # a request never recorded
        replayer.responses.with_raw_response.retrieve("resp_2")


# -- the checks across requests reach the run's result ---------------------------------------------------------


def test_across_violations_and_missed_expectations_are_judged_like_a_streams(capsys: pytest.CaptureFixture) -> None:
    scenario = nb.start("bridge")
    streamed = {"id": "resp_1", "status": "completed", "model": "m",
                "output": [{"id": "msg_1", "type": "message", "content": [{"type": "output_text", "text": "hi"}]}]}
    scenario.check_across("GET /v1/responses/{id} vs the stream", compare_stored(streamed, {**streamed, "output": []}))
    scenario.check_across("resumed after 3", check_resumed(3, [{"sequence_number": 4}, {"sequence_number": 5}]))
    scenario.expect_fact("expect.deleted-gone", False, "GET /v1/responses/resp_1 after DELETE: HTTP 200")
    scenario.expect_fact("expect.unstored-gone", True)
    result = json.loads(json.dumps(scenario.result().to_json()))
    errors = scenario.result().error_rules()
    assert list(errors) == ["state.stored-equals-stream", "expect.deleted-gone"]
    assert "GET /v1/responses/{id} vs the stream" in errors["state.stored-equals-stream"]
    assert [s["title"] for s in result["streams"]] == ["GET /v1/responses/{id} vs the stream", "resumed after 3"]
    shown = capsys.readouterr().out
    assert "conformance error state.stored-equals-stream" in shown and "expectation missed" in shown
    assert "resumed after 3: no violation" in shown


def test_every_expectation_the_state_helpers_and_notebooks_record_is_one_a_baseline_may_name() -> None:
    import re

    kit_dir = Path(nb.__file__).parents[1]
    source = "".join(p.read_text() for p in [kit_dir / "notebook" / "state.py", *(
        kit_dir / "suites" / "responses" / f"{name}.ipynb" for name in ("stored_responses", "conversations",
                                                                       "background_mode"))])
    used = set(re.findall(r'expect\.[a-z-]+(?=\\?")', source))
    assert used <= set(EXPECTATIONS), used - set(EXPECTATIONS)
    named = {name for name in EXPECTATIONS if name in used}
    assert named == {"expect.deleted-gone", "expect.unstored-gone", "expect.conversation-items",
                     "expect.conversation-deleted", "expect.background-lifecycle", "expect.background-cancel"}


# -- refusals in the server's own words ------------------------------------------------------------------------


def _answer(status: int, body: dict[str, Any]) -> openai.APIStatusError:
    client = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0, http_client=httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body))))
    try:
        client.responses.retrieve("resp_1")
    except openai.APIStatusError as exc:
        return exc
    raise AssertionError("the mocked server answered 2xx")


@pytest.mark.fault_injection  # mocked answers, worded as the peers' recorded ones
@pytest.mark.parametrize("status, body, refused", [
    (500, {"error": {"message": "litellm.APIConnectionError: LlamafileException - GET responses is not supported for "
                                "llamafile"}}, True),
    (400, {"detail": "OGX does not yet support 'stream' and 'background' together."}, True),
    (400, {"error": {"message": "Unsupported parameter: 'background'"}}, True),
    (500, {"error": {"message": "boom"}}, False),
    (400, {"error": {"message": "the supported values are 'asc' and 'desc'"}}, False),
])
def test_a_refusal_in_the_servers_own_words_is_told_from_a_failure(status: int, body: dict[str, Any],
                                                                    refused: bool) -> None:
    assert says_not_supported(_answer(status, body)) is refused


def test_a_response_that_ran_in_the_foreground_is_not_polled_nor_cancelled(capsys: pytest.CaptureFixture) -> None:
    state = state_of(nb.start("bridge"))  # replay: any request it sent would be a replay miss
    finished = {"id": "resp_1", "status": "completed"}
    assert state.poll("resp_1", first=finished) == [finished]
    assert state.cancel_running(finished) is None
    assert not state.scenario.expectations
    assert "not cancelled: the create answer is already 'completed'" in capsys.readouterr().out
