"""The audit log page (admins only): who viewed or changed what, when and from where."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import Signed, bot_of, page, staff_only
from bot.directory.audit import entries

SHOWN = 300


async def audit_log(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    action = request.query_params.get("action", "").strip()[:40] or None
    async with bot.db.reading() as session:
        rows = await entries(session, limit=SHOWN, action=action)
    tz = bot.deps.timezone
    shown = [
        {
            "at": e.at.astimezone(tz).strftime("%d %b %Y %H:%M:%S"),
            "who": e.actor.name if e.actor else "system",
            "action": e.action,
            "subject": e.subject,
            "detail": e.detail,
            "ip": e.ip or "",
            "via": e.via,
        }
        for e in rows
    ]
    return page("audit.html", title="Audit log", rows=shown, action=action or "", signed=signed)


def routes() -> list[BaseRoute]:
    return [Route("/console/audit", staff_only(audit_log, admin=True), methods=["GET"])]
