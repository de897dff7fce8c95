"""The directory page: schools and people, each person's linked chat accounts, digest channel
and (staff) when their unacknowledged pings are emailed, with a search. Admins invite (a
one-time code, its Telegram link and a QR code of it), unlink an account, mark a person inactive
or active, set how a person gets the digest and when a staff member's pings are emailed, and
import a YAML or CSV directory with the same all-or-nothing validation as
`hotline directory import`.

Every change calls the domain function the `hotline directory` commands call (bot/directory/)
and adds its audit entry in the same transaction.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import (
    Signed,
    actor,
    back_to,
    bot_of,
    form_of,
    now_of,
    page,
    staff_only,
    text_field,
    uploaded,
)
from bot.core.errors import DataError
from bot.digest.channels import DIGEST_CHOICES, digest_choice, set_digest_choice
from bot.directory.audit import record
from bot.directory.identities import masked, unlink_identity
from bot.directory.importer import apply_directory_in
from bot.directory.invites import create_invite, telegram_link
from bot.directory.notify import email_after_text, parse_email_after, set_email_after
from bot.directory.people import Listing, all_schools, listing, set_active
from bot.directory.records import format_of, parse_directory_text
from bot.store.models import Person

log = logging.getLogger(__name__)

PAGE = "/console/directory"
SHOWN = 300  # people on one page; the search narrows a large directory
SEARCH_CHARS = 100
IMPORT_CHARS = 900_000  # under the web app's body limit
FORMATS = (("yaml", "YAML"), ("csv", "CSV"))
STATUSES = (("", "Everyone"), ("active", "Active"), ("inactive", "Inactive"))
INACTIVE_MEANS = (
    "An inactive person is not recognised when they write to the bot, is not pinged for "
    "requests, gets no digest and cannot sign in here. Their linked accounts are kept, so "
    "marking them active again restores all of it. An import does not change who is active. "
    "An unlinked account is a stranger to the bot until it is linked again: with an invitation "
    "code, or on Slack by the workspace's email of an active person."
)
NOTICES = {
    "unlinked": "Unlinked a chat account of {name}. That account is a stranger to the bot now.",
    "deactivated": "{name} is inactive now.",
    "activated": "{name} is active again.",
    "digest": "{name} gets the digest {digest}.",
    "email-after": "{name}'s pings are emailed {after}.",
    "imported": "Imported the directory: {created} created, {updated} updated, "
    "{unchanged} unchanged.",
}

# How each digest choice reads on the page (bot/directory/notify.py DIGEST_CHOICES).
DIGEST_LABELS = {
    "default": "by the default rule (their chat account, else email)",
    "chat": "by chat",
    "email": "by email",
    "off": "not at all (off)",
}
DIGEST_SHORT = {"default": "Default rule", "chat": "Chat", "email": "Email", "off": "Off"}
DIGEST_OPTIONS = tuple((choice, DIGEST_SHORT[choice]) for choice in DIGEST_CHOICES)


@dataclass(frozen=True)
class Filters:
    search: str
    school: int | None
    status: str

    @property
    def active(self) -> bool | None:
        return {"active": True, "inactive": False}.get(self.status)

    def query(self, **extra: str | int) -> str:
        values: dict[str, str | int] = {}
        if self.search:
            values["q"] = self.search
        if self.school is not None:
            values["school"] = self.school
        if self.status:
            values["status"] = self.status
        values.update(extra)
        return f"?{urlencode(values)}" if values else ""


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _filters(values: Any) -> Filters:
    status = str(values.get("status", "")).strip()
    return Filters(
        search=str(values.get("q", "")).strip()[:SEARCH_CHARS],
        school=_int(values.get("school")),
        status=status if status in ("active", "inactive") else "",
    )


def _person_row(person: Person, default_minutes: int) -> dict[str, Any]:
    accounts = sorted(person.identities, key=lambda i: (i.channel, i.id))
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "role": person.role.value,
        "school": person.school.name if person.school else "",
        "active": person.active,
        "digest": person.digest_subscribed,
        "digest_choice": digest_choice(person),
        "digest_label": DIGEST_LABELS[digest_choice(person)],
        "staff": person.is_staff,
        "email_after": (
            "default" if person.email_after_minutes is None else str(person.email_after_minutes)
        ),
        "email_after_label": email_after_text(person.email_after_minutes, default_minutes),
        "accounts": [
            {
                "id": i.id,
                "channel": i.channel,
                "account": masked(i.external_id),
                "reachable": i.reachable,
            }
            for i in accounts
        ],
    }


async def _show(
    request: Request,
    signed: Signed,
    filters: Filters,
    *,
    status: int = 200,
    notice: str | None = None,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    import_problems: list[str] | None = None,
    import_text: str = "",
    import_format: str = "yaml",
    import_from: str = "",
    error_person: int | None = None,
    after_value: str = "",
) -> Response:
    bot = bot_of(request)
    async with bot.db.reading() as session:
        found: Listing = await listing(
            session, filters.search, school_id=filters.school, active=filters.active, limit=SHOWN
        )
        schools = await all_schools(session)
    return page(
        "directory.html",
        status,
        title="Directory",
        signed=signed,
        current=PAGE,
        notice=notice,
        problem=problem,
        errors=errors or {},
        people=[_person_row(p, bot.settings.staff_email_after_min) for p in found.people],
        matched=found.matched,
        schools=[
            {
                "code": r.school.code,
                "name": r.school.name,
                "phase": r.school.phase,
                "people": r.people,
            }
            for r in found.schools
        ],
        school_options=[("", "All schools")] + [(str(s.id), s.name) for s in schools],
        status_options=STATUSES,
        filters=filters,
        formats=FORMATS,
        import_problems=import_problems or [],
        import_text=import_text,
        import_format=import_format,
        import_from=import_from,
        inactive_means=INACTIVE_MEANS,
        digest_options=DIGEST_OPTIONS,
        error_person=error_person,
        after_value=after_value,
    )


async def _notice(request: Request) -> str | None:
    params = request.query_params
    template = NOTICES.get(params.get("done", ""))
    if template is None:
        return None
    if "{name}" in template:
        person_id = _int(params.get("person"))
        async with bot_of(request).db.reading() as session:
            person = await session.get(Person, person_id) if person_id is not None else None
        if person is None:
            return None
        default = bot_of(request).settings.staff_email_after_min
        return template.format(
            name=person.name,
            digest=DIGEST_LABELS[digest_choice(person)],
            after=email_after_text(person.email_after_minutes, default),
        )
    counts = {k: _int(params.get(k)) or 0 for k in ("created", "updated", "unchanged")}
    return template.format(**counts)


async def directory(request: Request, signed: Signed) -> Response:
    return await _show(
        request, signed, _filters(request.query_params), notice=await _notice(request)
    )


async def _refuse(request: Request, signed: Signed, filters: Filters, problem: str) -> Response:
    """A button's form that cannot be done (unknown, stale): 400, the page, nothing changed."""
    return await _show(request, signed, filters, status=400, problem=problem)


