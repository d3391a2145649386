"""Which setups the kit starts itself, and how: a registry keyed by setup, the way papermill keys its engines.

A setup names its managed server in `Setup.server`: one of `BUILTIN_SERVERS`, or a factory as "module:function".
The factory takes the Setup and keyword options, and returns a server object
that is not started yet: a `ManagedServer` (every server shares
`kit.servers.process.ProcessServer`, which gives the defaults), usable as a
context manager. Start failures raise
`LocalServerError` (or a subclass) with a message that says what to do.
`kit serve`, `--stack-config server:<setup>` and `kit check --stack-config`
all come through `server_for_setup`.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, Protocol


class ManagedServer(Protocol):
    """Everything `kit serve`, `kit run --stack-config server:<setup>` and `kit check` read of a managed server."""

    model_alias: str | None
    log_path: Path | None
    start_seconds: float | None

    @property
    def base_url(self) -> str: ...
    @property
    def describe(self) -> list[str]: ...
    @property
    def native_responses(self) -> bool: ...
    def client_environment(self) -> dict[str, str]: ...
    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int | None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: Any) -> None: ...


# The kit's own managed servers, by the name a setup gives (`Setup.server`): the setups name them, this package
# knows where they are (so kit.setups, below it, names no module of it).
BUILTIN_SERVERS = {
    "local": "kit.servers.local:local_server_for",
    "bridge": "kit.servers.bridge:bridge_server_for",
    "litellm": "kit.servers.litellm:litellm_server_for",
    "ogx": "kit.servers.ogx:ogx_server_for",
}


def load_factory(path: str) -> Any:
    """The factory a setup names (`Setup.server`): one of `BUILTIN_SERVERS`, or "module:function" of the user's."""
    module_name, _, function = BUILTIN_SERVERS.get(path, path).partition(":")
    return getattr(importlib.import_module(module_name), function)


def server_for_setup(setup_name: str, **options: Any) -> ManagedServer:
    """The (not yet started) managed server of a setup.

    Options a factory does not take (such as `local`'s `engine` or `threads`)
    are dropped, so `kit serve` can pass its flags to any of them. Raises
    NotManaged for setups whose server the user runs.
    """
    from kit.servers.errors import NotManaged
    from kit.setups.registry import get_setup

    setup = get_setup(setup_name)
    if not setup.server:
        raise NotManaged(setup.name, setup.url_env, setup.base_url)
    try:
        factory = load_factory(setup.server)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"setup {setup.name!r}: its managed server {setup.server!r} cannot be loaded: {exc}") from exc
    accepted = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        options = {k: v for k, v in options.items() if k in accepted}
    return factory(setup, **{k: v for k, v in options.items() if v is not None})
