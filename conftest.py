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
