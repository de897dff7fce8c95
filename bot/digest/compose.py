"""A member's digest and the staff digest, composed from plain data: no I/O, no clock.

The output is the transport-neutral `Reply` (plain text, links as [label](url)); the channel
adapters render it. A digest with nothing in it is None (nothing is sent) unless `send_empty`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import texts
from bot.core.types import Reply
from bot.digest.content import ContentRecord
from bot.digest.layout import LIMIT, Section, render, shorten
from bot.escalation.reports import Report

NEWS_TEXT_CHARS = 280
EVENT_TEXT_CHARS = 160
QUESTION_CHARS = 120


@dataclass(frozen=True, slots=True)
class FaqChange:
    faq_id: str
    question: str
    new: bool
    changed_at: datetime


@dataclass(frozen=True)
class WeekContent:
    """What every member digest of a run draws on, read once per run."""

    as_of: datetime
    news: tuple[ContentRecord, ...]  # published before as_of, newest first
    events: tuple[ContentRecord, ...]  # starting within the events window, soonest first
    faq: tuple[FaqChange, ...]  # changed before as_of, newest first


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    phase: str | None
    role: str | None  # a digest role (audience.role_of), not the directory role
    since: datetime  # when the last digest this person received was composed


@dataclass(frozen=True, slots=True)
class Style:
    tz: ZoneInfo
    hotline_phone: str
    events_days: int = 21
    send_empty: bool = False
    limit: int = LIMIT


def _link(url: str | None, label: str | None, default: str) -> str:
    return f" [{label or default}]({url})" if url else ""


def _day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}"


def event_when(event: ContentRecord, tz: ZoneInfo) -> str:
    if event.starts_at is None:
        return ""
    when = _day(event.starts_at, tz)
    if not event.all_day:
        when += f" {event.starts_at.astimezone(tz):%H:%M}"
    if event.ends_at is not None:
        end = event.ends_at.astimezone(tz)
        same_day = end.date() == event.starts_at.astimezone(tz).date()
        if same_day and not event.all_day:
            when += f"–{end:%H:%M}"
        elif not same_day:
            when += f" to {_day(event.ends_at, tz)}"
    return when


def _news_line(item: ContentRecord) -> str:
    body = shorten(item.body, NEWS_TEXT_CHARS) if item.body else ""
    text = f"{item.title}: {body}" if body else item.title
    return text + _link(item.link_url, item.link_label, texts.DIGEST_READ_MORE)


def _event_line(item: ContentRecord, tz: ZoneInfo) -> str:
    text = f"{event_when(item, tz)}: {item.title}"
    if item.location:
        text += f", {item.location}"
    if item.body:
        text += f". {shorten(item.body, EVENT_TEXT_CHARS)}"
    return text + _link(item.link_url, item.link_label, texts.DIGEST_DETAILS)


def _span(days: int) -> str:
    if days % 7 == 0:
        weeks = days // 7
        words = {1: "week", 2: "two weeks", 3: "three weeks", 4: "four weeks"}
        return words.get(weeks, f"{weeks} weeks")
    return f"{days} days"


def member_sections(
    content: WeekContent, who: Recipient, style: Style
) -> tuple[Section, Section, Section]:
    """News since the person's last digest, coming events and FAQ changes meant for them."""
    news = [
        n
        for n in content.news
        if n.publish_from is not None
        and n.publish_from > who.since
        and n.audience.includes(who.phase, who.role)
    ]
    horizon = content.as_of + timedelta(days=style.events_days)
    events = [
        e
        for e in content.events
        if e.starts_at is not None
        and e.starts_at < horizon
        and e.audience.includes(who.phase, who.role)
    ]
    faq = [f for f in content.faq if f.changed_at > who.since]
    return (
        Section(texts.DIGEST_NEWS, tuple(_news_line(n) for n in news)),
        Section(
            texts.DIGEST_EVENTS.format(span=_span(style.events_days)),
            tuple(_event_line(e, style.tz) for e in events),
        ),
        Section(
            texts.DIGEST_FAQ,
            tuple(
                (texts.DIGEST_FAQ_NEW if f.new else texts.DIGEST_FAQ_UPDATED).format(
                    question=shorten(f.question, QUESTION_CHARS)
                )
                for f in faq
            ),
            texts.DIGEST_FAQ_NOTE,
        ),
    )


def member_digest(content: WeekContent, who: Recipient, style: Style) -> Reply | None:
    sections = member_sections(content, who, style)
    empty = not any(s.items for s in sections)
    if empty and not style.send_empty:
        return None
    header = texts.DIGEST_HEADER.format(
        name=who.name.split()[0] if who.name.split() else who.name,
        date=_day(content.as_of, style.tz),
    )
    body: Sequence[Section] = sections
    if empty:
        header = f"{header}\n\n{texts.DIGEST_NOTHING_NEW}"
        body = ()
    footer = texts.DIGEST_FOOTER.format(phone=style.hotline_phone)
    return Reply(render(header, body, footer, style.limit))


# Staff


@dataclass(frozen=True, slots=True)
class OpenRequestLine:
    reference: str
    kind: str
    category: str | None
    school: str | None
    opened_at: datetime
    level: int
    owner: str | None


@dataclass(frozen=True)
class StaffWeek:
    start: datetime
    end: datetime
    report: Report
    open_requests: tuple[OpenRequestLine, ...]
    gaps: tuple[tuple[str, int], ...]  # an unanswered question (as first asked), times asked
    not_helpful: tuple[tuple[str, int], ...]  # an FAQ question, times marked not helpful


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days"


def staff_digest(week: StaffWeek, style: Style) -> Reply | None:
    """The same for everyone on the team, so a run composes it once."""
    report = week.report
    open_lines = tuple(
        f"{r.reference} {r.kind} {r.category or ''} ({r.school or 'no school'}), "
        f"{_age(r.opened_at, week.end)} old, "
        + (f"with {r.owner}" if r.owner else f"level {r.level}, not acknowledged")
        for r in week.open_requests
    )
    sections = [
        Section(
            texts.STAFF_DIGEST_CATEGORIES,
            tuple(f"{category}: {n}" for category, n in report.by_category.items()),
        ),
        Section(
            texts.STAFF_DIGEST_RESPONSE,
            (
                texts.STAFF_DIGEST_ACK.format(
                    median=_minutes(report.ack_minutes[0]), p95=_minutes(report.ack_minutes[1])
                ),
                texts.STAFF_DIGEST_LEVELS.format(reached=report.reached_line()),
            )
            if report.total
            else (),
        ),
        Section(texts.STAFF_DIGEST_OPEN, tuple(" ".join(line.split()) for line in open_lines)),
        Section(
            texts.STAFF_DIGEST_GAPS,
            tuple(
                f"“{shorten(q, QUESTION_CHARS)}”" + (f" ({n} times)" if n > 1 else "")
                for q, n in week.gaps
            ),
        ),
        Section(
            texts.STAFF_DIGEST_NOT_HELPFUL,
            tuple(f"{shorten(q, QUESTION_CHARS)} ({n})" for q, n in week.not_helpful),
        ),
    ]
    if not any(s.items for s in sections) and not style.send_empty:
        return None
    header = texts.STAFF_DIGEST_HEADER.format(
        start=_day(week.start, style.tz),
        end=_day(week.end - timedelta(seconds=1), style.tz),
        total=report.total,
        s="" if report.total == 1 else "s",
    )
    return Reply(render(header, sections, texts.STAFF_DIGEST_FOOTER, style.limit))
