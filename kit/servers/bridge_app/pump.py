"""The bridge's synchronous event iterator run in a thread, its events handed to the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kit.bridge.request import UnsupportedParameter

log = logging.getLogger("kit.servers.bridge")

END = object()  # the pump's end-of-stream marker


class EventPump:
    """A sync event iterator run in its own thread, its events handed to the event loop as they come.

    The bridge's core is synchronous (the openai SDK's streaming calls); one
    thread per response keeps the event loop free, and the events of one
    upstream chunk reach the loop together, so they go out in one write
    instead of one thread hop each. An exception is handed over as an item
    (it is logged here, with its traceback, for the server's log).
    `stop()` makes the thread close the iterator (and with it the upstream
    stream) after its next event.
    """

    def __init__(self, events: Iterator[dict[str, Any]] | Callable[[], Iterator[dict[str, Any]]],
                 call: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stopped = threading.Event()
        self._events = events
        self._call = call  # an UpstreamCall: stop() cancels it, so a stalled read ends now
        self._held: list[Any] = []
        threading.Thread(target=self._run, name="kit-bridge-response", daemon=True).start()

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: the server is going down
            self._stopped.set()

    def _run(self) -> None:
        try:
            if callable(self._events) and not hasattr(self._events, "__next__"):
                self._events = self._events()  # made here, off the event loop (an upstream client costs ~1 ms)
            for event in self._events:
                self._put(event)
                if self._stopped.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which answers with it
            if self._stopped.is_set():
                return  # cancelled on purpose (a client gone, a deadline): nobody waits for the error
            if not isinstance(exc, UnsupportedParameter):  # a refused request is the client's, not a failure
                log.exception("POST /v1/responses failed")
            self._put(exc)
        finally:
            with contextlib.suppress(Exception):
                self._events.close()  # type: ignore[attr-defined]
            if self._call is not None:
                with contextlib.suppress(Exception):
                    self._call.close()
            self._put(END)

    async def get(self) -> Any:
        """The next item: an event, an exception, or END."""
        if self._held:
            return self._held.pop(0)
        return await self._queue.get()

    async def wait(self) -> None:
        """Until at least one item is ready (it is kept for `ready`)."""
        if not self._held:
            self._held.append(await self._queue.get())

    def ready(self) -> list[Any]:
        """The items ready now, in order, without waiting."""
        items, self._held = self._held, []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def get_within(self, seconds: float) -> Any:
        """The next item, or TimeoutError after `seconds`."""
        if self._held:
            return self._held.pop(0)
        return await asyncio.wait_for(self._queue.get(), seconds)

    def stop(self) -> None:
        """Stop the thread now: the upstream call is cancelled (its sockets shut down), stalled or not."""
        self._stopped.set()
        if self._call is not None:
            self._call.cancel()
