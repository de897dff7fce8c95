"""Escalation as small steps along the request's chain (chains.py): each step pings the people
of one chain step, and every outcome, including "nobody reachable here", is a timeline event. A
step with nobody reachable is skipped at once; the last step repeats (as often as the chain says,
or until someone acknowledges). Each step waits its own timeout.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import texts
from bot.core.types import Button, Reply
from bot.delivery.outbox import enqueue
from bot.escalation.chains import Chain, ChainStep
from bot.escalation.email_pings import EmailPings, queue_ping_emails
from bot.escalation.rota import Duty, Rota, next_opening
from bot.escalation.rota_store import rota_and_duty
from bot.privacy.access import restricted, withheld
from bot.store.models import HotlineRequest, Identity, Person, School
from bot.store.timeline import add_event

log = logging.getLogger(__name__)


class Step(enum.StrEnum):
    PINGED = "pinged"
    HELD = "held"  # outside hotline hours: waits for the next opening
    NO_ROTA = "no-rota"
    NOBODY = "nobody-reachable"
    EXHAUSTED = "chain-exhausted"  # the last step repeated as often as the chain allows


FALLBACK_LABEL = "fallback"


@dataclass(frozen=True)
class EscalationConfig:
    ack_timeout: timedelta = timedelta(minutes=10)
    reminder_after: timedelta = timedelta(hours=4)
    duplicate_window: timedelta = timedelta(minutes=10)
    # (channel, chat id) of each staff chat that gets a copy of every ping, one per platform
    staff_chats: tuple[tuple[str, str], ...] = ()
    hotline_phone: str = ""
    timezone: tzinfo = UTC  # the partnership's, for times shown to people
    # Staff pings also by email, and support replies to members with no chat account
    # (email_pings.py); None: no email at all.
    email: EmailPings | None = None


async def reachable_identities(session: AsyncSession, email: str | None) -> list[Identity]:
    if email is None:
        return []
    rows = await session.scalars(
        select(Identity)
        .join(Person, Person.id == Identity.person_id)
        .where(Person.email == email, Person.active.is_(True), Identity.reachable.is_(True))
        .order_by(Identity.id)
    )
    return list(rows)


async def ping_text(
    session: AsyncSession,
    request: HotlineRequest,
    level: str,
    warning: str = "",
    *,
    shared: bool = False,
) -> Reply:
    """What a duty officer needs to act: who, where, what, how to call, and the buttons. A
    warning (nobody could be pinged) goes first, with the same details. `shared`: for a staff
    chat, where a restricted request (bot/privacy/access.py) shows only its summary line."""
    member = await session.get(Person, request.person_id)
    school = await session.get(School, request.school_id) if request.school_id else None
    phone = member.phone if member and member.phone else "no phone on file"
    if shared and restricted(request):
        # No words of the request; who to call stays (a warning may say "phone the school").
        text = texts.WITHHELD_PING.format(
            summary=withheld(request, school.name if school else None),
            member=member.name if member else "unknown",
            phone=phone,
        )
    else:
        text = texts.STAFF_PING.format(
            reference=request.reference,
            level=level,
            category=request.category or "urgent",
            school=school.name if school else "no school",
            member=member.name if member else "unknown",
            phone=phone,
            text=request.text,
        )
    return Reply(
        f"{warning}\n{text}" if warning else text,
        (
            Button(texts.ACKNOWLEDGE, f"ack:{request.id}"),
            Button(texts.RESOLVE, f"res:{request.id}"),
        ),
    )


def chain_of(request: HotlineRequest, rota: Rota) -> Chain:
    """The chain copied onto the request when its escalation started, else the rota's now."""
    if request.chain:
        return Chain.from_snapshot(request.chain)
    return rota.chain_for(request.category)


def step_targets(step: ChainStep, duty: Duty) -> list[str]:
    """The emails a step pings at this moment: a role's holder now, the person, the group."""
    if step.kind == "person":
        return [step.name]
    if step.kind == "group":
        return list(step.people)
    primary, backup, fallback = duty.levels()
    holder = {"primary": primary, "backup": backup, "fallback": fallback}[step.name]
    return [holder] if holder else []


