"""What a notebook expects beyond the conformance rules, recorded for the runner to judge: a mixin of `Scenario`.

An expectation is an `expect.*` name of `kit.findings.EXPECTATIONS`, met or missed; a miss is shown (as a
known finding when the run's findings name it) and recorded, never raised, so a peer's known miss is judged
like a rule. Checks across requests (`kit.events.across`) are recorded the same way, beside the streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kit.events import Stream, Violation, accumulate
from kit.notebook.checks import StreamCheckFailed, _fail, expect_status
from kit.notebook.display import _display
from kit.summary import Expectation

if TYPE_CHECKING:
    from kit.setups import Setup
    from kit.setups.context import RunContext


class Expectations:
    """The expectation half of a scenario; `Scenario` supplies its state and `responses_stream`/`check`."""

    context: RunContext
    setup: Setup
    expectations: list[Expectation]
    not_shown: list[str]
    checked: list[tuple[str, tuple[Violation, ...]]]
    # and, from Scenario: text_model, responses_stream(request, title=...), check(stream)

    def expect_failure(self, request: dict[str, Any], *, title: str | None = None) -> Any:
        """Send a request the server must reject: bridged, a stream ending `error` + `response.failed`;
        native, the SDK's HTTP error (or the same events, if the server streams them). A stream that does
        not fail is recorded as the missed expectation `expect.failure`, for the runner to judge."""
        import openai

        try:
            stream = self.responses_stream(request, title=title)
        except openai.APIStatusError as exc:
            _display(f"the server rejected the request: HTTP {exc.status_code}: {exc.message}")
            if exc.status_code < 400:
                raise StreamCheckFailed(f"expected a 4xx/5xx answer, got HTTP {exc.status_code}") from exc
            self.expectations.append(Expectation("expect.failure", True))
            return exc
        self.check(stream)
        try:
            expect_status(stream, "failed")
            if not any(event.type == "error" for event in stream.events):
                _fail(stream, "expected an `error` event before `response.failed`")
        except StreamCheckFailed as failure:
            self._missed("expect.failure", stream, failure)
        else:
            self.expectations.append(Expectation("expect.failure", True))
        return stream

    def expect_accepted(self, request: dict[str, Any], *, title: str | None = None,
                        expectation: str = "expect.input-accepted",
                        unsupported: frozenset[int] = frozenset()) -> Stream | None:
        """Send a valid request that the server must answer: an HTTP error instead is recorded as the missed
        `expectation`, quoting the server's answer, for the runner to judge (None comes back: nothing to check).
        An answer with one of `unsupported` (e.g. `kit.notebook.refusals.ROUTE_MISSING`: the server lacks the
        route) stops the notebook as unsupported instead, quoting it."""
        import openai

        from kit.notebook.refusals import refusal_text

        try:
            with self.refused_as_unsupported(title or "request", statuses=unsupported):  # the bridge's own refusal too
                return self.responses_stream(request, title=title)
        except openai.APIStatusError as exc:
            self.missed(expectation, f"{title or 'request'}: the server answered {refusal_text(exc)}"[:600])
            return None

    def expect_answer(self, stream: Stream, *, uses: Iterable[str] = (),
                      expectation: str = "expect.history-used") -> str | None:
        """The server answered (else `expect.input-accepted` is missed, saying how the response ended) and the
        answer uses every word of `uses`, given earlier in the conversation (else `expectation` is missed)."""
        from kit.notebook.turns import expect_answered, expect_mentions

        if self.expect("expect.input-accepted", lambda: expect_answered(stream), stream) is None:
            return None
        words = list(uses)
        return self.expect(expectation, lambda: expect_mentions(stream, *words), stream) if words else \
            accumulate(stream).text

    def expect_same_context(self, stream: Stream, reference: Stream) -> str | None:
        """`stream` (a turn through `previous_response_id`) got the answer `reference` (the same turn with the whole
        history as input) got: `expect.same-context`. A reference with no answer (its own miss is recorded) leaves
        nothing to compare: said, not judged."""
        from kit.notebook.turns import expect_same_answer

        if not accumulate(reference).text.strip():
            self.not_shown.append("expect.same-context")
            _display(f"not compared: {reference.source} has no answer to compare {stream.source} with")
            return None
        return self.expect("expect.same-context", lambda: expect_same_answer(stream, reference), stream)

    def expect(self, expectation: str, check: Any, stream: Stream) -> Any:
        """Run a content check (a callable) that a peer's baseline may name as `expectation` (an `expect.*` name of
        kit.findings.EXPECTATIONS): met or missed, it is recorded for the runner to judge; a miss returns None."""
        try:
            value = check()
        except StreamCheckFailed as failure:
            self._missed(expectation, stream, failure)
            return None
        self.expectations.append(Expectation(expectation, True))
        return value

    def _missed(self, expectation: str, stream: Stream, failure: StreamCheckFailed) -> None:
        self.missed(expectation, f"{stream.source}: {str(failure).splitlines()[0]}")

    def missed(self, expectation: str, where: str) -> None:
        """Show and record a missed expectation; `where` says what was seen (a stream's failed check, or a
        server's answer when there was no stream)."""
        self.expect_fact(expectation, False, where)

    def expect_fact(self, expectation: str, met: bool, where: str = "") -> bool:
        """Record an expectation (an `expect.*` name of kit.findings.EXPECTATIONS) about what no one stream shows
        (a later GET, a poll): a miss is shown, as a known finding when the run's findings know it."""
        if not met:
            _display(f"{self._label(expectation, 'expectation missed')}\n  seen: {where}")
        self.expectations.append(Expectation(expectation, met, "" if met else where))
        return met

    def check_across(self, title: str, violations: Iterable[Violation]) -> list[Violation]:
        """Record the violations of a rule across requests (`kit.events.across`) under `title`, for the runner to
        judge like a stream's; shown like `check`'s."""
        found = list(violations)
        self.checked.append((title, tuple(found)))
        for violation in found:
            label = self._label(violation.rule, f"conformance error {violation.rule}")
            _display(f"{label}\n  seen: {title}: {violation.message}")
        if not found:
            _display(f"{title}: no violation")
        return found

    def _label(self, rule: str, otherwise: str) -> str:
        """How a breach is shown: as this setup's known finding (its line) when the run's findings know it."""
        known = next((f for f in self.context.findings if f.rule == rule), None)
        return f"known finding: {known.line}" if known is not None else otherwise

