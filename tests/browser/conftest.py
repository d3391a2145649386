"""Browser tests: Playwright driving Chromium over the reports and JupyterLab.

Chromium: Playwright's own build when `python -m playwright install chromium`
could fetch it, else a system Chromium (Debian's `chromium` package:
`apt-get install -y chromium`), else `$KIT_CHROMIUM`. With none of them the
tests skip saying what to install, except under CI (`$CI` set), where they must
run and fail instead. The browser is launched offline-minded: no background
networking, no component updates, a fresh profile per launch.

Screenshots and other things for a person to look at go to
`<rootdir>/reports/browser/<test name>/` (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SYSTEM_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("install the system package `chromium` (Debian/Ubuntu: apt-get install -y chromium), or let "
                "Playwright fetch its own build where it can (python -m playwright install chromium), or point "
                "$KIT_CHROMIUM at a Chromium/Chrome binary")


def _unavailable(reason: str) -> None:
    """Skip on a workstation; fail under CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_executable(playwright: Any) -> str:
    """The binary to launch (always explicit: headless Playwright would otherwise look for its headless shell
    build, which `playwright install chromium` may not have fetched); LookupError when there is none."""
    explicit = os.environ.get("KIT_CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            raise LookupError(f"$KIT_CHROMIUM={explicit} is not a file")
        return explicit
    own = playwright.chromium.executable_path
    if own and Path(own).is_file():
        return own
    for name in SYSTEM_CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise LookupError(f"no Chromium found (Playwright's own build is absent at {own})")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the session; each test opens its own context (fresh cookies, storage, viewport)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('the `playwright` package is missing: python -m pip install -e ".[dev]"')
    with sync_playwright() as playwright:
        try:
            executable = chromium_executable(playwright)
        except LookupError as exc:
            _unavailable(f"{exc}: {INSTALL_HINT}")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """`<rootdir>/reports/browser/<test name>/`: where a test leaves screenshots for a person."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = Path(request.config.rootpath) / "reports" / "browser" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