@dataclass(frozen=True)
class PlannedStep:
    number: int
    label: str  # the step as staff read it ("safeguarding adviser", "fallback")
    who: tuple[str, ...]  # the emails it would ping at the duty's moment
    wait_minutes: float
    skipped: bool  # a step that does not run at this time (not out of hours)


@dataclass(frozen=True)
class ChainPlan:
    """Who an emergency of one category would ping, step by step, at one moment: what
    `hotline rota show --category` prints and the console's chains page shows."""

    category: str
    chain: str
    held: bool  # out of hours and not a waking category: held until the hotline opens
    steps: tuple[PlannedStep, ...]
    repeats: str  # "until acknowledged" or "N more times"


def chain_plan(rota: Rota, duty: Duty, category: str, default_timeout: timedelta) -> ChainPlan:
    chain = rota.chain_for(category)
    steps = tuple(
        PlannedStep(
            number,
            step.staff_label,
            tuple(step_targets(step, duty)),
            step.timeout(default_timeout).total_seconds() / 60,
            not chain.runnable(number, duty.in_hours),
        )
        for number, step in enumerate(chain.steps, start=1)
    )
    last = chain.steps[-1]
    return ChainPlan(
        category,
        chain.name,
        not duty.in_hours and not rota.wakes(category),
        steps,
        "until acknowledged" if last.repeat is None else f"{last.repeat} more times",
    )


def _candidates(request: HotlineRequest, chain: Chain, in_hours: bool) -> list[int]:
    """The step numbers to try in order: the next ones that may run now, the last at least."""
    last = len(chain.steps)
    if request.level >= last:
        return [last]
    ahead = [n for n in range(request.level + 1, last + 1) if chain.runnable(n, in_hours)]
    return ahead or [last]


async def escalate(
    session: AsyncSession,
    request: HotlineRequest,
    now: datetime,
    config: EscalationConfig,
    *,
    wake: bool = False,
) -> Step:
    """Take the next step for an open emergency: ping the next reachable step and set its timer.
    Outside hotline hours a first step waits for the opening unless the rota says the category
    wakes someone, or `wake` (the member pressed "It can't wait"); then only the chain's steps
    marked to run out of hours are tried."""
    found = await rota_and_duty(session, now)
    if found is None:
        request.steps += 1
        add_event(session, request.id, "no_rota", "no rota imported: nobody can be pinged", at=now)
        alert = await ping_text(
            session,
            request,
            FALLBACK_LABEL,
            texts.NO_ROTA_ALERT.format(reference=request.reference),
            shared=True,
        )
        await copy_to_staff_chat(
            session, config, request, now, alert, f"norota:{request.id}:{request.steps}"
        )
        request.next_escalation_at = now + config.ack_timeout
        return Step.NO_ROTA
    rota, duty = found
    if not duty.in_hours and request.level == 0 and not wake and not rota.wakes(request.category):
        opens = next_opening(rota, now)
        if opens > now:
            add_event(
                session, request.id, "out_of_hours", f"held until {opens.isoformat()}", at=now
            )
            request.next_escalation_at = opens
            request.level = 0
            request.steps += 1
            return Step.HELD
    chain = chain_of(request, rota)
    if request.chain is None:
        request.chain = chain.snapshot()
    last = len(chain.steps)
    if request.level >= last:
        limit = chain.step(last).repeat
        if limit is not None and request.repeats >= limit:
            return await _exhausted(session, request, chain, now, config)
        request.repeats += 1
    candidates = _candidates(request, chain, duty.in_hours)
    identities: list[Identity] = []
    tried: list[str] = []  # every target of the steps tried: emailed (email_pings.py)
    for number in candidates:
        step = chain.step(number)
        targets = step_targets(step, duty)
        tried.extend(targets)
        identities = [i for email in targets for i in await reachable_identities(session, email)]
        if identities or number == candidates[-1]:
            break
        add_event(
            session,
            request.id,
            "level_skipped",
            f"level {number} ({step.staff_label}): "
            f"{', '.join(targets) or 'nobody on the rota'} not reachable",
            at=now,
        )
    request.steps += 1
    request.level = number
    request.next_escalation_at = now + step.timeout(config.ack_timeout)
    if not identities:
        await _email(session, request, tried, now, config)
        add_event(
            session,
            request.id,
            "nobody_reachable",
            f"level {number} ({step.staff_label}): "
            f"{', '.join(targets) or 'nobody'} has no reachable chat account",
            at=now,
        )
        alert = await ping_text(
            session,
            request,
            step.staff_label,
            texts.NOBODY_REACHABLE.format(reference=request.reference),
            shared=True,
        )
        await copy_to_staff_chat(
            session, config, request, now, alert, f"nobody:{request.id}:{request.steps}"
        )
        return Step.NOBODY
    ping = await ping_text(session, request, step.staff_label)
    key = f"ping:{request.id}:{request.steps}"
    await send_to_identities(session, request, identities, ping, key, now)
    add_event(
        session,
        request.id,
        "level_pinged",
        f"level {number} ({step.staff_label}): {', '.join(targets)}",
        at=now,
    )
    await _email(session, request, tried, now, config)
    # The staff chat's copy: a restricted request's words stay with those pinged.
    copy = await ping_text(session, request, step.staff_label, shared=True)
    await copy_to_staff_chat(
        session, config, request, now, copy, f"staffcopy:{request.id}:{request.steps}"
    )
    return Step.PINGED


