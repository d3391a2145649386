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
from kit.events.rules import PROFILES, RESPONSES_PROFILES, enabled_rules
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
# Captures of OpenAI's own servers (api.openai.com and Azure OpenAI, per MANIFEST.tsv). The reference cannot be
# non-conformant to itself: under `openai` they get no error and no warning, except these, each with its reason
# (the errors above are the same facts; a warning here is listed only with such a cause).
OPENAI_CAPTURES = (
    "chatlas__azure-gpt5-nano-simple", "chatlas__gpt41-web-search", "chatlas__gpt54-logprobs",
    "fantasy__azure-gpt5-mini-reasoning-summary-function-call", "fantasy__azure-o4-mini-function-call",
    "fantasy__gpt41-web-search", "fantasy__gpt5-structured-output", "fantasy__o4-mini-reasoning-summary",
    "llm-openai-plugin__gpt5-mini-function-call", "openai-dotnet__gpt41-mini-background-resumed-get",
    "openai-dotnet__gpt41-mini-background", "openai-dotnet__gpt4o-mini-code-interpreter-files",
    "openai-dotnet__gpt4o-mini-file-search", "openai-dotnet__gpt4o-mini-function-call", "openai-dotnet__gpt4o-mini-logprobs",
    "openai-dotnet__gpt4o-mini-web-search", "openai-dotnet__gpt5-mcp-call-failed", "openinference__agno-o4-mini-reasoning-summary",
    "openllmetry__agents-gpt4o-function-call-text", "otel-python-contrib__gpt4o-mini-text", "prism__gpt4-0613-text",
    "prism__gpt4o-error-rate-limited", "prism__o4-mini-web-search", "pydantic-ai__gpt41-compaction",
    "pydantic-ai__gpt41-mcp-list-tools", "pydantic-ai__gpt4o-background-resume-starting-after", "pydantic-ai__gpt4o-file-search",
    "pydantic-ai__gpt4o-function-call-2025-03-no-seqnum", "pydantic-ai__gpt4o-mini-logprobs", "pydantic-ai__gpt5-code-interpreter-image",
    "pydantic-ai__gpt5-moderation", "pydantic-ai__gpt5-reasoning-code-interpreter", "pydantic-ai__gpt5-web-search",
    "pydantic-ai__gpt55-phase-function-call", "pydantic-ai__o3-mini-reasoning-summary", "pydantic-ai__o4-mini-mcp-server-tool",
    "req_llm-sgs__o3-deep-research-incomplete", "req_llm-vkryukov__azure-codex-mini-incomplete",
    "vercel-ai__azure-code-interpreter-tool", "vercel-ai__azure-image-generation-tool", "vercel-ai__azure-reasoning-encrypted-content",
    "vercel-ai__azure-text", "vercel-ai__azure-web-search-preview-tool", "vercel-ai__openai-apply-patch-tool",
    "vercel-ai__openai-client-tool-search", "vercel-ai__openai-compaction", "vercel-ai__openai-local-shell-tool",
    "vercel-ai__openai-mcp-tool-approval-request", "vercel-ai__openai-mcp-tool-approved-call", "vercel-ai__openai-pdf-input-file",
    "vercel-ai__openai-phase-commentary", "vercel-ai__openai-programmatic-tool-calling", "vercel-ai__openai-reasoning-encrypted-content",
    "vercel-ai__openai-shell-skills", "vercel-ai__openai-shell-tool", "vercel-ai__openai-tool-search",
)
_RESUMED_WARNINGS = {
    "seq.contiguous": "a resumed stream starts after sequence number 0: clean when validated with starting_after",
    "lifecycle.in-progress-order": "... and has no response.created before in_progress: clean with starting_after",
}
ACCEPTED_WARNINGS: dict[str, dict[str, str]] = {
    "openai-dotnet__gpt41-mini-background-resumed-get": _RESUMED_WARNINGS,
    "pydantic-ai__gpt4o-background-resume-starting-after": _RESUMED_WARNINGS,
    "pydantic-ai__gpt41-mcp-list-tools": {
        "item.sequential": "the two mcp_list_tools items OpenAI never closed (item.closed-once) stay open under later items",
    },
    "vercel-ai__openai-phase-commentary": {"seq.contiguous": "the fixture's authors trimmed events (see the errors)"},
    **{name: {"lifecycle.in-progress-order": _SEVERAL_TURNS} for name in (
        "vercel-ai__azure-reasoning-encrypted-content", "vercel-ai__openai-reasoning-encrypted-content", "vercel-ai__openai-shell-tool",
    )},
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


@pytest.mark.parametrize("name", OPENAI_CAPTURES)
def test_the_openai_profile_is_silent_on_openai_s_own_streams_but_for_documented_exceptions(name: str) -> None:
    violations = validate_stream(kit_load(path_of(name)), "openai")
    expected = set(ACCEPTED.get(name, {})) | set(ACCEPTED_WARNINGS.get(name, {}))
    assert {v.rule for v in violations} == expected, [str(v) for v in violations if v.rule not in expected][:10]
    assert {v.rule for v in violations if v.severity == "warning"} == set(ACCEPTED_WARNINGS.get(name, {}))


def test_the_openai_captures_are_the_manifest_s_openai_and_azure_streams() -> None:
    manifest = (FIXTURES / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in manifest[1:] if line.startswith("responses/")]
    vendors = ("xai", "lmstudio", "github-copilot", "openrouter", "deepseek", "bedrock", "grok", "gemma")
    openai = {Path(row[0]).stem for row in rows if not any(v in row[0] + row[5] for v in vendors)}
    assert openai == set(OPENAI_CAPTURES)
    assert set(ACCEPTED_WARNINGS) <= set(OPENAI_CAPTURES)


def test_item_fields_asks_status_only_where_the_sdk_requires_it() -> None:
    import typing

    from openai.types.responses import response_output_item

    from kit.events.event_base import STATUS_OPTIONAL

    union = response_output_item.ResponseOutputItem
    members = typing.get_args(typing.get_args(union)[0]) if typing.get_origin(union) is typing.Annotated else typing.get_args(union)
    optional = set()
    for model in members:
        status = model.model_fields.get("status")
        if status is None or not status.is_required():
            optional |= set(typing.get_args(model.model_fields["type"].annotation))
    assert optional == set(STATUS_OPTIONAL)
    assert "message" not in STATUS_OPTIONAL and "reasoning" in STATUS_OPTIONAL


def test_the_accepted_table_names_real_files_and_real_rules() -> None:
    names = set(fixture_names())
    for name, rules in ACCEPTED.items():
        assert name in names, name
        assert set(rules) <= set(RULES), rules


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("profile", RESPONSES_PROFILES)
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


def test_openresponses_asks_every_item_for_a_status_and_makes_it_an_error() -> None:
    stream = kit_load(path_of("fantasy__o4-mini-reasoning-summary"))  # reasoning items carry no status
    openai = [v for v in validate_stream(stream, "openai") if v.rule == "item.fields"]
    strict = [v for v in validate_stream(stream, "openresponses") if v.rule == "item.fields"]
    assert openai == []  # the SDK's reasoning item has an optional status: OpenAI omits it
    assert strict and {v.severity for v in strict} == {"error"} and "reasoning item lacks status" in strict[0].message


def test_item_fields_still_warns_under_openai_when_a_message_lacks_status() -> None:
    events = load("otel-python-contrib__gpt4o-mini-text")
    for event in events:
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") == "message":
            item.pop("status", None)
    violations = [v for v in validate_stream(parse_events(events), "openai") if v.rule == "item.fields"]
    assert violations and violations[0].severity == "warning" and "message item lacks status" in violations[0].message


def test_logprobs_absent_is_accepted_under_openai_but_null_is_not() -> None:
    events = load("otel-python-contrib__gpt4o-mini-text")
    deltas = [e for e in events if e.get("type") == "response.output_text.delta"]
    for event in deltas:
        event.pop("logprobs", None)
    assert not [v for v in validate_stream(parse_events(events), "openai") if v.rule == "event.logprobs"]
    assert [v for v in validate_stream(parse_events(events), "openresponses") if v.rule == "event.logprobs"]
    deltas[0]["logprobs"] = None
    assert [v.index for v in validate_stream(parse_events(events), "openai") if v.rule == "event.logprobs"] == [events.index(deltas[0])]


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
    "E (chat)": (None, None, False),
    "W (chat)": (None, None, False),
}
CHAT_WIRE = {  # the catalog's sentence on wire rules under chat
    "sse.json": "error", "sse.utf8": "error", "sse.unterminated": "error", "sse.content-type": "error",
    "sse.after-done": "error", "sse.done-sentinel": "warning",
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
    assert len(catalog) == 70  # 49 Responses stream rules, 11 chat rules, 4 across requests (kit.events.across),
    # 1 over error answers (kit.events.error_object), 5 of WebSocket mode (kit.events.socket)
    assert {rule_id: (rule.openai, rule.openresponses, rule.core) for rule_id, rule in RULES.items()} == catalog
    chat = {row[0]: {"E (chat)": "error", "W (chat)": "warning"}[row[2]] for row in rows if row[2].endswith("(chat)")}
    assert {rule_id: rule.chat for rule_id, rule in RULES.items() if rule.chat} == {**chat, **CHAT_WIRE}


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
