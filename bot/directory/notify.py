"""How long an unacknowledged chat ping waits before it is also emailed to a member of staff
(`people.email_after_minutes`), as admins set it. (Their digest channel, the other way a person
is told things, is bot/digest/channels.py's.)
`email_after_minutes` None means the deployment's STAFF_EMAIL_AFTER_MIN; it is read where pings
are emailed (bot/escalation/email_pings.py). `hotline directory email-after` and the console's
directory page both call these, so the same input gets the same answer in both.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Person

DEFAULT = "default"
MAX_MINUTES = 1440  # a day: the same bound as STAFF_EMAIL_AFTER_MIN (bot/config.py)


def check_minutes(minutes: int | None) -> None:
    """ValueError, with a message fit for the user, unless None or 0..MAX_MINUTES."""
    if minutes is not None and not 0 <= minutes <= MAX_MINUTES:
        raise ValueError(
            f"{minutes} minutes is out of range: give 0 to {MAX_MINUTES} minutes "
            f"(a day), or {DEFAULT!r} for the deployment's setting"
        )


def parse_email_after(text: str) -> int | None:
    """The minutes someone typed: "default" (any case) is None, else a whole number of minutes
    from 0 to MAX_MINUTES. Anything else is a ValueError whose message says what to give."""
    raw = text.strip()
    if raw.lower() == DEFAULT:
        return None
    if not raw:
        raise ValueError(f"give a number of minutes from 0 to {MAX_MINUTES}, or {DEFAULT!r}")
    digits = raw[1:] if raw[0] in "+-" else raw
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        raise ValueError(
            f"{raw[:20]!r} is not a number of minutes: give a whole number from 0 to "
            f"{MAX_MINUTES}, or {DEFAULT!r}"
        )
    minutes = int(raw)
    check_minutes(minutes)
    return minutes


async def set_email_after(session: AsyncSession, person: Person, minutes: int | None) -> bool:
    """Set how many minutes after an unacknowledged chat ping it is emailed to them (None: the
    deployment's setting); True when it changed. Only staff are pinged, so only staff may have
    one: for a member it is a ValueError, as is a number out of range."""
    check_minutes(minutes)
    if not person.is_staff:
        raise ValueError(
            f"{person.name} is a {person.role.value}: only staff are pinged, so only staff "
            "have their pings emailed"
        )
    if person.email_after_minutes == minutes:
        return False
    person.email_after_minutes = minutes
    await session.flush()
    return True


def minutes_text(minutes: int) -> str:
    """ "at once", "1 minute", "5 minutes": after an unacknowledged chat ping."""
    if minutes == 0:
        return "at once"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def email_after_text(minutes: int | None, default: int) -> str:
    """When their unacknowledged chat pings are emailed, e.g. "5 minutes after an
    unacknowledged chat ping" or "... the deployment default (2 minutes)"."""
    if minutes is None:
        return (
            f"after an unacknowledged chat ping: the deployment default ({minutes_text(default)})"
        )
    if minutes == 0:
        return "at once, with the chat ping"
    return f"{minutes_text(minutes)} after an unacknowledged chat ping"
