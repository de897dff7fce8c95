"""Requests for a person: support requests now; emergency escalation builds on the same table.

The two names below are imported from `requests` when first asked for, not with the package:
the urgency detector's modules (`urgency`, `cues_file`) need no database, and `hotline ask`
starts without loading SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.escalation.requests import open_support_request, request_for_question

__all__ = ["open_support_request", "request_for_question"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot.escalation import requests

        return getattr(requests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
