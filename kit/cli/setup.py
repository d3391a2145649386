"""`kit setup add NAME --url URL`: probe a server with the battery and write what it found to kit-setups.toml.

The capabilities are not declared by the user but found: each capability
probe of `kit.battery` that the server passes adds the capability, with a
line of evidence (what the stream showed) in `[setups.NAME.evidence]`; one it
does not pass is written as a comment saying why. The probes run live (nothing
is recorded). `--native` tests the server's own `/v1/responses`, `--bridge`
its Chat Completions through the kit's bridge; without either, native is
tried first and the bridge only when the server has no `/v1/responses`.
Exit status: 0 written, 1 the server failed the basic text probe, 2 bad
options or no server.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from kit.battery import ProbeResult
    from kit.setups import Setup

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

app = typer.Typer(help="Add your own server as a setup of this project (kit-setups.toml).", no_args_is_help=True)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"kit setup add: {message}", err=True)
    return typer.Exit(code)


def _first_model(url: str, key: str) -> tuple[str, str]:
    """The server's first model from GET /models, and the evidence line."""
    import openai

    try:
        models = [m.id for m in openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=30).models.list()]
    except openai.OpenAIError as exc:
        raise _fail(f"cannot list the models of {url} ({type(exc).__name__}: {exc}); is the server running? "
                    f"Or pass --model") from None
    if not models:
        raise _fail(f"{url}/models lists no model; pass --model")
    return models[0], f"GET /models: {', '.join(models[:5])}"


def _probe(spec: Setup, key: str, recording_dir: Path) -> list[ProbeResult]:
    from kit.battery import run_battery
    from kit.recording import client as kit_client

    client = kit_client(spec.name, "live", base_url=spec.base_url, api_key=key, recording_dir=recording_dir)
    return list(run_battery(client, spec))


def _no_responses_endpoint(results: list[ProbeResult]) -> bool:
    return any(r.error and r.error.startswith(("HTTP 404", "HTTP 405")) for r in results if r.probe == "text")


def table(spec: Setup, results: list[ProbeResult], notes: dict[str, str]) -> str:
    """The `[setups.NAME]` TOML table: fields, the capabilities found, and their evidence."""
    from kit.battery import capability_of, evidence

    found = {capability_of(r.probe): evidence(r) for r in results
             if capability_of(r.probe) and r.stream is not None and not (r.problem or r.unsupported or r.error)}
    lacking = {capability_of(r.probe): evidence(r) for r in results
               if capability_of(r.probe) and capability_of(r.probe) not in found}
    q = json.dumps  # a JSON string is a TOML basic string
    lines = [f"[setups.{spec.name}]  # written by `kit setup add`; probe again with --replace",
             f"description = {q(spec.description)}", f"base_url = {q(spec.base_url)}",
             f"text_model = {q(spec.text_model)}"]
    if spec.key_env:
        lines.append(f"key_env = {q(spec.key_env)}")
    lines += [f"responses = {q(spec.responses)}", f"capabilities = [{', '.join(q(c) for c in sorted(found))}]"]
    lines += [f"# not found: {cap}: {line}" for cap, line in sorted(lacking.items())]
    lines.append("# the battery probes only reasoning and tools: add vision, file_search, embeddings, refusal or "
                 "citations by hand if your server has them")
    lines += ["", f"[setups.{spec.name}.evidence]"]
    lines += [f"{key} = {q(line)}" for key, line in notes.items()]
    lines += [f"{cap} = {q(line)}" for cap, line in sorted(found.items())]
    return "\n".join(lines) + "\n"


