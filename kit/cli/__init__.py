"""The `kit` command: thin commands over the library.

Each command group lives in its own module and is added here; a command
imports its heavy dependencies only when it runs, so `kit --help` is fast.
"""

from __future__ import annotations

import typer

from kit.cli import bridge, check, coverage, recordings, run, serve, show
from kit.cli import init, setup  # a project of your own: kit init, kit setup add
from kit.cli.help_format import FullHelpGroup

app = typer.Typer(
    name="kit",
    help="Explore and test streaming LLM APIs (OpenAI Responses and Chat Completions).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: wrapped to the terminal, never cut off with "…" at 80 columns
    cls=FullHelpGroup,
)
app.add_typer(recordings.app, name="recordings", cls=FullHelpGroup)
for _module in (check, show, bridge, serve, run, coverage):
    _module.register(app)
for _module in (init, setup):
    _module.register(app)


def main() -> None:
    app()
