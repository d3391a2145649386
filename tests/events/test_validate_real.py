"""Every real stream validates without crashing, and real streams get no error they do not deserve.

`ACCEPTED` lists every error the `openai` profile reports on a real fixture, with
the reason it is right to report it. A stream not listed must have no error at
all; a listed stream must have exactly the listed rules, no more, no fewer.
"""

from __future__ import annotations

import re
from pathlib import Path
from collections import Counter

import pytest

from kit.sources import load as kit_load
from kit.events import RULES, parse, parse_events, summarize, validate_stream
from kit.events.rules import PROFILES, enabled_rules
from tests.events._streams import FIXTURES, fixture_names, load, path_of, split_lifecycles

_SEVERAL_TURNS = (
    "the file holds several turns' streams back to back (a multi-step test); as one stream it really has several "
    "lifecycles (LiteLLM PR #40121 shape). Each turn alone is clean: see test_each_turn_of_a_multi_turn_file_is_clean"
)
ACCEPTED: dict[str, dict[str, str]] = {
    "openai-dotnet__gpt41-mini-background-resumed-get": {
        "lifecycle.created-first": "a resumed stream (GET ...?starting_after=1): clean when validated with starting_after",
    },
    "pydantic-ai__gpt4o-background-resume-starting-after": {
        "lifecycle.created-first": "a resumed stream (starting_after=0): clean when validated with starting_after",
    },
    "pydantic-ai__gpt4o-function-call-2025-03-no-seqnum": {
        "event.schema": "March 2025 OpenAI stream: sequence_number did not exist yet; reported once for the stream",
    },
    "pydantic-ai__gpt41-mcp-list-tools": {
        "item.closed-once": "OpenAI truly never sent output_item.done for two of three mcp_list_tools items "
        "(the recording's test is named ..._backfills_missing_results for this reason)",
    },
    "vercel-ai__openai-mcp-tool-approved-call": {
        "hosted.status-order": "OpenAI truly sent response.mcp_call.in_progress twice for one item",
    },
    "vercel-ai__openai-programmatic-tool-calling": {
        "item.done-terminal": "OpenAI (programmatic tool calling preview) truly closed a function_call with status in_progress",
    },
    "vercel-ai__openai-phase-commentary": {
        "part.text-consistent": "the fixture's authors trimmed deltas (sequence numbers jump): the done text is longer",
        "item.index-order": "the same trimming removed output item 1 entirely",
    },
    "pydantic-ai__openrouter-gpt-oss-20b-reasoning-text": {
        "item.final-output": "OpenRouter's temporary reasoning id rs_tmp_... differs in the final output",
    },
    "vercel-ai__github-copilot-id-rotation": {
        "item.id-matches": "GitHub Copilot sends a new item_id on every event (LiteLLM #30071 shape)",
        "item.same-identity": "... and a new id on output_item.done",
        "lifecycle.stable-response": "... and a new response.id on every lifecycle event",
        "item.final-output": "... and new ids in the final output",
    },
    "vercel-ai__xai-web-search-tool": {
        "annotation.type": "xAI sends url_citation without title, start_index and end_index",
    },
    "vercel-ai__xai-x-search-tool": {
        "annotation.type": "xAI sends url_citation without title, start_index and end_index",
    },
    **{
        name: {rule: _SEVERAL_TURNS for rule in (
            "lifecycle.created-first", "lifecycle.one-terminal", "lifecycle.stable-response", "seq.increasing", "item.index-order",
        )}
        for name in (
            "vercel-ai__azure-reasoning-encrypted-content",
            "vercel-ai__openai-reasoning-encrypted-content",
            "vercel-ai__openai-shell-tool",
        )
    },
}
RESUMED = {
    "openai-dotnet__gpt41-mini-background-resumed-get": 1,
    "pydantic-ai__gpt4o-background-resume-starting-after": 0,
}


@pytest.mark.parametrize("name", fixture_names())
def test_real_stream_errors_under_openai_are_exactly_the_accepted_ones(name: str) -> None:
    violations = validate_stream(kit_load(path_of(name)), "openai")
    errors = {violation.rule for violation in violations if violation.severity == "error"}
    assert errors == set(ACCEPTED.get(name, {})), [str(v) for v in violations if v.severity == "error"][:10]


def test_the_accepted_table_names_real_files_and_real_rules() -> None:
    names = set(fixture_names())
    for name, rules in ACCEPTED.items():
        assert name in names, name
        assert set(rules) <= set(RULES), rules


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates_every_real_stream_without_crashing(name: str, profile: str) -> None:
    stream = kit_load(path_of(name))
    violations = validate_stream(stream, profile)
    allowed = enabled_rules(profile)
    for violation in violations:
        assert violation.rule in allowed
        if violation.rule != "event.unknown-type":  # its severity depends on the type's prefix
            assert violation.severity == allowed[violation.rule]
        assert violation.index is None or 0 <= violation.index < len(stream.events)
        assert set(violation.to_dict()) == {"rule", "severity", "message", "index", "sequence_number", "output_index", "item_id", "content_index"}


