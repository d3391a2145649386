"""Real openai clients whose HTTP transport records or replays.

No global patching: the kit builds (or wraps) one HTTP client and hands it to
the SDK through `http_client=`. Works with httpx2 (openai 3.x default) and
legacy httpx (openai 2.x, or a client the user built).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import openai

from kit.setups.modes import InferenceMode, ReplayStyle, resolve_mode, resolve_recording_dir, resolve_style
from kit.recording.store import RecordingStore
from kit.recording.session import RecordReplaySession
from kit.recording.transport import AsyncRecordReplayTransport, RecordReplayTransport

REPLAY_API_KEY = "kit-replay-no-key-needed"
REPLAY_BASE_URL = "http://replay.kit.invalid/v1"


def _default_http() -> Any:
    """The HTTP library the installed SDK uses by default."""
    try:
        import httpx2

        if getattr(openai, "__version__", "3").split(".")[0] >= "3":
            return httpx2
    except ImportError:
        pass
    return importlib.import_module("httpx")


def make_session(setup: str, mode: str | InferenceMode | None = None, *, recording_dir: str | Path | None = None,
                 replay_style: str | ReplayStyle | None = None, speed: float = 1.0) -> RecordReplaySession:
    return RecordReplaySession(
        setup=setup, mode=resolve_mode(mode), store=RecordingStore(resolve_recording_dir(recording_dir)),
        style=resolve_style(replay_style), speed=speed,
    )


def wrap_http_client(http_client: Any, *, setup: str, mode: str | InferenceMode | None = None,
                     recording_dir: str | Path | None = None, replay_style: str | ReplayStyle | None = None,
                     speed: float = 1.0) -> Any:
    """Make a user-built httpx2/httpx client (sync or async) record or replay; returns the same client.

    Its own transport (proxies, certificates, limits) is kept and used for live traffic.
    """
    session = make_session(setup, mode, recording_dir=recording_dir, replay_style=replay_style, speed=speed)
    inner = http_client._transport
    wrapper = (AsyncRecordReplayTransport if hasattr(inner, "handle_async_request") else RecordReplayTransport)(session, inner)
    http_client._transport = wrapper
    http_client._mounts = {}  # proxy mounts would bypass the wrapper
    return http_client


def _settings(setup: str | None, base_url: str | None, api_key: str | None, mode: InferenceMode,
              recording_dir: Path) -> tuple[str, str, str]:
    """Base URL and key: explicit values, else the setup's; an ad-hoc setup name needs a base URL or recordings."""
    from kit.setups import UnknownSetup, get_setup

    name = setup or "default"
    try:
        spec = get_setup(name) if setup else None
    except UnknownSetup:
        if not (base_url or (recording_dir / name).is_dir()):
            raise
        spec = None  # a name of the user's own: it only labels the recordings
    url = base_url or (spec.resolved_base_url() if spec else None)
    key = api_key or (spec.api_key() if spec else None)
    if mode is InferenceMode.REPLAY:
        return name, url or REPLAY_BASE_URL, key or REPLAY_API_KEY
    if not url:
        raise ValueError(f"mode {mode.value} needs a server: pass base_url= or choose a setup")
    if key is None and spec is not None and spec.key_env:
        raise ValueError(f"mode {mode.value} with setup {name!r} needs an API key: set {spec.key_env} in the environment")
    return name, url, key or "kit-no-key"


def client(setup: str | None = None, mode: str | InferenceMode | None = None, *, base_url: str | None = None,
           api_key: str | None = None, recording_dir: str | Path | None = None,
           replay_style: str | ReplayStyle | None = None, speed: float = 1.0, http: Any = None,
           max_retries: int = 0, **kwargs: Any) -> openai.OpenAI:
    """An `openai.OpenAI` that records or replays.

    `max_retries` defaults to 0: the kit shows what the server did, and SDK
    retries would hide it (pass 2 for the SDK's usual behaviour).
    """
    session = make_session(setup or "default", mode, recording_dir=recording_dir, replay_style=replay_style, speed=speed)
    name, url, key = _settings(setup, base_url, api_key, session.mode, session.store.root)
    http = http or _default_http()
    inner = None if session.mode is InferenceMode.REPLAY else http.HTTPTransport()
    transport = RecordReplayTransport(session, inner)
    http_client = http.Client(transport=transport, timeout=kwargs.pop("timeout", 600.0), follow_redirects=True)
    return openai.OpenAI(api_key=key, base_url=url, http_client=http_client, max_retries=max_retries,
                         **_with_sockets(transport, session, url, kwargs))


def async_client(setup: str | None = None, mode: str | InferenceMode | None = None, *, base_url: str | None = None,
                 api_key: str | None = None, recording_dir: str | Path | None = None,
                 replay_style: str | ReplayStyle | None = None, speed: float = 1.0, http: Any = None,
                 max_retries: int = 0, **kwargs: Any) -> openai.AsyncOpenAI:
    """An `openai.AsyncOpenAI` that records or replays (see `client`)."""
    session = make_session(setup or "default", mode, recording_dir=recording_dir, replay_style=replay_style, speed=speed)
    name, url, key = _settings(setup, base_url, api_key, session.mode, session.store.root)
    http = http or _default_http()
    inner = None if session.mode is InferenceMode.REPLAY else http.AsyncHTTPTransport()
    transport = AsyncRecordReplayTransport(session, inner)
    http_client = http.AsyncClient(transport=transport, timeout=kwargs.pop("timeout", 600.0), follow_redirects=True)
    return openai.AsyncOpenAI(api_key=key, base_url=url, http_client=http_client, max_retries=max_retries,
                              **_with_sockets(transport, session, url, kwargs))


def _with_sockets(transport: Any, session: RecordReplaySession, url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The SDK's options, its WebSocket mode (`responses.connect()`) pointed at the kit's loopback relay unless
    live (or the caller chose a `websocket_base_url`); the transport keeps the relay's route alive."""
    if session.mode is InferenceMode.LIVE or kwargs.get("websocket_base_url"):
        return kwargs
    from kit.recording.socket_relay import SocketRelay

    route, socket_url = SocketRelay.shared().register(session, None if session.mode is InferenceMode.REPLAY
                                                      else url)
    transport.socket_route = route
    return {**kwargs, "websocket_base_url": socket_url}


def socket_route_of(client_: openai.OpenAI | openai.AsyncOpenAI) -> Any:
    """The kit relay's route behind a kit client's WebSocket mode (its replay misses), or None when live."""
    return getattr(client_._client._transport, "socket_route", None)  # type: ignore[attr-defined]


def session_of(client_: openai.OpenAI | openai.AsyncOpenAI) -> RecordReplaySession:
    """The record/replay session behind a kit client (its mode, setup and store)."""
    return client_._client._transport.session  # type: ignore[attr-defined]
