"""`kit recordings ...`: list, show, verify, reindex and prune recorded traffic."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and maintain recorded traffic.", no_args_is_help=True)
