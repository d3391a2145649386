"""`kit bridge FILE`: translate a captured Chat Completions stream into Responses events.

Reads a .jsonl of chunks (as in the project's tests/captures/chat) or a raw SSE body
(`-` is standard input) and prints one Responses event JSON per line, so
`kit bridge x.jsonl | kit check -` judges what the bridge makes of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

EXIT_UNREADABLE = 2


def bridge(
    file: str = typer.Argument(..., help="Chat chunks: .jsonl (one chunk per line) or raw SSE; '-' reads stdin."),
    think_tags: bool = typer.Option(False, "--think-tags", help="The model writes reasoning inline in <think> tags."),
    keep_markers: bool = typer.Option(
        False, "--keep-markers", help="Leave <|file-...|> citation markers in the text (no file_citation annotations)."
    ),
    request_file: Optional[Path] = typer.Option(
        None, "--request", help="The Responses request (JSON) the stream answered: echoed in the response object."
    ),
    summary: Optional[str] = typer.Option(
        None, "--summary", metavar="SETUP",
        help="Stream a reasoning summary made by a second call to SETUP's server (through kit.client, "
             "so KIT_INFERENCE_MODE decides live, record or replay).",
    ),
    response_id: Optional[str] = typer.Option(None, "--response-id", help="Default: resp_<upstream chunk id>."),
    created_at: Optional[int] = typer.Option(None, "--created-at", help="Default: the upstream chunk's `created`."),
) -> None:
    """Translate a captured chat stream into the Responses stream the bridge would serve."""
    from kit.bridge.chunks import bridge_capture
    from kit.sources import load

    try:
        chunks = load(file, source_name="<stdin>" if file == "-" else file)  # file or pipe: the same bytes, judged alike
        request: dict[str, Any] = json.loads(request_file.read_text(encoding="utf-8")) if request_file else {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"kit bridge: cannot read input: {exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from exc
    summarize = None
    if summary:
        summarize = _summarizer(summary, request)
        request = {**request, "reasoning": {**(request.get("reasoning") or {}),
                                            "summary": (request.get("reasoning") or {}).get("summary") or "auto"}}
    if chunks.wire is not None and chunks.wire.invalid_utf8:
        typer.echo(f"kit bridge: {chunks.source}: {len(chunks.wire.invalid_utf8)} line(s) are not UTF-8 (first at byte "
                   f"{chunks.wire.invalid_utf8[0]}); they were replaced by U+FFFD", err=True)
    stream = bridge_capture(chunks, request=request, think_tags=think_tags, strip_citations=not keep_markers,
                            summarize=summarize, response_id=response_id, created_at=created_at)
    out = sys.stdout
    for event in stream.events:
        out.write(json.dumps(event.raw, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
    out.flush()


def _summarizer(setup_name: str, request: dict[str, Any]) -> Any:
    import kit
    from kit.bridge.service import summarizer
    from kit.setups import get_setup

    setup = get_setup(setup_name)
    detail = (request.get("reasoning") or {}).get("summary") or "auto"
    same_caller = {k: request[k] for k in ("user", "safety_identifier") if request.get(k)}
    return summarizer(kit.client(setup=setup_name), str(request.get("model") or setup.text_model), detail, same_caller)


def register(app: typer.Typer) -> None:
    app.command("bridge")(bridge)
