"""`hotline digest send | status | preview | subscribers | subscribe | unsubscribe | channel`.

`digest send` is safe to repeat: the week's run is resumed, never started twice, so a killed
send is finished by running the same command again.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from typing import Any, TextIO

from bot.commands.common import settings, with_db
from bot.core.errors import UserFacingError
from bot.store import Database
from bot.store.models import DigestKind

PLAIN_EVERY_S = 5.0
BAR = 20


def _config(s: Any) -> Any:
    """The digest's settings, email composing included (EMAIL_FROM, PARTNERSHIP_NAME and the
    key that signs unsubscribe links), as the running bot has them."""
    from bot.app import digest_config

    return digest_config(s)


def _week(raw: str | None, now: datetime) -> date:
    from bot.digest.schedule import monday, week_of

    tz = settings().tz
    if raw is None:
        return week_of(now, tz)
    try:
        return monday(date.fromisoformat(raw.strip()))
    except ValueError:
        raise UserFacingError(
            f"--week: {raw!r} is not a date like 2026-11-30 (any day of the week will do)"
        ) from None


class ProgressDisplay:
    """A live line with a bar on a terminal; otherwise a plain line every few seconds."""

    def __init__(self, out: TextIO, label: str) -> None:
        self.out = out
        self.label = label
        self.tty = out.isatty()
        self.last = 0.0

    def line(self, progress: Any) -> str:
        c = progress.counts
        done = c.sent + c.failed + c.unreachable + c.cancelled
        text = (
            f"{self.label}: sent {c.sent}, failed {c.failed}, unreachable {c.unreachable}, "
            f"remaining {c.waiting}, {progress.rate:.1f}/s"
        )
        if self.tty and c.queued:
            filled = round(BAR * done / max(c.queued, 1))
            text = f"[{'#' * filled}{'.' * (BAR - filled)}] {text}"
        return text

    def __call__(self, progress: Any) -> None:
        if self.tty:
            self.out.write("\r\033[K" + self.line(progress))
            self.out.flush()
        elif time.monotonic() - self.last >= PLAIN_EVERY_S:
            print(self.line(progress), file=self.out, flush=True)
            self.last = time.monotonic()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def _summary(c: Any) -> str:
    state = {"done": "done", "sending": "still sending", "preparing": "still preparing"}
    return (
        f"{c.kind} digest, week of {c.week:%d %b %Y}: {c.sent} sent, {c.failed} failed, "
        f"{c.unreachable} unreachable, {c.cancelled} cancelled, {c.waiting} waiting; "
        f"{c.emailed} of {c.queued} by email; "
        f"{c.nothing_new} with nothing new, {c.no_channel} with no chat account or email "
        f"({state[c.status.value]})"
    )


def _rates(sent: int, sending_s: float, command_s: float) -> str:
    """The rate over the sending alone, and over the whole command (settings, knowledge base
    and preparation included)."""
    per_s = sent / max(sending_s, 1e-6)
    overall = sent / max(command_s, 1e-6)
    return (
        f"rate: {sent} sent in {sending_s:.1f} s of sending, {per_s:.1f}/s; over the whole "
        f"command ({command_s:.1f} s, preparation included) {overall:.1f}/s"
    )


def cmd_send(args: argparse.Namespace, out: TextIO) -> int:
    started = time.monotonic()
    from bot.channels import open_senders
    from bot.digest.delivery import send_run
    from bot.digest.runs import check_week_started, prepare
    from bot.knowledge import load_knowledge_base

    s = settings()
    config = _config(s)
    kb = load_knowledge_base(s.data_dir)
    now = datetime.now(UTC)
    week = _week(args.week, now)
    check_week_started(config, week, now)
    kinds = [DigestKind(args.kind)] if args.kind != "all" else list(DigestKind)

    async def work(db: Database) -> list[str]:
        lines = []
        accepted, sending_s = 0, 0.0
        async with open_senders(s, console_out=out) as senders:
            for kind in kinds:
                run = await prepare(db, kb, config, kind, week, datetime.now(UTC))
                display = ProgressDisplay(out, f"{kind} digest")
                progress = await send_run(db, run, senders, on_progress=display)
                display.finish()
                accepted += progress.accepted
                sending_s += progress.sending_s
                lines.append(_summary(progress.counts))
                if progress.elsewhere:
                    lines.append(
                        f"  {progress.elsewhere} waiting for a channel this process cannot send "
                        "on (configure its token, or let the bot's own process deliver them)"
                    )
        lines.append(_rates(accepted, sending_s, time.monotonic() - started))
        return lines

    # uvloop where installed: sending at the throttle's pace is the event loop's work.
    for line in with_db(work, fast=True):
        print(line, file=out)
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from bot.digest.runs import status, unreachable_people

    async def work(db: Database) -> list[str]:
        runs = await status(db, datetime.now(UTC), args.limit)
        lines = [
            f"{'week':<10}  {'kind':<6}  {'status':<9}  {'queued':>6}  {'sent':>6}  "
            f"{'waiting':>7}  {'failed':>6}  {'unreachable':>11}  {'cancelled':>9}  "
            f"{'nothing new':>11}  {'no account':>10}"
        ]
        for c in runs:
            lines.append(
                f"{c.week:%Y-%m-%d}  {c.kind.value:<6}  {c.status.value:<9}  {c.queued:>6}  "
                f"{c.sent:>6}  {c.waiting:>7}  {c.failed:>6}  {c.unreachable:>11}  "
                f"{c.cancelled:>9}  {c.nothing_new:>11}  {c.no_channel:>10}"
            )
        for c in runs[:2]:
            if c.emailed:
                lines.append(
                    f"by email ({c.kind} {c.week:%Y-%m-%d}): {c.emailed} of {c.queued} queued"
                )
            for email, channel in await unreachable_people(db, c.run_id):
                lines.append(f"unreachable ({c.kind} {c.week:%Y-%m-%d}): {email} on {channel}")
        return lines if runs else ["no digest runs yet: hotline digest send"]

    print("\n".join(with_db(work)), file=out)
    return 0


def cmd_preview(args: argparse.Namespace, out: TextIO) -> int:
    from bot.digest.preview import preview
    from bot.knowledge import load_knowledge_base

    s = settings()
    as_email = args.format == "email"
    config = _config(s)
    kb = load_knowledge_base(s.data_dir)
    week = _week(args.week, datetime.now(UTC))
    shown = with_db(lambda db: preview(db, kb, config, args.as_email, week, as_email=as_email))
    if shown is None:
        raise UserFacingError(f"nobody in the directory has the email {args.as_email!r}")
    person = shown.person
    channel = shown.channel
    where = f"{channel.channel}:{channel.chat_id}" if channel else "no chat account or email"
    subscribed = "subscribed" if person.digest_subscribed else "not subscribed"
    about = (
        f"# {shown.kind} digest for {person.name} <{person.email}>, week of {week:%d %b %Y}; "
        f"{where}; {subscribed}"
    )
    if shown.reply is None:
        print(about, file=out)
        print(f"# {shown.nothing_to_send}", file=out)
        return 0
    if args.out is not None:
        # The message as a run would queue it (CRLF line ends, as sent): a mail client opens it.
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                handle.write(shown.reply.text)
        except OSError as exc:
            raise UserFacingError(f"--out: cannot write {args.out}: {exc.strerror}") from None
        print(about, file=out)
        print(f"# written to {args.out}", file=out)
    elif as_email:
        out.write(shown.reply.text)  # the .eml alone, to redirect into a file
    else:
        print(about, file=out)
        print(shown.reply.text, file=out)
    return 0


def cmd_subscribers(_args: argparse.Namespace, out: TextIO) -> int:
    from bot.digest.subscriptions import subscribers

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            people = await subscribers(session)
            lines = []
            for p in people:
                reachable = [i for i in p.identities if i.reachable]
                channels = ", ".join(sorted({i.channel for i in reachable})) or "no chat account"
                school = p.school.name if p.school else "-"
                choice = p.digest_channel or "default"
                lines.append(
                    f"{p.email}  {p.name}  {p.role.value}  {school}  {channels}  digest: {choice}"
                )
        lines.append(f"{len(people)} subscribed")
        return lines

    print("\n".join(with_db(work)), file=out)
    return 0


def _set_subscription(email: str, on: bool, out: TextIO) -> int:
    from bot.digest.subscriptions import subscribe, unsubscribe
    from bot.directory import person_by_email

    async def work(db: Database) -> bool:
        async with db.session() as session:
            person = await person_by_email(session, email)
            if person is None:
                raise UserFacingError(f"nobody in the directory has the email {email!r}")
            return await (subscribe if on else unsubscribe)(session, person)

    changed = with_db(work)
    state = "subscribed" if on else "unsubscribed"
    print(f"{email}: {state}" + ("" if changed else " (already)"), file=out)
    return 0


def cmd_channel(args: argparse.Namespace, out: TextIO) -> int:
    from bot.digest.channels import set_digest_choice
    from bot.directory import person_by_email

    async def work(db: Database) -> bool:
        async with db.session() as session:
            person = await person_by_email(session, args.email)
            if person is None:
                raise UserFacingError(f"nobody in the directory has the email {args.email!r}")
            return await set_digest_choice(session, person, args.choice)

    changed = with_db(work)
    print(f"{args.email}: digest {args.choice}" + ("" if changed else " (already)"), file=out)
    return 0


def register(sub: Any) -> None:
    digest = sub.add_parser("digest", help="the weekly digest").add_subparsers(
        dest="digest_command", required=True
    )
    send = digest.add_parser("send", help="send this week's digest now (resumes; never twice)")
    send.add_argument("--week", metavar="DATE", help="any day of the week (default: this week)")
    send.add_argument("--kind", choices=("all", "member", "staff"), default="all")
    send.set_defaults(func=cmd_send)
    status = digest.add_parser("status", help="the last runs, with counts")
    status.add_argument("--limit", type=int, default=10)
    status.set_defaults(func=cmd_status)
    preview = digest.add_parser("preview", help="print what one person would get")
    preview.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    preview.add_argument("--week", metavar="DATE", help="any day of the week (default: this week)")
    preview.add_argument(
        "--format",
        choices=("chat", "email"),
        default="chat",
        help="chat: the chat message (default); email: the whole email (.eml) a run would send",
    )
    preview.add_argument("--out", metavar="FILE", help="write the digest to FILE")
    preview.set_defaults(func=cmd_preview)
    digest.add_parser("subscribers", help="who gets the digest").set_defaults(func=cmd_subscribers)
    on = digest.add_parser("subscribe", help="subscribe someone from the directory")
    on.add_argument("email")
    on.set_defaults(func=lambda a, out: _set_subscription(a.email, True, out))
    off = digest.add_parser("unsubscribe", help="unsubscribe someone (cancels unsent digests)")
    off.add_argument("email")
    off.set_defaults(func=lambda a, out: _set_subscription(a.email, False, out))
    channel = digest.add_parser(
        "channel",
        help="how someone gets the digest: chat, email, off (unsubscribed), or default (their "
        "chat account, else email)",
    )
    channel.add_argument("email")
    channel.add_argument("choice", choices=("chat", "email", "off", "default"))
    channel.set_defaults(func=cmd_channel)
