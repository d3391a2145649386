"""What a scenario notebook calls: one object per notebook run, and checks that fail readably.

A notebook holds no logic: it makes a `Scenario` from its one parameter, the
run context (`start(run)`), sends requests through it (record/replay client,
native or bridged Responses), shows the streams, records its checks and ends
with `finish()`, which publishes the typed result the runner judges. Content
expectations raise `StreamCheckFailed`; `CapabilityMissing` (the setup cannot
show this scenario) and a replay miss stop the notebook and say so in its result.

- `kit.notebook.scenario`: `Scenario` and `start`;
- `kit.notebook.chat`: a Chat Completions stream's chunks (`ChatChunks`, what `chat_stream` returns) and their
  view with the `chat` profile's verdict (`ChatView`);
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
from kit.notebook.files import FILE_REFUSED, expect_file_read, file_data_url, files_route_refused, expect_open_responses_file_input, open_responses_file_input
from kit.notebook import turns  # noqa: F401  (notebooks reach it as nb.turns)
from kit.notebook.free_form import inspect_capture, playground
from kit.notebook.mcp import approval_request, check_approval_request, check_mcp_call, mcp_tool
from kit.notebook.refusals import ROUTE_MISSING
from kit.notebook.scenario import Scenario, start

__all__ = ["approval_request", "CapabilityMissing", "chat_table", "chat_text", "check_approval_request", "check_mcp_call", "expect_chat", "expect_embeddings", "expect_file_citations", "expect_file_read", "expect_function_call", "expect_items", "expect_open_responses_file_input", "expect_reasoning", "expect_refusal", "expect_status", "expect_text", "file_data_url", "FILE_REFUSED", "files_route_refused", "inspect_capture", "mcp_tool", "open_responses_file_input", "playground", "ROUTE_MISSING", "Scenario", "solid_png", "start", "StreamCheckFailed", "turns"]
