"""What a scenario notebook calls: one object per notebook run, and checks that fail readably.

A notebook holds no logic: it makes a `Scenario` from its one parameter, the
run context (`start(run)`), sends requests through it (record/replay client,
native or bridged Responses), shows the streams, records its checks and ends
with `finish()`, which publishes the typed result the runner judges. Content
expectations raise `StreamCheckFailed`; `CapabilityMissing` (the setup cannot
show this scenario) and a replay miss stop the notebook and say so in its result.

- `kit.notebook.scenario`: `Scenario` and `start`;
- `kit.notebook.checks`: the content expectations (`expect_*`) and chat helpers;
- `kit.notebook.turns`: the next turn of a conversation (full history or `previous_response_id`);
- `kit.notebook.free_form`: `inspect_capture` and the `playground`.
"""

from kit.events import accumulate, validate_stream  # noqa: F401  (notebooks reach them as nb.accumulate, nb.validate_stream)
from kit.notebook.checks import (
    CapabilityMissing,
    StreamCheckFailed,
    chat_table,
    chat_text,
    expect_text,
    expect_status,
    expect_function_call,
    expect_file_citations,
    expect_items,
    expect_reasoning,
    expect_refusal,
    expect_chat,
    expect_embeddings,
    solid_png,
)
from kit.notebook.display import _display  # noqa: F401  (notebooks show values with it)
from kit.notebook import turns  # noqa: F401  (notebooks reach it as nb.turns)
from kit.notebook.free_form import inspect_capture, playground
from kit.notebook.scenario import Scenario, start

__all__ = ["CapabilityMissing", "Scenario", "StreamCheckFailed", "chat_table", "chat_text", "expect_chat", "expect_embeddings", "expect_file_citations", "expect_function_call", "expect_items", "expect_reasoning", "expect_refusal", "expect_status", "expect_text", "inspect_capture", "playground", "solid_png", "start", "turns"]