async def invite(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    bot = bot_of(request)
    person_id = _int(form.get("person"))
    days = bot.settings.invite_days
    code = None
    async with bot.db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        if person is not None and person.active:
            code = await create_invite(session, person, now_of(request), timedelta(days=days))
            record(
                session,
                actor(request, signed),
                "invite",
                person.email,
                about=person.id,
                detail=f"invitation code valid {days} days",
            )
    if person is None:
        return await _refuse(
            request, signed, filters, "That person is not in the directory. Reload the page."
        )
    if code is None:
        return await _refuse(
            request,
            signed,
            filters,
            f"{person.name} is inactive and cannot be invited: mark them active first.",
        )
    log.info("console invite person=%d by=%d", person.id, signed.person.id)
    settings = bot.settings
    link = telegram_link(settings.telegram_bot_username, code)
    qr = qr_image(link) if link is not None else None
    return page(
        "directory_invite.html",
        title=f"Invitation for {person.name}",
        signed=signed,
        current=PAGE,
        who=person.name,
        code=code,
        days=days,
        link=link,
        qr=qr,
        telegram=bool(settings.telegram_token or settings.telegram_bot_username),
        slack=bool(settings.slack_bot_token),
        back=PAGE + filters.query(),
    )


def qr_svg(text: str) -> bytes:
    """A QR code of `text` as an SVG document (no style attributes: the console's CSP)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False, nl=False
    )
    return out.getvalue()


def qr_image(text: str) -> str:
    """The QR code as a data: URL for an <img> (the CSP's img-src allows data:)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text)).decode()


async def unlink(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    identity_id, person_id = _int(form.get("identity")), _int(form.get("person"))
    bot = bot_of(request)
    async with bot.db.session() as session:
        removed = None
        if identity_id is not None and person_id is not None:
            removed = await unlink_identity(session, identity_id, person_id)
        if removed is not None:
            record(
                session,
                actor(request, signed),
                "unlink",
                removed.person.email,
                about=removed.person_id,
                detail=f"{removed.channel} account {masked(removed.external_id)}",
            )
    if removed is None:
        return await _refuse(
            request,
            signed,
            filters,
            "That chat account is not linked to this person any more (someone may have "
            "unlinked it already). Nothing was changed.",
        )
    return back_to(PAGE + filters.query(done="unlinked", person=removed.person_id))


async def _set_active(request: Request, signed: Signed, active: bool) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    person_id = _int(form.get("person"))
    if person_id == signed.person.id and not active:
        return await _refuse(
            request,
            signed,
            filters,
            "You cannot mark yourself inactive: you would be signed out. Ask another admin.",
        )
    verb = "activate" if active else "deactivate"
    state = "active" if active else "inactive"
    async with bot_of(request).db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        changed = person is not None and await set_active(session, person, active)
        if person is not None and changed:
            record(session, actor(request, signed), verb, person.email, about=person.id)
    if person is None:
        return await _refuse(request, signed, filters, "That person is not in the directory.")
    if not changed:
        return await _refuse(
            request,
            signed,
            filters,
            f"{person.name} is already {state} (someone may have changed it). Nothing was changed.",
        )
    done = "activated" if active else "deactivated"
    return back_to(PAGE + filters.query(done=done, person=person.id))


async def deactivate(request: Request, signed: Signed) -> Response:
    return await _set_active(request, signed, False)


async def activate(request: Request, signed: Signed) -> Response:
    return await _set_active(request, signed, True)


async def digest_channel(request: Request, signed: Signed) -> Response:
    """How a person gets the digest, as `hotline digest channel` sets it, or the default rule."""
    form = await form_of(request)
    filters = _filters(form)
    person_id = _int(form.get("person"))
    choice = form.get("digest", "").strip()
    if choice not in DIGEST_CHOICES:
        return await _refuse(
            request, signed, filters, "Choose the default rule, chat, email or off for the digest."
        )
    async with bot_of(request).db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        if person is not None:
            before = digest_choice(person)
            if await set_digest_choice(session, person, choice):
                record(
                    session,
                    actor(request, signed),
                    "digest-channel",
                    person.email,
                    about=person.id,
                    detail=f"{before} -> {choice}",
                )
    if person is None:
        return await _refuse(request, signed, filters, "That person is not in the directory.")
    return back_to(PAGE + filters.query(done="digest", person=person.id))


async def email_after(request: Request, signed: Signed) -> Response:
    """When a staff member's unacknowledged chat pings are emailed, as
    `hotline directory email-after` sets it; a bad value is shown beside the person's field."""
    form = await form_of(request)
    filters = _filters(form)
    person_id = _int(form.get("person"))
    typed = form.get("minutes", "")[:40]
    async with bot_of(request).db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        problem = None
        if person is not None:
            before = person.email_after_minutes
            try:
                minutes = parse_email_after(typed)
                changed = await set_email_after(session, person, minutes)
            except ValueError as exc:
                problem = str(exc)
            else:
                if changed:
                    record(
                        session,
                        actor(request, signed),
                        "email-after",
                        person.email,
                        about=person.id,
                        detail=f"{_minutes(before)} -> {_minutes(minutes)}",
                    )
    if person is None:
        return await _refuse(request, signed, filters, "That person is not in the directory.")
    if problem is not None:
        return await _show(
            request,
            signed,
            filters,
            status=400,
            problem=f"Nothing was changed for {person.name}: {problem}.",
            errors={"email_after": problem[:1].upper() + problem[1:] + "."},
            error_person=person.id,
            after_value=typed,
        )
    return back_to(PAGE + filters.query(done="email-after", person=person.id))


def _minutes(minutes: int | None) -> str:
    """An email-after value in an audit entry's detail (as `hotline directory email-after`)."""
    return "default" if minutes is None else f"{minutes} min"


def _upload(request: Request) -> tuple[str, bytes] | None:
    """The file chosen as "Directory file" (name, bytes), if any."""
    return uploaded(request, "file")


def _directory_text(
    request: Request, form: dict[str, str], errors: dict[str, str]
) -> tuple[str, str, str]:
    """What to import: (text, format, source name), from the uploaded file or the pasted text;
    what is wrong with them in `errors`."""
    filename, raw = _upload(request) or ("", b"")
    pasted = form.get("directory", "").strip()
    fmt = form.get("format", "")
    if fmt not in dict(FORMATS):
        errors["format"] = "Choose YAML or CSV."
    if filename or raw:  # a file was chosen
        if pasted:
            errors["file"] = "Give a file or paste the directory, not both."
            return "", fmt, ""
        name = Path(filename).name[:100] or "directory"
        fmt_of_name = format_of(name)
        if fmt_of_name is None:
            errors["file"] = f"{name}: expected a .yaml, .yml or .csv file."
        elif len(raw) > IMPORT_CHARS:
            errors["file"] = f"{name} is too large (at most {IMPORT_CHARS // 1000} kB)."
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                errors["file"] = f"{name} is not UTF-8 text."
            else:
                errors.pop("format", None)  # the file's name says which
                return text, fmt_of_name, name
        return "", fmt, name
    text = text_field(
        form, "directory", errors, label="Directory (YAML or CSV)", max_chars=IMPORT_CHARS
    )
    if errors.get("directory") and not text:
        errors["directory"] = "Choose a directory file, or paste the directory here."
    return text, fmt, f"directory.{fmt}"


async def import_directory(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    errors: dict[str, str] = {}
    text, fmt, source = _directory_text(request, form, errors)
    from_file = _upload(request) is not None
    problems: list[str] = []
    if not errors:
        try:
            parsed = parse_directory_text(text, source, fmt)
            async with bot_of(request).db.session() as session:
                summary = await apply_directory_in(session, parsed, source)
                record(
                    session,
                    actor(request, signed),
                    "import",
                    "directory",
                    detail=f"{source}: {summary}",
                )
        except DataError as exc:
            problems = list(exc.problems)
    if errors or problems:
        return await _show(
            request,
            signed,
            filters,
            status=400,
            errors=errors,
            import_problems=problems,
            import_text=form.get("directory", "")[:IMPORT_CHARS],
            import_format=fmt if fmt in dict(FORMATS) else "yaml",
            import_from="file" if from_file else "text",
        )
    log.info("console directory import by=%d: %s", signed.person.id, summary)
    return back_to(
        PAGE
        + filters.query(
            done="imported",
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    )


def routes() -> list[BaseRoute]:
    def admin_post(handler: Any) -> Any:
        return staff_only(handler, post=True, admin=True)

    return [
        Route(PAGE, staff_only(directory), methods=["GET"]),
        Route(f"{PAGE}/invite", admin_post(invite), methods=["POST"]),
        Route(f"{PAGE}/unlink", admin_post(unlink), methods=["POST"]),
        Route(f"{PAGE}/deactivate", admin_post(deactivate), methods=["POST"]),
        Route(f"{PAGE}/activate", admin_post(activate), methods=["POST"]),
        Route(f"{PAGE}/digest", admin_post(digest_channel), methods=["POST"]),
        Route(f"{PAGE}/email-after", admin_post(email_after), methods=["POST"]),
        Route(f"{PAGE}/import", admin_post(import_directory), methods=["POST"]),
    ]
