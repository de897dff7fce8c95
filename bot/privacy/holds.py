"""Legal holds: a request kept whole (never redacted by the retention policy) while a claim, an
investigation or a subject access request needs it, until released. Each hold and release is in
the audit log (actions "hold" and "release"), with the reason; the reason is also on the request
(hold_reason, hold_at, hold_by), and clearing it on release lets the policy apply again at the
next run.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserFacingError
from bot.directory.audit import Actor, record
from bot.store.models import HotlineRequest

REFERENCE = re.compile(r"^HL-(\d{4})-(\d{4,})$", re.IGNORECASE)  # as bot/escalation/hotline.py
REASON_CHARS = 500


async def held_request(session: AsyncSession, raw: str) -> HotlineRequest:
    """The request with this reference; a UserFacingError naming the problem otherwise."""
    match = REFERENCE.match(raw.strip())
    if match is None:
        raise UserFacingError(f"{raw!r} is not a request reference like HL-2026-0042")
    reference = f"HL-{match[1]}-{match[2]}"
    request = await session.scalar(
        select(HotlineRequest).where(HotlineRequest.reference == reference).with_for_update()
    )
    if request is None:
        raise UserFacingError(f"{reference}: no request has this reference")
    return request


async def hold(
    session: AsyncSession,
    reference: str,
    reason: str,
    by: Actor,
    now: datetime,
    by_name: str | None = None,
) -> HotlineRequest:
    """Put the request under a legal hold. `by_name`: who placed it, as kept on the request
    (hold_by: their email; by default where from, e.g. "cli")."""
    reason = " ".join(reason.split())
    if not reason:
        raise UserFacingError("give the reason for the hold: --reason TEXT")
    if len(reason) > REASON_CHARS:
        raise UserFacingError(f"the reason is too long: at most {REASON_CHARS} characters")
    request = await held_request(session, reference)
    if request.hold_reason is not None:
        since = f" since {request.hold_at:%Y-%m-%d}" if request.hold_at else ""
        raise UserFacingError(
            f"{request.reference} is already under a legal hold{since}: {request.hold_reason}"
        )
    request.hold_reason, request.hold_at = reason, now
    request.hold_by = (by_name or by.via)[:254]
    record(session, by, "hold", request.reference or "", detail=reason, at=now)
    await session.flush()
    return request


async def release(
    session: AsyncSession, reference: str, by: Actor, now: datetime
) -> HotlineRequest:
    """Lift the request's legal hold; the retention policy applies to it again."""
    request = await held_request(session, reference)
    if request.hold_reason is None:
        raise UserFacingError(f"{request.reference} is not under a legal hold")
    reason = request.hold_reason
    request.hold_reason, request.hold_at, request.hold_by = None, None, None
    record(session, by, "release", request.reference or "", detail=f"hold was: {reason}", at=now)
    await session.flush()
    return request
