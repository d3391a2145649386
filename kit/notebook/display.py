"""How a notebook shows a value: text as text, a matplotlib Figure as a PNG that survives export."""

from __future__ import annotations

from typing import Any


def _display(obj: Any) -> None:
    """Show a value in a notebook (text as text, a matplotlib Figure as a PNG that survives export)."""
    if isinstance(obj, str):
        print(obj)
        return
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        print(obj)
        return
    if get_ipython() is None:
        print(obj)
        return
    if hasattr(obj, "savefig"):  # a Figure made without pyplot has no notebook representation of its own
        import io

        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        obj = Image(data=buffer.getvalue(), format="png")
    display(obj)
