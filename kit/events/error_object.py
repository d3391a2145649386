"""Rule `error.object`: the body of a rejected request is OpenAI's error object.

OpenAI answers a request it refuses with an HTTP 4xx (5xx: its own fault) whose body is
`{"error": {"message", "type", "param", "code"}}` (the API reference's "Error codes"; openai-python reads
`body["error"]` into `APIStatusError.body`, its `message`, `type`, `param` and `code`). `message` and `type`
are strings, `param` and `code` a string or null. A client that shows the message, branches on `code`
(`context_length_exceeded`, `model_not_found`) or points at `param` needs every one of them. Pure: a body and
a status in, violations out.
"""

from __future__ import annotations

from typing import Any

from kit.events.validate import Violation

RULE = "error.object"
FIELDS = ("message", "type", "param", "code")


def error_object_violations(body: Any, status: int | None = None) -> list[Violation]:
    """The breaches of `error.object` in one error answer (`body` parsed from JSON; a str when it was not)."""
    def breach(message: str) -> Violation:
        return Violation(RULE, "error", message)

    found: list[Violation] = []
    if status is not None and not 400 <= status < 600:
        found.append(breach(f"HTTP {status}: an error answer has a 4xx or 5xx status"))
    if not isinstance(body, dict):
        return [*found, breach(f"the body is {_kind(body)}, not a JSON object {{\"error\": {{...}}}}")]
    error = body.get("error")
    if not isinstance(error, dict):
        got = "no `error` key" if "error" not in body else f"`error` is {_kind(error)}"
        return [*found, breach(f"{got}; expected {{\"error\": {{message, type, param, code}}}} "
                               f"(top-level keys: {', '.join(sorted(map(str, body))) or 'none'})")]
    missing = [name for name in FIELDS if name not in error]
    if missing:
        found.append(breach(f"error object lacks {', '.join(missing)} (has {', '.join(sorted(map(str, error)))})"))
    for name in ("message", "type"):
        if name in error and not (isinstance(error[name], str) and error[name].strip()):
            found.append(breach(f"error.{name} is {_kind(error[name])}, expected a non-empty string"))
    for name in ("param", "code"):
        if name in error and error[name] is not None and not isinstance(error[name], str):
            found.append(breach(f"error.{name} is {_kind(error[name])}, expected a string or null"))
    return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"
