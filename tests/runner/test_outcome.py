"""How an execution error becomes passed / failed / not recorded / unsupported."""

from __future__ import annotations

from kit.runner.outcome import CellError, Status, classify, record_command
from kit.summary import NOT_RECORDED, UNSUPPORTED, Stop

WHERE = {"setup": "gpt", "suite": "responses", "name": "refusal"}


def test_no_error_is_a_pass() -> None:
    assert classify(None, replaying=True, **WHERE) == (Status.PASSED, "", "", None)


def test_a_replay_miss_in_replay_mode_is_not_recorded_with_the_command_that_records_it() -> None:
    error = CellError("ReplayMiss", "no recording for this request ...", "stream = sc.responses_stream(...)", 3)
    status, message, cell, command = classify(error, Stop(NOT_RECORDED, error.evalue), replaying=True, **WHERE)
    assert status is Status.NOT_RECORDED and not status.is_failure
    assert command == "kit run --setup gpt --suite responses --pattern refusal --inference-mode record-if-missing"
    assert command in message


def test_a_replay_miss_outside_replay_mode_is_a_failure() -> None:
    status, *_ = classify(CellError("ReplayMiss", "x"), Stop(NOT_RECORDED, "x"), replaying=False, **WHERE)
    assert status is Status.FAILED


def test_an_error_named_like_a_stop_without_its_typed_entry_is_a_failure() -> None:
    """The notebook's result says why it stopped; an exception's name alone says nothing."""
    for name in ("ReplayMiss", "CapabilityMissing"):
        status, *_ = classify(CellError(name, "a class of the notebook's own"), None, replaying=True, **WHERE)
        assert status is Status.FAILED


def test_a_missing_capability_is_unsupported_with_its_message() -> None:
    error = CellError("CapabilityMissing", "setup 'vllm' cannot show this scenario: it lacks vision", "sc.require('vision')", 2)
    status, message, _, command = classify(error, Stop(UNSUPPORTED, error.evalue), replaying=True, **WHERE)
    assert status is Status.UNSUPPORTED and not status.is_failure
    assert message == "setup 'vllm' cannot show this scenario: it lacks vision" and command is None


def test_a_failure_names_the_cell_by_its_first_line_and_the_rule_ids() -> None:
    error = CellError("StreamCheckFailed",
                      "refusal: 2 conformance error(s): lifecycle.one-terminal, seq.increasing\n  [seq.increasing] event 4: ...",
                      "\n# check the stream\nsc.check(stream)\nsc.finish()", 7)
    status, message, cell, _ = classify(error, replaying=True, **WHERE)
    assert status is Status.FAILED
    assert cell == "# check the stream"
    assert message.splitlines() == [
        "In [7]: # check the stream",
        "StreamCheckFailed: refusal: 2 conformance error(s): lifecycle.one-terminal, seq.increasing",
        "  [seq.increasing] event 4: ...",
    ]


def test_a_long_error_is_cut_to_a_few_lines_without_terminal_colours() -> None:
    error = CellError("ValueError", "\x1b[31mred\x1b[0m\n" + "\n".join(f"line {i}" for i in range(50)), "x = 1", 1)
    _, message, _, _ = classify(error, replaying=True, **WHERE)
    lines = message.splitlines()
    assert lines[1] == "ValueError: red"
    assert len(lines) <= 10 and lines[-1].startswith("... (43 more lines")


def test_an_error_before_any_cell_ran_is_just_the_error() -> None:
    _, message, cell, _ = classify(CellError("NotebookContractError", "nb.ipynb: unknown parameter(s) env"),
                                   replaying=True, **WHERE)
    assert message == "NotebookContractError: nb.ipynb: unknown parameter(s) env" and cell == ""


def test_record_command_selects_exactly_that_notebook() -> None:
    assert record_command("ollama", "base", "chat_stream") == (
        "kit run --setup ollama --suite base --pattern chat_stream --inference-mode record-if-missing")


def test_record_command_of_a_managed_setup_starts_its_server() -> None:
    assert record_command("local", "responses", "basic_streaming") == (
        "kit run --setup local --suite responses --pattern basic_streaming --inference-mode record-if-missing"
        " --stack-config server:local")
