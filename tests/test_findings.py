"""Known findings: the baseline file format and the one judgement `kit run`, pytest and the live tests share.

The semantics checked here are the ones the brief of issue 9 states: E == B
non-empty is "known findings", E == B == {} "passed", a rule in E \\ B a new
finding (failed), a rule in B \\ E a baselined rule that no longer occurs
(failed, saying the peer may have fixed it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.findings import FAILED, KNOWN, PASSED, Baseline, FindingsError, findings_dir, judge, load_baseline
from kit.setups.project import find_project

BASELINE = '''
[peer]
name = "Example peer"
version = "1.0"
how = "a test file"

[[finding]]
notebook = "responses/function_tools"
rule = "item.closed-once"
event = "response.output_item.added (function_call): no response.output_item.done follows"
reason = "never closes function_call items"
upstream = "https://example.invalid/issues/1"

[[finding]]
notebook = "responses/function_tools"
rule = "item.final-output"
event = "response.completed: output is []"
reason = "the terminal response carries no output"
upstream = ""

[[finding]]
notebook = "responses/basic_streaming"
rule = "lifecycle.stable-response"
event = "response.completed: model differs from response.created"
reason = "prefixes the provider to the model name"
upstream = ""
'''


@pytest.fixture
def baseline(tmp_path: Path) -> Baseline:
    (tmp_path / "peer.toml").write_text(BASELINE, encoding="utf-8")
    return load_baseline("peer", tmp_path)


def test_the_same_error_rules_as_the_baseline_are_known_findings(baseline: Baseline) -> None:
    verdict = judge(["item.final-output", "item.closed-once"], baseline, "responses/function_tools")
    assert verdict.status == KNOWN
    assert [f.rule for f in verdict.known] == ["item.closed-once", "item.final-output"]
    assert verdict.message == ""


def test_no_errors_and_no_baseline_rules_is_passed(baseline: Baseline) -> None:
    assert judge([], baseline, "responses/reasoning").status == PASSED
    assert judge([], Baseline(setup="local"), "responses/function_tools").status == PASSED


def test_a_new_error_rule_is_a_regression_naming_rule_notebook_and_setup(baseline: Baseline) -> None:
    verdict = judge(["item.closed-once", "item.final-output", "seq.increasing"], baseline, "responses/function_tools")
    assert verdict.status == FAILED and verdict.new == ("seq.increasing",)
    assert "new finding: error rule seq.increasing in responses/function_tools on peer" in verdict.message


def test_a_baselined_rule_that_no_longer_occurs_fails_saying_to_update_the_baseline(baseline: Baseline) -> None:
    verdict = judge(["item.closed-once"], baseline, "responses/function_tools")
    assert verdict.status == FAILED and [f.rule for f in verdict.gone] == ["item.final-output"]
    assert ("baselined rule item.final-output no longer occurs in responses/function_tools on peer: "
            "the peer may have fixed it; update") in verdict.message
    assert str(baseline.source) in verdict.message


def test_rules_are_per_notebook(baseline: Baseline) -> None:
    # lifecycle.stable-response is known in basic_streaming only: elsewhere it is new.
    assert judge(["lifecycle.stable-response"], baseline, "responses/basic_streaming").status == KNOWN
    assert judge(["lifecycle.stable-response"], baseline, "base/chat_streaming").new == ("lifecycle.stable-response",)


def test_without_a_notebook_every_finding_of_the_setup_applies(baseline: Baseline) -> None:
    assert baseline.rules(None) == {"item.closed-once", "item.final-output", "lifecycle.stable-response"}
    assert baseline.rules("responses/function_tools") == {"item.closed-once", "item.final-output"}


def test_a_setup_without_a_file_has_an_empty_baseline(tmp_path: Path) -> None:
    assert load_baseline("nobody", tmp_path).findings == ()
    verdict = judge(["item.closed-once"], load_baseline("nobody", tmp_path), "responses/function_tools")
    assert verdict.status == FAILED and "nobody.toml" in verdict.message


@pytest.mark.parametrize(("entry", "message"), [
    ('notebook = "responses/x"\nrule = "no.such-rule"\nevent = "e"\nreason = "r"\nupstream = ""', "not in the catalog"),
    ('notebook = "responses/x"\nrule = "seq.increasing"\nreason = "r"\nupstream = ""', "lacks event"),
    ('notebook = "x"\nrule = "seq.increasing"\nevent = "e"\nreason = "r"\nupstream = ""', "<suite>/<name>"),
    ('notebook = "responses/x"\nrule = "seq.increasing"\nevent = "e"\nreason = "r"\nlink = ""', "unknown field"),
])
def test_a_bad_finding_is_refused_naming_the_file_and_the_fix(tmp_path: Path, entry: str, message: str) -> None:
    (tmp_path / "peer.toml").write_text(f"[[finding]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(FindingsError, match=message) as info:
        load_baseline("peer", tmp_path)
    assert "peer.toml" in str(info.value)


def test_a_rule_listed_twice_for_one_notebook_is_refused(tmp_path: Path) -> None:
    entry = '[[finding]]\nnotebook = "responses/x"\nrule = "seq.increasing"\nevent = "e"\nreason = "r"\nupstream = ""\n'
    (tmp_path / "peer.toml").write_text(entry * 2, encoding="utf-8")
    with pytest.raises(FindingsError, match="listed twice"):
        load_baseline("peer", tmp_path)


def test_broken_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "peer.toml").write_text("[[finding]\n", encoding="utf-8")
    with pytest.raises(FindingsError, match="peer.toml: not valid TOML"):
        load_baseline("peer", tmp_path)


def test_the_directory_is_the_one_given_else_the_projects_findings_folder(tmp_path: Path) -> None:
    assert findings_dir(str(tmp_path)) == tmp_path.resolve()
    project = tmp_path / "project"
    (project / "notebooks" / "responses").mkdir(parents=True)
    (project / "kit-setups.toml").write_text("", encoding="utf-8")  # what makes a folder a project (kit init)
    assert findings_dir(None, start=project / "notebooks" / "responses") == project.resolve() / "findings"
    # a packaged suite belongs to whichever project runs it: the working directory's, not the package's
    packaged = Path(__file__).resolve().parents[1] / "kit" / "suites" / "responses"
    assert findings_dir(None, start=packaged) == find_project().findings


def test_committed_baselines_are_readable() -> None:
    """Every committed findings/<setup>.toml parses (fields, rule ids in the catalog, no duplicates)."""
    folder = Path(__file__).resolve().parents[1] / "findings"
    for path in sorted(folder.glob("*.toml")):
        baseline = load_baseline(path.stem, folder)
        assert baseline.findings, f"{path}: a baseline file with no finding; delete it instead"
        assert baseline.peer.get("version"), f"{path}: [peer] version is the version the findings hold for"


CAPTURE = Path(__file__).resolve().parent / "captures" / "responses" / "pydantic-ai__gpt4o-function-call-2025-03-no-seqnum.jsonl"
SCHEMA_FINDING = '''[[finding]]
notebook = "responses/old_streams"
rule = "event.schema"
event = "every event: no sequence_number"
reason = "a 2025-03 stream"
upstream = ""
'''


def _known(baseline: Baseline, notebook: str) -> tuple:  # type: ignore[type-arg]
    """What the runner gives a notebook's context: the baselined findings it may show (not judge)."""
    from kit.setups.context import KnownFinding

    return tuple(KnownFinding(f.rule, f.line()) for f in baseline.for_notebook(notebook))


