"""Known findings end to end: a notebook judges real streams, the runner and `kit run` apply the baseline.

The streams are two real captures from tests/captures that each break one
error rule under the openai profile (checked by `kit check` on the same
files): `event.schema` (a 2025-03 OpenAI stream without sequence_number) and
`lifecycle.created-first` (a resumed background stream that starts at
`response.in_progress`). The notebook records them; the runner alone judges. Each setup of the run gets its own baseline in a
temporary findings folder (`KIT_FINDINGS_DIR`); the committed findings/ is
never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from kit.cli import app
from kit.runner.matrix import plan, run_jobs
from kit.runner.outcome import Outcome, Status
from kit.setups.options import RunOptions, resolve_run
from kit.setups.registry import BUILTIN_SETUPS
from kit.suites import discover
from tests.runner.notebooks import write_notebook

CAPTURES = Path(__file__).resolve().parents[1] / "captures" / "responses"
NO_SEQNUM = CAPTURES / "pydantic-ai__gpt4o-function-call-2025-03-no-seqnum.jsonl"  # event.schema
RESUMED = CAPTURES / "openai-dotnet__gpt41-mini-background-resumed-get.jsonl"  # lifecycle.created-first

PEER_CELLS = [
    "import kit.notebook as nb\nfrom pathlib import Path\nfrom kit.events import parse\n"
    "scenario = nb.start(run)",
    f"first = parse(Path({str(NO_SEQNUM)!r}).read_text(), source_name='no seqnum')\nscenario.check(first)",
    f"second = parse(Path({str(RESUMED)!r}).read_text(), source_name='resumed')\nscenario.check(second)",
    "print('the notebook ran to its end')",
    "scenario.finish()",
]


def _finding(rule: str, reason: str, upstream: str = "") -> str:
    return (f'[[finding]]\nnotebook = "responses/peer"\nrule = "{rule}"\nevent = "seen in the capture"\n'
            f'reason = "{reason}"\nupstream = "{upstream}"\n\n')


SCHEMA = _finding("event.schema", "no sequence_number on any event", "https://example.invalid/issues/7")
CREATED = _finding("lifecycle.created-first", "a resumed stream starts at in_progress")
BOGUS = _finding("item.closed-once", "a rule these streams do not break")
PEER = '[peer]\nname = "a test peer"\nversion = "0"\nhow = "two real captures"\n\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("findings-project")
    write_notebook(root / "notebooks" / "responses" / "peer.ipynb", PEER_CELLS)
    (root / "recordings").mkdir()
    findings = root / "findings"
    findings.mkdir()
    (findings / "gpt.toml").write_text(PEER + SCHEMA + CREATED, encoding="utf-8")  # exactly what occurs
    (findings / "claude.toml").write_text(PEER + SCHEMA, encoding="utf-8")  # created-first removed
    (findings / "vllm.toml").write_text(PEER + SCHEMA + CREATED + BOGUS, encoding="utf-8")  # a rule that does not occur
    (findings / "ollama.toml").write_text(PEER + _finding("no.such-rule", "a typo"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def outcomes(project: Path) -> dict[str, Outcome]:
    run = resolve_run(RunOptions(setup=("gpt", "claude", "vllm", "ollama", "local"),
                                 env=(f"KIT_FINDINGS_DIR={project / 'findings'}",),
                                 recording_dir=project / "recordings"),
                      known=BUILTIN_SETUPS, recorded=[], environ={}, cwd=project)
    jobs = plan(run, discover(project / "notebooks"), project / "out", render_html=False)
    return {o.setup: o for o in run_jobs(jobs, workers=2)}


def _stdout(outcome: Outcome) -> str:
    assert outcome.executed is not None
    nb = nbformat.read(outcome.executed, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.output_type == "stream")


def test_exactly_the_baselined_rules_are_known_findings_and_the_notebook_runs_to_its_end(
        outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["gpt"]
    assert outcome.status is Status.KNOWN_FINDINGS, outcome.message
    assert not outcome.status.is_failure
    assert [f["rule"] for f in outcome.findings] == ["event.schema", "lifecycle.created-first"]
    schema = outcome.findings[0]
    assert schema["reason"] == "no sequence_number on any event" and schema["upstream"] == "https://example.invalid/issues/7"
    assert schema["event"] == "seen in the capture" and schema["seen"].startswith("no seqnum: ")
    out = _stdout(outcome)
    assert ("known finding: event.schema — no sequence_number on any event — https://example.invalid/issues/7"
            in out)
    assert "known finding: lifecycle.created-first — a resumed stream starts at in_progress — no upstream issue known" in out
    assert "the notebook ran to its end" in out
    assert outcome.violations is not None
    assert sorted(outcome.violations["error_rules"]) == ["event.schema", "lifecycle.created-first"]


def test_removing_a_baselined_rule_fails_naming_the_rule_the_notebook_and_the_setup(
        outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["claude"]
    assert outcome.status is Status.FAILED
    assert "lifecycle.created-first" in outcome.message
    assert "new finding: error rule lifecycle.created-first in responses/peer on claude" in outcome.message
    assert "claude.toml" in outcome.message  # the runner's one judgement says it; the notebook ran to its end
    assert "the notebook ran to its end" in _stdout(outcome)


def test_a_baselined_rule_that_does_not_occur_fails_saying_the_peer_may_have_fixed_it(
        outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["vllm"]
    assert outcome.status is Status.FAILED
    assert ("baselined rule item.closed-once no longer occurs in responses/peer on vllm: the peer may have fixed it; "
            "update") in outcome.message
    assert "vllm.toml" in outcome.message


def test_a_baseline_with_a_rule_outside_the_catalog_fails_naming_the_file(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["ollama"]
    assert outcome.status is Status.FAILED
    assert "no.such-rule" in outcome.message and "ollama.toml" in outcome.message


def test_a_setup_without_a_baseline_fails_on_any_error_rule(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["local"]
    assert outcome.status is Status.FAILED
    assert "event.schema" in outcome.message


def test_kit_run_exits_0_on_known_findings_and_1_when_a_baselined_rule_is_removed(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_FINDINGS_DIR", str(project / "findings"))
    args = ["run", "--notebooks", str(project / "notebooks"), "--recording-dir", str(project / "recordings"),
            "--out", str(project / "reports"), "--workers", "2"]
    known = CliRunner().invoke(app, [*args, "--setup", "gpt"])
    assert known.exit_code == 0, known.output
    assert "known findings" in known.output and "0 failed" in known.output
    results = json.loads((project / "reports" / "results.json").read_text())
    assert [o["status"] for o in results["outcomes"]] == ["known findings"]
    index = (project / "reports" / "index.html").read_text()
    assert "https://example.invalid/issues/7" in index and "no sequence_number on any event" in index
    removed = CliRunner().invoke(app, [*args, "--setup", "claude"])
    assert removed.exit_code == 1, removed.output
    assert "FAILED responses/peer[claude]" in removed.output and "lifecycle.created-first" in removed.output


@pytest.mark.parametrize("workers", [None, "2"], ids=["one-process", "xdist"])
def test_pytest_items_apply_the_same_judgement(project: Path, pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch, workers: str | None) -> None:
    """Known findings pass as pytest items; a baseline missing a rule fails the item with the same message.
    Under pytest-xdist too: the items run in workers, and the known findings are still listed at the end."""
    import shutil

    for name in ("KIT_INFERENCE_MODE", "KIT_RECORDING_DIR", "KIT_SETUPS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIT_FINDINGS_DIR", str(project / "findings"))
    shutil.copytree(project / "notebooks", pytester.path / "notebooks")
    (pytester.path / "recordings").mkdir()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    args = ["-p", "no:cacheprovider", "--recording-dir", "recordings", "notebooks", "--setup", "gpt,claude", "-q"]
    run = pytester.runpytest(*args, "--kit-workers", "2") if workers is None else \
        pytester.runpytest_subprocess(*args, "-n", workers)
    out = run.stdout.str()
    assert run.ret == 1, out
    assert "1 failed, 1 passed" in out
    assert "kit: known findings" in out
    assert ("responses/peer[gpt]: event.schema — no sequence_number on any event — https://example.invalid/issues/7"
            in out)
    failure = out.split("= FAILURES =", 1)[1]
    assert "notebook responses/peer failed on setup claude" in failure and "lifecycle.created-first" in failure


pytest_plugins = ["pytester"]
