"""Help that is never cut off: command lists show each command's whole first paragraph, wrapped.

click shortens a command's summary to fit one line ("..."); at 80 columns
that cuts most of ours. This group writes the first paragraph of each
command's help in full, wrapped like the options are.
"""

from __future__ import annotations

import inspect

import click
import typer.core


class FullHelpGroup(typer.core.TyperGroup):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
            rows.append((name, " ".join(first.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
