"""How this repository's own test suite runs (the kit's pytest plugin for users is kit/pytest_plugin.py)."""

from __future__ import annotations

import os

import pytest

MAX_WORKERS = 4  # the live tests start a llama.cpp server per worker, each using every core


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject's addopts): one worker per core, at most MAX_WORKERS. Most of the suite's time is
    spent waiting on kernels, servers and subprocesses, so two workers on 2 cores take about two thirds of
    the time of one."""
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                      MAX_WORKERS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long test files first (those that start servers or browsers: markers `live`, `browser`, and the
    clone test), the rest after in their own order: with files spread over workers as they fall free, the
    short files then fill in around the long ones instead of a long one starting last and running alone."""
    items.sort(key=lambda item: 0 if _long(item) else 1)  # stable: each file keeps its order


def _long(item: pytest.Item) -> bool:
    return item.get_closest_marker("live") is not None or item.get_closest_marker("browser") is not None \
        or item.path.name == "test_clone_anywhere.py"
