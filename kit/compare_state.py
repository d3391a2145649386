"""The comparison notebook's state table: which setup supports which stateful route, from its recordings.

`STATE_ROUTES` lists each stateful route of the Responses API (`previous_response_id`, stored retrieve,
`input_items`, delete, conversations, background, cancel, resume) with the notebook whose recordings show
it, so the table fills in as those notebooks are recorded. No request is sent: each setup's recorded
requests are sorted to their route (`route_of`) and what their answers say becomes a cell (`state_cell`):
yes, no quoting the recorded refusal, a caveat where the answer does not do what the route is for, or not
recorded. A setup whose Responses are the kit's in-process bridge keeps no state: the bridge's own refusal.
Pure but for `recorded_exchanges` (the recording files) and `state_table` (the run context's folders).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StateRoute:
    """A stateful route of the Responses API and the notebook whose recordings show it."""

    name: str
    notebook: str  # <suite>/<name>: the notebook that exercises it (its recordings fill the row)
    method: str
    path: str  # a pattern over the request path: {id} is one path segment
    body_field: str | None = None  # the route is a POST /v1/responses naming this body field (truthy)
    query: str | None = None  # the query parameter the path must carry


STATE_ROUTES: tuple[StateRoute, ...] = (
    StateRoute("previous_response_id", "responses/previous_response_chain", "POST", "/v1/responses",
               body_field="previous_response_id"),
    StateRoute("stored retrieve", "responses/stored_responses", "GET", "/v1/responses/{id}"),
    StateRoute("input_items", "responses/stored_responses", "GET", "/v1/responses/{id}/input_items"),
    StateRoute("delete", "responses/stored_responses", "DELETE", "/v1/responses/{id}"),
    StateRoute("conversations", "responses/conversations", "POST", "/v1/conversations"),
    StateRoute("background", "responses/background_mode", "POST", "/v1/responses", body_field="background"),
    StateRoute("cancel", "responses/background_mode", "POST", "/v1/responses/{id}/cancel"),
    StateRoute("resume", "responses/background_resume", "GET", "/v1/responses/{id}", query="starting_after"),
)


@dataclass(frozen=True)
class Exchange:
    """One recorded request and what its answer says, as the state table reads it (pure data)."""

    method: str
    path: str  # with its query string
    body: Any
    status: int
    answer: Any  # the JSON body, or the last response snapshot an SSE body carried; None otherwise


def route_of(exchange: Exchange, routes: Sequence[StateRoute] = STATE_ROUTES) -> StateRoute | None:
    """The stateful route a recorded request used (the most specific one), or None."""
    path, _, query = exchange.path.partition("?")
    params = dict(part.partition("=")[::2] for part in query.split("&") if part)
    best = None
    for route in routes:
        pattern = "^" + re.escape(route.path).replace(re.escape("{id}"), "[^/]+") + "$"
        if exchange.method != route.method or not re.match(pattern, path):
            continue
        if route.method == "GET" and (route.query is not None) != ("starting_after" in params):
            continue  # a resumed stream (starting_after) is the resume route, not a plain retrieve
        if route.body_field is not None and not (isinstance(exchange.body, Mapping)
                                                 and exchange.body.get(route.body_field)):
            continue
        if best is None or route.body_field or route.query:  # a field or query names the route more closely
            best = route
    return best


def _refusal(exchange: Exchange) -> str:
    answer = exchange.answer if isinstance(exchange.answer, Mapping) else {}
    error = answer.get("error")
    message = (error.get("message") if isinstance(error, Mapping) else None) or answer.get("detail") or ""
    return f"{exchange.status} {exchange.method} {exchange.path.split('?')[0]}: {str(message).splitlines()[0][:120] if message else 'no message'}"


def state_cell(route: StateRoute, exchanges: Sequence[Exchange]) -> str:
    """What a setup's recordings say about one route: yes, no (quoting the refusal), or a caveat."""
    if not exchanges:
        return f"not recorded ({route.notebook})"
    ok = [e for e in exchanges if 200 <= e.status < 300]
    if not ok:
        return "no: " + _refusal(exchanges[0])
    if route.name == "previous_response_id":
        wrong = [e for e in ok if isinstance(e.answer, Mapping)
                 and e.answer.get("previous_response_id") != e.body.get("previous_response_id")]
        if wrong:
            return (f"accepted ({len(ok)}), but echoes {str(wrong[0].answer.get('previous_response_id'))[:24]!r} "
                    f"instead of the id sent")
    if route.name == "background":
        foreground = [e for e in ok if isinstance(e.answer, Mapping)
                      and e.answer.get("status") not in ("queued", "in_progress", "cancelled")]
        if foreground and len(foreground) == len(ok):
            return f"accepted, but not run in the background (status {foreground[0].answer.get('status')!r})"
    return f"yes ({len(ok)})"


