"""`kit coverage`: the features the kit tests × setups, in the terminal, and the README's generated table.

The features are listed once, in `kit.coverage`; this prints them with what a `kit run` found (its
`results.json`), and `--readme` writes the table between the README's coverage markers (`--check` only
says whether it is current, for CI and tests/test_coverage.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

EXIT_OK, EXIT_STALE, EXIT_USAGE = 0, 1, 2


def coverage(
    results: Optional[Path] = typer.Option(None, "--results", help="A `kit run` results.json (default: the project's reports/results.json, when there is one)."),
    readme: Optional[Path] = typer.Option(None, "--readme", help="Write the features table between this README's coverage markers."),
    check: bool = typer.Option(False, "--check", help="With --readme: write nothing; exit 1 when the table is stale."),
) -> None:
    """Every feature the kit tests, its notebook and, per setup, what the last run found."""
    from kit.coverage import ReadmeError, with_table

    if readme is not None:
        try:
            text = readme.read_text(encoding="utf-8")
            updated = with_table(text)
        except (OSError, ReadmeError) as exc:
            typer.echo(f"kit coverage: {readme}: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if check:
            if updated != text:
                typer.echo(f"kit coverage: the table in {readme} is stale: run kit coverage --readme {readme}", err=True)
                raise typer.Exit(EXIT_STALE)
            typer.echo(f"{readme}: the coverage table is current")
            raise typer.Exit(EXIT_OK)
        if updated != text:
            readme.write_text(updated, encoding="utf-8")
        typer.echo(f"{readme}: coverage table {'written' if updated != text else 'already current'}")
        raise typer.Exit(EXIT_OK)
    _print_matrix(results)


def _print_matrix(results: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from kit.coverage import FEATURES, matrix
    from kit.setups.project import ProjectError, find_project

    if results is None:
        try:
            candidate = find_project(Path.cwd(), os.environ).reports / "results.json"
        except ProjectError:
            candidate = None
        results = candidate if candidate is not None and candidate.is_file() else None
    outcomes: list[dict[str, object]] = []
    if results is not None:
        try:
            outcomes = list(json.loads(results.read_text(encoding="utf-8")).get("outcomes", []))
        except (OSError, ValueError, AttributeError) as exc:
            typer.echo(f"kit coverage: cannot read {results}: {exc}; run kit run to make it", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    setups = sorted({str(o.get("setup")) for o in outcomes})
    table = Table(title=f"coverage ({results or 'no kit run results: notebooks only'})")
    for column in ("feature", "notebook", "Open Responses test", *setups):
        table.add_column(column, overflow="fold")
    for feature, cells in matrix(outcomes, setups):
        table.add_row(feature.title, feature.notebook or "none", feature.open_responses_test or "",
                      *[c.state + (f": {c.reason}" if c.reason and c.state == "unsupported" else "") for c in cells])
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("coverage")(coverage)
