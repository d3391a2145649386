"""`kit init`: make the current folder a project (kit-setups.toml, recordings/, findings/).

From then on every command and pytest, run here or below, keep their
recordings, findings and reports in this folder (`kit.setups.project`).
Nothing that exists is overwritten. Exit status: 0 done (or already a project).
"""

from __future__ import annotations

from pathlib import Path

import typer

SETUPS_TEMPLATE = '''\
# The setups of this project (responses-kit). `kit setup add NAME --url URL` probes a server with the
# kit's battery and writes its table here, each capability with the evidence the probe saw; or write one:
#
# [setups.my-server]
# description = "my Responses server"
# base_url = "http://127.0.0.1:8000/v1"  # the server's OpenAI-compatible base URL
# text_model = "my-model"
# key_env = "MY_SERVER_KEY"             # optional: the variable that holds its API key (never the key itself)
# url_env = "MY_SERVER_URL"             # optional: a variable that, when set, overrides base_url
# responses = "native"                  # "native": the server's own /v1/responses (the default here);
#                                       # "bridge": the kit's bridge over the server's /v1/chat/completions
# capabilities = ["tools"]              # of: reasoning, refusal, vision, tools, file_search, citations, embeddings;
#                                       # a notebook needing one the setup lacks is reported "unsupported"
#
# Your own suites: folders of <suite>/<name>.ipynb beside the packaged ones (default: notebooks/ if present).
# [project]
# notebooks = ["notebooks"]
'''

FINDINGS_README = '''\
Known findings of this project's setups: findings/<setup>.toml, one [[finding]] per rule a server is known to
break (notebook, rule, event, reason, upstream). A setup with no file must stay clean. See the kit's README,
"Known findings".
'''


def init() -> None:
    """Make the current folder a project: kit-setups.toml (commented), recordings/ and findings/."""
    from kit.setups.project import SETUPS_FILE, Project

    project = Project(Path.cwd().resolve())
    made: list[str] = []
    if not project.setups_file.exists():
        project.setups_file.write_text(SETUPS_TEMPLATE, encoding="utf-8")
        made.append(SETUPS_FILE)
    for folder in (project.recordings, project.findings):
        if not folder.exists():
            folder.mkdir()
            made.append(folder.name + "/")
    readme = project.findings / "README.md"
    if "findings/" in made:
        readme.write_text(FINDINGS_README, encoding="utf-8")
    typer.echo(f"{project.root}: " + (f"made {', '.join(made)}" if made else "already a project; nothing changed"))
    typer.echo("next: kit setup add NAME --url http://HOST:PORT/v1   (probes your server, writes kit-setups.toml)")
    typer.echo("      kit run --setup NAME --inference-mode record   (records the suites into recordings/NAME/)")
    typer.echo("      kit run   or   pytest --setup NAME             (replays them, no server needed)")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
