"""The requests pages: the inbox of requests not resolved yet (bot/escalation/inbox.py, the
same query as `hotline requests list`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import INBOX_PAGE, Signed, age, bot_of, now_of, page, staff_only
from bot.escalation.inbox import recent_requests

INBOX_LIMIT = 200


async def inbox(request: Request, signed: Signed) -> Response:
    bot = bot_of(request)
    now = now_of(request)
    async with bot.db.reading() as session:
        rows = await recent_requests(session, open_only=True, limit=INBOX_LIMIT)
    tz = bot.deps.timezone
    shown = [
        {
            "reference": r.request.reference or f"#{r.request.id}",
            "opened": r.request.created_at.astimezone(tz).strftime("%d %b %H:%M"),
            "age": age(r.request.created_at, now),
            "kind": r.request.kind.value,
            "category": r.request.category or "",
            "school": r.request.school.name if r.request.school else "",
            "status": r.request.status.value,
            "owner": r.request.acknowledged_by.name if r.request.acknowledged_by else "",
            "level": r.request.level,
            "pinged": ", ".join(r.pinged),
        }
        for r in rows
    ]
    return page("requests.html", title="Open requests", rows=shown, signed=signed)


def routes() -> list[BaseRoute]:
    return [Route(INBOX_PAGE, staff_only(inbox), methods=["GET"])]