async def _email(
    session: AsyncSession,
    request: HotlineRequest,
    emails: Sequence[str],
    now: datetime,
    config: EscalationConfig,
) -> None:
    """Chat first, then email: those pinged in chat are emailed after their minutes unless
    they acknowledge first; those with no chat account at all are emailed now."""
    if config.email is None:
        return
    queued = await queue_ping_emails(session, request, emails, now, config.email)
    if queued:
        add_event(session, request.id, "email_queued", f"{queued} ping email(s) queued", at=now)


async def _exhausted(
    session: AsyncSession,
    request: HotlineRequest,
    chain: Chain,
    now: datetime,
    config: EscalationConfig,
) -> Step:
    """The last step has repeated as often as the chain allows: no more pings, and the staff
    chats are told that nobody has acknowledged."""
    request.steps += 1
    request.next_escalation_at = None
    add_event(
        session,
        request.id,
        "chain_exhausted",
        f"{chain.name}: last step repeated {request.repeats} times, not acknowledged",
        at=now,
    )
    alert = await ping_text(
        session,
        request,
        chain.step(len(chain.steps)).staff_label,
        texts.CHAIN_EXHAUSTED.format(reference=request.reference),
        shared=True,
    )
    await copy_to_staff_chat(
        session, config, request, now, alert, f"exhausted:{request.id}:{request.steps}"
    )
    return Step.EXHAUSTED


async def copy_to_staff_chat(
    session: AsyncSession,
    config: EscalationConfig,
    request: HotlineRequest,
    now: datetime,
    reply: Reply,
    key: str,
) -> None:
    for channel, chat_id in config.staff_chats:
        await enqueue(
            session,
            key=f"{key}:{channel}",
            channel=channel,
            chat_id=chat_id,
            reply=reply,
            request_id=request.id,
            now=now,
        )


async def send_to_identities(
    session: AsyncSession,
    request: HotlineRequest,
    identities: Sequence[Identity],
    reply: Reply,
    key: str,
    now: datetime,
) -> None:
    for identity in identities:
        await enqueue(
            session,
            key=f"{key}:{identity.id}",
            channel=identity.channel,
            chat_id=identity.chat_id or identity.external_id,
            reply=reply,
            person_id=identity.person_id,
            identity_id=identity.id,
            request_id=request.id,
            now=now,
        )


async def notify_people(
    session: AsyncSession,
    request: HotlineRequest,
    people_ids: Sequence[int],
    reply: Reply,
    key: str,
    now: datetime,
) -> None:
    """A message to each reachable identity of these people (e.g. everyone pinged so far)."""
    rows = await session.scalars(
        select(Identity).where(
            Identity.person_id.in_(list(people_ids)), Identity.reachable.is_(True)
        )
    )
    await send_to_identities(session, request, list(rows), reply, key, now)
