"""Secrets never reach disk: a policy applied on write, checked again on load.

The policy, not a list of known names:
- headers are kept by allow-list (content type and the openai / rate-limit metadata a
  replay or a report needs); every other header is dropped;
- query parameters and JSON body fields whose names read as credentials (`key`, `token`,
  `secret`, `password`, `code`, `auth`, `signature`, ...) keep their name and lose their value;
- every value removed from a request is also removed wherever the server echoes it
  (response body, headers, events);
- a credential-shaped value (`sk-...`, `ghp_...`, `hf_...`, a JWT, a long bearer token)
  left anywhere after that is refused at record time, naming its path, and on load.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Iterator

REDACTED = "REDACTED"

# Headers written to disk: what replay needs (content type, encoding) and the server's own
# metadata a report reads (request ids, processing time, rate limits). Nothing else.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "openai-model",
        "openai-processing-ms",
        "openai-version",
        "openai-beta",
        "x-request-id",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "anthropic-version",
        "anthropic-beta",
    }
)
KEPT_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")

# Request headers the SDK or the HTTP library sets; their values are no secret to hunt in answers.
_HARMLESS_REQUEST_HEADERS = frozenset(
    {"accept", "accept-encoding", "connection", "content-length", "host", "user-agent", "transfer-encoding",
     "keep-alive", "x-request-id", "idempotency-key", "openai-beta"}
)

# Names that announce a credential, as the last word of a field name (`user_token`, `apiKey`, `x-functions-key`).
CREDENTIAL_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "code", "auth", "authorization",
     "signature", "sig", "credential", "credentials", "cookie", "bearer", "jwt", "sas"}
)
# API fields whose names end like a credential but are not one.
NOT_CREDENTIALS = frozenset({"prompt_cache_key"})

# Headers a recording made before this policy may hold; refused on load.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "openai-organization", "openai-project",
     "cookie", "set-cookie", "x-goog-api-key", "anthropic-organization-id", "ocp-apim-subscription-key"}
)

# A credential starts a token: not preceded by a letter, digit, `_` or `-`. Inside a longer token (a server's
# opaque id in URL-safe base64, such as LiteLLM's ~1,000-character response ids) `sk-` followed by 20
# characters turns up by chance, and refusing to record it was a false alarm.
CREDENTIAL_VALUE = re.compile(
    r"(?<![A-Za-z0-9_\-])"
    r"(sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"
    r"|Bearer\s+[A-Za-z0-9._~+/\-]{20,}=*"
    r"|AKIA[0-9A-Z]{16}|xai-[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_\-]{30,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|hf_[A-Za-z0-9]{30,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"
)
# Literal starts of the patterns above: a cheap scan that rules most texts out before the regex runs.
_CREDENTIAL_STARTS = ("sk-", "Bearer", "AKIA", "xai-", "gsk_", "AIza", "gho_", "ghp_", "ghu_", "ghs_", "ghr_",
                      "github_pat_", "hf_", "eyJ")

_WORD_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
_MIN_ECHO = 6  # shorter removed values are not hunted in answers: too likely to hit ordinary text


def has_credential(text: str) -> bool:
    """Whether a credential-looking value occurs anywhere in `text` (fast on large recordings)."""
    return any(start in text for start in _CREDENTIAL_STARTS) and CREDENTIAL_VALUE.search(text) is not None


@lru_cache(maxsize=4096)
def is_credential_name(name: str) -> bool:
    """`user_token`, `apiKey`, `x-functions-key`, `code`, `password`: a name whose last word is a credential's."""
    if name.lower() in NOT_CREDENTIALS:
        return False
    words = [w for w in _WORD_SPLIT.split(name) if w]
    return bool(words) and (words[-1].lower() in CREDENTIAL_WORDS or name.lower().replace("-", "") in CREDENTIAL_WORDS)


def is_secret_header(name: str) -> bool:
    name = name.lower()
    return name in SECRET_HEADERS or name.endswith("-api-key") or is_credential_name(name)


def keep_header(name: str) -> bool:
    """Whether a header goes to disk: only the allow-list."""
    name = name.lower()
    return name in KEPT_HEADERS or name.startswith(KEPT_HEADER_PREFIXES)


def scrub_headers(headers: Any, echoed: Iterable[str] = ()) -> dict[str, str]:
    """The allow-listed headers, lower-cased, with any removed secret value taken out of their values."""
    echoed = tuple(echoed)
    return {k.lower(): scrub_text(v, echoed) for k, v in headers.items() if keep_header(k)}


