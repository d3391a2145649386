"""Managed local servers: the kit starts llama.cpp on a tiny real model, and stops it.

    with kit.servers.LocalServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none")

`start_local_server()` returns a running server for code that cannot use
`with`; `server_for_setup("local")` is what `kit serve` and
`--stack-config server:local` use.
"""

from kit.servers.errors import (
    LocalServerError,
    ModelFileMissing,
    NotManaged,
    PortBusy,
    ServerCrashed,
    ServerNotInstalled,
    ServerStartTimeout,
)
from kit.servers.local import (
    DEFAULT_ALIAS,
    INSTALL_HINT,
    LLAMA_SERVER_ENV,
    MODEL_ENV,
    Engine,
    LocalServer,
    default_model_path,
    start_local_server,
)
from kit.servers.managed import ManagedServer, server_for_setup
from kit.servers.process import free_port, port_is_free

__all__ = [
    "DEFAULT_ALIAS", "INSTALL_HINT", "LLAMA_SERVER_ENV", "MODEL_ENV", "Engine", "LocalServer", "LocalServerError", "ModelFileMissing",
    "NotManaged", "PortBusy", "ServerCrashed", "ServerNotInstalled", "ServerStartTimeout", "default_model_path",
    "free_port", "port_is_free", "server_for_setup", "start_local_server", "ManagedServer",
]
