"""The comparison notebook's state table: which setup supports which stateful route, from its recordings.

Routes are those of OpenAI's API reference (Create with `previous_response_id` / `background`, Retrieve,
List input items, Delete, Cancel, Retrieve with `stream=true&starting_after`, Create a conversation). The
last tests read the project's own committed recordings; their expected cells were checked against the raw
recording files (LiteLLM's response made with `previous_response_id` echoes a `chatcmpl-...` id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.compare_state import STATE_ROUTES, Exchange, route_of, state_cell, state_table

ROOT = Path(__file__).resolve().parents[1]
ROUTES = {r.name: r for r in STATE_ROUTES}


def ex(method: str, path: str, body: Any = None, status: int = 200, answer: Any = None) -> Exchange:
    return Exchange(method, path, body, status, answer)


@pytest.mark.parametrize("exchange, route", [
    (ex("POST", "/v1/responses", {"input": "hi", "previous_response_id": "resp_1"}), "previous_response_id"),
    (ex("POST", "/v1/responses", {"input": "hi", "background": True}), "background"),
    (ex("POST", "/v1/responses", {"input": "hi", "background": False}), None),
    (ex("POST", "/v1/responses", {"input": "hi"}), None),
    (ex("GET", "/v1/responses/resp_1"), "stored retrieve"),
    (ex("GET", "/v1/responses/resp_1?starting_after=3&stream=true"), "resume"),
    (ex("GET", "/v1/responses/resp_1/input_items?order=asc"), "input_items"),
    (ex("DELETE", "/v1/responses/resp_1"), "delete"),
    (ex("POST", "/v1/responses/resp_1/cancel"), "cancel"),
    (ex("POST", "/v1/conversations", {"items": []}), "conversations"),
    (ex("POST", "/v1/chat/completions", {"messages": []}), None),
])
def test_each_recorded_request_is_sorted_to_its_route(exchange: Exchange, route: str | None) -> None:
    found = route_of(exchange)
    assert (found.name if found else None) == route


def test_a_route_no_recording_shows_names_its_notebook() -> None:
    assert state_cell(ROUTES["cancel"], []) == "not recorded (responses/background_mode)"


def test_a_route_answered_only_with_refusals_is_no_quoting_the_first() -> None:
    refused = ex("GET", "/v1/responses/resp_1", status=404, answer={"detail": "Not Found"})
    assert state_cell(ROUTES["stored retrieve"], [refused]) == "no: 404 GET /v1/responses/resp_1: Not Found"
    error = ex("POST", "/v1/conversations", status=400,
               answer={"error": {"message": "conversations are not supported\nmore", "type": "invalid_request_error"}})
    assert state_cell(ROUTES["conversations"], [error]) == \
        "no: 400 POST /v1/conversations: conversations are not supported"


def test_one_success_among_refusals_is_yes() -> None:  # a GET after DELETE is a 404 by design
    ok, gone = ex("GET", "/v1/responses/r1", answer={"id": "r1"}), ex("GET", "/v1/responses/r1", status=404)
    assert state_cell(ROUTES["stored retrieve"], [ok, gone]) == "yes (1)"


def test_previous_response_id_echoed_as_another_id_is_a_caveat_not_a_yes() -> None:
    body = {"previous_response_id": "resp_abc"}
    assert state_cell(ROUTES["previous_response_id"],
                      [ex("POST", "/v1/responses", body, answer={"previous_response_id": "resp_abc"})]) == "yes (1)"
    cell = state_cell(ROUTES["previous_response_id"],
                      [ex("POST", "/v1/responses", body, answer={"previous_response_id": "chatcmpl-1"})])
    assert cell == "accepted (1), but echoes 'chatcmpl-1' instead of the id sent"


def test_background_answered_in_the_foreground_is_a_caveat() -> None:
    body = {"background": True}
    assert state_cell(ROUTES["background"], [ex("POST", "/v1/responses", body, answer={"status": "queued"})]) == \
        "yes (1)"
    assert state_cell(ROUTES["background"], [ex("POST", "/v1/responses", body, answer={"status": "completed"})]) \
        == "accepted, but not run in the background (status 'completed')"


def test_the_state_table_over_the_projects_recordings() -> None:
    table = state_table(["local", "bridge", "litellm", "ogx"], run={"recording_dir": str(ROOT / "recordings")})
    previous = table.cells["previous_response_id"]
    assert previous["bridge"].startswith("yes (") and previous["ogx"].startswith("yes (")
    assert previous["litellm"].startswith("accepted (") and "'chatcmpl-" in previous["litellm"]
    assert previous["local"].startswith("no: the kit's in-process bridge refuses it: previous_response_id")
    assert table.cells["background"]["local"].startswith("no: the kit's in-process bridge refuses it: background")
    frame = table.table()
    assert list(frame.columns) == ["recorded by", "local", "bridge", "litellm", "ogx"]
    assert list(frame.index) == [r.name for r in STATE_ROUTES]
    assert frame.loc["previous_response_id", "recorded by"] == "previous_response_chain"
    assert frame.loc["previous_response_id", "local"] == "no" and frame.loc["previous_response_id", "litellm"] == \
        "accepted (3) *"  # short cells; what they stand for is in the notes
    notes = table.notes()
    said = {(row.route, row.setup): row.what for row in notes.itertuples()}
    assert said[("previous_response_id", "litellm")] == previous["litellm"]
    assert said[("previous_response_id", "local")] == previous["local"]
    assert ("previous_response_id", "bridge") not in said  # a plain yes has nothing more to say
    assert not any(what.startswith("not recorded") for what in said.values())  # the row names its notebook
