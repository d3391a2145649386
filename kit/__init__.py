"""responses-kit: record, replay, validate and show OpenAI Responses streams."""

from __future__ import annotations

__version__ = "0.1.0"
