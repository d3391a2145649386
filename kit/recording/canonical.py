"""The matching key of a request: setup + method + path + canonical body.

Host and port take no part (a local server on another port replays the same),
nor do headers, nor a test id. JSON bodies are compared with sorted keys and
volatile fields dropped; multipart bodies without their random boundary.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from kit.bridge.mcp import stable_tools
from kit.recording.scrub import REDACTED, is_credential_name, redact_body, scrub_query

# Fields that differ between runs of the same request and do not change the answer.
VOLATILE_BODY_FIELDS = frozenset({"user", "safety_identifier", "prompt_cache_key"})


@dataclass(frozen=True)
class CanonicalRequest:
    """A request as the store sees it: what is matched on, and what is written."""

    setup: str
    method: str
    path: str  # URL path, plus the sorted, scrubbed query string when there is one
    body: Any  # parsed JSON, a multipart description, text, or None
    content_type: str | None
    # Values the scrub policy removed from this request (headers, query, body): hunted in the answer too.
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def key(self) -> str:
        material = {"setup": self.setup, "method": self.method, "path": self.path, "body": _without_volatile(self.body)}
        blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def model(self) -> str | None:
        if isinstance(self.body, dict):
            model = self.body.get("model")
            if isinstance(model, str):
                return model
            for part in self.body.get("multipart") or ():
                if isinstance(part, dict) and part.get("name") == "model":
                    return part.get("value")
        return None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.path)


def _without_volatile(body: Any) -> Any:
    if isinstance(body, dict) and "multipart" not in body:
        kept = {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}
        if isinstance(kept.get("tools"), list):  # a loopback MCP server's port is the run's (kit.bridge.mcp)
            kept["tools"] = stable_tools(kept["tools"])
        return kept
    return body


def canonical_path(path: str, query: str | bytes) -> str:
    if isinstance(query, bytes):
        query = query.decode("ascii", "replace")
    params = sorted(scrub_query(parse_qsl(query, keep_blank_values=True)))
    return f"{path}?{urlencode(params)}" if params else path


# An object id in a path (resp_0a1b..., file-c7fa..., vs_6b5e..., a model like gpt-4o) holds a digit; a route
# name (chat, completions, vector_stores, input_items) does not. ("vector_stores" once read as an id, so those
# recordings landed in a folder named "root".)
_ID_LIKE = re.compile(r"\d")


def endpoint_of(path: str) -> str:
    """A short folder name for an API path: /v1/chat/completions -> chat-completions."""
    parts = [p for p in path.split("?")[0].split("/") if p and p != "v1"]
    named = []
    for part in parts:
        if _ID_LIKE.search(part):
            break
        named.append(re.sub(r"[^A-Za-z0-9_.-]", "_", part))
    return "-".join(named) or "root"


def canonical_body(content: bytes, content_type: str | None, removed: list[str] | None = None) -> Any:
    """Parse a request body into its comparable, storable form, credential-named fields redacted.

    Redacting before the key is computed makes the key independent of the secret's value.
    """
    if not content:
        return None
    ctype = (content_type or "").lower()
    if "multipart/form-data" in ctype:
        return {"multipart": _multipart_parts(content, ctype, removed)}
    if "json" in ctype or content[:1] in (b"{", b"["):
        try:
            return redact_body(json.loads(content), removed)
        except (ValueError, RecursionError):
            pass
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


def _multipart_parts(content: bytes, ctype: str, removed: list[str] | None = None) -> list[dict[str, Any]]:
    match = re.search(r'boundary="?([^";]+)"?', ctype)
    if not match:
        return [{"base64": base64.b64encode(content).decode("ascii")}]
    boundary = b"--" + match.group(1).encode("latin-1")
    parts = []
    for raw in content.split(boundary)[1:]:
        if raw.startswith(b"--"):
            break
        raw = raw.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, data = raw.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        part: dict[str, Any] = {"name": name.group(1) if name else None}
        if filename:
            part["filename"] = filename.group(1)
            part["content_type"] = headers.get("content-type")
            part["size"] = len(data)
            part["sha256"] = hashlib.sha256(data).hexdigest()
        else:
            part["value"] = data.decode("utf-8", "replace")
            if part["name"] and is_credential_name(part["name"]) and part["value"]:
                if removed is not None:
                    removed.append(part["value"])
                part["value"] = REDACTED
        parts.append(part)
    return sorted(parts, key=lambda p: (str(p.get("name")), str(p.get("filename"))))