def test_a_notebook_check_records_and_shows_and_the_runner_alone_judges(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The capture breaks event.schema only (kit check on it says so). The notebook never raises for it: it
    shows it (as a known finding when its context lists one) and records it; the runner judges."""
    import kit.notebook as nb
    from kit.events import parse
    from kit.runner.outcome import Status, judge_findings

    (tmp_path / "gpt.toml").write_text(SCHEMA_FINDING, encoding="utf-8")
    baseline = load_baseline("gpt", tmp_path)
    stream = parse(CAPTURE.read_text(), source_name="old stream")

    told = nb.start({"setup": "gpt", "recording_dir": str(tmp_path), "notebook": "responses/old_streams",
                     "findings": _known(baseline, "responses/old_streams")})
    told.check(stream)
    assert "known finding: event.schema — a 2025-03 stream — no upstream issue known" in capsys.readouterr().out
    result = told.result()
    assert list(result.error_rules()) == ["event.schema"]
    assert judge_findings(Status.PASSED, "", result, baseline, "responses/old_streams")[0] is Status.KNOWN_FINDINGS

    other = nb.start({"setup": "gpt", "recording_dir": str(tmp_path), "notebook": "responses/another"})
    other.check(stream)  # recorded, shown, not raised: the judgement is the runner's
    assert "conformance error event.schema" in capsys.readouterr().out
    status, message, _ = judge_findings(Status.PASSED, "", other.result(), baseline, "responses/another")
    assert status is Status.FAILED and "new finding: error rule event.schema in responses/another" in message

    allowed = nb.start({"setup": "gpt", "recording_dir": str(tmp_path)})
    allowed.check(stream, allow=["event.schema"])  # a notebook's own allowance is not a finding to judge
    assert allowed.result().error_rules() == {}
    assert allowed.result().violations()["errors"] > 0  # type: ignore[index]  (counted all the same)


def test_committed_baselines_name_notebooks_and_probes_that_exist() -> None:
    """A finding under a misspelt notebook would never be judged: every one names a matrix notebook or a probe
    of the `kit check` battery."""
    from kit.battery import BATTERY
    from kit.suites import discover

    root = Path(__file__).resolve().parents[1]
    places = {ref.id for ref in discover(root / "kit" / "suites")} | {f"battery/{p.name}" for p in BATTERY}
    for path in sorted((root / "findings").glob("*.toml")):
        baseline = load_baseline(path.stem, root / "findings")
        strays = sorted({f.notebook for f in baseline.findings} - places)
        assert strays == [], f"{path}: no notebook or battery probe is named {', '.join(strays)}"


STABLE_FINDING = '''[[finding]]
notebook = "responses/errors_incomplete"
rule = "lifecycle.stable-response"
event = "response.completed: another model id"
reason = "the provider-prefixed model id"
upstream = ""
'''
EXPECTATION_FINDING = '''[[finding]]
notebook = "responses/errors_incomplete"
rule = "expect.failure"
event = "response.completed: an empty message"
reason = "the upstream's failure reported as a success"
upstream = ""
'''


def test_a_missed_expectation_is_recorded_and_judged_like_a_rule(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """LiteLLM's real answer to a request beyond the context window (recordings/litellm): response.completed,
    an empty message (and the model-id finding). The notebook records the missed `expect.failure`; the
    runner's one judgement makes it a known finding when the baseline lists it, a new one otherwise."""
    import kit.notebook as nb

    root = Path(__file__).resolve().parents[1]
    request = {"input": " ".join(["lighthouse"] * 20000), "max_output_tokens": 8}
    (tmp_path / "litellm.toml").write_text(STABLE_FINDING + "\n" + EXPECTATION_FINDING, encoding="utf-8")
    baseline = load_baseline("litellm", tmp_path)
    known = nb.start({"setup": "litellm", "recording_dir": str(root / "recordings"),
                      "notebook": "responses/errors_incomplete", "findings": _known(baseline, "responses/errors_incomplete")})
    stream = known.expect_failure(request, title="beyond the context")
    assert stream.events[-1].type == "response.completed"
    assert "known finding: expect.failure — the upstream's failure reported as a success" in capsys.readouterr().out
    errors = known.result().error_rules()
    assert sorted(errors) == ["expect.failure", "lifecycle.stable-response"]  # the miss is judged like a rule
    assert "expected the response to end 'failed', it ended 'completed'" in errors["expect.failure"]
    assert judge(errors, baseline, "responses/errors_incomplete").status == KNOWN
    (tmp_path / "litellm.toml").write_text(STABLE_FINDING, encoding="utf-8")
    assert judge(errors, load_baseline("litellm", tmp_path), "responses/errors_incomplete").new == ("expect.failure",)


def test_an_expectation_id_outside_the_known_ones_is_refused(tmp_path: Path) -> None:
    (tmp_path / "peer.toml").write_text(EXPECTATION_FINDING.replace("expect.failure", "expect.magic"), encoding="utf-8")
    with pytest.raises(FindingsError, match="expect.magic.*nor a notebook expectation"):
        load_baseline("peer", tmp_path)
