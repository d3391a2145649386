"""The two free-form notebooks: inspect a captured stream, and a playground of widgets."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kit.events import Stream, validate_stream
from kit.notebook.display import _display
from kit.notebook.scenario import Scenario, start


def inspect_capture(path: str | Path, *, profile: str = "openai", think_tags: bool = False) -> Stream:
    """Open a captured stream (Responses SSE/jsonl, a kit recording, or Chat Completions chunks, which are
    bridged), show and judge it exactly as `kit check` / `kit show` do."""
    from kit.bridge.chunks import is_chat_capture
    from kit.render import events_table, show, timeline
    from kit.sources import load, load_capture

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such capture (give a .jsonl or .sse file; the project's tests/captures has 113 real ones)")
    raw = load(path, source_name=path.name)  # a shared report names the file, not where it sat on this machine
    if is_chat_capture(raw):
        _display(f"{path.name}: a Chat Completions stream; showing its Responses translation by the bridge")
    stream = load_capture(raw, think_tags=think_tags)
    violations = validate_stream(stream, profile=profile)
    show(stream, violations, profile=profile)
    _display(events_table(stream))
    _display(timeline(stream))
    return stream


def _stream_into_widget(scenario: Scenario, request: dict[str, Any], via: str | None) -> None:
    """Stream live into an HTML widget shown in the current Output widget.

    A display handle (what `Scenario.responses_stream` shows a stream with) is never
    redrawn inside an Output widget in JupyterLab (ipywidgets issue 1844): the view
    froze at its first frame, "0 events · streaming…". A widget's value does update.
    """
    import ipywidgets as w
    from IPython.display import display

    from kit.render.jupyter import HTMLSink

    view = w.HTML()
    view.add_class("kit-playground-view")
    display(view)
    scenario.responses_stream(request, via=via, sink=HTMLSink(lambda html: setattr(view, "value", html)))


def playground_request(prompt: str, max_output_tokens: int, tools: Iterable[str]) -> dict[str, Any]:
    """The Responses request the playground's form describes."""
    req: dict[str, Any] = {"input": prompt, "temperature": 0, "max_output_tokens": max_output_tokens}
    chosen: list[dict[str, Any]] = []
    if "get_weather function" in tools:
        chosen.append({"type": "function", "name": "get_weather", "description": "Get the weather for a city.",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                      "required": ["city"]}})
    if "file_search" in tools:
        chosen.append({"type": "file_search", "vector_store_ids": []})
    if chosen:
        req["tools"] = chosen
    return req


def playground(recording_dir: str | None = None) -> Any:
    """An ipywidgets form: setup, mode, model, prompt, tools; stream live; compare native and bridged side by side."""
    import ipywidgets as w

    from kit.render.jupyter import in_kernel
    from kit.setups import load_setups

    setups = load_setups()
    setup_w = w.Dropdown(options=sorted(setups), value="local", description="setup")
    mode_w = w.Dropdown(options=["replay", "record-if-missing", "record", "live"], value="replay", description="mode")
    url_w = w.Text(placeholder="base URL (optional: the setup's default)", description="server")
    model_w = w.Text(placeholder="model (optional: the setup's default)", description="model")
    prompt_w = w.Textarea(value="Write one short sentence about the sea.", description="prompt",
                          layout=w.Layout(width="90%", height="70px"))
    tools_w = w.SelectMultiple(options=["get_weather function", "file_search"], description="tools")
    budget_w = w.IntSlider(value=64, min=8, max=1024, step=8, description="max tokens")
    compare_w = w.ToggleButtons(options=["one view", "native vs bridged"], value="one view", description="show")
    run_w = w.Button(description="Send", button_style="primary")
    about_w = w.HTML()
    about_w.add_class("kit-playground-setup")
    left, right, status = w.Output(), w.Output(), w.Output()

    @status.capture()  # an error shows in the cell, not only in JupyterLab's log console
    def describe_setup(_: Any = None) -> None:
        """What the chosen setup is and can do, and its default model as the model field's hint."""
        from html import escape

        chosen = setups[setup_w.value]
        about_w.value = (f'<span data-setup="{escape(chosen.name)}"><b>{escape(chosen.name)}</b>: '
                         f"{escape(chosen.description)} · Responses: {escape(chosen.responses)} · capabilities: "
                         f"{escape(', '.join(sorted(chosen.capabilities)) or 'none')}</span>")
        model_w.placeholder = f"model (default: {chosen.text_model})"

    def request() -> dict[str, Any]:
        return playground_request(prompt_w.value, budget_w.value, tools_w.value)

    def send(_: Any) -> None:
        left.clear_output()
        right.clear_output()
        status.clear_output()
        with status:
            try:
                scenario = start({"setup": setup_w.value, "mode": mode_w.value, "text_model": model_w.value or None,
                                  "base_url": url_w.value or None, "recording_dir": recording_dir})
                if "file_search" in tools_w.value:
                    store = scenario.vector_store("playground", {"notes.txt": prompt_w.value})
                    req = request()
                    req["tools"][-1]["vector_store_ids"] = [store]
                else:
                    req = request()
            except Exception as exc:  # shown to the person at the form, not raised into the void
                print(f"{type(exc).__name__}: {exc}")
                return
        views = [("native", left), ("bridge", right)] if compare_w.value != "one view" else [(None, left)]
        for via, out in views:
            with out:
                try:
                    if in_kernel():
                        _stream_into_widget(scenario, req, via)
                    else:
                        scenario.responses_stream(req, via=via)
                except Exception as exc:
                    print(f"{type(exc).__name__}: {exc}")

    run_w.on_click(send)
    setup_w.observe(describe_setup, names="value")
    describe_setup()
    form = w.VBox([w.HBox([setup_w, mode_w]), about_w, w.HBox([url_w, model_w]), prompt_w,
                   w.HBox([tools_w, w.VBox([budget_w, compare_w])]), run_w, status, w.HBox([left, right])])
    form.fields = {"setup": setup_w, "mode": mode_w, "server": url_w, "model": model_w, "prompt": prompt_w,
                   "tools": tools_w, "max_tokens": budget_w, "show": compare_w, "send": run_w, "about": about_w}
    return form
