"""The stateful Responses API from a notebook: stored responses, conversations, background mode.

Every request goes through the scenario's record/replay client, so a notebook's several requests are
recorded and replayed like one stream is. Ids the server made (a response id in a URL, a conversation id in
a body) need no special matching: in replay the client reads them from the recorded answers, so the next
request carries the recorded id and its key is the recorded one. Identical requests (the GETs of a poll) are
told apart by their occurrence (0, 1, 2, ... within the run), so a replayed poll gets the recorded answers in
their order and stops where the recording stopped.

Pure parts first (what a poll's statuses mean, where a resumed stream is cut); `State` puts them behind the
scenario: it makes the requests, shows what came back and records the across-request rules
(`kit.events.across`) and the expectations (`kit.findings.EXPECTATIONS`) for the runner. A route the setup
lacks is left to `Scenario.refused_as_unsupported` around the call, from the server's recorded answer.

Pacing: a poll waits between requests only when it talks to a server, and in a `realtime` replay (the
pace it had); a `fast` or `split` replay never sleeps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from kit.events import Stream, parse
from kit.events.across import check_input_items, check_resumed, compare_stored
from kit.events.parse import sse_payloads
from kit.notebook.display import _display
from kit.setups.modes import InferenceMode, ReplayStyle

TERMINAL_STATUSES = ("completed", "incomplete", "failed", "cancelled")
BACKGROUND_PATH = ("queued", "in_progress", "completed")  # the order a background response's status moves in


# -- pure ----------------------------------------------------------------------------------------------------


def poll(get: Callable[[], Mapping[str, Any]], *, sleep: Callable[[float], None], interval: float = 0.2,
         max_polls: int = 150) -> list[dict[str, Any]]:
    """`get()` until the answer's status is terminal or `max_polls` answers came, sleeping `interval` between
    them; every answer, in order."""
    answers: list[dict[str, Any]] = []
    for n in range(max_polls):
        if n:
            sleep(interval)
        answers.append(dict(get()))
        if answers[-1].get("status") in TERMINAL_STATUSES:
            break
    return answers


def status_path_problem(statuses: Sequence[str | None], *, path: Sequence[str] = BACKGROUND_PATH) -> str | None:
    """What is wrong with the statuses a background response went through (the create answer first), or None:
    the create answer is not yet at the last step of `path`, the statuses never go back, never leave it, and
    end at its last step."""
    if not statuses:
        return "no status was seen"
    if statuses[0] == path[-1]:
        return f"the create answer is already {path[-1]!r}: the response ran in the foreground, the request " \
               f"waited for all of it"
    where = -1
    for n, status in enumerate(statuses):
        if status not in path:
            return f"status {status!r} (answer {n}) is not one of {' → '.join(path)}: {_path(statuses)}"
        step = path.index(status)
        if step < where:
            return f"the status went back from {path[where]!r} to {status!r} (answer {n}): {_path(statuses)}"
        where = step
    if statuses[-1] != path[-1]:
        return f"it never reached {path[-1]!r}, last seen {statuses[-1]!r} after {len(statuses)} answer(s): " \
               f"{_path(statuses)}"
    return None


def _path(statuses: Sequence[str | None]) -> str:
    """`queued ×3 → in_progress ×5 → completed`: the statuses seen, runs counted."""
    runs: list[list[Any]] = []
    for status in statuses:
        if runs and runs[-1][0] == status:
            runs[-1][1] += 1
        else:
            runs.append([status, 1])
    return " → ".join(f"{s}" + (f" ×{n}" if n > 1 else "") for s, n in runs)


def head_until(events: Iterable[Mapping[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first `count` events (fewer when the stream ends first): where a dropped stream is cut."""
    head: list[dict[str, Any]] = []
    for event in events:
        head.append(dict(event))
        if len(head) >= count:
            break
    return head


NOT_SUPPORTED = re.compile(r"\bnot (?:yet )?supported\b|\bdoes not (?:yet )?support\b|\bunsupported\b", re.I)


def says_not_supported(exc: openai.APIStatusError) -> bool:
    """A refusal in the server's own words under a status other than 404/405/501: LiteLLM 1.108.7 answers
    `GET /v1/responses/{id}` with 500 "GET responses is not supported for llamafile", ogx 1.5.0 a streamed
    background request with 400 "OGX does not yet support 'stream' and 'background' together"."""
    from kit.notebook.refusals import refusal_text

    return bool(NOT_SUPPORTED.search(refusal_text(exc)))


