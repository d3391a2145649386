"""The recording file format, checked field by field on load and by `kit recordings verify`.

Each problem names the field (as a JSON path) and what is expected there, so a hand-edited
or damaged file is refused with a message that says where to look, instead of failing later
with a bare TypeError in the middle of a replay.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable

FORMAT_VERSION = 1

_Check = Callable[[Any, str, list[str]], None]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _expect(ok: bool, where: str, what: str, value: Any, problems: list[str]) -> bool:
    if not ok:
        problems.append(f"{where}: expected {what}, found {_show(value)}")
    return ok


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str_map(value: Any, where: str, problems: list[str]) -> None:
    if _expect(isinstance(value, dict), where, "an object of strings", value, problems):
        for k, v in value.items():
            _expect(isinstance(v, str), f"{where}.{k}", "a string", v, problems)


def _object(data: dict[str, Any], name: str, where: str, problems: list[str], *, required: bool = True) -> dict[str, Any] | None:
    if name not in data:
        if required:
            problems.append(f"{where}{name}: missing (expected an object)")
        return None
    value = data[name]
    return value if _expect(isinstance(value, dict), f"{where}{name}", "an object", value, problems) else None


def _check_request(request: dict[str, Any], problems: list[str]) -> None:
    for name in ("method", "path"):
        _expect(isinstance(request.get(name), str) and request.get(name) != "", f"request.{name}",
                "a non-empty string", request.get(name), problems)
    if isinstance(request.get("path"), str) and request["path"]:
        _expect(request["path"].startswith("/"), "request.path", "a URL path starting with /", request["path"], problems)
    if "headers" in request:
        _str_map(request["headers"], "request.headers", problems)


def _check_sse(sse: Any, problems: list[str]) -> None:
    if not _expect(isinstance(sse, dict), "response.sse", "an object", sse, problems):
        return
    for name in ("eol", "data_prefix", "json_style", "tail"):
        if name in sse:
            _expect(isinstance(sse[name], str), f"response.sse.{name}", "a string", sse[name], problems)
    events = sse.get("events", [])
    if not _expect(isinstance(events, list), "response.sse.events", "a list of event objects", events, problems):
        return
    for i, event in enumerate(events):
        where = f"response.sse.events[{i}]"
        if not _expect(isinstance(event, dict), where, "an event object", event, problems):
            continue
        if not ("data" in event or "raw" in event):
            problems.append(f"{where}: expected \"data\" or \"raw\", found neither")
        for name in ("event", "raw"):
            if name in event:
                _expect(isinstance(event[name], str), f"{where}.{name}", "a string", event[name], problems)


def _check_frames(frames: Any, problems: list[str]) -> None:
    """A WebSocket session's frames: each {t: seconds >= 0, from: client|server, json|text|base64}, in order."""
    if not _expect(isinstance(frames, list), "response.frames", "a list of frame objects", frames, problems):
        return
    last = 0.0
    for i, frame in enumerate(frames):
        where = f"response.frames[{i}]"
        if not _expect(isinstance(frame, dict), where, "a frame object", frame, problems):
            return
        t = frame.get("t")
        if not _expect(_is_number(t) and t >= last, f"{where}.t",
                       f"seconds since the connection opened, >= the previous frame's ({last})", t, problems):
            return  # one message for a broken list is enough
        last = t
        if not _expect(frame.get("from") in ("client", "server"), f"{where}.from", '"client" or "server"',
                       frame.get("from"), problems):
            return
        payloads = [name for name in ("json", "text", "base64") if name in frame]
        if not _expect(len(payloads) == 1, where, "exactly one of json, text, base64", sorted(frame), problems):
            return


