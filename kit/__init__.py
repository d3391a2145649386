"""responses-kit: record, replay, validate and show OpenAI Responses streams.

Names load on first use, so `kit --help` and pytest start without importing the openai SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ReplayMiss": "kit.recording",
    "async_client": "kit.recording",
    "client": "kit.recording",
    "wrap_http_client": "kit.recording",
    "Stream": "kit.events",
    "Violation": "kit.events",
    "accumulate": "kit.events",
    "parse": "kit.events",
    "validate_stream": "kit.events",
    "load": "kit.sources",
    "load_capture": "kit.sources",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *sorted(_EXPORTS)]