def sleeper(mode: InferenceMode, style: ReplayStyle) -> Callable[[float], None]:
    """How a poll waits: for real against a server and in a realtime replay; not at all in a fast replay."""
    if mode is InferenceMode.REPLAY and style is not ReplayStyle.REALTIME:
        return lambda seconds: None
    return time.sleep


def _json(raw: Any) -> dict[str, Any]:
    """The JSON body of an SDK raw response (`with_raw_response`), as the server sent it."""
    body = raw.http_response.json()
    if not isinstance(body, dict):
        raise ValueError(f"{raw.http_response.request.method} {raw.http_response.request.url.path}: expected a JSON "
                         f"object, got {type(body).__name__}")
    return body


# -- the notebook's side -------------------------------------------------------------------------------------


@dataclass
class State:
    """A scenario's stateful requests: made through its client, shown, and recorded for the runner."""

    scenario: Any
    interval: float = 0.2
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.scenario.client

    def _sleep(self, seconds: float) -> None:
        sleeper(self.scenario.mode, self.scenario.context.replay_style)(seconds)

    def _refused_by_in_process_bridge(self, request: Mapping[str, Any]) -> None:
        """On a bridged setup (`local`) the Responses route is the in-process bridge: its own verdict on the
        request first (`UnsupportedParameter` for state it cannot keep), before any server is asked."""
        if self.scenario.setup.responses == "bridge":
            from kit.bridge.request import to_chat_request

            to_chat_request({"model": self.scenario.text_model, **request})

    # ---------------------------------------------------------------- stored responses

    def final_response(self, stream: Stream) -> dict[str, Any]:
        """The response the stream ended with, as the client accumulated it from the events."""
        accumulated = self.scenario.observation(stream).response
        return {"id": accumulated.id, "status": accumulated.status, "model": accumulated.model,
                "output": accumulated.output, "usage": accumulated.usage}

    def retrieve(self, response_id: str) -> dict[str, Any]:
        """`GET /v1/responses/{id}`, its JSON as sent."""
        return _json(self.client.responses.with_raw_response.retrieve(response_id))

    def check_stored(self, stream: Stream, stored: Mapping[str, Any]) -> list[Any]:
        """`state.stored-equals-stream`: the stored response against the stream's accumulated final response."""
        streamed = self.final_response(stream)
        _display(f"stored {stored.get('id')}: status {stored.get('status')!r}, "
                 f"{len(stored.get('output') or ())} output item(s), usage {stored.get('usage')!r}")
        return self.scenario.check_across(f"GET /v1/responses/{{id}} vs {stream.source}",
                                          compare_stored(streamed, stored, profile=self.scenario.profile))

    def input_items(self, response_id: str) -> list[dict[str, Any]]:
        """`GET /v1/responses/{id}/input_items`, oldest first (one page of up to 100)."""
        page = _json(self.client.responses.input_items.with_raw_response.list(response_id, order="asc", limit=100))
        return [dict(item) for item in page.get("data") or ()]

    def check_input_items(self, sent: Iterable[Mapping[str, Any]], listed: Sequence[Mapping[str, Any]]
                          ) -> list[Any]:
        """`state.input-items-complete`: every message and tool output sent is listed."""
        _display(f"input items listed: {[(i.get('type'), i.get('role')) for i in listed]}")
        return self.scenario.check_across("GET /v1/responses/{id}/input_items vs the input sent",
                                          check_input_items(sent, listed, profile=self.scenario.profile))

    def delete(self, response_id: str) -> dict[str, Any]:
        """`DELETE /v1/responses/{id}`; its answer's JSON (OpenAI's: `{id, object, deleted: true}`)."""
        raw = self.client.responses.with_raw_response.delete(response_id)
        try:
            return _json(raw)
        except ValueError:  # an empty body (204) is a deletion too
            return {}

    def expect_gone(self, response_id: str, expectation: str, why: str) -> bool:
        """A GET of the response is a 404: recorded as `expectation` (what the notebook expects, in `why`)."""
        try:
            answer = self.retrieve(response_id)
        except openai.NotFoundError as exc:
            _display(f"GET /v1/responses/{response_id}: 404 ({why}), as expected: {exc.message}")
            return self.scenario.expect_fact(expectation, True)
        return self.scenario.expect_fact(expectation, False, f"GET /v1/responses/{response_id} after {why}: HTTP 200 "
                                                             f"with status {answer.get('status')!r}, not a 404")

    # ---------------------------------------------------------------- conversations

    def create_conversation(self, items: list[dict[str, Any]], metadata: Mapping[str, str]) -> dict[str, Any]:
        """`POST /v1/conversations` with its first items."""
        return _json(self.client.conversations.with_raw_response.create(items=items, metadata=dict(metadata)))

    def conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        """`GET /v1/conversations/{id}/items`, oldest first (one page of up to 100)."""
        page = _json(self.client.conversations.items.with_raw_response.list(conversation_id, order="asc",
                                                                            limit=100))
        return [dict(item) for item in page.get("data") or ()]

    def expect_conversation_holds(self, conversation_id: str, sent: Sequence[Mapping[str, Any]],
                                  streamed: Stream) -> list[dict[str, Any]]:
        """`expect.conversation-items`: the conversation lists the items it was created with, the turn's input
        and the response's output items (by id), in that order, each id once."""
        items = self.conversation_items(conversation_id)
        _display(_items_table(items))
        problems = check_input_items(sent, items, profile=self.scenario.profile)
        where = "; ".join(v.message for v in problems)
        listed_ids = [i.get("id") for i in items]
        twice = sorted({i for i in listed_ids if listed_ids.count(i) > 1}, key=str)
        if twice:
            where += f"{'; ' if where else ''}item ids listed more than once: {twice}"
        for item in self.final_response(streamed)["output"]:
            if item.get("id") not in listed_ids:
                where += f"{'; ' if where else ''}the response's {item.get('type')} {item.get('id')!r} is not " \
                         f"among the conversation's items"
        self.scenario.expect_fact("expect.conversation-items", not where,
                                  f"GET /v1/conversations/{conversation_id}/items: {where}")
        return items

    def delete_conversation(self, conversation_id: str) -> None:
        """`DELETE /v1/conversations/{id}`; then `expect.conversation-deleted`: a GET of it is a 404."""
        self.client.conversations.with_raw_response.delete(conversation_id)
        try:
            answer = _json(self.client.conversations.with_raw_response.retrieve(conversation_id))
        except openai.NotFoundError as exc:
            _display(f"GET /v1/conversations/{conversation_id}: 404 after DELETE, as expected: {exc.message}")
            self.scenario.expect_fact("expect.conversation-deleted", True)
            return
        self.scenario.expect_fact("expect.conversation-deleted", False,
                                  f"GET /v1/conversations/{conversation_id} after DELETE: HTTP 200 {answer!r}")

    # ---------------------------------------------------------------- background mode

    def create_background(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v1/responses` with `background: true` (not streamed): the answer at once, as sent."""
        request = {"model": self.scenario.text_model, **request, "background": True}
        self._refused_by_in_process_bridge(request)
        return _json(self.client.responses.with_raw_response.create(**request))

    def refused(self, feature: str) -> Any:
        """`Scenario.refused_as_unsupported` that also takes a refusal in the server's own words under another
        status (`says_not_supported`)."""
        return self.scenario.refused_as_unsupported(feature, refused=says_not_supported)

    def poll(self, response_id: str, *, first: Mapping[str, Any] | None = None, max_polls: int = 150
             ) -> list[dict[str, Any]]:
        """GET the response until it is terminal; `first` (the create answer) heads the list of answers. A
        create answer that is terminal already is the only answer: there is nothing to poll."""
        if first is not None and first.get("status") in TERMINAL_STATUSES:
            self.answers[response_id] = [dict(first)]
            return [dict(first)]
        answers = poll(lambda: self.retrieve(response_id), sleep=self._sleep, interval=self.interval,
                       max_polls=max_polls)
        answers = [dict(first), *answers] if first is not None else answers
        self.answers[response_id] = answers
        return answers

    def expect_background_lifecycle(self, answers: Sequence[Mapping[str, Any]]) -> bool:
        """`expect.background-lifecycle`: queued → in_progress → completed, in that order, ending completed."""
        statuses = [a.get("status") for a in answers]
        _display(f"statuses, from the create answer through {len(answers) - 1} poll(s): {_path(statuses)}")
        problem = status_path_problem(statuses)
        where = f"polling GET /v1/responses/{answers[0].get('id') if answers else '?'}: {problem}"
        return self.scenario.expect_fact("expect.background-lifecycle", problem is None, where)

    def cancel(self, response_id: str) -> dict[str, Any]:
        """`POST /v1/responses/{id}/cancel`; its answer's JSON. A 400 (OpenAI's answer for a response that
        cannot be cancelled) is the answer too, as `{"error": "400 POST ...: message"}`, for the expectation."""
        from kit.notebook.refusals import refusal_text

        try:
            return _json(self.client.responses.with_raw_response.cancel(response_id))
        except openai.BadRequestError as exc:
            return {"error": refusal_text(exc)}

    def cancel_running(self, created: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Cancel a background response the create answer says is running, then `expect_cancelled`; None (and
        nothing sent) when the create answer is terminal already: nothing runs that a cancel could stop (the
        create answer's status is `expect.background-lifecycle`'s to judge)."""
        if created.get("status") in TERMINAL_STATUSES:
            _display(f"not cancelled: the create answer is already {created.get('status')!r}, nothing is running")
            return None
        return self.expect_cancelled(created["id"], self.cancel(created["id"]))

    def expect_cancelled(self, response_id: str, cancel_answer: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`expect.background-cancel`: the cancel answer and every later GET say `cancelled`."""
        after = self.poll(response_id, max_polls=20)
        statuses = [cancel_answer.get("status"), *(a.get("status") for a in after)]
        said = cancel_answer.get("error") or repr(cancel_answer.get("status"))
        _display(f"cancel answered {said}; then GET: {_path(statuses[1:])}")
        wrong = [s for s in statuses if s != "cancelled"]
        self.scenario.expect_fact("expect.background-cancel", not wrong,
                                  f"POST /v1/responses/{response_id}/cancel answered {said}, then GET: "
                                  f"{_path(statuses[1:])} (expected cancelled throughout)")
        return after

    def stream_and_drop(self, request: Mapping[str, Any], *, keep: int) -> list[dict[str, Any]]:
        """Stream a background response and drop the connection after `keep` events: a client cut off."""
        request = {"model": self.scenario.text_model, **request, "background": True}
        self._refused_by_in_process_bridge(request)
        with self.client.responses.with_streaming_response.create(**request, stream=True) as answer:
            events = sse_payloads(answer.iter_lines())
            head = head_until(events, keep)
            answer.close()  # on purpose, before the reader is dropped: recorded as closed by the consumer
            events.close()
        return head

    def resume(self, response_id: str, starting_after: int) -> list[dict[str, Any]]:
        """`GET /v1/responses/{id}?stream=true&starting_after=N`: the events after N, to the end."""
        with self.client.responses.with_streaming_response.retrieve(response_id, stream=True,
                                                                    starting_after=starting_after) as answer:
            return list(sse_payloads(answer.iter_lines()))

    def check_resumed(self, head: Sequence[Mapping[str, Any]], resumed: Sequence[Mapping[str, Any]],
                      starting_after: int, title: str) -> Stream:
        """`state.resume-continues` on the resumed events; the head and the resumed events, joined, are the
        whole stream, observed and judged by the catalog like any other (returned)."""
        _display(f"dropped after sequence_number {starting_after} ({len(head)} event(s)); resumed: {len(resumed)} "
                 f"event(s), sequence numbers {[e.get('sequence_number') for e in resumed][:8]}"
                 f"{' ...' if len(resumed) > 8 else ''}")
        self.scenario.check_across(f"resumed after {starting_after}: {title}",
                                   check_resumed(starting_after, resumed, profile=self.scenario.profile))
        joined = parse([dict(e) for e in (*head, *resumed)], source_name=f"{title} (dropped, then resumed)")
        self.scenario.check(joined)
        return joined


def _items_table(items: Sequence[Mapping[str, Any]]) -> Any:
    """The items as a small table: id, type, role, the text or the call."""
    import pandas as pd

    from kit.events.across import item_facts, message_text

    rows = []
    for item in items:
        facts = item_facts(item)
        text = message_text(item) if item.get("type", "message") == "message" else None
        rows.append({"id": item.get("id"), "type": item.get("type"), "role": item.get("role"),
                     "text or call": text if text is not None else facts.get("name") or item.get("output")})
    return pd.DataFrame(rows, columns=["id", "type", "role", "text or call"])


def state_of(scenario: Any, **options: Any) -> State:
    """The scenario's stateful requests (`State`)."""
    return State(scenario, **options)
