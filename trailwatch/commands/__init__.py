"""One module per CLI command (see trailwatch/cli.py, which loads each by name when it runs).

The plan's JSON document is also an API (tests and tools build and compare plans with it); it is exported
here and loaded on first use, so that importing this package costs no command's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import plan_document, redact

__all__ = ["plan_document", "redact"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import plan
        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
