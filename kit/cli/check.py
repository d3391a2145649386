"""`kit check FILE...`: validate saved Responses streams against the rule catalog.

Without `--profile` each stream picks its own: `chat` for a Chat Completions
stream, `openai` for Responses events. Violations that say the same thing
(same rule, same message but for numbers and quoted values) print as one line
with a count and the first and last event.

Exit status: 0 no errors, 1 some stream has an error, 2 some file could not be
read at all (or nothing to check). `--json` prints one JSON object per file
per line, a format CI scripts may rely on:
{"file", "profile", "events", "not_json", "errors", "warnings",
"groups": [{"rule", "severity", "message", "count", "first_index", "last_index"}],
"violations": [{"rule", "severity", "message", "index", "sequence_number", "output_index", "item_id", "content_index"}]}
("events" counts the JSON events or chunks, "not_json" the payloads that were
not JSON; an unreadable file has "events": null and a "read_error" message).

The live battery (`--url/--model/--setup`) joins this command as another option
group; FILE is optional for that reason.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Optional

import typer

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2


class Profile(str, Enum):
    openai = "openai"
    openresponses = "openresponses"
    lenient = "lenient"
    chat = "chat"


def read_error_text(exc: BaseException) -> str:
    """Why a file could not be read, in words (no exception class names)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()}: {exc.filename}" if exc.filename else exc.strerror.lower()
    return str(exc) or "unreadable"


def count_phrase(stream: Any, profile: str) -> str:
    """"26 events", "8 chunks", "0 events, 2 payloads not JSON": what the stream held, said once."""
    from kit.events import NotJSONEvent, plural

    bad = sum(type(event) is NotJSONEvent for event in stream.events)
    phrase = plural(len(stream.events) - bad, "chunk" if profile == "chat" else "event")
    return phrase + (f", {plural(bad, 'payload')} not JSON" if bad else "")


def _read(path: str) -> Any:
    """The stream in `path` (`-` is standard input, SSE or jsonl); raises OSError/ValueError when unreadable."""
    try:
        return _load(path)
    except RecursionError as exc:  # JSON nested deeper than Python can follow: a named error, not a traceback
        raise ValueError(f"{path}: JSON nested too deeply to read ({exc})") from exc


def _load(path: str) -> Any:
    from kit.sources import load

    try:
        return load(path, source_name="<stdin>" if path == "-" else path)
    except ImportError as exc:  # a .json recording while kit.recording cannot load them
        raise ValueError(f"cannot load kit recordings here ({exc})") from exc
    except Exception as exc:
        from kit.recording.errors import RecordingError

        if isinstance(exc, RecordingError):  # a corrupt recording: its message says what to do
            raise ValueError(str(exc)) from exc
        raise


