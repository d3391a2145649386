"""responses-kit: record, replay, validate and show OpenAI Responses streams."""

from __future__ import annotations

__version__ = "0.1.0"

from kit.events import Stream, Violation, accumulate, parse, validate_stream  # noqa: E402
from kit.recording import ReplayMiss, async_client, client, wrap_http_client  # noqa: E402

__all__ = [
    "ReplayMiss", "Stream", "Violation", "__version__", "accumulate", "async_client", "client", "parse",
    "validate_stream", "wrap_http_client",
]