@pytest.mark.parametrize("name", sorted(RESUMED))
def test_resumed_streams_are_clean_when_validated_as_resumptions(name: str) -> None:
    violations = validate_stream(kit_load(path_of(name)), "openai", starting_after=RESUMED[name])
    assert [str(v) for v in violations if v.severity == "error" or v.rule.startswith(("seq.", "lifecycle."))] == []


def test_a_resumed_stream_with_the_wrong_starting_point_is_caught() -> None:
    name = "openai-dotnet__gpt41-mini-background-resumed-get"
    violations = validate_stream(kit_load(path_of(name)), "openai", starting_after=0)
    assert [v.rule for v in violations if v.rule.startswith("seq.")] == ["seq.contiguous"]


@pytest.mark.parametrize(
    "name",
    ["vercel-ai__azure-reasoning-encrypted-content", "vercel-ai__openai-reasoning-encrypted-content", "vercel-ai__openai-shell-tool"],
)
def test_each_turn_of_a_multi_turn_file_is_clean(name: str) -> None:
    turns = split_lifecycles(load(name))
    assert len(turns) > 1
    for turn in turns:
        errors = [str(v) for v in validate_stream(parse_events(turn)) if v.severity == "error"]
        assert errors == []


def test_the_stream_without_sequence_numbers_gets_one_schema_error_not_one_per_event() -> None:
    violations = validate_stream(kit_load(path_of("pydantic-ai__gpt4o-function-call-2025-03-no-seqnum")))
    schema = [v for v in violations if v.rule == "event.schema"]
    assert len(schema) == 1 and schema[0].index is None and "sequence_number" in schema[0].message
    assert not [v for v in violations if v.rule.startswith("seq.")]


def test_lenient_keeps_only_core_errors_of_a_real_broken_stream() -> None:
    stream = kit_load(path_of("vercel-ai__github-copilot-id-rotation"))
    lenient = Counter(v.rule for v in validate_stream(stream, "lenient"))
    assert lenient == Counter({"item.id-matches": 62})  # the only core rule it breaks


def test_openresponses_turns_item_fields_into_errors() -> None:
    stream = kit_load(path_of("fantasy__o4-mini-reasoning-summary"))  # reasoning items carry no status
    openai = [v for v in validate_stream(stream, "openai") if v.rule == "item.fields"]
    strict = [v for v in validate_stream(stream, "openresponses") if v.rule == "item.fields"]
    assert openai and {v.severity for v in openai} == {"warning"}
    assert len(strict) == len(openai) and {v.severity for v in strict} == {"error"}


def test_summarize_counts_errors_warnings_and_rules() -> None:
    violations = validate_stream(kit_load(path_of("vercel-ai__xai-x-search-tool")))
    summary = summarize(violations)
    assert summary["errors"] == sum(v.severity == "error" for v in violations) == summary["by_rule"]["annotation.type"]
    assert summary["errors"] + summary["warnings"] == len(violations)


CATALOG = Path(__file__).resolve().parents[2] / "docs" / "conformance-rules.md"
SEVERITY_COLUMN = {  # the catalog's "sev" column -> (openai, openresponses, core)
    "E core": ("error", "error", True),
    "E": ("error", "error", False),
    "W": ("warning", "warning", False),
    "W (E in openresponses)": ("warning", "error", False),
    "openresponses only, E": (None, "error", False),
    "W/E": ("warning", "warning", False),  # event.unknown-type: E only for unprefixed types under openresponses
}


def test_the_rule_table_is_the_catalog() -> None:
    if not CATALOG.is_file():
        pytest.fail(f"the rule catalog is not at {CATALOG}: docs/conformance-rules.md is part of the repository")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in CATALOG.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\| [a-z]+\.[a-z0-9-]+ \|", line)
    ]
    catalog = {row[0]: SEVERITY_COLUMN[row[2]] for row in rows}
    assert len(catalog) == 52  # 49 stream rules and 3 across requests (kit.events.across)
    assert {rule_id: (rule.openai, rule.openresponses, rule.core) for rule_id, rule in RULES.items()} == catalog


def test_the_profiles_turn_rules_on_as_written() -> None:
    assert enabled_rules("openai")["sse.event-name"] == "warning"
    assert enabled_rules("openresponses")["sse.event-name"] == "error"
    assert "sse.done-sentinel" not in enabled_rules("openai")
    assert enabled_rules("openresponses")["sse.done-sentinel"] == "error"
    assert set(enabled_rules("lenient")) == {
        "sse.json", "event.schema", "seq.increasing", "lifecycle.created-first", "lifecycle.one-terminal", "item.opened",
        "item.index-order", "item.closed-once", "item.id-matches", "part.opened", "part.index-order", "part.kind-matches",
        "sse.unterminated", "sse.utf8",
    }
    with pytest.raises(ValueError, match="unknown profile 'strict'"):
        validate_stream(parse([]), "strict")
