"""Secrets never reach disk: scrub on write, refuse on load."""

from __future__ import annotations

import re
from typing import Any, Iterator

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "anthropic-organization-id",
    }
)
# Headers that vary by machine, SDK version or transfer and say nothing about the exchange.
VOLATILE_HEADERS = frozenset(
    {"user-agent", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding", "host"}
)
CREDENTIAL_PARAM = re.compile(r"(^|[_-])(key|api[_-]?key|token|access[_-]?token|secret|password|sig|signature|auth)$", re.I)
CREDENTIAL_VALUE = re.compile(
    r"(sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{20,}|AKIA[0-9A-Z]{16}"
    r"|xai-[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_\-]{30,})"
)


# Literal starts of the patterns above: a cheap scan that rules most texts out before the regex runs.
_CREDENTIAL_STARTS = ("sk-", "Bearer", "AKIA", "xai-", "gsk_", "AIza")


def has_credential(text: str) -> bool:
    """Whether a credential-looking value occurs anywhere in `text` (fast on large recordings)."""
    return any(start in text for start in _CREDENTIAL_STARTS) and CREDENTIAL_VALUE.search(text) is not None


def is_secret_header(name: str) -> bool:
    name = name.lower()
    return name in SECRET_HEADERS or name.endswith("-api-key")


def keep_header(name: str) -> bool:
    """Whether a header goes to disk: no secrets, nothing machine- or version-specific."""
    name = name.lower()
    return not (is_secret_header(name) or name in VOLATILE_HEADERS or name.startswith("x-stainless-"))


def scrub_headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if keep_header(k)}


def scrub_query(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params if not CREDENTIAL_PARAM.search(k)]


def find_secrets(value: Any, where: str = "") -> Iterator[str]:
    """Yield the JSON paths of credential-looking values or fields."""
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{where}.{k}" if where else str(k)
            if where.endswith("headers") and is_secret_header(str(k)):
                yield path
            elif where.endswith("query") and CREDENTIAL_PARAM.search(str(k)):
                yield path
            else:
                yield from find_secrets(v, path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from find_secrets(v, f"{where}[{i}]")
    elif isinstance(value, str) and has_credential(value):
        yield where
