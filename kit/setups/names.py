"""What a setup name may be: a plain name, since it names a folder of recordings and a findings file."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_setup_name(name: str, where: str = "setup", error: type[Exception] = ValueError) -> str:
    """`name` when it is a plain name (letters, digits, `.`, `_`, `-`; no separator, no `..`, not absolute),
    else `error` (ValueError) naming `where` and what to do."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise error(f"{where}: {name!r} is not a valid setup name: use letters, digits, '.', '_' and '-' "
                         f"(no '/', no '..', not an absolute path, at most 64 characters)")
    return name
