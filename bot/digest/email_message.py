"""The digest as an email: the same sections the chat digest is made of (compose.py), as a
multipart/alternative message with a plain text part and an HTML part.

The HTML comes from templates/digest_email.html with autoescaping on: every piece of member,
news or FAQ text is escaped, and only http(s) links written as [label](url) become links.
Headers: From "PARTNERSHIP_NAME <EMAIL_FROM's address>", To, Subject, Date, a Message-ID
fixed by the run and person (a resumed run composes the same message), and the one-click
unsubscribe of RFC 8058: `List-Unsubscribe: <PUBLIC_URL/email/unsubscribe/TOKEN>` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (bot/digest/unsubscribe.py), also shown as
a link in the message with a hint to choose chat instead.

The outbox stores `as_text(message)`: the policy is SMTP's (CRLF) with header lines allowed up
to RFC 5322's 998 characters, so the List-Unsubscribe URL is never folded into encoded words
(which mail clients do not read as a URL). Bodies are quoted-printable, lines under 78.
"""

from __future__ import annotations

import email.policy
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.core import texts
from bot.core.types import Reply
from bot.digest.compose import Recipient, Style, WeekContent, member_sections
from bot.digest.layout import Section
from bot.digest.unsubscribe import LinkSettings, email_secret, make_token, unsubscribe_url

log = logging.getLogger(__name__)

POLICY = email.policy.SMTP.clone(max_line_length=998)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_environment: Any = None


class EmailSettings(LinkSettings, Protocol):
    @property
    def public_url(self) -> str: ...
    @property
    def email_from(self) -> str: ...
    @property
    def partnership_name(self) -> str: ...


@dataclass(frozen=True)
class EmailSetup:
    """What composing a digest email needs of the settings."""

    sender: str  # the From line: "The Partnership <hotline@example.org>"
    domain: str  # for Message-IDs
    partnership: str
    public_url: str
    secret: bytes  # signs the unsubscribe links


def email_setup(settings: EmailSettings) -> EmailSetup | None:
    """None when no unsubscribe link can be signed (https PUBLIC_URL, no EMAIL_SECRET nor
    CONSOLE_SECRET): no digest goes by email then, and the runs count those people as having
    no channel."""
    secret = email_secret(settings)
    if secret is None:
        log.warning("digest emails are off: set EMAIL_SECRET (or CONSOLE_SECRET) to sign links")
        return None
    _, address = parseaddr(settings.email_from)
    address = address or "hotline@localhost"
    domain = address.rpartition("@")[2] or "localhost"
    return EmailSetup(
        formataddr((settings.partnership_name, address)),
        domain,
        settings.partnership_name,
        settings.public_url,
        secret,
    )


@dataclass(frozen=True)
class Addressed:
    """Whom one message is for, and what makes it this message."""

    person_id: int
    address: str
    message_key: str  # the Message-ID's left part, e.g. "digest.12.345"
    moment: datetime  # its Date, and when its unsubscribe link starts to count


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    href: str | None = None


def pieces(text: str) -> list[Piece]:
    """Text with its [label](https://...) links split out, for the template to escape."""
    found: list[Piece] = []
    at = 0
    for match in _LINK.finditer(text):
        if match.start() > at:
            found.append(Piece(text[at : match.start()]))
        found.append(Piece(match[1], match[2]))
        at = match.end()
    if at < len(text):
        found.append(Piece(text[at:]))
    return found


def plain(text: str) -> str:
    """[label](url) as "label <url>", for the plain text part."""
    return _LINK.sub(r"\1 <\2>", text)


def _day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}"


def _template() -> Any:
    global _environment
    if _environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        _environment = Environment(
            loader=PackageLoader("bot.digest", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment.get_template("digest_email.html")


def _plain_text(
    header: list[str], sections: list[Section], hotline: str, hint: str, unsubscribe: str
) -> str:
    parts = [plain(p) for p in header]
    for section in sections:
        lines = [section.heading, *(f"- {plain(item)}" for item in section.items)]
        if section.note:
            lines.append(section.note)
        parts.append("\n".join(lines))
    parts += [hotline, hint, f"{texts.EMAIL_DIGEST_UNSUBSCRIBE}: {unsubscribe}"]
    return "\n\n".join(parts) + "\n"


def compose(
    setup: EmailSetup,
    to: Addressed,
    subject: str,
    header: list[str],
    sections: list[Section],
    phone: str,
) -> EmailMessage:
    """The message: header paragraphs, sections of items, the hotline and the unsubscribe."""
    url = unsubscribe_url(setup.public_url, make_token(setup.secret, to.person_id, to.moment))
    hotline = texts.EMAIL_DIGEST_HOTLINE.format(phone=phone)
    hint = texts.EMAIL_DIGEST_CHAT_HINT
    html = _template().render(
        subject=subject,
        partnership=setup.partnership,
        header=[[pieces(line) for line in p.split("\n")] for p in header],
        sections=[
            {
                "heading": s.heading,
                "entries": [pieces(item) for item in s.items],
                "note": s.note,
            }
            for s in sections
        ],
        hotline=hotline,
        chat_hint=hint,
        why=texts.EMAIL_DIGEST_WHY.format(partnership=setup.partnership),
        unsubscribe_url=url,
        unsubscribe_label=texts.EMAIL_DIGEST_UNSUBSCRIBE,
    )
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = setup.sender
    message["To"] = to.address
    message["Subject"] = subject
    message["Date"] = format_datetime(to.moment.astimezone(UTC))
    message["Message-ID"] = f"<{to.message_key}@{setup.domain}>"
    message["List-Unsubscribe"] = f"<{url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain_text(header, sections, hotline, hint, url), cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def as_text(message: EmailMessage) -> str:
    """What the outbox row holds (its `text`)."""
    return message.as_string(policy=POLICY)


def member_email(
    content: WeekContent, who: Recipient, style: Style, setup: EmailSetup, to: Addressed
) -> EmailMessage | None:
    """A member's digest as an email; None when there is nothing for them (as member_digest)."""
    sections = [s for s in member_sections(content, who, style) if s.items]
    if not sections and not style.send_empty:
        return None
    first = who.name.split()[0] if who.name.split() else who.name
    date = _day(content.as_of, style.tz)
    header = [texts.DIGEST_HEADER.format(name=first, date=date)]
    if not sections:
        header.append(texts.DIGEST_NOTHING_NEW)
    subject = texts.EMAIL_DIGEST_SUBJECT.format(partnership=setup.partnership, date=date)
    return compose(setup, to, subject, header, sections, style.hotline_phone)


def staff_email(reply: Reply, style: Style, setup: EmailSetup, to: Addressed) -> EmailMessage:
    """The staff digest (composed once per run as chat text) as an email, paragraph by
    paragraph, without the chat's "send /unsubscribe" line."""
    paragraphs = [p for p in reply.text.split("\n\n") if p != texts.STAFF_DIGEST_FOOTER]
    subject = texts.EMAIL_DIGEST_STAFF_SUBJECT.format(
        partnership=setup.partnership, date=_day(to.moment, style.tz)
    )
    return compose(setup, to, subject, paragraphs, [], style.hotline_phone)
