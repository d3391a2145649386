"""Setups (where a server is and what it can do) and suites (sets of notebooks)."""

from kit.setups.registry import BUILTIN_SETUPS, Setup, UnknownSetup, get_setup, load_setups

__all__ = ["BUILTIN_SETUPS", "Setup", "UnknownSetup", "get_setup", "load_setups"]
