"""`hotline privacy ...`: the retention policy and legal holds (privacy_retention.py), a person's
copy and erasure (privacy_rights.py), the audit log (privacy_audit.py)."""

from __future__ import annotations

from typing import Any

from bot.commands import privacy_audit, privacy_retention, privacy_rights


def register(sub: Any) -> None:
    privacy = sub.add_parser(
        "privacy", help="data protection: retention, legal holds, export, erasure, audit log"
    ).add_subparsers(dest="privacy_command", required=True, metavar="SUBCOMMAND")
    privacy_retention.register(privacy)
    privacy_rights.register(privacy)
    privacy_audit.register(privacy)
