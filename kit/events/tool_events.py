"""Catalog events of tool calls: argument and input streams, other streamed payloads, hosted tool steps."""

from __future__ import annotations

from typing import ClassVar

from kit.events.event_base import IDX, INT, LIST, OBJ, STR, Event, _register, _str
from kit.events.response_events import _ITEM_REF

# --- Tool-call argument streams ------------------------------------------------------------------


class ArgumentsDelta(Event):
    """A delta of a tool call's arguments (function, mcp) or input (custom tool)."""

    __slots__ = ()
    REQUIRED = {**_ITEM_REF, "delta": STR}
    item_type: ClassVar[str] = ""
    item_field: ClassVar[str] = "arguments"


class ArgumentsDone(Event):
    """The final arguments/input; `item_field` names both the event field and the item field."""

    __slots__ = ()
    item_type: ClassVar[str] = ""
    item_field: ClassVar[str] = "arguments"
    OPTIONAL = frozenset({"name"})

    @property
    def final_value(self) -> str | None:
        return _str(self.raw.get(self.item_field))

    @property
    def name(self) -> str | None:
        return _str(self.raw.get("name"))


@_register
class FunctionCallArgumentsDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.function_call_arguments.delta"
    item_type = "function_call"


@_register
class FunctionCallArgumentsDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.function_call_arguments.done"
    REQUIRED = {**_ITEM_REF, "arguments": STR}
    item_type = "function_call"


@_register
class McpCallArgumentsDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.mcp_call_arguments.delta"
    item_type = "mcp_call"


@_register
class McpCallArgumentsDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.mcp_call_arguments.done"
    REQUIRED = {**_ITEM_REF, "arguments": STR}
    item_type = "mcp_call"


@_register
class CustomToolCallInputDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.custom_tool_call_input.delta"
    item_type = "custom_tool_call"
    item_field = "input"


@_register
class CustomToolCallInputDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.custom_tool_call_input.done"
    REQUIRED = {**_ITEM_REF, "input": STR}
    item_type = "custom_tool_call"
    item_field = "input"


# --- Other streamed tool payloads ----------------------------------------------------------------


@_register
class CodeInterpreterCallCodeDelta(Event):
    __slots__ = ()
    TYPE = "response.code_interpreter_call_code.delta"
    REQUIRED = {**_ITEM_REF, "delta": STR}


@_register
class CodeInterpreterCallCodeDone(Event):
    __slots__ = ()
    TYPE = "response.code_interpreter_call_code.done"
    REQUIRED = {**_ITEM_REF, "code": STR}


@_register
class ApplyPatchCallOperationDiffDelta(Event):
    """Not in the SDK's event union yet, but sent by OpenAI for apply_patch tools."""

    __slots__ = ()
    TYPE = "response.apply_patch_call_operation_diff.delta"
    REQUIRED = {**_ITEM_REF, "delta": STR}


@_register
class ApplyPatchCallOperationDiffDone(Event):
    __slots__ = ()
    TYPE = "response.apply_patch_call_operation_diff.done"
    REQUIRED = {**_ITEM_REF, "diff": STR}


_COMMAND_REF = {"command_index": IDX, "output_index": IDX, "sequence_number": INT}


@_register
class ShellCallCommandAdded(Event):
    """Shell command events carry no `item_id`: they refer to their item by `output_index` only."""

    __slots__ = ()
    TYPE = "response.shell_call_command.added"
    REQUIRED = {**_COMMAND_REF, "command": STR}


@_register
class ShellCallCommandDelta(Event):
    __slots__ = ()
    TYPE = "response.shell_call_command.delta"
    REQUIRED = {**_COMMAND_REF, "delta": STR}


@_register
class ShellCallCommandDone(Event):
    __slots__ = ()
    TYPE = "response.shell_call_command.done"
    REQUIRED = {**_COMMAND_REF, "command": STR}


@_register
class ShellCallOutputContentDelta(Event):
    """`delta` is an object (`{"stdout": ...}` / `{"stderr": ...}`), not a string."""

    __slots__ = ()
    TYPE = "response.shell_call_output_content.delta"
    REQUIRED = {**_COMMAND_REF, "item_id": STR, "delta": OBJ}


@_register
class ShellCallOutputContentDone(Event):
    __slots__ = ()
    TYPE = "response.shell_call_output_content.done"
    REQUIRED = {**_COMMAND_REF, "item_id": STR, "output": LIST}


@_register
class AudioDelta(Event):
    __slots__ = ()
    TYPE = "response.audio.delta"
    REQUIRED = {"delta": STR, "sequence_number": INT}


@_register
class AudioDone(Event):
    __slots__ = ()
    TYPE = "response.audio.done"
    REQUIRED = {"sequence_number": INT}


@_register
class AudioTranscriptDelta(Event):
    __slots__ = ()
    TYPE = "response.audio.transcript.delta"
    REQUIRED = {"delta": STR, "sequence_number": INT}


@_register
class AudioTranscriptDone(Event):
    __slots__ = ()
    TYPE = "response.audio.transcript.done"
    REQUIRED = {"sequence_number": INT}


# --- Hosted tool status --------------------------------------------------------------------------


class HostedToolStatus(Event):
    """A hosted tool's progress step (`tool` e.g. "web_search_call", `status` e.g. "searching")."""

    __slots__ = ()
    REQUIRED = _ITEM_REF
    tool: ClassVar[str] = ""
    status: ClassVar[str] = ""


@_register
class ImageGenerationCallPartialImage(HostedToolStatus):
    """A partial image (base64) of an image generation call; also a status step (`partial_image`)."""

    __slots__ = ()
    TYPE = "response.image_generation_call.partial_image"
    REQUIRED = {**_ITEM_REF, "partial_image_b64": STR, "partial_image_index": IDX}
    OPTIONAL = frozenset({"background", "output_format", "quality", "size"})
    tool = "image_generation_call"
    status = "partial_image"


# Status steps per hosted tool, in the order they must occur (hosted.status-order).
HOSTED_STATUS_ORDER: dict[str, tuple[str, ...]] = {
    "file_search_call": ("in_progress", "searching", "completed"),
    "web_search_call": ("in_progress", "searching", "completed"),
    "code_interpreter_call": ("in_progress", "interpreting", "completed"),
    "image_generation_call": ("in_progress", "generating", "partial_image", "completed"),
    "mcp_call": ("in_progress", "completed|failed"),
    "mcp_list_tools": ("in_progress", "completed|failed"),
    "compaction": ("compacting",),
}


def _hosted_status_class(tool: str, status: str) -> type[Event]:
    name = "".join(word.capitalize() for word in f"{tool}_{status}".split("_"))
    cls = type(name, (HostedToolStatus,), {"__slots__": (), "TYPE": f"response.{tool}.{status}", "tool": tool, "status": status})
    cls.__doc__ = f"`response.{tool}.{status}`: a status step of a `{tool}` item."
    cls.__module__ = __name__
    return _register(cls)


_HOSTED_STATUS_CLASSES: dict[str, type[Event]] = {
    f"response.{tool}.{status}": _hosted_status_class(tool, status)
    for tool, steps in HOSTED_STATUS_ORDER.items()
    for step in steps
    for status in step.split("|")
    if status != "partial_image"
}
globals().update({cls.__name__: cls for cls in _HOSTED_STATUS_CLASSES.values()})

