"""A notebook that stops early without failing says why, as a typed entry of its result.

`start` installs an IPython handler for the kit's two early stops: a missing
capability (`CapabilityMissing`: unsupported) and a replay miss (`ReplayMiss`:
not recorded). The handler publishes a `kit.summary.Stop` and then shows the
traceback as IPython would, so the cell still fails and the run stops there.
The runner reads the entry; it never matches an exception's name.

`start` also has the kernel write which recordings it used after each cell (`kit recordings prune` reads
them), so nothing is left for the kernel's exit: the runner stops a replaying kernel without waiting for it.
"""

from __future__ import annotations

from typing import Any

from kit.notebook.checks import CapabilityMissing
from kit.recording import ReplayMiss
from kit.recording.session import save_pending_usage
from kit.summary import NOT_RECORDED, UNSUPPORTED, RunResult, Stop, publish


def stop_of(error: BaseException) -> Stop | None:
    """The typed entry of an early stop, or None for any other error (a failure)."""
    if isinstance(error, CapabilityMissing):
        return Stop(UNSUPPORTED, str(error))
    if isinstance(error, ReplayMiss):
        return Stop(NOT_RECORDED, str(error))
    return None


def _on_stop(shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    stop = stop_of(value)
    if stop is not None:
        publish(RunResult(stops=(stop,)))
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _shell() -> Any:
    """The running IPython shell, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def install_stop_handler() -> bool:
    """Install the handler in the running IPython kernel (once); False outside one."""
    shell = _shell()
    if shell is None:
        return False
    shell.set_custom_exc((CapabilityMissing, ReplayMiss), _on_stop)
    return True


def install_usage_saver() -> bool:
    """After each cell, write the recordings usage not yet saved (once: a no-op when nothing new was used);
    False outside a kernel."""
    shell = _shell()
    if shell is None:
        return False
    if _after_cell not in shell.events.callbacks.get("post_run_cell", []):
        shell.events.register("post_run_cell", _after_cell)
    return True


def _after_cell(result: Any = None) -> None:
    save_pending_usage()
