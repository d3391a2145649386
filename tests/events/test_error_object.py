"""Rule `error.object` over real error answers of OpenAI's Responses API (tests/captures/errors) and mutations of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from kit.events import RULES
from kit.events.error_object import RULE, error_object_violations

ERRORS = Path(__file__).resolve().parents[1] / "captures" / "errors"
CAPTURES = sorted(ERRORS.glob("*.json"))


def test_the_rule_is_in_the_catalog_as_an_error() -> None:
    assert RULES[RULE].openai == "error" and RULES[RULE].openresponses == "error"


def test_the_real_captures_are_there() -> None:
    assert len(CAPTURES) == 4, f"tests/captures/errors holds {len(CAPTURES)} captures"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_openai_s_own_error_answers_pass(path: Path) -> None:
    assert error_object_violations(json.loads(path.read_text(encoding="utf-8")), 400) == []


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["error"].pop(name)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["error"].__setitem__(name, value)


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "no message": (_drop("message"), "lacks message"),
    "no type": (_drop("type"), "lacks type"),
    "no param": (_drop("param"), "lacks param"),
    "no code": (_drop("code"), "lacks code"),
    "empty message": (_set("message", ""), "error.message is str ''"),
    "message a list": (_set("message", ["bad"]), "error.message is list"),
    "type null": (_set("type", None), "error.type is null"),
    "code a number": (_set("code", 400), "error.code is int 400"),  # ogx/llama-stack style {"code": "404"} is a string: fine
    "param an object": (_set("param", {"name": "x"}), "error.param is dict"),
}


@pytest.mark.parametrize("name", MUTATIONS)
@pytest.mark.parametrize("path", CAPTURES[:2], ids=lambda p: p.stem)
def test_each_mutation_of_a_real_answer_is_caught(path: Path, name: str) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    mutate, expected = MUTATIONS[name]
    mutated = copy.deepcopy(body)
    mutate(mutated)
    violations = error_object_violations(mutated, 400)
    assert [v.rule for v in violations] == [RULE]
    assert expected in violations[0].message and violations[0].severity == "error"


@pytest.mark.parametrize("body, expected", [
    ({"detail": "Not Found"}, "no `error` key"),  # FastAPI's default answer
    ({"error": "model not found"}, "`error` is str"),
    ("Internal Server Error", "not a JSON object"),
    (None, "not a JSON object"),
])
def test_answers_that_are_not_the_envelope(body: Any, expected: str) -> None:
    violations = error_object_violations(body, 404)
    assert len(violations) == 1 and expected in violations[0].message


def test_an_error_answered_with_a_success_status_is_caught() -> None:
    body = json.loads(CAPTURES[0].read_text(encoding="utf-8"))
    violations = error_object_violations(body, 200)
    assert [v.message for v in violations] == ["HTTP 200: an error answer has a 4xx or 5xx status"]
