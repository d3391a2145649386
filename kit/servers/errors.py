"""What goes wrong when the kit starts a server: one family, each message saying what to install, free or read.

Every managed server (`local`, `litellm`, `ogx`, `bridge`) raises these or a subclass of
`LocalServerError`, so `kit serve`, `kit run --stack-config server:<setup>` and the tests catch one type.
"""

from __future__ import annotations


class LocalServerError(RuntimeError):
    """The managed server could not be started; the message says what to do."""


class ServerNotInstalled(LocalServerError):
    pass


class ModelFileMissing(LocalServerError):
    pass


class PortBusy(LocalServerError):
    pass


class ServerCrashed(LocalServerError):
    pass


class ServerStartTimeout(LocalServerError):
    pass


class NotManaged(LocalServerError):
    """The kit does not start this setup's server: the user points the kit at one."""

    def __init__(self, name: str, url_env: str | None, base_url: str) -> None:
        from kit.setups.registry import load_setups

        managed = ", ".join(sorted(n for n, s in load_setups().items() if s.managed)) or "none"
        where = f"set {url_env} to its URL (default {base_url})" if url_env else f"it is expected at {base_url}"
        super().__init__(f"the kit does not start the {name!r} server (managed setups: {managed}): "
                         f"run it yourself and point the kit at it: {where}")