def header_secrets(headers: Any) -> list[str]:
    """Values of the request headers the policy drops (bar the SDK's own), to hunt in the answer."""
    found: list[str] = []
    for name, value in headers.items():
        name = name.lower()
        if keep_header(name) or name in _HARMLESS_REQUEST_HEADERS or name.startswith("x-stainless-"):
            continue
        found.append(value)
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in ("bearer", "basic", "token", "key", "sharedaccesssignature"):
            found.append(rest.strip())
        if name in ("cookie", "set-cookie"):
            found += [part.partition("=")[2].strip() for part in value.split(";") if "=" in part]
    return [v for v in found if len(v) >= _MIN_ECHO]


def scrub_query(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Credential-named parameters keep their name and lose their value."""
    return [(k, REDACTED if is_credential_name(k) and v else v) for k, v in params]


def query_secrets(params: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in params if is_credential_name(k) and len(v) >= _MIN_ECHO]


def redact_body(value: Any, removed: list[str] | None = None) -> Any:
    """A JSON body with every credential-named string field redacted; removed values go to `removed`."""
    if isinstance(value, dict):
        exempt = _content_fields(value)
        out = {}
        for k, v in value.items():
            if isinstance(v, str) and v and v != REDACTED and k not in exempt and is_credential_name(str(k)):
                if removed is not None and len(v) >= _MIN_ECHO:
                    removed.append(v)
                out[k] = REDACTED
            else:
                out[k] = redact_body(v, removed)
        return out
    if isinstance(value, list):
        return [redact_body(v, removed) for v in value]
    return value


_FILTER_OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"})


def _content_fields(value: dict[str, Any]) -> set[str]:
    """Fields of API objects whose names end like a credential's but hold content: the `code` of a
    code_interpreter_call item, the attribute `key` of a file search comparison filter."""
    kind = value.get("type")
    if not isinstance(kind, str):
        return set()
    if kind.endswith("_call"):
        return {"code"}
    if kind in _FILTER_OPERATORS and "value" in value:
        return {"key"}
    return set()


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_chunks(chunks: list[tuple[float, bytes]], secrets: Iterable[str]) -> list[tuple[float, bytes]]:
    """Remove each secret from a chunked body, even across chunk boundaries; chunk times are kept."""
    needles = sorted({s.encode("utf-8") for s in secrets if s}, key=len, reverse=True)
    body = b"".join(c for _, c in chunks)
    if not needles or not any(n in body for n in needles):
        return chunks
    pattern = re.compile(b"|".join(re.escape(n) for n in needles))
    spans = [(m.start(), m.end()) for m in pattern.finditer(body)]
    new_body = pattern.sub(REDACTED.encode(), body)

    def moved(offset: int) -> int:
        """Where an old byte offset lands in the new body (a cut inside a secret moves to its end)."""
        shift = 0
        for start, end in spans:
            if offset <= start:
                break
            if offset < end:
                return start + shift + len(REDACTED)
            shift += len(REDACTED) - (end - start)
        return offset + shift

    out, old = [], 0
    for t, data in chunks:
        begin, old = moved(old), old + len(data)
        out.append((t, new_body[begin : moved(old)]))
    return out


def find_secrets(value: Any, where: str = "") -> Iterator[str]:
    """Yield the JSON paths of credential-looking values, or of credential-named fields that hold a value."""
    if isinstance(value, dict):
        exempt = _content_fields(value)
        for k, v in value.items():
            path = f"{where}.{k}" if where else str(k)
            if where.endswith("headers") and is_secret_header(str(k)):
                yield path
            elif where.endswith("body") or ".body." in where or ".body[" in where:
                if isinstance(v, str) and v not in ("", REDACTED) and k not in exempt and is_credential_name(str(k)):
                    yield path
                else:
                    yield from find_secrets(v, path)
            else:
                yield from find_secrets(v, path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from find_secrets(v, f"{where}[{i}]")
    elif isinstance(value, str) and has_credential(value):
        yield where


def outside_policy(data: dict[str, Any]) -> list[str]:
    """What a stored recording keeps that the policy drops: headers off the allow-list (their paths)."""
    found = []
    for part in ("request", "response"):
        headers = (data.get(part) or {}).get("headers") or {}
        if isinstance(headers, dict):
            found += [f"{part}.headers.{name}" for name in headers if not keep_header(str(name))]
    return found


def under_policy(data: dict[str, Any]) -> dict[str, Any]:
    """The stored recording with what the policy drops removed; everything else as it was."""
    out = dict(data)
    for part in ("request", "response"):
        section = out.get(part)
        if isinstance(section, dict) and isinstance(section.get("headers"), dict):
            out[part] = {**section, "headers": {k: v for k, v in section["headers"].items() if keep_header(str(k))}}
    return out
