"""Composing digests from plain data: audience, "since", empty sections left out, nothing at
all means no message, and the length limit is kept by trimming lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest.audience import Audience
from bot.digest.compose import (
    FaqChange,
    OpenRequestLine,
    Recipient,
    StaffWeek,
    Style,
    WeekContent,
    member_digest,
    staff_digest,
)
from bot.digest.content import ContentRecord
from bot.digest.layout import LIMIT, Section, render
from bot.escalation.reports import build_report
from bot.store.models import ContentKind

LONDON = ZoneInfo("Europe/London")
AS_OF = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
STYLE = Style(LONDON, "020 7946 0000")
EVERYONE = Audience()


def news(
    slug: str, days_ago: float, audience: Audience = EVERYONE, body: str = ""
) -> ContentRecord:
    return ContentRecord(
        kind=ContentKind.NEWS,
        slug=slug,
        title=f"Title {slug}",
        body=body or f"About {slug}.",
        link_url=f"https://example.org/{slug}",
        link_label=None,
        location=None,
        starts_at=None,
        ends_at=None,
        all_day=False,
        publish_from=AS_OF - timedelta(days=days_ago),
        publish_until=None,
        audience=audience,
    )


def event(slug: str, in_days: float, audience: Audience = EVERYONE) -> ContentRecord:
    return ContentRecord(
        kind=ContentKind.EVENT,
        slug=slug,
        title=f"Event {slug}",
        body="",
        link_url=None,
        link_label=None,
        location="Online",
        starts_at=AS_OF + timedelta(days=in_days),
        ends_at=None,
        all_day=False,
        publish_from=None,
        publish_until=None,
        audience=audience,
    )


def head(since_days: float = 7, phase: str = "primary") -> Recipient:
    return Recipient("Amara Okafor", phase, "headteacher", AS_OF - timedelta(days=since_days))


def test_a_member_gets_what_is_new_for_them_with_links() -> None:
    content = WeekContent(
        AS_OF,
        news=(
            news("fresh", 2),
            news("for-secondary", 1, Audience(phases=("secondary",))),
            news("for-heads", 1, Audience(roles=("headteacher",))),
            news("already-sent", 9),
        ),
        events=(
            event("soon", 3),
            event("later", 30),
            event("governors", 4, Audience(roles=("governor",))),
        ),
        faq=(
            FaqChange("new-one", "How do I join a network?", True, AS_OF - timedelta(days=1)),
            FaqChange("old-one", "Older change?", False, AS_OF - timedelta(days=10)),
        ),
    )
    reply = member_digest(content, head(), STYLE)
    assert reply is not None
    text = reply.text
    assert text.startswith(
        "Good morning Amara! Your weekly update from the Partnership, Mon 30 Nov."
    )
    assert "Title fresh: About fresh. [Read more](https://example.org/fresh)" in text
    assert "Title for-heads" in text and "for-secondary" not in text and "already-sent" not in text
    assert "Event soon, Online" in text and "later" not in text and "governors" not in text
    assert "New: How do I join a network?" in text and "Older change" not in text
    assert text.endswith(
        "Hotline for anything urgent: 020 7946 0000. Send /unsubscribe to stop these weekly updates."
    )


def test_empty_sections_are_left_out_and_nothing_at_all_sends_nothing() -> None:
    only_events = WeekContent(AS_OF, news=(), events=(event("soon", 3),), faq=())
    reply = member_digest(only_events, head(), STYLE)
    assert reply is not None
    assert "Coming up in the next three weeks" in reply.text
    assert "News" not in reply.text and "answers" not in reply.text
    nothing = WeekContent(AS_OF, news=(news("old", 20),), events=(), faq=())
    assert member_digest(nothing, head(), STYLE) is None
    sent_anyway = member_digest(nothing, head(), Style(LONDON, "020 7946 0000", send_empty=True))
    assert (
        sent_anyway is not None
        and "Nothing new from the Partnership this week." in sent_anyway.text
    )


def test_a_long_digest_is_trimmed_to_the_limit_with_and_n_more() -> None:
    many = tuple(news(f"item-{n}", 1 + n / 100, body="word " * 60) for n in range(60))
    reply = member_digest(WeekContent(AS_OF, many, (event("soon", 3),), ()), head(), STYLE)
    assert reply is not None
    assert len(reply.text) <= LIMIT
    assert "…and " in reply.text and " more" in reply.text
    assert "Event soon" in reply.text  # the short section keeps its item
    assert reply.text.rstrip().endswith("weekly updates.")


def test_render_keeps_at_least_one_item_and_cuts_as_a_last_resort() -> None:
    text = render("Header", [Section("A", ("x" * 500,) * 3)], "Footer", limit=300)
    assert len(text) <= 300 and text.endswith("…")


def test_staff_digest_has_figures_open_requests_gaps_and_feedback() -> None:
    start = AS_OF - timedelta(days=7)
    week = StaffWeek(
        start=start,
        end=AS_OF,
        report=build_report([], start, AS_OF, {}),
        open_requests=(
            OpenRequestLine(
                "HL-2026-0007",
                "emergency",
                "safeguarding",
                "Riverside",
                AS_OF - timedelta(hours=5),
                2,
                None,
            ),
        ),
        gaps=(("How do I book the minibus?", 3),),
        not_helpful=(("What networks are there?", 2),),
    )
    reply = staff_digest(week, STYLE)
    assert reply is not None
    text = reply.text
    assert text.startswith("Hotline week Mon 23 Nov to Mon 30 Nov: 0 requests.")
    assert (
        "HL-2026-0007 emergency safeguarding (Riverside), 5 h old, level 2, not acknowledged"
        in text
    )
    assert "“How do I book the minibus?” (3 times)" in text
    assert "What networks are there? (2)" in text
    assert "Requests by category" not in text  # empty: left out
    quiet = StaffWeek(start, AS_OF, build_report([], start, AS_OF, {}), (), (), ())
    assert staff_digest(quiet, STYLE) is None
