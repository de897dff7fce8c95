"""`hotline privacy` subcommands (registered by bot/commands/privacy.py)."""

from __future__ import annotations

from typing import Any


def register(privacy: Any) -> None:
    """Adds this module's subcommands to `hotline privacy`."""