def in_process_cell(route: StateRoute) -> str:
    """The in-process bridge (a setup whose Responses are bridged) keeps no state: its own refusal of a body
    field, quoted; it serves no route of its own."""
    from kit.bridge.request import UnsupportedParameter, to_chat_request

    if route.body_field is None:
        return "no: the kit's in-process bridge serves no stored-state route"
    try:
        to_chat_request({"model": "m", "input": "x", route.body_field: "resp_x" if route.body_field.endswith("id")
                         else True})
    except UnsupportedParameter as refusal:
        return f"no: the kit's in-process bridge refuses it: {str(refusal)[:100]}"
    return "yes (the in-process bridge takes it)"


def _first_snapshot(response: Mapping[str, Any]) -> Any:
    """A recorded answer as the state table reads it: the JSON body, or an SSE body's first response snapshot
    (a background stream's first says `queued`), with its last snapshot's echo fields."""
    if "json" in response:
        return response["json"]
    snapshots = [e["data"]["response"] for e in (response.get("sse") or {}).get("events") or ()
                 if isinstance(e, Mapping) and isinstance(e.get("data"), Mapping)
                 and isinstance(e["data"].get("response"), Mapping)]
    if not snapshots:
        return None
    return {**snapshots[-1], "status": snapshots[0].get("status")}


def recorded_exchanges(recording_dir: Path, setup: str) -> list[Exchange]:
    """The setup's recorded Responses and Conversations requests (the edge: reads recording files)."""
    from kit.recording.store import load_recording

    exchanges = []
    for folder in ("responses", "conversations"):
        for path in sorted((recording_dir / setup / folder).glob("*.json")):
            recording = load_recording(path)
            exchanges.append(Exchange(recording.request["method"], recording.request["path"],
                                      recording.request.get("body"), recording.status,
                                      _first_snapshot(recording.response)))
    return exchanges


@dataclass
class StateTable:
    """Route × setup: what each setup's recordings say about each stateful route."""

    setups: list[str]
    cells: dict[str, dict[str, str]]  # route name -> setup -> cell
    routes: tuple[StateRoute, ...] = STATE_ROUTES

    def table(self) -> Any:
        """A row per route, a column per setup, each cell in a word or two (what they quote: `notes`)."""
        from kit.render.tables import ViewTable

        data = {"recorded by": [r.notebook.split("/")[-1] for r in self.routes],
                **{s: [_short(self.cells[r.name][s]) for r in self.routes] for s in self.setups}}
        table = ViewTable(data, index=[r.name for r in self.routes])
        table.caption = "Stateful routes × setups, from the recordings"
        return table

    def notes(self) -> Any:
        """The cells that say more than yes: each refusal quoted, each caveat in full."""
        from kit.render.tables import ViewTable

        rows = [{"route": r.name, "setup": s, "what": self.cells[r.name][s]} for r in self.routes for s in self.setups
                if _short(self.cells[r.name][s]) not in (self.cells[r.name][s], "not recorded")]
        table = ViewTable(rows)
        table.caption = "What the refusals and caveats say"
        return table


def _short(cell: str) -> str:
    """`no: 404 GET ...` -> `no`; `not recorded (responses/x)` -> `not recorded`; a caveat -> `accepted (n) *`."""
    if cell.startswith("not recorded"):
        return "not recorded"
    if cell.startswith("no:"):
        return "no"
    return cell.split(",")[0] + " *" if cell.startswith("accepted") else cell


def state_table(setups: Sequence[str], *, run: Mapping[str, Any] | Any = None,
                routes: Sequence[StateRoute] = STATE_ROUTES) -> StateTable:
    """Which setup supports which stateful route, read from the recordings each has (no request is sent).
    A setup whose Responses are the kit's in-process bridge keeps no state: its refusal is the bridge's own."""
    from kit.setups import load_setups
    from kit.setups.context import RunContext

    context = RunContext.from_parameters(run)
    known = load_setups(context.setups_config())
    folder = context.recordings()
    cells: dict[str, dict[str, str]] = {route.name: {} for route in routes}
    for setup in setups:
        bridged = setup in known and known[setup].responses == "bridge"
        by_route: dict[str, list[Exchange]] = {route.name: [] for route in routes}
        for exchange in [] if bridged else recorded_exchanges(folder, setup):
            if (route := route_of(exchange, routes)) is not None:
                by_route[route.name].append(exchange)
        for route in routes:
            cells[route.name][setup] = in_process_cell(route) if bridged else state_cell(route, by_route[route.name])
    return StateTable(list(setups), cells, tuple(routes))


__all__ = ["STATE_ROUTES", "Exchange", "StateRoute", "StateTable", "recorded_exchanges", "route_of", "state_cell",
           "state_table"]