def _check_response(response: dict[str, Any], problems: list[str]) -> None:
    status = response.get("status")
    _expect(_is_int(status) and 100 <= status <= 599, "response.status", "an HTTP status (an integer 100-599)",
            status, problems)
    if "headers" in response:
        _str_map(response["headers"], "response.headers", problems)
    bodies = [name for name in ("sse", "json", "text", "base64") if name in response]
    if len(bodies) > 1:
        problems.append(f"response: expected at most one body (sse, json, text or base64), found {', '.join(bodies)}")
    if "sse" in response:
        _check_sse(response["sse"], problems)
    if "frames" in response:
        _check_frames(response["frames"], problems)
    if "close" in response:
        close = response["close"]
        if _expect(isinstance(close, dict), "response.close", "an object {by, code, reason}", close, problems):
            _expect(close.get("by") in ("client", "server"), "response.close.by", '"client" or "server"',
                    close.get("by"), problems)
            _expect(close.get("code") is None or _is_int(close.get("code")), "response.close.code",
                    "an integer or null", close.get("code"), problems)
    if "text" in response:
        _expect(isinstance(response["text"], str), "response.text", "a string", response["text"], problems)
    if "base64" in response:
        value = response["base64"]
        if _expect(isinstance(value, str), "response.base64", "a base64 string", value, problems):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"response.base64: expected a base64 string, found {_show(value)}")
    if "chunks" in response:
        chunks = response["chunks"]
        if _expect(isinstance(chunks, list), "response.chunks", "a list of [seconds, byte_count] pairs", chunks, problems):
            for i, chunk in enumerate(chunks):
                ok = (isinstance(chunk, list) and len(chunk) == 2 and _is_number(chunk[0]) and chunk[0] >= 0
                      and _is_int(chunk[1]) and chunk[1] >= 0)
                if not _expect(ok, f"response.chunks[{i}]", "[seconds >= 0, byte_count >= 0]", chunk, problems):
                    break  # one message for a broken table is enough
    if "error" in response:
        error = response["error"]
        if _expect(isinstance(error, dict), "response.error", "an object {type, message, after_bytes}", error, problems):
            for name in ("type", "message"):
                _expect(isinstance(error.get(name), str), f"response.error.{name}", "a string", error.get(name), problems)
            if "after_bytes" in error:
                _expect(_is_int(error["after_bytes"]), "response.error.after_bytes", "an integer", error["after_bytes"], problems)
    if "closed_early" in response:
        closed = response["closed_early"]
        if isinstance(closed, dict):
            _expect(isinstance(closed.get("by"), str), "response.closed_early.by", "a string", closed.get("by"), problems)
            for name in ("after_bytes", "after_chunks"):
                _expect(_is_int(closed.get(name)), f"response.closed_early.{name}", "an integer", closed.get(name), problems)
        else:
            _expect(isinstance(closed, bool), "response.closed_early", "true or {by, after_bytes, after_chunks}",
                    closed, problems)


def _check_meta(meta: dict[str, Any], problems: list[str]) -> None:
    for name in ("duration", "recorded_at_epoch"):
        if name in meta:
            _expect(_is_number(meta[name]), f"meta.{name}", "a number", meta[name], problems)
    for name in ("recorded_at", "session"):
        if name in meta:
            _expect(isinstance(meta[name], str), f"meta.{name}", "a string", meta[name], problems)
    if "model" in meta:
        _expect(meta["model"] is None or isinstance(meta["model"], str), "meta.model", "a string or null", meta["model"],
                problems)


def schema_problems(data: Any) -> list[str]:
    """Every way `data` (a parsed recording file) departs from the format; empty when it conforms."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return [f"top level: expected a kit recording object, found {_show(data)}"]
    if data.get("kit_recording") != FORMAT_VERSION:
        return [f"kit_recording: expected {FORMAT_VERSION} (a kit recording), found {_show(data.get('kit_recording'))}"]
    for name in ("key", "setup"):
        _expect(isinstance(data.get(name), str) and data.get(name) != "", name, "a non-empty string", data.get(name),
                problems)
    if "occurrence" in data:
        _expect(_is_int(data["occurrence"]) and data["occurrence"] >= 0, "occurrence", "an integer >= 0",
                data["occurrence"], problems)
    request = _object(data, "request", "", problems)
    if request is not None:
        _check_request(request, problems)
    response = _object(data, "response", "", problems)
    if response is not None:
        _check_response(response, problems)
    meta = _object(data, "meta", "", problems, required=False)
    if meta is not None:
        _check_meta(meta, problems)
    return problems