def _without_table(text: str, name: str) -> str:
    """The file without `[setups.NAME]` and its subtables (for --replace)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            skipping = header.group(1) == f"setups.{name}" or header.group(1).startswith(f"setups.{name}.")
        if not skipping:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n"


def add(
    name: str = typer.Argument(..., help="The setup's name (letters, digits, - and _), e.g. my-server."),
    url: str = typer.Option(..., "--url", help="The server's base URL, e.g. http://127.0.0.1:8000/v1."),
    key_env: Optional[str] = typer.Option(None, "--key-env", help="The environment variable holding its API key "
                                                                   "(the key itself is never written)."),
    bridge: Optional[bool] = typer.Option(None, "--bridge/--native", help="Test Responses through the kit's bridge "
                                          "over the server's Chat Completions, or the server's own /v1/responses "
                                          "(default: native, else the bridge when it has no /v1/responses)."),
    model: Optional[str] = typer.Option(None, "--model", help="The model to test (default: the first of GET /models)."),
    description: Optional[str] = typer.Option(None, "--description", help="A line saying what the server is."),
    replace: bool = typer.Option(False, "--replace", help="Probe again and replace the setup's table if it exists."),
) -> None:
    """Probe a server with the battery and write it, with the capabilities found, to kit-setups.toml."""
    import tomllib

    from kit.setups import Setup
    from kit.setups.project import find_project
    from kit.setups.registry import BUILTIN_SETUPS

    if not NAME.match(name):
        raise _fail(f"setup name {name!r}: use letters, digits, - and _ (e.g. my-server)")
    if name in BUILTIN_SETUPS:
        raise _fail(f"{name!r} is a built-in setup; choose another name")
    if not re.match(r"^https?://[^/\s]+", url):
        raise _fail(f"--url {url!r}: expected a base URL such as http://127.0.0.1:8000/v1")
    url = url.rstrip("/")
    key = os.environ.get(key_env) if key_env else "kit-no-key"
    if key_env and not key:
        raise _fail(f"--key-env {key_env}: the variable is not set; export it first (the key is never written)")
    project = find_project(environ=os.environ)
    if not project.found:
        raise _fail(f"{project.root} is not in a project; run `kit init` here first")
    path = project.setups_file
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        existing = tomllib.loads(text).get("setups", {})
    except tomllib.TOMLDecodeError as exc:
        raise _fail(f"{path}: not valid TOML ({exc}); fix it first") from None
    if name in existing and not replace:
        raise _fail(f"{path} already has [setups.{name}]; pass --replace to probe again and replace it")

    notes: dict[str, str] = {}
    if not model:
        model, notes["text_model"] = _first_model(url, key or "kit-no-key")
    spec = Setup(name=name, description=description or f"{name} at {url}", base_url=url, url_env=None,
                 key_env=key_env, text_model=model, responses="bridge" if bridge else "native")
    typer.echo(f"probing {url} ({spec.responses}, model {model}) ...", err=True)
    results = _probe(spec, key or "kit-no-key", project.recordings)
    if bridge is None and _no_responses_endpoint(results):
        notes["responses"] = f"POST /responses: {next(r.error for r in results if r.probe == 'text')}; " \
                             f"tested through the kit's bridge over /chat/completions"
        spec = dataclasses.replace(spec, responses="bridge")
        typer.echo("no /v1/responses: probing through the kit's bridge ...", err=True)
        results = _probe(spec, key or "kit-no-key", project.recordings)
    from kit.battery import evidence

    for result in results:
        typer.echo(f"  {result.verdict()}: {evidence(result)}")
    text_probe = next(r for r in results if r.probe == "text")
    if text_probe.error or text_probe.problem:
        raise _fail(f"the server failed the basic text probe ({evidence(text_probe)}); nothing written",
                    EXIT_FAILED)
    body = _without_table(text, name) if name in existing else text
    path.write_text((body.rstrip("\n") + "\n\n" if body.strip() else body) + table(spec, results, notes),
                    encoding="utf-8")
    from kit.setups.registry import load_setups

    written = load_setups(path)[name]  # read back: what every command will see
    typer.echo(f"wrote [setups.{name}] to {path}: {written.responses}, model {written.text_model}, "
               f"capabilities {', '.join(sorted(written.capabilities)) or 'none found'}")
    typer.echo(f"next: kit run --setup {name} --inference-mode record   (then `kit run` or `pytest --setup {name}` "
               f"replays with no server)")


app.command("add")(add)


def register(main: typer.Typer) -> None:
    from kit.cli.help_format import FullHelpGroup

    main.add_typer(app, name="setup", cls=FullHelpGroup)