def check(
    files: Optional[list[str]] = typer.Argument(
        None, help="Streams to check: .jsonl (one event per line), SSE text, or kit recordings (.json); '-' reads stdin."
    ),
    profile: Optional[Profile] = typer.Option(None, "--profile", "-p",
                                              help="Which rules apply: openai, openresponses, lenient or chat (see "
                                                   "docs/conformance-rules.md); default: chat for a Chat Completions "
                                                   "stream, else openai."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file per line."),
    starting_after: Optional[int] = typer.Option(
        None, "--starting-after", help="Validate as a resumed stream requested with starting_after=N."
    ),
    list_rules: bool = typer.Option(False, "--list-rules", help="Print the rule catalog for --profile and exit."),
    url: Optional[str] = typer.Option(None, "--url", help="Check a live server: its base URL (e.g. http://host:8000/v1)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model for --url/--setup (default: the setup's)."),
    setup: Optional[str] = typer.Option(None, "--setup", help="Check a setup's server (its URL, key and capabilities): "
                                        "local, bridge, litellm, ogx, ollama, vllm, gpt, claude or one of kit-setups.toml."),
    bridge: Optional[bool] = typer.Option(None, "--bridge/--native",
                                          help="Responses through the kit's bridge over Chat Completions, or the "
                                               "server's own /v1/responses (default: the setup's choice; native for --url)."),
    inference_mode: Optional[str] = typer.Option(None, "--inference-mode",
                                                 help="replay, record, record-if-missing or live (default for a "
                                                      "battery: $KIT_INFERENCE_MODE, else live with --url, replay with --setup alone)."),
    recording_dir: Optional[str] = typer.Option(None, "--recording-dir", help="Where recordings are (default recordings/)."),
    stack_config: Optional[str] = typer.Option(None, "--stack-config",
                                               help="server:<setup> starts that setup's managed server for the battery."),
) -> None:
    """Validate Responses streams against the conformance rule catalog, or send a live battery (--url/--setup)."""
    from kit.events import RULES, enabled_rules

    chosen = profile.value if profile is not None else None
    battery_profile = chosen or "openai"

    if stack_config and stack_config.startswith("server:"):
        from kit.servers import LocalServerError, server_for_setup

        setup = setup or stack_config.split(":", 1)[1]
        try:
            with server_for_setup(stack_config.split(":", 1)[1]) as server:
                raise typer.Exit(_battery(server.base_url, model, setup, bridge, inference_mode, recording_dir,
                                          battery_profile, as_json, server.client_environment()))
        except LocalServerError as exc:
            typer.echo(f"kit check: {exc}", err=True)
            raise typer.Exit(EXIT_UNREADABLE)
    if url or setup or stack_config:
        raise typer.Exit(_battery(url or stack_config, model, setup, bridge, inference_mode, recording_dir,
                                  battery_profile, as_json))

    if list_rules:
        for rule_id, severity in enabled_rules(battery_profile).items():
            typer.echo(f"{rule_id:32} {severity:7} {RULES[rule_id].description}")
        raise typer.Exit(EXIT_OK)
    if not files:
        typer.echo("kit check: give one or more FILEs ('-' for standard input)", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    status = EXIT_OK
    for path in files:
        status = max(status, _check_file(path, chosen, starting_after, as_json))
    raise typer.Exit(status)


def _battery(url: str | None, model: str | None, setup_name: str | None, bridge: bool | None, mode: str | None,
             recording_dir: str | None, profile: str, as_json: bool,
             server_environment: dict[str, str] | None = None) -> int:
    """Run the probe battery through the record/replay client; exit status as for files."""
    import os

    from kit.battery import run_battery
    from kit.recording import client as kit_client
    from kit.setups import Setup, UnknownSetup, get_setup

    try:
        spec = get_setup(setup_name) if setup_name else None
    except UnknownSetup as exc:
        typer.echo(f"kit check: {exc}", err=True)
        return EXIT_UNREADABLE
    if spec is None:
        if not model:
            typer.echo("kit check --url needs --model (or --setup)", err=True)
            return EXIT_UNREADABLE
        spec = Setup(name="check", description="a server given with --url", base_url=url or "", url_env=None,
                     key_env="OPENAI_API_KEY", text_model=model, responses="native")
    if mode is None and not os.environ.get("KIT_INFERENCE_MODE"):
        mode = "live" if url else "replay"
    via = None if bridge is None else ("bridge" if bridge else "native")
    try:
        key = (server_environment or {}).get(spec.key_env or "") or spec.api_key()  # a managed server's own key
        client = kit_client(spec.name, mode, base_url=url, api_key=key or ("none" if url else None),
                            recording_dir=recording_dir)
    except ValueError as exc:
        typer.echo(f"kit check: {exc}", err=True)
        return EXIT_UNREADABLE
    from kit.events import group_violations, plural
    from kit.findings import FAILED, FindingsError, findings_dir, judge, load_baseline
    from kit.setups.options import FINDINGS_ENV

    try:  # a peer's known findings (findings/<setup>.toml) are facts about it, judged as `kit run` judges them
        baseline = load_baseline(spec.name, findings_dir(os.environ.get(FINDINGS_ENV)))
    except FindingsError as exc:
        typer.echo(f"kit check: {exc}", err=True)
        return EXIT_UNREADABLE
    status = EXIT_OK
    for result in run_battery(client, spec, model=model, via=via, profile=profile):
        judgement = None
        if result.stream is not None:
            judgement = judge({v.rule for v in result.violations if v.severity == "error"}, baseline,
                              f"battery/{result.probe}")
        if as_json:
            record = result.to_dict()
            record["verdict"] = result.verdict(judgement.status if judgement else None)
            if judgement is not None:
                record["findings"] = {"status": judgement.status, "known": [f.rule for f in judgement.known],
                                      "new": list(judgement.new), "gone": [f.rule for f in judgement.gone]}
            typer.echo(json.dumps(record, ensure_ascii=False))
        elif result.skipped:
            typer.echo(f"probe:{result.probe}: skipped: {result.skipped}")
        elif result.error:
            typer.echo(f"probe:{result.probe}: request failed: {result.error}")
        elif result.stream is None:  # refused as unsupported: no stream to judge
            typer.echo(f"probe:{result.probe}: unsupported: {result.unsupported}")
        else:
            assert judgement is not None and result.stream is not None
            typer.echo(f"probe:{result.probe}: {result.verdict(judgement.status)}: "
                       f"{count_phrase(result.stream, profile)}, "
                       f"{plural(result.errors, 'error')}, {plural(result.warnings, 'warning')} (profile {profile})")
            if result.unsupported:
                typer.echo(f"  [unsupported] {result.unsupported}")
            if result.problem:
                typer.echo(f"  [expectation] {result.problem}")
            for finding in judgement.known:
                typer.echo(f"  [known finding] {finding.rule}: {finding.reason} {finding.upstream}".rstrip())
            if judgement.status == FAILED:
                typer.echo("  " + judgement.message.replace("\n", "\n  "))
            for group in group_violations(result.violations):
                typer.echo(f"  {group}")
        if result.error:
            status = EXIT_UNREADABLE
        elif result.stream is not None and status == EXIT_OK and (
                result.problem is not None or judgement is not None and judgement.status == FAILED):
            status = EXIT_ERRORS
    return status


def _check_file(path: str, chosen: str | None, starting_after: int | None, as_json: bool) -> int:
    """Judge one file (or stdin) and print its verdict; its exit status (unreadable > errors > ok)."""
    from kit.events import NotJSONEvent, profile_for, validate_stream

    frames = _socket_frames(path)
    if frames is not None:  # a recorded WebSocket session: its frames, judged as a socket
        return _socket_verdict(path, frames, chosen or "openai", as_json)
    try:
        stream = _read(path)
    except (OSError, ValueError) as exc:
        return _unreadable(path, read_error_text(exc), as_json)
    used = profile_for(stream, chosen)
    try:
        violations = validate_stream(stream, used, starting_after=starting_after)
    except RecursionError:
        return _unreadable(path, f"{path}: JSON nested too deeply to check", as_json)
    bad = sum(type(event) is NotJSONEvent for event in stream.events)
    return _verdict(path, used, violations, len(stream.events) - bad, bad, count_phrase(stream, used), as_json)


def _socket_frames(path: str) -> list[dict[str, Any]] | None:
    """The frames of a kit recording of a WebSocket session, or None for anything else (read as a stream)."""
    if path == "-" or not path.endswith(".json"):
        return None
    try:
        from kit.recording.store import load_recording

        recording = load_recording(path)
    except Exception:  # noqa: BLE001 - not a readable recording: the stream path reads it and says why
        return None
    frames = recording.response.get("frames")
    return frames if recording.request.get("method") == "WEBSOCKET" and isinstance(frames, list) else None


def _socket_verdict(path: str, frames: list[dict[str, Any]], used: str, as_json: bool) -> int:
    from kit.events import plural, split_socket, validate_socket

    violations = validate_socket(frames, used)
    session = split_socket(frames, used)
    received = sum(f.get("from") == "server" for f in frames)
    phrase = (f"{plural(len(frames), 'frame')} on one socket ({plural(len(frames) - received, 'message')} sent, "
              f"{plural(len(session.responses), 'response')})")
    return _verdict(path, used, violations, received, 0, phrase, as_json)


def _verdict(path: str, used: str, violations: list[Any], events: int, bad: int, phrase: str, as_json: bool) -> int:
    from kit.events import group_violations, plural, summarize

    counts = summarize(violations)
    groups = group_violations(violations)
    status = EXIT_ERRORS if counts["errors"] else EXIT_OK
    if as_json:
        record = {
            "file": path,
            "profile": used,
            "events": events,
            "not_json": bad,
            "errors": counts["errors"],
            "warnings": counts["warnings"],
            "groups": [group.to_dict() for group in groups],
            "violations": [violation.to_dict() for violation in violations],
        }
        typer.echo(json.dumps(record, ensure_ascii=False))
        return status
    verdict = "FAIL" if counts["errors"] else "ok"
    typer.echo(f"{path}: {verdict}: {phrase}, {plural(counts['errors'], 'error')}, "
               f"{plural(counts['warnings'], 'warning')} (profile {used})")
    for group in groups:
        typer.echo(f"  {group}")
    return status


def _unreadable(path: str, reason: str, as_json: bool) -> int:
    if as_json:
        typer.echo(json.dumps({"file": path, "events": None, "errors": None, "warnings": None, "violations": [],
                               "read_error": reason}))
    else:
        typer.echo(f"{path}: cannot read: {reason}", err=True)
    return EXIT_UNREADABLE


def register(app: typer.Typer) -> None:
    """Add `kit check` to the main app."""
    app.command("check")(check)
