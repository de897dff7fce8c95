"""Who may read a request's words: staff read them all, except requests in the safeguarding and
allegation categories, which only staff with the safeguarding role and the people pinged for the
request (or who took it) read in full. Everyone else sees the facts a rota needs (reference,
school, status and times), never the text.

Pure: the callers (chat, CLI, console) look up who was pinged (bot/escalation/hotline.py
`readers_of`) and pass the ids in, write the "view-restricted" audit entry for a full view, and
choose where a summary goes: a chat copy (`withheld`) or a list (`withheld_facts`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, tzinfo

from bot.core import texts
from bot.store.models import HotlineRequest, Person

# The categories whose words name children and accused adults: read in full only by those who
# must act on them.
RESTRICTED_CATEGORIES = frozenset({"safeguarding", "allegation"})
# The audit log's action for every full view of a restricted request (console, chat, CLI).
VIEW_RESTRICTED = "view-restricted"


def restricted(request: HotlineRequest) -> bool:
    """Whether the request's words are withheld from staff in general."""
    return (request.category or "") in RESTRICTED_CATEGORIES


def may_read(viewer: Person, request: HotlineRequest, pinged_ids: Collection[int]) -> bool:
    """Whether `viewer` may read the request's text and timeline. The member who wrote it
    always may; other members never; staff may unless it is restricted, when only those with
    the safeguarding role, those pinged for it (`pinged_ids`) and whoever acknowledged it may.
    Being an admin is not enough: the role is given in the directory."""
    if viewer.id is not None and viewer.id == request.person_id:
        return True
    if not viewer.is_staff:
        return False
    if not restricted(request):
        return True
    return (
        viewer.safeguarding
        or viewer.id in pinged_ids
        or (viewer.id is not None and viewer.id == request.acknowledged_by_id)
    )


def _reference(request: HotlineRequest) -> str:
    return request.reference or f"#{request.id}"


def withheld(request: HotlineRequest, school: str | None) -> str:
    """The one line a shared chat gets instead of a restricted request's words:
    "safeguarding emergency at St Mary's, HL-2026-0001, open it in a direct message ..."."""
    return texts.WITHHELD_CHAT.format(
        category=request.category or "restricted",
        kind=request.kind.value,
        school=school or "no school",
        reference=_reference(request),
    )


def withheld_facts(request: HotlineRequest, school: str | None, tz: tzinfo) -> str:
    """The facts a list shows of a request whose words are withheld: reference, school,
    status and times."""

    def at(when: datetime) -> str:
        return when.astimezone(tz).strftime("%d %b %Y %H:%M")

    times = [texts.WITHHELD_OPENED.format(at=at(request.created_at))]
    if request.acknowledged_at is not None:
        times.append(texts.WITHHELD_ACKNOWLEDGED.format(at=at(request.acknowledged_at)))
    if request.resolved_at is not None:
        times.append(texts.WITHHELD_RESOLVED.format(at=at(request.resolved_at)))
    return texts.WITHHELD_FACTS.format(
        reference=_reference(request),
        school=school or "no school",
        status=request.status.value,
        times=", ".join(times),
        category=request.category or "restricted",
    )
